/* SPDX-License-Identifier: MIT */
/*
 * ops.c: one handler per xenstore message type (xs_wire.h), with
 * cxenstored's arguments, replies and errors.
 *
 * A request names its transaction in tx_id (0: none); an unknown one is
 * ENOENT.  Outside a transaction an edit works on a fresh reference of the
 * live root and replaces it only when it succeeds; inside one it works on
 * the transaction's private tree and is logged for the commit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define MAX_ARGS 4

/* The request being served. */
struct req {
    struct xst_conn *c;
    struct xsd_sockmsg h;
    const char *arg[MAX_ARGS];
    unsigned nargs;
    struct xst_txn *t;
    char path[XST_PATH_ABS_MAX + 1];
    size_t rel;
};

/* Splits the payload into n NUL-terminated strings; with rest, the last
 * one is whatever follows (a value: any bytes, no NUL needed). */
static int split(struct req *q, unsigned n, bool rest)
{
    const char *p = q->c->pay, *end = p + q->h.len;

    for (q->nargs = 0; q->nargs < n; q->nargs++) {
        const char *nul;

        if (rest && q->nargs == n - 1) {
            q->arg[q->nargs++] = p;
            return 0;
        }
        nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            return -EINVAL;
        q->arg[q->nargs] = p;
        p = nul + 1;
    }
    return p == end ? 0 : -EINVAL;
}

/* Splits and resolves the first argument as a node name. */
static int path_arg(struct req *q, unsigned n, bool rest, bool special)
{
    int r = split(q, n, rest);

    if (r == 0)
        r = xst_path_canon(q->arg[0], q->c->dom, special, q->path,
                           sizeof(q->path), &q->rel);
    if (r == 0 && q->t && q->path[0] == '/')
        r = xst_txn_note(q->t, q->path);
    return r;
}

static const struct xst_node *read_root(const struct req *q)
{
    return q->t ? xst_txn_edit(q->t)->root : xst.root;
}

static void reply(struct req *q, const void *p, size_t len)
{
    xst_send(q->c, q->h.type, q->h.req_id, q->h.tx_id, p, len, NULL, 0);
}

/* ---- live edits ---------------------------------------------------------- */

int xst_live_begin(struct xst_edit *e, uint16_t caller)
{
    *e = (struct xst_edit){.root = xst_node_get(xst.root),
                           .caller = caller,
                           .counts = xst.nodes,
                           .quota = XST_QUOTA_NODES,
                           .gen = &xst.gen};
    return 0;
}

void xst_live_end(struct xst_edit *e, bool keep)
{
    if (keep) {
        for (size_t i = 0; i < e->nacct; i++) {
            int64_t v = (int64_t)xst.nodes[e->acct[i].dom] + e->acct[i].delta;

            xst.nodes[e->acct[i].dom] = v < 0 ? 0 : (uint32_t)v;
        }
        xst_node_put(xst.root);
        xst.root = e->root;
    } else {
        xst_node_put(e->root);
    }
    e->root = NULL;
    xst_edit_done(e);
}

int xst_edit_apply(struct xst_edit *e, uint32_t type, const char *path,
                   const void *data, size_t len)
{
    if (type == XS_WRITE || type == XS_MKDIR)
        return xst_tree_write(e, path, data, (uint32_t)len, type == XS_MKDIR);
    if (type == XS_RM)
        return xst_tree_rm(e, path);
    return xst_tree_set_perms(e, path, data, (uint32_t)len);
}

static int apply(struct xst_edit *e, const struct req *q, const void *data,
                 size_t len)
{
    e->caller = q->c->dom;
    return xst_edit_apply(e, q->h.type, q->path, data, len);
}

/* Runs the request's edit, live or in its transaction. */
static int edit(struct req *q, const void *data, size_t len)
{
    struct xst_edit live, *e = q->t ? xst_txn_edit(q->t) : &live;
    bool existed = xst_tree_find(read_root(q), q->path) != NULL;
    struct xst_node *old;
    bool changed;
    int r;

    /* What changes nothing fires nothing and needs no replay. */
    changed = q->h.type == XS_MKDIR ? !existed
              : q->h.type == XS_RM  ? existed
                                    : true;
    if (q->t) {
        r = apply(e, q, data, len);
        return r == 0 && changed
                   ? xst_txn_log(q->t, q->h.type, q->path, data, len)
                   : r;
    }
    old = xst_node_get(xst.root);
    xst_live_begin(&live, q->c->dom);
    r = apply(&live, q, data, len);
    xst_live_end(&live, r == 0);
    if (r == 0 && changed)
        xst_watch_fire(q->path, q->h.type == XS_RM,
                       q->h.type == XS_RM ? old : xst.root);
    xst_node_put(old);
    return r;
}

/* ---- handlers ------------------------------------------------------------ */

static int do_read(struct req *q)
{
    const struct xst_node *n;
    int r = path_arg(q, 1, false, false);

    if (r == 0)
        r = xst_tree_get(read_root(q), q->path, q->c->dom, XST_P_READ, &n);
    if (r == 0)
        reply(q, n->val, n->vlen);
    return r < 0 ? r : 1;
}

/* The children's names of the request's node (nargs arguments), each
 * NUL-terminated, into a malloc'd buffer. */
static int kid_names(struct req *q, unsigned nargs,
                     const struct xst_node **node, char **out, size_t *len)
{
    size_t total = 0, off = 0;
    const struct xst_node *n;
    char *buf;
    int r = path_arg(q, nargs, false, false);

    if (r == 0)
        r = xst_tree_get(read_root(q), q->path, q->c->dom, XST_P_READ, &n);
    if (r < 0)
        return r;

    for (uint32_t i = 0; i < n->nkids; i++)
        total += strlen(n->kids[i]->name) + 1;
    buf = malloc(total + 1);
    if (!buf)
        return -ENOMEM;
    for (uint32_t i = 0; i < n->nkids; i++) {
        size_t l = strlen(n->kids[i]->name) + 1;

        memcpy(buf + off, n->kids[i]->name, l);
        off += l;
    }
    *node = n;
    *out = buf;
    *len = total;
    return 0;
}

static int do_directory(struct req *q)
{
    const struct xst_node *n;
    char *names;
    size_t len;
    int r = kid_names(q, 1, &n, &names, &len);

    if (r < 0)
        return r;
    if (len > XENSTORE_PAYLOAD_MAX)
        r = -E2BIG;
    else
        reply(q, names, len);
    free(names);
    return r < 0 ? r : 1;
}

/* "<generation>\0" then the names from byte offset on that fit, and an
 * extra "\0" once the list is complete (libxenstore's xs_directory_part). */
static int do_directory_part(struct req *q)
{
    const struct xst_node *n;
    char *names, *buf, gen[24];
    size_t len, off, take = 0, glen;
    int r = kid_names(q, 2, &n, &names, &len);

    if (r < 0)
        return r;
    off = strtoul(q->arg[1], NULL, 10);
    glen =
        (size_t)snprintf(gen, sizeof(gen), "%llu", (unsigned long long)n->gen) +
        1;
    if (off > len)
        off = len;
    while (off + take < len) {
        size_t l = strlen(names + off + take) + 1;

        if (glen + take + l + 1 > XENSTORE_PAYLOAD_MAX)
            break;
        take += l;
    }
    buf = malloc(glen + take + 1);
    if (buf) {
        memcpy(buf, gen, glen);
        memcpy(buf + glen, names + off, take);
        buf[glen + take] = '\0';
        reply(q, buf, glen + take + (off + take == len));
    }
    free(buf);
    free(names);
    return buf ? 1 : -ENOMEM;
}

static const struct xst_node *special_node(const char *path)
{
    int i = xst_special_index(path);

    return i < 0 ? NULL : xst.special[i];
}

static int do_get_perms(struct req *q)
{
    const struct xst_node *n = NULL;
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t off = 0;
    int r = path_arg(q, 1, false, true);

    if (r == 0 && q->path[0] == '@')
        r = (n = special_node(q->path)) ? 0 : -ENOENT;
    else if (r == 0)
        r = xst_tree_get(read_root(q), q->path, q->c->dom, XST_P_READ, &n);
    for (uint32_t i = 0; r == 0 && i < n->nperms; i++) {
        if (off + 8 > sizeof(buf))
            return -E2BIG;
        off += (size_t)xst_perm_format(&n->perms[i], buf + off, 8) + 1;
    }
    if (r == 0)
        reply(q, buf, off);
    return r < 0 ? r : 1;
}

static int do_set_perms(struct req *q)
{
    struct xst_perm p[XENSTORE_PAYLOAD_MAX / 3];
    const char *perms;
    int r, n;

    if ((r = split(q, 1, true)) < 0)
        return r;
    perms = q->arg[0] + strlen(q->arg[0]) + 1;
    if (perms > q->c->pay + q->h.len)
        return -EINVAL;
    n = xst_perms_parse(perms, (size_t)(q->c->pay + q->h.len - perms), p,
                        q->c->dom ? XST_QUOTA_PERMS : sizeof(p) / sizeof(*p));
    if (n < 0)
        return n;
    if ((r = path_arg(q, 1, true, true)) < 0)
        return r;
    if (q->path[0] == '@') {
        struct xst_node *s = (struct xst_node *)special_node(q->path);
        struct xst_perm *cp = malloc((size_t)n * sizeof(*cp));

        if (!s || q->c->dom != 0 || !cp) {
            free(cp);
            return !s ? -ENOENT : q->c->dom ? -EACCES : -ENOMEM;
        }
        memcpy(cp, p, (size_t)n * sizeof(*cp));
        free(s->perms);
        s->perms = cp;
        s->nperms = (uint32_t)n;
        return 0;
    }
    return edit(q, p, (size_t)n);
}

static int do_write(struct req *q)
{
    const char *val;
    size_t vlen;
    int r = path_arg(q, 2, true, false);

    if (r < 0)
        return r;
    val = q->arg[1];
    vlen = (size_t)(q->c->pay + q->h.len - val);
    if (q->c->dom && vlen > XST_QUOTA_VALUE)
        return -ENOSPC;
    return edit(q, val, vlen);
}

static int do_mkdir_rm(struct req *q)
{
    int r = path_arg(q, 1, false, false);

    return r < 0 ? r : edit(q, NULL, 0);
}

static int do_watch(struct req *q)
{
    int r = path_arg(q, 2, false, true);

    if (r < 0)
        return r;
    if (q->h.type == XS_UNWATCH)
        return xst_watch_del(q->c, q->path, q->arg[1]);
    if (q->c->dom && xst.watches[q->c->dom] >= XST_QUOTA_WATCHES)
        return -E2BIG;
    r = xst_watch_add(q->c, q->path, q->rel, q->arg[1]);
    if (r < 0)
        return r;
    /* The reply first, then the initial event (as cxenstored). */
    xst_send_ok(q->c, &q->h);
    xst_send(q->c, XS_WATCH_EVENT, 0, 0, q->arg[0], strlen(q->arg[0]) + 1,
             q->arg[1], strlen(q->arg[1]) + 1);
    return 1;
}

static int do_txn_start(struct req *q)
{
    char buf[16];
    uint32_t id;
    int r;

    if (q->t)
        return -EBUSY;
    if ((r = split(q, 1, false)) < 0)
        return r;
    if ((r = xst_txn_start(q->c, &id)) < 0)
        return r;
    reply(q, buf, (size_t)snprintf(buf, sizeof(buf), "%u", id) + 1);
    return 1;
}

static int do_txn_end(struct req *q)
{
    int r = split(q, 1, false);

    if (r < 0)
        return r;
    if (!q->t)
        return -ENOENT;
    if (strcmp(q->arg[0], "T") && strcmp(q->arg[0], "F"))
        return -EINVAL;
    return xst_txn_end(q->c, q->t, q->arg[0][0] == 'T');
}

/* A decimal domain id argument; -EINVAL when it is not one. */
static int domid_arg(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);

    if (!*s || *end || s[0] == '-' || v >= XST_DOMID_COUNT)
        return -EINVAL;
    return (int)v;
}

static int do_domain(struct req *q)
{
    char buf[40];
    int id, r = split(q, q->h.type == XS_INTRODUCE ? 3 : 1, false);

    if (r < 0)
        return r;
    if ((id = domid_arg(q->arg[0])) < 0)
        return id;
    if (q->h.type == XS_GET_DOMAIN_PATH) {
        reply(q, buf,
              (size_t)snprintf(buf, sizeof(buf), "/local/domain/%d", id) + 1);
        return 1;
    }
    if (q->c->dom != 0)
        return -EACCES;
    if (q->h.type == XS_IS_DOMAIN_INTRODUCED) {
        reply(q, xst_dom_known((unsigned)id) ? "T" : "F", 2);
        return 1;
    }
    /* INTRODUCE / RELEASE / RESUME: xgrantd itself introduces and releases
     * its domains; for one it knows these are no-ops. */
    return xst_dom_known((unsigned)id) ? 0 : -EINVAL;
}

static int do_reset_watches(struct req *q)
{
    xst_watch_drop_all(q->c);
    xst_txn_drop_all(q->c);
    return 0;
}

static int do_other(struct req *q)
{
    if (q->h.type == XS_CONTROL || q->h.type == XS_SET_TARGET)
        return q->c->dom ? -EACCES : -ENOSYS;
    return -EINVAL; /* WATCH_EVENT, ERROR, unknown types */
}

/* 0: reply "OK"; 1: replied; -errno: error reply. */
static int serve(struct req *q)
{
    switch (q->h.type) {
    case XS_READ:
        return do_read(q);
    case XS_DIRECTORY:
        return do_directory(q);
    case XS_DIRECTORY_PART:
        return do_directory_part(q);
    case XS_GET_PERMS:
        return do_get_perms(q);
    case XS_SET_PERMS:
        return do_set_perms(q);
    case XS_WRITE:
        return do_write(q);
    case XS_MKDIR:
    case XS_RM:
        return do_mkdir_rm(q);
    case XS_WATCH:
    case XS_UNWATCH:
        return do_watch(q);
    case XS_TRANSACTION_START:
        return do_txn_start(q);
    case XS_TRANSACTION_END:
        return do_txn_end(q);
    case XS_GET_DOMAIN_PATH:
    case XS_IS_DOMAIN_INTRODUCED:
    case XS_INTRODUCE:
    case XS_RELEASE:
    case XS_RESUME:
        return do_domain(q);
    case XS_RESET_WATCHES:
        return do_reset_watches(q);
    default:
        return do_other(q);
    }
}

void xst_dispatch(struct xst_conn *c)
{
    struct req q = {.c = c, .h = c->hdr};
    int r = 0;

    if (q.h.tx_id && !(q.t = xst_txn_find(c, q.h.tx_id)))
        r = -ENOENT;
    xst.origin = c->dom; /* the events this request fires are charged to it */
    if (r == 0)
        r = serve(&q);
    xst.origin = 0;
    if (r < 0)
        xst_send_err(c, &q.h, r);
    else if (r == 0)
        xst_send_ok(c, &q.h);
}
