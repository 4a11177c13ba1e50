/* SPDX-License-Identifier: MIT */
/*
 * txn.c: transactions, with Xen's contract: a transaction sees the
 * store as it was when it started plus its own edits, and its commit fails
 * with EAGAIN when anything it read or edited changed in the meantime.
 *
 * Start takes one reference on the live root (the snapshot) and another as
 * the transaction's own tree, which its edits copy on write.  Every path a
 * request touches is noted with the generation it has in the snapshot (0:
 * missing; then the nearest existing ancestor too, whose generation moves
 * when anything is added or removed below it).  Commit compares those with
 * the live tree, then replays the logged edits on a new reference of the
 * live root, which replaces it only when every edit succeeds.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

struct access {
    char *path;
    uint64_t gen;
};

struct logop {
    struct logop *next;
    uint32_t type;
    size_t len;
    char *path;
    _Alignas(8) char data[];
};

struct xst_txn {
    struct xst_txn *next;
    uint32_t id;
    struct xst_node *snap;
    struct xst_edit e;
    struct access *acc;
    size_t nacc, acc_cap;
    struct logop *log, *log_tail;
    size_t bytes; /* of acc and log, held to XST_TXN_BYTES for a domU */
    int failed;   /* an edit applied to the private tree but not logged */
};

/* Charges bytes of bookkeeping to t; -ENOSPC past a domU's budget (its
 * edits of one node, repeated, would otherwise grow the log forever). */
static int charge(struct xst_txn *t, size_t bytes)
{
    if (t->e.caller && bytes > XST_TXN_BYTES - t->bytes)
        return -ENOSPC;
    t->bytes += bytes;
    return 0;
}

static void txn_free(struct xst_txn *t)
{
    for (size_t i = 0; i < t->nacc; i++)
        free(t->acc[i].path);
    free(t->acc);
    while (t->log) {
        struct logop *o = t->log;

        t->log = o->next;
        free(o);
    }
    xst_node_put(t->snap);
    xst_node_put(t->e.root);
    xst_edit_done(&t->e);
    free(t);
}

int xst_txn_start(struct xst_conn *c, uint32_t *id)
{
    struct xst_txn *t;

    if (c->dom && xst.txns[c->dom] >= XST_QUOTA_TXNS)
        return -ENOSPC;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    do
        t->id = ++c->next_txid;
    while (t->id == 0 || xst_txn_find(c, t->id));
    t->snap = xst_node_get(xst.root);
    t->e = (struct xst_edit){.root = xst_node_get(xst.root),
                             .caller = c->dom,
                             .counts = xst.nodes,
                             .quota = XST_QUOTA_NODES,
                             .gen = &xst.gen};
    t->next = c->txns;
    c->txns = t;
    xst.txns[c->dom]++;
    *id = t->id;
    return 0;
}

struct xst_txn *xst_txn_find(struct xst_conn *c, uint32_t id)
{
    for (struct xst_txn *t = c->txns; t; t = t->next)
        if (t->id == id)
            return t;
    return NULL;
}

struct xst_edit *xst_txn_edit(struct xst_txn *t)
{
    return &t->e;
}

static int note_one(struct xst_txn *t, const char *path, size_t len)
{
    const struct xst_node *n;
    struct access *a;
    char buf[XST_PATH_ABS_MAX + 1];

    if (len > XST_PATH_ABS_MAX)
        return -EINVAL;
    memcpy(buf, path, len);
    buf[len] = '\0';
    for (size_t i = 0; i < t->nacc; i++)
        if (strcmp(t->acc[i].path, buf) == 0)
            return 0;
    if (t->nacc >= XST_TXN_PATHS || charge(t, sizeof(*a) + len + 1) < 0)
        return -ENOSPC;
    if (t->nacc == t->acc_cap) {
        size_t cap = t->acc_cap ? t->acc_cap * 2 : 8;

        a = reallocarray(t->acc, cap, sizeof(*a));
        if (!a)
            return -ENOMEM;
        t->acc = a;
        t->acc_cap = cap;
    }
    n = xst_tree_find(t->snap, buf);
    t->acc[t->nacc].path = strdup(buf);
    if (!t->acc[t->nacc].path)
        return -ENOMEM;
    t->acc[t->nacc++].gen = n ? n->gen : 0;
    return n ? 0 : 1;
}

int xst_txn_note(struct xst_txn *t, const char *path)
{
    size_t len = strlen(path);
    int r = note_one(t, path, len);

    /* Missing: the nearest ancestor that exists is noted too. */
    while (r == 1) {
        while (len > 1 && path[len - 1] != '/')
            len--;
        len = len > 1 ? len - 1 : 1;
        r = note_one(t, path, len);
    }
    return r;
}

int xst_txn_log(struct xst_txn *t, uint32_t type, const char *path,
                const void *data, size_t len)
{
    size_t bytes = type == XS_SET_PERMS ? len * sizeof(struct xst_perm) : len;
    size_t plen = strlen(path) + 1;
    struct logop *o;

    /* The edit is in t's tree already: a commit must not lose it. */
    if (charge(t, sizeof(*o) + bytes + plen) < 0)
        return t->failed = -ENOSPC;
    o = malloc(sizeof(*o) + bytes + plen);
    if (!o)
        return t->failed = -ENOMEM;
    o->next = NULL;
    o->type = type;
    o->len = len;
    if (bytes)
        memcpy(o->data, data, bytes);
    o->path = o->data + bytes;
    memcpy(o->path, path, plen);
    if (t->log_tail)
        t->log_tail->next = o;
    else
        t->log = o;
    t->log_tail = o;
    return 0;
}

static bool conflicts(const struct xst_txn *t)
{
    for (size_t i = 0; i < t->nacc; i++) {
        const struct xst_node *n = xst_tree_find(xst.root, t->acc[i].path);

        if ((n ? n->gen : 0) != t->acc[i].gen)
            return true;
    }
    return false;
}

/* Replays t's edits on the live tree; fires their watches. */
static int commit(struct xst_txn *t, uint16_t dom)
{
    struct xst_node *old;
    struct xst_edit e;
    int r = 0;

    if (t->failed)
        return t->failed;
    if (conflicts(t))
        return -EAGAIN;
    if (!t->log)
        return 0;
    old = xst_node_get(xst.root);
    xst_live_begin(&e, dom);
    for (struct logop *o = t->log; o && r == 0; o = o->next)
        r = xst_edit_apply(&e, o->type, o->path, o->data, o->len);
    xst_live_end(&e, r == 0);
    for (struct logop *o = t->log; o && r == 0; o = o->next)
        xst_watch_fire(o->path, o->type == XS_RM,
                       o->type == XS_RM ? old : xst.root);
    xst_node_put(old);
    /* Unchanged paths replay as they ran; only a quota can differ. */
    return r == 0 || r == -ENOSPC ? r : -EAGAIN;
}

int xst_txn_end(struct xst_conn *c, struct xst_txn *t, bool do_commit)
{
    struct xst_txn **pp = &c->txns;
    int r = do_commit ? commit(t, c->dom) : 0;

    while (*pp != t)
        pp = &(*pp)->next;
    *pp = t->next;
    xst.txns[c->dom]--;
    txn_free(t);
    return r;
}

void xst_txn_drop_all(struct xst_conn *c)
{
    while (c->txns)
        xst_txn_end(c, c->txns, false);
}
