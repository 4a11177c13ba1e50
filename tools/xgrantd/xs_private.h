/* SPDX-License-Identifier: MIT */
/*
 * xs_private.h: the store inside xgrantd, serving the xenstore wire
 * protocol (xen/io/xs_wire.h) on its own Unix socket, so the real
 * libxenstore and xenstore-* tools work against it.
 *
 *   tree (xs_tree.c)    an immutable-when-shared node tree: a node is
 *                       reference counted and copied before it is changed
 *                       while anyone else holds it, so a snapshot is one
 *                       reference on the root (transactions), and an edit
 *                       that fails half-way is dropped without a trace;
 *   conn (xs_conn.c)    a client socket: framing, bounded queues, identity
 *                       from the kernel (xd_identify, as hypercalls);
 *   ops (xs_ops.c)      one handler per message type;
 *   txn (xs_txn.c)      transactions: a private root from the snapshot,
 *                       the paths read (with the generation they had) and
 *                       the edits, replayed on the live tree at commit when
 *                       none of those paths changed, else EAGAIN;
 *   watch (xs_watch.c)  watches and their events;
 *   dom (xs_dom.c)      per-domain accounting, what libxl writes when a
 *                       domain is made or destroyed, @introduceDomain /
 *                       @releaseDomain.
 * xs_tree.c and xs_path.c depend on libc only (unit-tested alone).
 */
#ifndef XGRANTD_XS_PRIVATE_H
#define XGRANTD_XS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/io/xs_wire.h>

/* Xen's defaults (cxenstored 4.17), for domains other than 0. */
#define XS_QUOTA_NODES   1000u /* nodes a domain owns: ENOSPC */
#define XS_QUOTA_WATCHES 128u  /* watches of a domain: E2BIG */
#define XS_QUOTA_TXNS    10u   /* open transactions of a domain: ENOSPC */
#define XS_QUOTA_VALUE   2048u /* bytes of one value: ENOSPC */
#define XS_QUOTA_PERMS   5u    /* entries of one permission list: ENOSPC */
#define XS_TXN_PATHS     1024u /* paths one transaction may touch: ENOSPC */
#define XS_EVQ_MAX       (64u << 10) /* queued events a domU caused */
/* Memory of one domU transaction's noted paths and logged edits: ENOSPC */
#define XS_TXN_BYTES (256u << 10)
/* Path length below "/local/domain/<id>/" (or of the whole path): EINVAL */
#define XS_PATH_REL_MAX XENSTORE_REL_PATH_MAX
#define XS_PATH_ABS_MAX XENSTORE_ABS_PATH_MAX
#define XS_DOMID_COUNT  0x7ff0u /* GNTX_DOMID_MAX + 1 */

/* ---- xs_tree.c ---- */
enum { XS_P_NONE = 0, XS_P_READ = 1, XS_P_WRITE = 2, XS_P_BOTH = 3 };

struct xs_perm {
    uint16_t dom;
    uint8_t mode; /* XS_P_* */
};

/* A node; shared (ref > 1) nodes are never changed. */
struct xs_node {
    unsigned ref;
    uint64_t gen; /* generation of its last change (value, perms, kids) */
    char *name;   /* one path component; "" for the root */
    char *val;
    uint32_t vlen;
    uint32_t nperms; /* >= 1: perms[0] is the owner and everyone's mode */
    struct xs_perm *perms;
    uint32_t nkids; /* sorted by name */
    struct xs_node **kids;
};

/* Node-count changes an edit made, per owner. */
struct xs_acct {
    uint16_t dom;
    int32_t delta;
};

/* One edit of a tree. */
struct xs_edit {
    struct xs_node *root;   /* in/out: shared nodes are copied */
    uint16_t caller;        /* domain 0 may do everything */
    const uint32_t *counts; /* nodes owned per domain before the edit */
    uint32_t quota;         /* most nodes a domU may own */
    uint64_t *gen;          /* the generation counter */
    struct xs_acct *acct;   /* what this edit changed in counts */
    size_t nacct, acct_cap;
};

struct xs_node *xs_node_get(struct xs_node *n);
void xs_node_put(struct xs_node *n);
/* A root "/" owned by domain 0, nobody else may read it. */
struct xs_node *xs_tree_new(void);
/* The node at an absolute canonical path, or NULL. */
const struct xs_node *xs_tree_find(const struct xs_node *root,
                                   const char *path);
/* The node at path or its nearest existing ancestor (never NULL). */
const struct xs_node *xs_tree_nearest(const struct xs_node *root,
                                      const char *path);
/* What dom may do with n (XS_P_* bits). */
unsigned xs_perm_for(const struct xs_node *n, uint16_t dom);
/* The node at path if dom may `need` it: 0, -ENOENT (-EACCES when the
 * nearest ancestor is unreadable), -EACCES. */
int xs_tree_get(const struct xs_node *root, const char *path, uint16_t dom,
                unsigned need, const struct xs_node **out);
/* WRITE (mkdir false) or MKDIR: creates missing nodes (perms inherited,
 * owned by the creator when it is not domain 0); -EACCES, -ENOSPC. */
int xs_tree_write(struct xs_edit *e, const char *path, const char *val,
                  uint32_t vlen, bool mkdir);
/* RM of a subtree: 0 also when path is missing but its parent is there. */
int xs_tree_rm(struct xs_edit *e, const char *path);
/* SET_PERMS: owner or domain 0; only domain 0 may change the owner. */
int xs_tree_set_perms(struct xs_edit *e, const char *path,
                      const struct xs_perm *p, uint32_t n);
/* A domain is gone: what it owned goes to domain 0, permission entries
 * naming it are dropped (a later domain with its id inherits nothing). */
int xs_tree_forget_dom(struct xs_edit *e, uint16_t dom);
/* acct of e for dom (0 when untouched). */
int32_t xs_acct_of(const struct xs_edit *e, uint16_t dom);
void xs_edit_done(struct xs_edit *e);

/* ---- xs_path.c ---- */
/* Canonical absolute path of a request's path for domain dom: relative
 * paths resolve against /local/domain/<dom>; special "@..." names are kept
 * when special.  0 or -EINVAL (bad characters, "//", trailing '/', too
 * long). *rel is the offset to strip to give back a relative form (0 when
 * the request was absolute). */
int xs_path_canon(const char *in, uint16_t dom, bool special, char *out,
                  size_t len, size_t *rel);
/* Is path equal to or below base (both canonical)? */
bool xs_path_under(const char *path, const char *base);
/* Permission list "<r|w|b|n><domid>" strings into p (at most max); count
 * or -EINVAL. */
int xs_perms_parse(const char *strs, size_t len, struct xs_perm *p,
                   unsigned max);
/* One permission as text ("r3"); writes at most 8 bytes incl NUL. */
int xs_perm_format(const struct xs_perm *p, char *buf, size_t len);

#ifndef XS_TREE_ONLY
#include "private.h"

/* ---- xs_conn.c ---- */
struct xs_txn;
struct xs_watch;

struct xs_outm {
    struct xs_outm *next;
    size_t len, off;
    uint16_t origin; /* a watch event a domU's edit fired (0: none) */
    uint8_t buf[];
};

struct xs_conn {
    struct xs_conn *prev, *next;
    int fd;
    pid_t pid;
    uint16_t dom;
    bool closed;
    struct xd_ev ev;
    uint32_t ev_mask;
    struct xsd_sockmsg hdr; /* request being read */
    size_t hdr_got, pay_got;
    char pay[XENSTORE_PAYLOAD_MAX + 1]; /* +1: room for a closing NUL */
    struct xs_outm *out, *out_tail;
    size_t out_bytes;
    struct xs_txn *txns;
    struct xs_watch *watches;
    uint32_t next_txid;
};

/* Global state of the store. */
struct xs_store {
    int lfd;
    struct xd_ev lev;
    char sock[128];
    struct xs_node *root;
    uint64_t gen;
    struct xs_node *special[2]; /* @introduceDomain, @releaseDomain */
    struct xs_conn *conns, *grave;
    unsigned nconns;
    uint32_t nodes[XS_DOMID_COUNT];
    uint16_t watches[XS_DOMID_COUNT];
    uint8_t txns[XS_DOMID_COUNT];
    uint16_t sconns[XS_DOMID_COUNT];
    /* Watch events a domain's edits fired that are still queued (bytes,
     * over every connection), and the domain whose request is served. */
    uint32_t evq[XS_DOMID_COUNT];
    uint16_t origin;
};
extern struct xs_store xs;

int xs_store_listen(const char *path);
int xs_store_start(void);
void xs_store_close(void);
void xs_accept(void);
void xs_conn_event(struct xs_conn *c, uint32_t events);
void xs_conn_close(struct xs_conn *c, const char *why);
void xs_reap_graveyard(void);
/* Queues a message; false when the connection had to be closed. */
bool xs_send(struct xs_conn *c, uint32_t type, uint32_t req, uint32_t tx,
             const void *p1, size_t l1, const void *p2, size_t l2);
/* A watch event caused by domain xs.origin: while that domain already has
 * XS_EVQ_MAX bytes of events queued anywhere, it is dropped (true: the
 * connection is fine), so a flooding domU fills nobody's queue but with
 * its own events and never gets another connection closed. */
bool xs_send_event(struct xs_conn *c, const char *path, const char *token);
void xs_send_err(struct xs_conn *c, const struct xsd_sockmsg *h, int err);
void xs_send_ok(struct xs_conn *c, const struct xsd_sockmsg *h);

/* ---- xs_ops.c ---- */
void xs_dispatch(struct xs_conn *c);
/* WRITE/MKDIR (data: the value), RM, SET_PERMS (data: len xs_perms). */
int xs_edit_apply(struct xs_edit *e, uint32_t type, const char *path,
                  const void *data, size_t len);
/* A live edit as domain caller on a new reference of the root; end keeps
 * it (the root and the node counts replaced) or drops it. */
int xs_live_begin(struct xs_edit *e, uint16_t caller);
void xs_live_end(struct xs_edit *e, bool keep);

/* ---- xs_txn.c ---- */
int xs_txn_start(struct xs_conn *c, uint32_t *id);
struct xs_txn *xs_txn_find(struct xs_conn *c, uint32_t id);
/* The tree a request of transaction t reads and edits. */
struct xs_edit *xs_txn_edit(struct xs_txn *t);
/* Records that t's result depends on path (and, when it is missing, on its
 * nearest ancestor); -ENOSPC past XS_TXN_PATHS. */
int xs_txn_note(struct xs_txn *t, const char *path);
/* Appends an edit to replay at commit. */
int xs_txn_log(struct xs_txn *t, uint32_t type, const char *path,
               const void *data, size_t len);
int xs_txn_end(struct xs_conn *c, struct xs_txn *t, bool commit);
void xs_txn_drop_all(struct xs_conn *c);

/* ---- xs_watch.c ---- */
int xs_watch_add(struct xs_conn *c, const char *path, size_t rel,
                 const char *token);
int xs_watch_del(struct xs_conn *c, const char *path, const char *token);
void xs_watch_drop_all(struct xs_conn *c);
/* Events for a change at path: watches on it or above; with recurse (RM)
 * also watches below.  Readability is judged in permroot. */
void xs_watch_fire(const char *path, bool recurse,
                   const struct xs_node *permroot);
/* @introduceDomain / @releaseDomain */
void xs_watch_fire_special(unsigned which);

/* ---- xs_dom.c ---- */
int xs_dom_init(void);
bool xs_dom_known(unsigned id);
/* The special node name -> index (0/1) or -1. */
int xs_special_index(const char *path);
#endif /* XS_TREE_ONLY */

#endif /* XGRANTD_XS_PRIVATE_H */
