/* SPDX-License-Identifier: MIT */
/*
 * sim_ctl.c: domain control over the sim transport (XGW_OP_DOMAIN_*,
 * XGW_OP_SHUTDOWN).  The configuration was validated by ctl.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../private.h"

/* argv as NUL-separated strings, in one buffer. */
static int pack_argv(char *const *argv, uint32_t *argc, char **buf, size_t *len)
{
    size_t total = 0, n, i;
    char *p;

    for (i = 0; argv[i]; i++) {
        n = strlen(argv[i]) + 1;
        if (__builtin_add_overflow(total, n, &total) ||
            total > XGW_MAX_PAYLOAD - sizeof(struct xgw_domain_create))
            return -E2BIG;
    }
    p = malloc(total);
    if (!p)
        return -ENOMEM;
    *buf = p;
    *len = total;
    *argc = (uint32_t)i;
    for (i = 0; argv[i]; i++) {
        n = strlen(argv[i]) + 1;
        memcpy(p, argv[i], n);
        p += n;
    }
    return 0;
}

/* The three stdio fds to send (-1 replaced by /dev/null); *nfds 0 when all
 * are -1.  `opened` marks the fds this function opened. */
static int stdio_fds(const int in[3], int out[3], int opened[3], unsigned *nfds)
{
    int i;

    *nfds = 0;
    if (in[0] < 0 && in[1] < 0 && in[2] < 0)
        return 0;
    for (i = 0; i < 3; i++) {
        opened[i] = in[i] < 0;
        out[i] = in[i];
        if (opened[i])
            out[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (out[i] < 0) {
            while (i-- > 0)
                if (opened[i])
                    close(out[i]);
            return -errno;
        }
    }
    *nfds = 3;
    return 0;
}

static int create_rpc(grant_handle_t *h, struct xgw_domain_create *req,
                      char *args, size_t args_len, const int stdio[3],
                      struct xgw_domain_info *info)
{
    struct iovec iov[2] = {{req, sizeof(*req)}, {args, args_len}};
    int fds[3], opened[3] = {0, 0, 0}, rc, i;
    struct sim_rpc r = {.op = XGW_OP_DOMAIN_CREATE,
                        .count = 1,
                        .iov = iov,
                        .iovcnt = 2,
                        .fds_in = fds,
                        .rep = info,
                        .rep_size = sizeof(*info)};

    rc = stdio_fds(stdio, fds, opened, &r.nfds_in);
    if (rc < 0)
        return rc;
    rc = lg_sim_status(lg_sim_rpc(h, &r), &r);
    if (rc >= 0 && !r.got_rep)
        rc = -EPROTO;
    for (i = 0; i < (int)r.nfds_in; i++)
        if (opened[i])
            close(fds[i]);
    return rc < 0 ? rc : 0;
}

int lg_sim_domain_create(grant_handle_t *h,
                         const struct grant_domain_config *cfg,
                         grant_domid_t *domid)
{
    struct xgw_domain_create req = {.memory_bytes = cfg->memory_bytes,
                                    .max_entries = cfg->max_entries,
                                    .max_maps = cfg->max_maps,
                                    .max_frames = cfg->max_frames};
    struct xgw_domain_info info;
    size_t args_len;
    char *args;
    int rc;

    strncpy(req.name, cfg->name, sizeof(req.name) - 1);
    rc = pack_argv(cfg->argv, &req.argc, &args, &args_len);
    if (rc < 0)
        return rc;
    rc = create_rpc(h, &req, args, args_len, cfg->stdio, &info);
    free(args);
    if (rc == 0)
        *domid = info.domid;
    return rc;
}

static int domid_call(grant_handle_t *h, uint32_t op, grant_domid_t domid)
{
    struct xgw_domid d = {.domid = domid};
    struct iovec iov = {&d, sizeof(d)};
    struct sim_rpc r = {.op = op, .count = 1, .iov = &iov, .iovcnt = 1};

    return lg_sim_status(lg_sim_rpc(h, &r), &r);
}

int lg_sim_domain_destroy(grant_handle_t *h, grant_domid_t domid)
{
    int rc = domid_call(h, XGW_OP_DOMAIN_DESTROY, domid);

    return rc < 0 ? rc : 0;
}

int lg_sim_domain_wait(grant_handle_t *h, grant_domid_t domid)
{
    return domid_call(h, XGW_OP_DOMAIN_WAIT, domid);
}

static void info_from_wire(struct grant_domain_info *o,
                           const struct xgw_domain_info *w)
{
    memset(o, 0, sizeof(*o));
    memcpy(o->name, w->name, sizeof(o->name) - 1);
    o->domid = w->domid;
    o->dying = w->state == XGW_DOM_DYING;
    o->pid = w->pid;
    o->mem_frames = w->mem_frames;
    o->usage.entries = w->usage.entries;
    o->usage.max_entries = w->usage.max_entries;
    o->usage.maps = w->usage.maps;
    o->usage.max_maps = w->usage.max_maps;
    o->usage.frames = w->usage.frames;
    o->usage.max_frames = w->usage.max_frames;
    o->usage.mem_frames = w->usage.mem_frames;
}

int lg_sim_domain_list(grant_handle_t *h, struct grant_domain_info *out,
                       unsigned cap)
{
    const unsigned most = XGW_MAX_PAYLOAD / sizeof(struct xgw_domain_info);
    struct xgw_domain_info *w = NULL;
    struct sim_rpc r = {.op = XGW_OP_DOMAIN_LIST, .aux_elem = sizeof(*w)};
    uint64_t i;
    int rc;

    if (cap > most)
        cap = most;
    if (cap) {
        w = calloc(cap, sizeof(*w));
        if (!w)
            return -ENOMEM;
    }
    r.aux = w;
    r.aux_count = r.aux_cap = cap;
    rc = lg_sim_status(lg_sim_rpc(h, &r), &r);
    if (rc >= 0 && r.aux_got < ((unsigned)rc < cap ? (unsigned)rc : cap))
        rc = -EPROTO; /* fewer entries than it says there are */
    for (i = 0; rc >= 0 && i < r.aux_got; i++)
        info_from_wire(&out[i], &w[i]);
    free(w);
    return rc;
}

int lg_sim_shutdown(grant_handle_t *h)
{
    struct sim_rpc r = {.op = XGW_OP_SHUTDOWN};
    int rc = lg_sim_status(lg_sim_rpc(h, &r), &r);

    return rc < 0 ? rc : 0;
}
