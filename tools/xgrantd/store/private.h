/* SPDX-License-Identifier: MIT */
/*
 * private.h: the store inside xgrantd, serving the xenstore wire
 * protocol (xen/io/xs_wire.h) on its own Unix socket, so the real
 * libxenstore and xenstore-* tools work against it.
 *
 *   tree (tree.c)    an immutable-when-shared node tree: a node is
 *                    reference counted and copied before it is changed
 *                    while anyone else holds it, so a snapshot is one
 *                    reference on the root (transactions), and an edit
 *                    that fails half-way is dropped without a trace;
 *   conn (conn.c)    a client socket: framing, bounded queues, identity
 *                    from the kernel (xd_identify, as hypercalls);
 *   ops (ops.c)      one handler per message type;
 *   txn (txn.c)      transactions: a private root from the snapshot,
 *                    the paths read (with the generation they had) and
 *                    the edits, replayed on the live tree at commit when
 *                    none of those paths changed, else EAGAIN;
 *   watch (watch.c)  watches and their events;
 *   dom (dom.c)      per-domain accounting, what libxl writes when a
 *                    domain is made or destroyed, @introduceDomain /
 *                    @releaseDomain.
 * tree.c and path.c depend on libc only (unit-tested alone).
 * Names are xst_ (XST_ for macros): libxenstore owns xs_, and
 * the XS_* message types here are xs_wire.h's.
 */
#ifndef XGRANTD_STORE_PRIVATE_H
#define XGRANTD_STORE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <xen/io/xs_wire.h>

/* Xen's defaults (cxenstored 4.17), for domains other than 0. */
#define XST_QUOTA_NODES   1000u /* nodes a domain owns: ENOSPC */
#define XST_QUOTA_WATCHES 128u  /* watches of a domain: E2BIG */
#define XST_QUOTA_TXNS    10u   /* open transactions of a domain: ENOSPC */
#define XST_QUOTA_VALUE   2048u /* bytes of one value: ENOSPC */
#define XST_QUOTA_PERMS   5u    /* entries of one permission list: ENOSPC */
#define XST_TXN_PATHS     1024u /* paths one transaction may touch: ENOSPC */
#define XST_EVQ_MAX       (64u << 10) /* queued events a domU caused */
/* Memory of one domU transaction's noted paths and logged edits: ENOSPC */
#define XST_TXN_BYTES (256u << 10)
/* Path length below "/local/domain/<id>/" (or of the whole path): EINVAL */
#define XST_PATH_REL_MAX XENSTORE_REL_PATH_MAX
#define XST_PATH_ABS_MAX XENSTORE_ABS_PATH_MAX
#define XST_DOMID_COUNT  0x7ff0u /* GNTX_DOMID_MAX + 1 */

/* ---- tree.c ---- */
enum { XST_P_NONE = 0, XST_P_READ = 1, XST_P_WRITE = 2, XST_P_BOTH = 3 };

struct xst_perm {
    uint16_t dom;
    uint8_t mode; /* XST_P_* */
};

/* A node; shared (ref > 1) nodes are never changed. */
struct xst_node {
    unsigned ref;
    uint64_t gen; /* generation of its last change (value, perms, kids) */
    char *name;   /* one path component; "" for the root */
    char *val;
    uint32_t vlen;
    uint32_t nperms; /* >= 1: perms[0] is the owner and everyone's mode */
    struct xst_perm *perms;
    uint32_t nkids; /* sorted by name */
    struct xst_node **kids;
};

/* Node-count changes an edit made, per owner. */
struct xst_acct {
    uint16_t dom;
    int32_t delta;
};

/* One edit of a tree. */
struct xst_edit {
    struct xst_node *root;  /* in/out: shared nodes are copied */
    uint16_t caller;        /* domain 0 may do everything */
    const uint32_t *counts; /* nodes owned per domain before the edit */
    uint32_t quota;         /* most nodes a domU may own */
    uint64_t *gen;          /* the generation counter */
    struct xst_acct *acct;  /* what this edit changed in counts */
    size_t nacct, acct_cap;
};

struct xst_node *xst_node_get(struct xst_node *n);
void xst_node_put(struct xst_node *n);
/* A root "/" owned by domain 0, nobody else may read it. */
struct xst_node *xst_tree_new(void);
/* The node at an absolute canonical path, or NULL. */
const struct xst_node *xst_tree_find(const struct xst_node *root,
                                     const char *path);
/* The node at path or its nearest existing ancestor (never NULL). */
const struct xst_node *xst_tree_nearest(const struct xst_node *root,
                                        const char *path);
/* What dom may do with n (XST_P_* bits). */
unsigned xst_perm_for(const struct xst_node *n, uint16_t dom);
/* The node at path if dom may `need` it: 0, -ENOENT (-EACCES when the
 * nearest ancestor is unreadable), -EACCES. */
int xst_tree_get(const struct xst_node *root, const char *path, uint16_t dom,
                 unsigned need, const struct xst_node **out);
/* WRITE (mkdir false) or MKDIR: creates missing nodes (perms inherited,
 * owned by the creator when it is not domain 0); -EACCES, -ENOSPC. */
int xst_tree_write(struct xst_edit *e, const char *path, const char *val,
                   uint32_t vlen, bool mkdir);
/* RM of a subtree: 0 also when path is missing but its parent is there. */
int xst_tree_rm(struct xst_edit *e, const char *path);
/* SET_PERMS: owner or domain 0; only domain 0 may change the owner. */
int xst_tree_set_perms(struct xst_edit *e, const char *path,
                       const struct xst_perm *p, uint32_t n);
/* A domain is gone: what it owned goes to domain 0, permission entries
 * naming it are dropped (a later domain with its id inherits nothing). */
int xst_tree_forget_dom(struct xst_edit *e, uint16_t dom);
/* acct of e for dom (0 when untouched). */
int32_t xst_acct_of(const struct xst_edit *e, uint16_t dom);
void xst_edit_done(struct xst_edit *e);

/* ---- path.c ---- */
/* Canonical absolute path of a request's path for domain dom: relative
 * paths resolve against /local/domain/<dom>; special "@..." names are kept
 * when special.  0 or -EINVAL (bad characters, "//", trailing '/', too
 * long). *rel is the offset to strip to give back a relative form (0 when
 * the request was absolute). */
int xst_path_canon(const char *in, uint16_t dom, bool special, char *out,
                   size_t len, size_t *rel);
/* Is path equal to or below base (both canonical)? */
bool xst_path_under(const char *path, const char *base);
/* Permission list "<r|w|b|n><domid>" strings into p (at most max); count
 * or -EINVAL. */
int xst_perms_parse(const char *strs, size_t len, struct xst_perm *p,
                    unsigned max);
/* One permission as text ("r3"); writes at most 8 bytes incl NUL. */
int xst_perm_format(const struct xst_perm *p, char *buf, size_t len);

#ifndef XST_TREE_ONLY
#include "../private.h"

/* ---- conn.c ---- */
struct xst_txn;
struct xst_watch;

struct xst_outm {
    struct xst_outm *next;
    size_t len, off;
    uint16_t origin; /* a watch event a domU's edit fired (0: none) */
    uint8_t buf[];
};

struct xst_conn {
    struct xst_conn *prev, *next;
    int fd;
    pid_t pid;
    uint16_t dom;
    bool closed;
    struct xd_ev ev;
    uint32_t ev_mask;
    struct xsd_sockmsg hdr; /* request being read */
    size_t hdr_got, pay_got;
    char pay[XENSTORE_PAYLOAD_MAX + 1]; /* +1: room for a closing NUL */
    struct xst_outm *out, *out_tail;
    size_t out_bytes;
    struct xst_txn *txns;
    struct xst_watch *watches;
    uint32_t next_txid;
};

/* Global state of the store. */
struct xst_store {
    int lfd;
    struct xd_ev lev;
    char sock[128];
    struct xst_node *root;
    uint64_t gen;
    struct xst_node *special[2]; /* @introduceDomain, @releaseDomain */
    struct xst_conn *conns, *grave;
    unsigned nconns;
    uint32_t nodes[XST_DOMID_COUNT];
    uint16_t watches[XST_DOMID_COUNT];
    uint8_t txns[XST_DOMID_COUNT];
    uint16_t sconns[XST_DOMID_COUNT];
    /* Watch events a domain's edits fired that are still queued (bytes,
     * over every connection), and the domain whose request is served. */
    uint32_t evq[XST_DOMID_COUNT];
    uint16_t origin;
};
extern struct xst_store xst;

int xst_store_listen(const char *path);
int xst_store_start(void);
void xst_store_close(void);
void xst_accept(void);
void xst_conn_event(struct xst_conn *c, uint32_t events);
void xst_conn_close(struct xst_conn *c, const char *why);
void xst_reap_graveyard(void);
/* Queues a message; false when the connection had to be closed. */
bool xst_send(struct xst_conn *c, uint32_t type, uint32_t req, uint32_t tx,
              const void *p1, size_t l1, const void *p2, size_t l2);
/* A watch event caused by domain xst.origin: while that domain already has
 * XST_EVQ_MAX bytes of events queued anywhere, it is dropped (true: the
 * connection is fine), so a flooding domU fills nobody's queue but with
 * its own events and never gets another connection closed. */
bool xst_send_event(struct xst_conn *c, const char *path, const char *token);
void xst_send_err(struct xst_conn *c, const struct xsd_sockmsg *h, int err);
void xst_send_ok(struct xst_conn *c, const struct xsd_sockmsg *h);

/* ---- ops.c ---- */
void xst_dispatch(struct xst_conn *c);
/* WRITE/MKDIR (data: the value), RM, SET_PERMS (data: len xst_perms). */
int xst_edit_apply(struct xst_edit *e, uint32_t type, const char *path,
                   const void *data, size_t len);
/* A live edit as domain caller on a new reference of the root; end keeps
 * it (the root and the node counts replaced) or drops it. */
int xst_live_begin(struct xst_edit *e, uint16_t caller);
void xst_live_end(struct xst_edit *e, bool keep);

/* ---- txn.c ---- */
int xst_txn_start(struct xst_conn *c, uint32_t *id);
struct xst_txn *xst_txn_find(struct xst_conn *c, uint32_t id);
/* The tree a request of transaction t reads and edits. */
struct xst_edit *xst_txn_edit(struct xst_txn *t);
/* Records that t's result depends on path (and, when it is missing, on its
 * nearest ancestor); -ENOSPC past XST_TXN_PATHS. */
int xst_txn_note(struct xst_txn *t, const char *path);
/* Appends an edit to replay at commit. */
int xst_txn_log(struct xst_txn *t, uint32_t type, const char *path,
                const void *data, size_t len);
int xst_txn_end(struct xst_conn *c, struct xst_txn *t, bool commit);
void xst_txn_drop_all(struct xst_conn *c);

/* ---- watch.c ---- */
int xst_watch_add(struct xst_conn *c, const char *path, size_t rel,
                  const char *token);
int xst_watch_del(struct xst_conn *c, const char *path, const char *token);
void xst_watch_drop_all(struct xst_conn *c);
/* Events for a change at path: watches on it or above; with recurse (RM)
 * also watches below.  Readability is judged in permroot. */
void xst_watch_fire(const char *path, bool recurse,
                    const struct xst_node *permroot);
/* @introduceDomain / @releaseDomain */
void xst_watch_fire_special(unsigned which);

/* ---- dom.c ---- */
int xst_dom_init(void);
bool xst_dom_known(unsigned id);
/* The special node name -> index (0/1) or -1. */
int xst_special_index(const char *path);
#endif /* XST_TREE_ONLY */

#endif /* XGRANTD_STORE_PRIVATE_H */
