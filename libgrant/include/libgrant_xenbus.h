/* SPDX-License-Identifier: MIT */
/*
 * libgrant_xenbus.h: xenstore helpers for split drivers (xenbus).
 *
 * The model
 * ---------
 * A split device is two directories in the store.  The FRONTEND directory
 * /local/domain/<fe>/device/<kind>/<devid> belongs to the guest; the
 * BACKEND directory /local/domain/<be>/backend/<kind>/<fe>/<devid> belongs
 * to the driver domain.  The toolstack (`xgrant create`, xl on Xen) writes
 * both, each with a pointer to the other ("backend" in the frontend
 * directory, "frontend" in the backend one) and the peer's domain id
 * ("backend-id", "frontend-id").  Each end then publishes its XenbusState
 * in its own "state" node (xen/io/xenbus.h) and watches the peer's:
 * Initialising -> InitWait (backend ready) -> Initialised/Connected ->
 * Closing -> Closed.  Teardown: one end goes Closing, the other follows
 * to Closed, then the toolstack removes both directories.
 *
 * These helpers are a thin layer over the REAL libxenstore, so the same
 * code runs against xgrantd's store and against xenstored on Xen.
 *
 * Conventions
 * -----------
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure.  libxenstore may change errno; these functions never rely on
 * it being preserved.  Nothing is logged.  Strings returned through
 * `char **` out-parameters are malloc'ed: the caller frees them.  A node
 * is named by a directory and a node name; `node` may be NULL or "" to
 * mean the directory itself.  `t` is a transaction from
 * grant_xenbus_transaction_start or XBT_NULL.
 *
 * Threads: reads, writes, rm and transactions may be called from several
 * threads on one handle (libxenstore serialises them).  The watch/event
 * functions (grant_xenbus_watch .. grant_xenbus_wait_state) must be called
 * from one thread at a time per handle.  After fork(), the child must not
 * use the parent's handle; it opens its own.
 *
 * Blocking: every call that talks to the store blocks for one round trip;
 * grant_xenbus_read_event and the wait functions block up to their
 * timeout (milliseconds; -1: forever, 0: poll once).
 */
#ifndef LIBGRANT_XENBUS_H
#define LIBGRANT_XENBUS_H

#include <stdarg.h>
#include <stddef.h>

#include <xen/io/xenbus.h>
#include <xenstore.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grant_xenbus grant_xenbus_t;

/* Longest store path these helpers build (xs_wire.h's XENSTORE_ABS_PATH_MAX
 * plus the NUL). */
#define GRANT_XENBUS_PATH_MAX 3073u

/* ---- Handles ---------------------------------------------------------- */

/*
 * Opens a connection to the store.  Under xgrantd (XGRANT_TRANSPORT unset
 * or "sim") the store is xgrantd's: when $XENSTORED_PATH is unset it is
 * set, for this process, to the store socket next to $XGRANT_SOCK (so the
 * path rule is the daemon's; domains spawned by xgrantd already have it).
 * With XGRANT_TRANSPORT=xen, libxenstore's own default is used (xenstored's
 * socket, else /dev/xen/xenbus).  Because setting the environment is not
 * thread-safe, open the first handle before starting threads that read
 * the environment (or set XENSTORED_PATH yourself).  flags: 0.  -EINVAL
 * (flags), -ENOMEM, -ENOENT/-ECONNREFUSED (no store listening), or what xs_open
 * failed with.
 */
int grant_xenbus_open(grant_xenbus_t **out, unsigned flags);
/* Removes the handle's watches and closes it.  NULL-safe. */
void grant_xenbus_close(grant_xenbus_t *xb);
/* The underlying libxenstore handle, owned by xb (do not close it; do not
 * consume its watch events: use grant_xenbus_read_event). */
struct xs_handle *grant_xenbus_xs(grant_xenbus_t *xb);

/* ---- Nodes ------------------------------------------------------------ */

/* Reads dir/node into *value (NUL-terminated, malloc'ed); *len (may be
 * NULL) gets its length.  -ENOENT (no such node), -EACCES, ... */
int grant_xenbus_read(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                      const char *node, char **value, unsigned *len);
/* Writes a string; missing parents are created (inheriting permissions). */
int grant_xenbus_write(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                       const char *node, const char *value);
/* printf-formatted write.  -ENAMETOOLONG if the value exceeds 4096 bytes. */
int grant_xenbus_printf(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                        const char *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* scanf-formatted read: returns the number of items converted (as sscanf;
 * 0 when nothing matched) or -errno from the read. */
int grant_xenbus_scanf(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                       const char *node, const char *fmt, ...)
    __attribute__((format(scanf, 5, 6)));
/* Removes dir/node and everything below it.  A missing node is success. */
int grant_xenbus_rm(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                    const char *node);
/* Creates a directory node (empty value) if missing. */
int grant_xenbus_mkdir(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                       const char *node);
/* Sets a node's permissions from a string as xenstore-chmod takes them,
 * e.g. "n5,r0" (first entry: owner and everyone's access).  Each entry is
 * n, r, w or b and a domain id of 1 to 5 digits, at most 32751 (the store
 * parses entries with the same code).  -EINVAL for a malformed string; at
 * most 16 entries. */
int grant_xenbus_set_perms(grant_xenbus_t *xb, xs_transaction_t t,
                           const char *dir, const char *node,
                           const char *perms);

/* ---- Device paths ----------------------------------------------------- */

/* "/local/domain/<fe>/device/<kind>/<devid>".  -ENAMETOOLONG, -EINVAL. */
int grant_xenbus_frontend_dir(unsigned fe_domid, const char *kind,
                              unsigned devid, char *buf, size_t len);
/* "/local/domain/<be>/backend/<kind>/<fe>/<devid>". */
int grant_xenbus_backend_dir(unsigned be_domid, const char *kind,
                             unsigned fe_domid, unsigned devid, char *buf,
                             size_t len);
/*
 * The other end of a device directory: reads dir/<end> ("backend" in a
 * frontend directory, "frontend" in a backend one) into *path (malloc'ed)
 * and dir/<end>-id into *domid (may be NULL).  -ENOENT when a node is
 * missing, -EINVAL when the id is not a domain id or the path not absolute.
 * The peer wrote neither node: the toolstack did; a driver still treats
 * what it finds at that path as untrusted.
 */
int grant_xenbus_otherend(grant_xenbus_t *xb, const char *dir, const char *end,
                          char **path, unsigned *domid);

/* ---- The XenbusState machine ------------------------------------------ */

/* "Unknown", "Initialising", ... "Reconfigured"; "Invalid" otherwise. */
const char *grant_xenbus_state_name(int state);
/*
 * Writes dir/state as Xen's xenbus_switch_state does: the decimal state,
 * in a transaction of its own when t is XBT_NULL, and only if "state"
 * still exists (a removed device is not resurrected: -ENOENT) and differs.
 */
int grant_xenbus_switch_state(grant_xenbus_t *xb, xs_transaction_t t,
                              const char *dir, int state);
/* Reads dir/state.  A missing node or directory reads as XenbusStateUnknown
 * (0), as Xen drivers treat it; a malformed value is -EINVAL. */
int grant_xenbus_read_state(grant_xenbus_t *xb, xs_transaction_t t,
                            const char *dir, int *state);

/* ---- Watches ---------------------------------------------------------- */

/* Watches a path (and everything below it).  The store fires an initial
 * event at once.  Tokens starting with "grant_xenbus:" are reserved. */
int grant_xenbus_watch(grant_xenbus_t *xb, const char *path, const char *token);
int grant_xenbus_unwatch(grant_xenbus_t *xb, const char *path,
                         const char *token);
/* A file descriptor that polls readable when an event may be pending (use
 * grant_xenbus_read_event with timeout 0 to drain).  Owned by xb. */
int grant_xenbus_fd(grant_xenbus_t *xb);
/*
 * The next watch event: 1 with *path and *token malloc'ed (either out
 * pointer may be NULL to drop it), 0 when none arrived within timeout_ms.
 * Events are delivered in order; events that arrived while a wait function
 * was running are kept (identical pending events are merged, as a watch
 * only says "look again").
 */
int grant_xenbus_read_event(grant_xenbus_t *xb, int timeout_ms, char **path,
                            char **token);

/*
 * Waits until dir/state is one of the states in `mask` (bit 1<<state) and
 * returns 0 with *state set (may be NULL).  Watches dir/state itself (no
 * busy loop; spurious events just re-read the state); the caller's watches
 * keep their events.  -ETIMEDOUT after timeout_ms (the state seen last is
 * in *state).
 */
int grant_xenbus_wait_states(grant_xenbus_t *xb, const char *dir, unsigned mask,
                             int timeout_ms, int *state);
#define GRANT_XENBUS_MASK(s) (1u << (s))
/*
 * Waits for the peer at `dir` to reach `want`: 0 when it does; -ENOTCONN
 * when it reaches Closing, Closed or disappears (Unknown) instead (unless
 * that is what was wanted); -ETIMEDOUT.  *state (may be NULL) gets the state
 * last seen.
 */
int grant_xenbus_wait_state(grant_xenbus_t *xb, const char *dir, int want,
                            int timeout_ms, int *state);

/* ---- Transactions ----------------------------------------------------- */

int grant_xenbus_transaction_start(grant_xenbus_t *xb, xs_transaction_t *t);
/* Commits (abort = 0) or aborts.  -EAGAIN: a conflicting change committed
 * first; nothing was written; retry the whole transaction. */
int grant_xenbus_transaction_end(grant_xenbus_t *xb, xs_transaction_t t,
                                 int abort);
/*
 * Runs fn(xb, t, arg) in a transaction and commits; on -EAGAIN (from the
 * commit, or from fn) retries from the start, up to max_tries times (0:
 * 16).  If fn returns another error, the transaction is aborted and that
 * error returned.  fn may run several times: it must not have side effects
 * outside the store.  -EAGAIN when every try conflicted.
 */
int grant_xenbus_transact(grant_xenbus_t *xb,
                          int (*fn)(grant_xenbus_t *xb, xs_transaction_t t,
                                    void *arg),
                          void *arg, unsigned max_tries);

#ifdef __cplusplus
}
#endif

#endif /* LIBGRANT_XENBUS_H */
