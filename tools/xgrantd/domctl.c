/* SPDX-License-Identifier: MIT */
/*
 * domctl.c: the control domain's requests: DOMAIN_CREATE, DOMAIN_DESTROY,
 * DOMAIN_LIST, DOMAIN_WAIT.  dispatch.c has already checked the caller is
 * domain 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "private.h"

/* ---- info -------------------------------------------------------------------
 */

static void dom_info(const struct xd_dom *d, struct xgw_domain_info *i)
{
    memset(i, 0, sizeof(*i));
    memcpy(i->name, d->name, sizeof(i->name));
    i->domid = d->id;
    i->state = (uint16_t)d->state;
    i->pid = d->pid;
    i->mem_frames = d->nr_frames;
    i->usage.dom = d->id;
    if (d->in_core && gcore_usage(xd.core, GNTX_DOMID_CONTROL, &i->usage) < 0)
        memset(&i->usage, 0, sizeof(i->usage));
    i->usage.dom = d->id;
}

/* ---- DOMAIN_CREATE --------------------------------------------------------
 */

static bool valid_name(const char *name)
{
    size_t n = strnlen(name, XGW_NAME_MAX);

    if (n == 0 || n >= XGW_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

/* argc NUL-terminated strings filling [p, p+n) exactly; argv points into
 * p and is NULL-terminated.  0 or -EINVAL / -ENOMEM. */
static int parse_argv(char *p, size_t n, uint32_t argc, char ***out)
{
    char **argv;
    size_t off = 0;
    uint32_t i = 0;

    if (n == 0 || p[n - 1] != '\0' || p[0] == '\0')
        return -EINVAL;
    argv = calloc((size_t)argc + 1, sizeof(*argv));
    if (!argv)
        return -ENOMEM;
    while (off < n) {
        if (i == argc) {
            free(argv);
            return -EINVAL;
        }
        argv[i++] = p + off;
        off += strlen(p + off) + 1; /* bounded: p[n - 1] is NUL */
    }
    if (i != argc) {
        free(argv);
        return -EINVAL;
    }
    *out = argv;
    return 0;
}

static const char *parse_create(struct xd_rx *rx, struct xgw_domain_create *dc,
                                char ***argv, int *err)
{
    *err = -EINVAL;
    if (rx->hdr.len < sizeof(*dc))
        return "message shorter than xgw_domain_create";
    memcpy(dc, rx->pay, sizeof(*dc));
    if (!valid_name(dc->name))
        return "bad name (want [A-Za-z0-9_.-]{1,31})";
    if (dc->memory_bytes < GNTX_PAGE_SIZE ||
        dc->memory_bytes % GNTX_PAGE_SIZE ||
        dc->memory_bytes > XD_MAX_MEM_BYTES)
        return "bad memory size (want a page multiple, 4K to 64G)";
    if (dc->argc < 1 || dc->argc > XD_MAX_ARGC)
        return "bad argc";
    if ((rx->nfds != 0 && rx->nfds != 3) || rx->hdr.nfds != (uint32_t)rx->nfds)
        return "want 0 or 3 stdio fds";
    *err = parse_argv((char *)rx->pay + sizeof(*dc), rx->hdr.len - sizeof(*dc),
                      dc->argc, argv);
    return *err ? "bad argv" : NULL;
}

static int find_name(const char *name)
{
    for (unsigned i = 0; i <= xd_dom_id_top(); i++)
        if (xd.doms[i] && strcmp(xd.doms[i]->name, name) == 0)
            return -EEXIST;
    return 0;
}

/* Lowest free id, passing over ids of domains that exited lately. */
static int free_id(void)
{
    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 1; i <= GNTX_DOMID_MAX; i++)
            if (!xd.doms[i] && (pass || !xd_dom_id_reserved(i)))
                return (int)i;
    return -ENOSPC;
}

static int set_quota(struct xd_dom *d, const struct xgw_domain_create *dc)
{
    struct gntx_usage u = {.dom = d->id};

    if (!dc->max_entries && !dc->max_maps && !dc->max_frames)
        return 0;
    u.max_entries =
        dc->max_entries ? dc->max_entries : GCORE_DEFAULT_MAX_ENTRIES;
    u.max_maps = dc->max_maps ? dc->max_maps : GCORE_DEFAULT_MAX_MAPS;
    u.max_frames = dc->max_frames ? dc->max_frames : GCORE_DEFAULT_MAX_FRAMES;
    return gcore_set_quota(xd.core, GNTX_DOMID_CONTROL, &u);
}

/* Memory, core, quota: everything before the process. */
static int prepare(struct xd_dom *d, const struct xgw_domain_create *dc)
{
    int r = xd_mem_setup(d, dc->memory_bytes);

    if (r < 0)
        return r == -EINVAL ? -ENOMEM : r;
    if ((r = xd_confine_mem(d)) < 0)
        return r;
    r = gcore_dom_add(xd.core, d->id, d->nr_frames, d);
    if (r < 0)
        return r;
    d->in_core = true;
    return set_quota(d, dc);
}

/* Undo of a create that failed before its process started. */
static void create_undo(struct xd_dom *d)
{
    if (d->in_core)
        gcore_dom_remove(xd.core, d->id);
    d->in_core = false;
    xd_dom_free(d);
}

static int start(struct xd_dom *d, const struct xgw_domain_create *dc,
                 char **argv, struct xd_rx *rx)
{
    int r = xd_confine_reach(d, argv[0]);

    if (r == 0)
        r = prepare(d, dc);
    return r ? r : xd_spawn(d, argv, rx->nfds ? rx->fds : NULL);
}

/*
 * The DOMAIN_CREATE reply waiting in d->started goes out: the domain's
 * info, or -ENOENT when its program could not be run (r < 0), and then,
 * unless its init is already gone (the caller tears it down), the domain
 * is destroyed.
 */
static void start_done(struct xd_dom *d, int r, bool gone)
{
    struct xd_group *g = d->started;

    if (!g)
        return;
    d->started = NULL;
    if (r < 0 && g->reply) {
        xd_out_hdr(g->reply)->ret = -ENOENT;
        xd_out_truncate(g->reply, 0);
    }
    xd_group_put(g);
    if (r < 0 && !gone)
        xd_dom_destroy(d, "its program could not be run");
}

/*
 * A starting domain's exec pipe has news (XD_EV_SPAWN), or its init is gone
 * (gone: before it is reaped): is its program running?
 */
void xd_dom_started(struct xd_dom *d, bool gone)
{
    int r = xd_spawn_settle(d, gone);

    if (r <= 0)
        start_done(d, r, gone);
}

/* The loop watches the new domain: its init's end, its exec pipe. */
static int watch(struct xd_dom *d)
{
    d->sev = (struct xd_ev){XD_EV_SPAWN, d};
    if (d->pidfd >= 0 && xd_epoll_add(d->pidfd, EPOLLIN, &d->ev) < 0)
        return -errno;
    return xd_epoll_add(d->errfd, EPOLLIN, &d->sev) < 0 ? -errno : 0;
}

/*
 * The domain runs its init: it is known from now on (its program may
 * connect before the exec pipe tells it runs), and the reply waits for
 * that news.
 */
static void started(struct xd_conn *c, struct xd_dom *d, struct xd_group *g,
                    struct xd_out *reply, const char *prog)
{
    int r;

    xd_dom_insert(d);
    xst_dom_introduce(d);
    xd_log_dom(d, "created by pid %d: pid %d, %" PRIu64 " frames, %s%s",
               (int)c->pid, (int)d->pid, d->nr_frames, prog,
               d->has_ns && xd_confine_on() ? ", confined" : "");
    dom_info(d, xd_out_payload(reply));
    xd_group_get(g);
    d->started = g;
    xd_group_finish(g, c, reply);
    if ((r = watch(d)) < 0) {
        xd_log_dom(d, "cannot watch it: %s", strerror(-r));
        start_done(d, r, false);
    }
}

void xd_dom_create(struct xd_conn *c, struct xd_rx *rx)
{
    struct xgw_domain_create dc;
    struct xd_out *reply = NULL;
    struct xd_group *g = NULL;
    char **argv = NULL;
    struct xd_dom *d = NULL;
    const char *why;
    int r, id;

    why = parse_create(rx, &dc, &argv, &r);
    if (!why && (r = find_name(dc.name)) < 0)
        why = "name in use";
    if (!why && (r = id = free_id()) < 0)
        why = "no free domain id";
    if (!why &&
        (!(d = xd_dom_new((uint16_t)id, dc.name)) || !(g = xd_group_new()) ||
         !(reply = xd_out_new(rx->hdr.op, rx->hdr.seq, 0,
                              sizeof(struct xgw_domain_info))))) {
        r = -ENOMEM;
        why = "out of memory";
    }
    if (!why && (r = start(d, &dc, argv, rx)) < 0)
        why = strerror(-r);
    if (why) {
        xd_log_conn(c, "domain create refused: %s", why);
        if (d)
            create_undo(d);
        if (g)
            xd_group_put(g);
        xd_out_free(reply);
        free(argv);
        xd_reply_err(c, &rx->hdr, r);
        return;
    }
    started(c, d, g, reply, argv[0]);
    free(argv);
}

/* ---- DOMAIN_DESTROY / DOMAIN_WAIT
 * ---------------------------------------------- */

/* The domain a DESTROY/WAIT names; *id is set even when it is gone. */
static struct xd_dom *domid_req(struct xd_conn *c, struct xd_rx *rx,
                                unsigned *id)
{
    struct xgw_domid req;

    *id = GNTX_DOMID_INVALID;
    if (rx->hdr.len != sizeof(req)) {
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return NULL;
    }
    memcpy(&req, rx->pay, sizeof(req));
    if (req.domid == GNTX_DOMID_CONTROL) {
        xd_reply_err(c, &rx->hdr,
                     rx->hdr.op == XGW_OP_DOMAIN_DESTROY ? -EPERM : -EINVAL);
        return NULL;
    }
    *id = req.domid;
    return xd_dom_get(req.domid);
}

/* The reply comes once every mapping of the domain's memory is gone and
 * the process is reaped. */
void xd_dom_destroy_req(struct xd_conn *c, struct xd_rx *rx)
{
    unsigned id;
    struct xd_dom *d = domid_req(c, rx, &id);
    struct xd_group *g;
    char why[64];

    if (!d) {
        if (id != GNTX_DOMID_INVALID)
            xd_reply_err(c, &rx->hdr, -ESRCH);
        return;
    }
    g = xd_group_new();
    if (!g) {
        xd_reply_err(c, &rx->hdr, -ENOMEM);
        return;
    }
    snprintf(why, sizeof(why), "by pid %d", (int)c->pid);
    xd.cur = g;
    xd_dom_destroy(d, why);
    xd.cur = NULL;
    xd_dom_wait_reap(d, g);
    xd_group_finish(g, c, xd_out_new(rx->hdr.op, rx->hdr.seq, 0, 0));
}

void xd_dom_wait(struct xd_conn *c, struct xd_rx *rx)
{
    unsigned id;
    struct xd_dom *d = domid_req(c, rx, &id);
    int status;

    if (!d) {
        if (id != GNTX_DOMID_INVALID)
            xd_reply_err(c, &rx->hdr,
                         xd_dom_exit_status(id, &status) < 0 ? -ESRCH : status);
        return;
    }
    c->wait_dom = d->id;
    c->wait_seq = rx->hdr.seq;
    xd_conn_update(c);
}

/* ---- DOMAIN_LIST
 * -------------------------------------------------------------- */

void xd_dom_list(struct xd_conn *c, struct xd_rx *rx)
{
    uint64_t cap = rx->hdr.aux_count, n = 0, w = 0;
    struct xgw_domain_info *out;
    struct xd_out *m;

    if (rx->hdr.len != 0) {
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    if (cap > XGW_MAX_PAYLOAD / sizeof(*out)) {
        xd_reply_err(c, &rx->hdr, -E2BIG);
        return;
    }
    for (unsigned i = 0; i <= xd_dom_id_top(); i++)
        n += xd.doms[i] != NULL;
    m = xd_out_new(rx->hdr.op, rx->hdr.seq, (int64_t)n,
                   (n < cap ? n : cap) * sizeof(*out));
    if (!m) {
        xd_reply_err(c, &rx->hdr, -ENOMEM);
        return;
    }
    out = xd_out_payload(m);
    for (unsigned i = 0; i <= xd_dom_id_top() && w < cap; i++)
        if (xd.doms[i])
            dom_info(xd.doms[i], &out[w++]);
    xd_out_hdr(m)->aux_count = w;
    xd_reply(c, m);
}
