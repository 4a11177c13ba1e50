/* SPDX-License-Identifier: MIT */
/*
 * libgrant.h: the guest library over xgrant's grant hypercalls.
 *
 * The model
 * ---------
 * A program runs in a domain.  It opens a handle (grant_open), allocates
 * grantable memory from its domain's memory (grant_mem_alloc), and GRANTS a
 * byte range of it to ONE other domain with rights (grant_create_direct).
 * The grantee CONSUMES the grant by asking the hypervisor to copy bytes
 * (grant_copy*, grant_memset), or, for whole pages granted with
 * GRANT_R_MAP, by mapping them (grant_map).  A grantee holding
 * GRANT_R_DELEGATE may pass a narrower window with fewer rights to a third
 * domain (grant_create_indirect).  Teardown: the granter revokes
 * (grant_revoke); everything delegated below dies with it at once.  A grant
 * mapped somewhere is not revoked (-EBUSY) unless GRANT_REVOKE_FORCE is
 * given: then every mapping is torn down before grant_revoke returns, and
 * the mapper finds private scratch pages in its place (as under Xen) and a
 * revoke event on grant_map_revoked_fd.
 * Closing a handle unmaps its mappings and frees its memory; the grants of
 * a domain die with the domain, not with a handle, except that under
 * xgrantd memory given back (grant_mem_free, grant_close, the process's
 * death) takes every grant over it along (see grant_mem_free).
 *
 * Conventions
 * -----------
 * Every function returns 0 (or a count) on success and a negative errno on
 * failure; none sets errno.  Objects come back through out-parameters.
 * Nothing is logged unless the handle was opened with GRANT_OPEN_VERBOSE
 * (then errors go to stderr).  A handle may be used by one thread at a
 * time; distinct handles are independent (see Threads).  After fork(), the
 * child must not
 * use the parent's handles: there every call but grant_close returns -EBADF
 * (grant_close only frees the child's copies), and mappings are not
 * inherited (MADV_DONTFORK).  The child opens its own handle.  The check
 * costs no system call: libgrant reads the pid once per process, in a page
 * the kernel zeroes in any child (MADV_WIPEONFORK; fork, _Fork or a raw
 * clone without CLONE_VM), and a pthread_atfork child handler clears it too.
 * Local memory passed to copy, memset and create must lie in memory from
 * grant_mem_alloc on the same handle (else -EFAULT).
 *
 * Threads
 * -------
 * A handle is single-threaded: one call at a time, and it owns the buffers
 * its calls use, so that the hot calls allocate nothing.  A multi-threaded
 * backend opens ONE HANDLE PER RING THREAD (each has its own channel to
 * the hypervisor: under xgrantd its own call area, so threads never wait
 * for each other's calls; on Xen its own /dev/xgrant descriptor), or
 * serializes its calls to a shared handle with a lock of its own.  Handles
 * of one process are the same domain: grants and event channel ports are
 * the domain's, so a grant created through one handle is revoked, copied
 * from or mapped through any other; local pointers, though, must come
 * from grant_mem_alloc on the handle the call is made on (so a ring
 * thread allocates its buffers from its own handle).
 *
 * Allocation: once a call has run at its size, grant_copy (and the
 * shorthands), grant_memset, grant_create_*, grant_revoke(_batch),
 * grant_map and grant_unmap(_batch), grant_evtchn_notify(_async),
 * grant_evtchn_consume and grant_evtchn_pending allocate no memory per
 * call: their ABI buffers are the handle's (kept at the largest size used,
 * freed by grant_close), and a mapping's record is one an unmap gave back
 * (up to 64 are kept).  grant_map_batch of two or more elements allocates
 * one record for the range they share.
 *
 * Transports
 * ----------
 * "sim" talks to xgrantd over $XGRANT_SOCK.  "xen" (real Xen, through the
 * guest module's /dev/xgrant and Linux's gntdev and gntalloc) is chosen by
 * XGRANT_TRANSPORT=xen.  grant_open picks by XGRANT_TRANSPORT, default
 * "sim".  grant_features says what the host offers: the extension (every
 * call but grant_v1_*), Xen's standard grants (grant_v1_*), or both.
 */
#ifndef LIBGRANT_H
#define LIBGRANT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct grant_handle grant_handle_t;
typedef uint16_t grant_domid_t;
typedef uint32_t grant_ref_t;

#define GRANT_DOMID_SELF ((grant_domid_t)0x7ff0u)

/* Rights (the ABI's GNTX_R_*). */
#define GRANT_R_READ     0x1u
#define GRANT_R_WRITE    0x2u
#define GRANT_R_MAP      0x4u
#define GRANT_R_DELEGATE 0x8u

#define GRANT_PAGE_SIZE 4096u

/* ---- Handles ---------------------------------------------------------- */

#define GRANT_OPEN_VERBOSE 0x1u
/*
 * Opens a handle to the hypervisor for the calling process's domain.
 * -ENOENT / -ECONNREFUSED: no xgrantd at $XGRANT_SOCK; -EPERM: refused;
 * -EPROTO: ABI mismatch; -EINVAL: unknown flag or transport.  Blocks for
 * the hello round trip.  Starts one service thread that answers the
 * hypervisor's unmap notices.
 */
int grant_open(grant_handle_t **out, unsigned flags);
/* Unmaps, frees and closes everything of the handle.  NULL-safe. */
void grant_close(grant_handle_t *h);
/* This handle's domain id. */
grant_domid_t grant_domid(const grant_handle_t *h);

/* ---- Grantable memory ------------------------------------------------- */

/*
 * Allocates `nr_pages` zeroed, page-aligned, contiguous pages of the
 * domain's memory and maps them read-write at *ptr.  -EINVAL for 0,
 * -ENOMEM when the domain's memory has no such free run.
 */
int grant_mem_alloc(grant_handle_t *h, size_t nr_pages, void **ptr);
/* Frees what grant_mem_alloc returned (the whole allocation).  -EINVAL
 * if ptr is not such a pointer.  Under xgrantd, where a domain's memory is
 * shared by its processes, every grant over the freed pages is revoked as
 * with GRANT_REVOKE_FORCE (mappings torn down, delegations dead), and the
 * pages go to no one else until every mapping is gone; the same happens
 * when the handle is closed or the process dies.  Under Xen the pages stay
 * the handle's own: revoke first. */
int grant_mem_free(grant_handle_t *h, void *ptr);
/* The guest-physical byte address of ptr, or -EFAULT if outside the
 * domain's memory. */
int grant_gpa(const grant_handle_t *h, const void *ptr, uint64_t *gpa);

/* ---- Creating and revoking grants ------------------------------------- */

/*
 * Grants `grantee` access to [ptr, ptr+len) of this domain's memory (from
 * grant_mem_alloc), with `rights` (GRANT_R_*).  Any byte offset and length;
 * the range may span pages.  *ref receives the reference.  Errors as
 * grant_abi.h's GNTX_OP_CREATE: -EINVAL, -EFAULT, -ENOSPC (quota),
 * -ESRCH (no such grantee).
 */
int grant_create_direct(grant_handle_t *h, grant_domid_t grantee,
                        unsigned rights, const void *ptr, uint64_t len,
                        grant_ref_t *ref);
/*
 * Delegates: grants `grantee` the window [offset, offset+len) of the grant
 * (granter, parent) that this domain holds with GRANT_R_DELEGATE, with
 * `rights` a subset of the parent's.  -EPERM (not the parent's grantee, no
 * DELEGATE, rights not a subset), -ERANGE (window outside the parent's),
 * -ESTALE/-ENOENT (parent dead), -ELOOP (deeper than 8), -ENOSPC.
 */
int grant_create_indirect(grant_handle_t *h, grant_domid_t grantee,
                          unsigned rights, grant_domid_t granter,
                          grant_ref_t parent, uint64_t offset, uint64_t len,
                          grant_ref_t *ref);

/* A batch element for grant_create_batch. */
struct grant_create_req {
    int indirect; /* 0: direct (ptr, len); 1: indirect */
    grant_domid_t grantee;
    unsigned rights;
    const void *ptr;       /* direct */
    grant_domid_t granter; /* indirect: the parent's granter */
    grant_ref_t parent;    /* indirect */
    uint64_t offset;       /* indirect: in the parent's window */
    uint64_t len;
    grant_ref_t ref; /* out */
    int status;      /* out: 0, -errno, or -ECANCELED */
};
/* All-or-nothing: 0 and every ref set, or the first error and nothing
 * created (statuses say which element failed). */
int grant_create_batch(grant_handle_t *h, struct grant_create_req *reqs,
                       unsigned n);

#define GRANT_REVOKE_FORCE 0x1u
/*
 * Revokes grant `ref` of this domain's own table; every grant delegated
 * below it fails from now on (-ESTALE).  -EBUSY if it (or a descendant) is
 * mapped and GRANT_REVOKE_FORCE is not set; with it, every such mapping is
 * torn down before this returns (the mappers see scratch pages, see
 * grant_map; blocks up to about 2 s for an unresponsive mapper, which is
 * then destroyed).  -ESTALE/-ENOENT for a dead ref.
 */
int grant_revoke(grant_handle_t *h, grant_ref_t ref, unsigned flags);

/* A batch element for grant_revoke_batch. */
struct grant_revoke_req {
    grant_ref_t ref; /* in */
    unsigned flags;  /* in: GRANT_REVOKE_FORCE */
    int status;      /* out: 0 or -errno, as grant_revoke's */
};
/* Revokes many grants, per element: each as grant_revoke would, in one
 * hypercall per 4096; a failed element undoes nothing.  Returns how many
 * succeeded, or -errno for the call (-EINVAL: NULL or an unknown flag;
 * then nothing was revoked). */
int grant_revoke_batch(grant_handle_t *h, struct grant_revoke_req *reqs,
                       unsigned n);

/* ---- Copy and memset -------------------------------------------------- */

/* One end of a copy: a grant held by this domain, or local memory. */
struct grant_ptr {
    int local;             /* 1: ptr into this handle's memory */
    const void *ptr;       /* local */
    grant_domid_t granter; /* grant */
    grant_ref_t ref;       /* grant */
    uint64_t offset;       /* grant: byte offset in its window */
};
struct grant_copy_seg {
    struct grant_ptr src, dst;
    uint64_t len;
    int status; /* out: 0 or -errno (the segment copied nothing) */
};
/* Vectored copy, per segment; returns the number of segments that
 * succeeded (== n when all did) or a negative errno for the whole call.
 * Any n: the library splits into hypercall batches. */
int grant_copy(grant_handle_t *h, struct grant_copy_seg *segs, unsigned n);
/* Shorthands for one segment; 0 or -errno. */
int grant_copy_from(grant_handle_t *h, void *dst, grant_domid_t granter,
                    grant_ref_t ref, uint64_t offset, uint64_t len);
int grant_copy_to(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
                  uint64_t offset, const void *src, uint64_t len);
int grant_memset(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
                 uint64_t offset, int value, uint64_t len);

/* ---- Grant I/O: a file straight to or from a granted window ---------- */

#define GRANT_IO_READ  0u     /* file -> grant (the grant needs R_WRITE) */
#define GRANT_IO_WRITE 1u     /* grant -> file (the grant needs R_READ) */
#define GRANT_IO_FIXED 0x100u /* | dir: fd is an id from grant_io_register */
struct grant_io_seg {
    int fd;                /* in: a regular file or a block device */
    unsigned dir;          /* in: GRANT_IO_READ or _WRITE, | GRANT_IO_FIXED */
    grant_domid_t granter; /* in: a grant held by this domain (direct or */
    grant_ref_t ref;       /*     delegated), as a copy names it */
    uint64_t offset;       /* in: byte offset in the grant's window */
    uint64_t file_off;     /* in: byte offset in the file */
    uint64_t len;          /* in: bytes */
    uint64_t done;         /* out: bytes moved */
    int status;            /* out: 0 or -errno */
};
/*
 * Grant I/O, per segment: the HYPERVISOR reads `len` bytes of the file at
 * `file_off` into the window of grant (granter, ref) at `offset`
 * (GRANT_IO_READ), or writes the window's bytes to the file
 * (GRANT_IO_WRITE).  The bytes go straight between the file and the
 * granter's memory: this process maps none of the granter's pages and no
 * byte passes through its memory (xgrantd receives the descriptor with
 * the call and does preadv/pwritev, or io_uring for a call of several
 * segments on an O_DIRECT file, on the granter's memory itself).
 * Every byte is checked as grant_copy checks it: rights along the whole
 * delegation chain, the window, revocation (a grant revoked while a long
 * segment runs stops it: the rest does not move, `done` says what did;
 * once grant_revoke has returned to the granter no byte moves through
 * the grant), the granter's page protections.
 *
 * Returns the number of segments with status 0 (== n when all did), or
 * -errno for the whole call (then segments not yet done hold it).  A
 * segment with status 0 moved `done` bytes: all of `len`, or fewer for a
 * READ that met the end of the file (a short count, as pread's; also an
 * I/O error after some bytes moved).  Per-segment errors: -EBADF (fd not
 * open, an O_PATH descriptor, not open for reading (READ) or writing
 * (WRITE)), -ESPIPE (a pipe or socket), -EISDIR, -EINVAL (unknown dir,
 * O_APPEND for a WRITE, another kind of file), -EOVERFLOW (offset + len
 * or file_off + len wraps, or the file range passes the largest file
 * offset), and grant_copy's: -ERANGE, -EACCES (right missing or a
 * protection), -ESTALE/-ENOENT, -EPERM, -ELOOP; an error the file gave
 * (-EIO, -ENOSPC, -EFBIG...) with `done` bytes moved before it.
 *
 * -EOPNOTSUPP when the host does no file I/O: under Xen the hypervisor
 * has no files, and this call is not served there (grant_features has no
 * GRANT_FEAT_IO); a backend then moves the bytes with grant_copy.
 *
 * A file opened O_DIRECT works at any window and offset: what O_DIRECT
 * can take (512-byte aligned) goes to it straight, the rest through the
 * page cache (xgrantd opens the file again without O_DIRECT for that).
 *
 * Blocking: as long as the file I/O takes; xgrantd moves at most 1 MiB
 * (or 2 ms' worth) per hypercall, others' calls are served in between,
 * and the library resumes the rest.  The descriptors stay the caller's: the
 * hypervisor uses them for the call only.  One call at a time per handle
 * (Threads).
 */
int grant_io(grant_handle_t *h, struct grant_io_seg *segs, unsigned n);
/*
 * Registered files (as io_uring's fixed files): the hypervisor keeps its
 * own reference to fd's file, and segments name it by the returned id
 * with GRANT_IO_FIXED in dir, so no descriptor travels with each call
 * (under xgrantd such calls take the shared-memory fast path: a 4 KiB
 * grant_io then costs about what a copy does).  grant_io_register returns
 * the id (>= 0) or -EBADF (not open, O_PATH), -ESPIPE, -EISDIR, -EINVAL
 * (not a regular file or block device), -ENOSPC (16 per handle under
 * xgrantd), -EOPNOTSUPP (Xen).  The file's access mode still decides the
 * directions (a READ-only file: WRITE segments -EBADF).  The caller may
 * close fd afterwards.  grant_io_unregister drops it (-EBADF: no such
 * id); grant_close drops them all.  An unknown id in a segment: -EBADF.
 */
int grant_io_register(grant_handle_t *h, int fd);
int grant_io_unregister(grant_handle_t *h, int file);

/* ---- Mapping ---------------------------------------------------------- */

#define GRANT_MAP_RDONLY 0x1u
/*
 * Maps the whole pages [offset, offset+len) of grant (granter, ref), which
 * must carry GRANT_R_MAP (and GRANT_R_WRITE unless GRANT_MAP_RDONLY), at
 * *addr.  -EINVAL if offset/len are not page multiples or the window does
 * not start on a page boundary (such grants are copy-only); -ENOSPC at the
 * map quota; -E2BIG for more pages than one hypercall carries.
 *
 * If the granter force-revokes (or dies), the pages are replaced by
 * private scratch pages of this process, as under Xen: reads and writes
 * go on working (a read-only mapping stays read-only), never reach the
 * granter's memory, and see zeros at first.  The mapping is then reported
 * on grant_map_revoked_fd (see there); it stays until grant_unmap.  If the
 * granter protects pages of it (grant_protect), they become read-only or
 * inaccessible before its grant_protect returns; -EACCES when the
 * granter's protections forbid the mapping at map time.
 */
int grant_map(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
              uint64_t offset, uint64_t len, unsigned flags, void **addr);
/* Unmaps what grant_map returned, or one element of a grant_map_batch
 * range.  -EINVAL if addr is not such a mapping.  Errors of the
 * hypervisor's as grant_unmap_batch's: after -EBUSY (or the call failing
 * as a whole) the mapping stays known and counted (see there). */
int grant_unmap(grant_handle_t *h, void *addr);

/* A batch element for grant_map_batch. */
struct grant_map_req {
    grant_ref_t ref; /* in: a grant of the batch's granter */
    uint64_t offset; /* in: page multiple, in the grant's window */
    uint64_t len;    /* in: page multiple, > 0 */
    unsigned flags;  /* in: GRANT_MAP_RDONLY */
    void *addr;      /* out: where its pages are; NULL if refused */
    int status;      /* out: 0 or -errno */
};
/*
 * Maps many grants of one granter into one contiguous range, per element:
 * each element is mapped as grant_map would map it (same rules, errors,
 * revoke and protection behaviour), in fewer hypercalls.  The elements
 * that pass the argument checks (-EINVAL, -E2BIG as grant_map's) are laid
 * out in order, each at the end of the previous one, from *base; each
 * one's address comes back in addr.  Returns how many were mapped (their
 * status 0), or -errno for the call as a whole (-EINVAL for n 0 or NULL
 * pointers, -ENOMEM, -E2BIG when the range does not fit the address
 * space): then nothing is mapped and the statuses mean nothing.
 * Partial failure undoes nothing that succeeded: an element that failed
 * leaves a hole in the range (its pages fault on access) and the others
 * stay mapped; a caller that wants all or nothing unmaps them
 * (grant_unmap_batch).  Each mapped element is a mapping of its own
 * (grant_unmap, revoke events); the range is released when its last
 * element is unmapped.  With none mapped, *base is NULL and nothing is
 * held.  Blocking and fork rules as grant_map.
 */
int grant_map_batch(grant_handle_t *h, grant_domid_t granter,
                    struct grant_map_req *reqs, unsigned n, void **base);
/*
 * Unmaps the mappings at addrs[0 .. n) (grant_map's or batch elements'),
 * per element: status[i] is 0, -EINVAL (not a mapping of this handle, or
 * named twice) or the hypervisor's error for it (-EBUSY under xgrantd if
 * the process still maps the pages elsewhere, e.g. a copy made with
 * mremap, or /proc/<pid>/maps is too long to check).  A mapping whose
 * unmap is refused (-EBUSY) or whose hypercall failed as a whole stays
 * counted by the hypervisor, and libgrant keeps it too: its pages are
 * gone from addr (the range stays reserved, faulting on access), a force
 * revoke of it is handled and acked as for any mapping (scratch pages,
 * grant_map_revoked_next), and it may be unmapped again (e.g. once the
 * copy is gone).  Returns how many were unmapped.  One hypercall per 64
 * elements (sim); on the xen transport each mapping is released by
 * itself.
 */
int grant_unmap_batch(grant_handle_t *h, void *const *addrs, int *status,
                      unsigned n);

/* A force-revoked mapping, as grant_map_revoked_next reports it. */
struct grant_map_event {
    void *addr; /* grant_map's *addr, or the batch element's addr */
    size_t len;
    grant_domid_t granter;
    grant_ref_t ref;
    uint64_t offset;
};
/*
 * A file descriptor (owned by the handle, non-blocking) that polls
 * readable (poll, epoll, io_uring poll) while force-revoked mappings of
 * this handle are waiting to be reported; -errno if one cannot be made.
 * Events are queued from the first grant_map on, whether or not the fd
 * was asked for.  Read the events with grant_map_revoked_next, never read
 * the fd itself.  On the xen transport no event is raised yet (the
 * hypervisor replaces the pages by its scratch page without telling the
 * guest): the fd never polls readable there.
 */
int grant_map_revoked_fd(grant_handle_t *h);
/*
 * Takes the oldest pending revoke event into *ev: 1 when there was one,
 * 0 when none is pending (never blocks).  An event names a mapping that
 * is still there (unmapping it drops its pending event); its pages are
 * scratch pages: a backend fails the request that uses it and unmaps it.
 */
int grant_map_revoked_next(grant_handle_t *h, struct grant_map_event *ev);

/* ---- Event channels --------------------------------------------------- */

/*
 * The contract, the same on both transports.  A handle holds any number of
 * ports.  A port is "pending" while it has signals not yet consumed; a
 * signal arriving while it is pending adds to it (never lost).  Consuming
 * is never blocking (grant_evtchn_consume, grant_evtchn_pending) and
 * re-arms the port: on Xen it is unmasked again.  For an event loop:
 *   - grant_evtchn_pending_fd(h): ONE fd for all the handle's ports that
 *     polls readable (POLLIN) while any of them is pending: wait on it
 *     with poll, epoll (level-triggered or edge-triggered: consume until
 *     -EAGAIN then) or io_uring (IORING_OP_POLL_ADD); then call
 *     grant_evtchn_pending until -EAGAIN;
 *   - grant_evtchn_fd(h, port): one port's fd, readable while that port is
 *     pending; then grant_evtchn_consume(h, port).
 * Never read() these fds nor change their flags: what they carry differs
 * between transports (the read end of a pipe under xgrantd, never the
 * daemon's own open file; an evtchn device on Xen); their readability
 * does not.  After fork() the child's grant_evtchn_close (and every other
 * evtchn call) is -EBADF and leaves the parent's ports and pending fd as
 * they were.  Both are owned by the handle and stay valid until the port is
 * closed (the pending fd: until grant_close).
 */

/* Allocates a port that `remote` may bind to; *port receives it.  Under
 * xgrantd only the domain running now under that id may: once it dies, no
 * later domain given the same id can bind the port. */
int grant_evtchn_alloc_unbound(grant_handle_t *h, grant_domid_t remote,
                               uint32_t *port);
/* Binds a local port to (remote, remote_port); *port receives it. */
int grant_evtchn_bind(grant_handle_t *h, grant_domid_t remote,
                      uint32_t remote_port, uint32_t *port);
/* Signals the peer of `port`.  -ENOTCONN if unbound, or (xgrantd) if the
 * peer's domain died: the port is then closed for good (nobody can bind
 * it) until grant_evtchn_close frees it. */
int grant_evtchn_notify(grant_handle_t *h, uint32_t port);
/*
 * Signals the peer of `port` without waiting for the hypervisor's answer
 * (fire-and-forget): the signal is posted and the call returns 0; it is
 * delivered before any later call of this handle is served (so a notify
 * followed by grant_evtchn_close, or by any call whose answer the caller
 * waits for, has been delivered by then), and signals of one port posted
 * before the hypervisor looks may merge into one (as Xen's pending bit
 * does: the peer consumes at least one).  An error is not lost but
 * reported late: a signal that could not be delivered (the port unbound,
 * its peer dead, or no such port) makes the port's own fd (and the
 * pending fd) poll readable once, and the NEXT notify of that port, this
 * call or grant_evtchn_notify, returns the error as grant_evtchn_notify
 * would (-ENOTCONN, -EINVAL) until a signal gets through again.  Use
 * grant_evtchn_notify where the caller needs the answer of this very
 * signal.  Never blocks under xgrantd (no round trip, at most a doorbell
 * when the daemon sleeps); on Xen it is grant_evtchn_notify (a Xen notify
 * is asynchronous already); under an xgrantd without kicks it falls back
 * to grant_evtchn_notify.  -EBADF after fork (see Conventions); allocates
 * nothing.
 */
int grant_evtchn_notify_async(grant_handle_t *h, uint32_t port);
/* A file descriptor that polls readable while `port` is pending (see
 * above: poll it, never read it); owned by the handle.  -EINVAL for an
 * unknown port. */
int grant_evtchn_fd(grant_handle_t *h, uint32_t port);
/* Consumes the signals pending on `port`, never blocking: returns how many
 * (>= 1; on Xen, deliveries), -EAGAIN when none is pending, -EINVAL for an
 * unknown port.  -EAGAIN is not logged. */
int grant_evtchn_consume(grant_handle_t *h, uint32_t port);
/* The handle's pending fd (see above), made on first use; owned by the
 * handle, valid until grant_close.  -errno if it cannot be made. */
int grant_evtchn_pending_fd(grant_handle_t *h);
/* Consumes ONE pending port of the handle, never blocking: *port receives
 * it and the return is how many signals it had (>= 1); -EAGAIN when no
 * port is pending.  Ports take turns: one signalled without pause does
 * not hide the others.  -EAGAIN is not logged. */
int grant_evtchn_pending(grant_handle_t *h, uint32_t *port);
/* Waits up to timeout_ms (-1: forever) for a signal on `port` and consumes
 * all pending ones: returns how many, 0 on timeout. */
int grant_evtchn_wait(grant_handle_t *h, uint32_t port, int timeout_ms);
/* Closes `port` (its fd too, and it leaves the pending fd). */
int grant_evtchn_close(grant_handle_t *h, uint32_t port);

/* ---- What the host offers --------------------------------------------- */

#define GRANT_FEAT_EXT      0x1u /* the extension: the grant calls above */
#define GRANT_FEAT_V1_MAP   0x2u /* grant_v1_map, _unmap and _copy */
#define GRANT_FEAT_V1_SHARE 0x4u /* grant_v1_share and _end */
#define GRANT_FEAT_IO       0x8u /* grant_io */
/*
 * What the handle's host offers (GRANT_FEAT_*), found once by grant_open.
 * xgrantd offers all four; Xen never offers IO (grant_io: -EOPNOTSUPP).  On
 * Xen: EXT when the hypervisor knows the extension's sub-op (a stock Xen
 * answers ENOSYS; then every extension call fails -ENOSYS without reaching it,
 * while grant_mem_alloc, event channels and grant_v1_* work), V1_MAP when
 * /dev/xen/gntdev opens, V1_SHARE when /dev/xen/gntalloc does.  A call of a
 * feature not offered fails -ENOSYS.  0 for NULL.  Never blocks.
 */
unsigned grant_features(const grant_handle_t *h);

/* ---- Standard Xen grants (v1) ------------------------------------------ */

/*
 * Xen's own grant references: one page each, in the granting domain's v1
 * grant table, as stock Linux frontends and backends use them.  A
 * reference's kind is the call it goes to: a grant_v1_ref_t only ever to
 * grant_v1_*, a grant_ref_t only to the calls above; nothing guesses it
 * from the number (a driver picks the kind per device, e.g. from the
 * feature-grant-ext negotiation, and asks grant_features what the host
 * has).
 *
 * On Xen they go through Linux's gntdev and gntalloc (libxengnttab).  Under
 * xgrantd they are extension grants of one whole page each (GRANT_R_READ
 * and GRANT_R_MAP, plus GRANT_R_WRITE unless shared read-only), mapped,
 * copied and revoked through the calls above, so a driver has one code
 * path on both hosts; there a grant_v1_ref_t is the grant's grant_ref_t,
 * and a dead ref reads -ENOENT as on Xen (not -ESTALE).
 *
 * Mappings and shares are the handle's: grant_close unmaps and ends them.
 * Neither is inherited by a fork()ed child (every grant_v1_* call there
 * returns -EBADF).  Nothing here blocks beyond the host's own call, except
 * grant_v1_end under xgrantd when a grantee still maps a page (see there).
 */
typedef uint32_t grant_v1_ref_t;

#define GRANT_V1_RDONLY 0x1u  /* map or share read-only */
#define GRANT_V1_MAX    1024u /* refs per map or share */

/*
 * Maps `count` refs of `granter` (1..GRANT_V1_MAX) into one contiguous,
 * page-aligned range at *addr, page i showing refs[i], read-write unless
 * GRANT_V1_RDONLY (then writes fault).  All or nothing: on any failure
 * nothing stays mapped.  Under xgrantd each page is a mapping of its own
 * (grant_map_batch): a revoke of one ref turns that page alone into a
 * scratch page and raises a revoke event (grant_map_revoked_fd).
 * -EINVAL (count, flags), -ENOSYS (no GRANT_FEAT_V1_MAP), or the host's error
 * for a bad ref (on Xen gntdev's: usually -EINVAL; under xgrantd -ENOENT,
 * -EACCES for a read-only ref mapped writable, -ESRCH for an unknown granter).
 * Unmap with grant_v1_unmap only.
 */
int grant_v1_map(grant_handle_t *h, grant_domid_t granter,
                 const grant_v1_ref_t *refs, unsigned count, unsigned flags,
                 void **addr);
/* Unmaps the whole range grant_v1_map returned.  -EINVAL if addr is not
 * such a range.  Unmapping never fails afterwards on the host's side. */
int grant_v1_unmap(grant_handle_t *h, void *addr);

/* One end of a v1 copy: local memory, or a page granted with a v1 ref. */
struct grant_v1_ptr {
    int local;             /* 1: ptr, in this handle's grant_mem_alloc memory */
    void *ptr;             /* local */
    grant_domid_t granter; /* ref */
    grant_v1_ref_t ref;    /* ref */
    uint16_t offset;       /* ref: byte offset in its page */
};
struct grant_v1_copy_seg {
    struct grant_v1_ptr src, dst; /* at least one a ref */
    uint16_t len; /* a ref side must end in its page: offset + len <= 4096 */
    int status;   /* out: 0 or -errno (the segment copied nothing) */
};
/*
 * Grant copy (GNTTABOP_copy on Xen): per segment, as many segments as
 * given (sent in batches).  Returns how many succeeded (== n when all
 * did), or -errno for the call as a whole (-EINVAL for NULL arguments,
 * -ENOSYS without GRANT_FEAT_V1_MAP).  Segment errors: -EINVAL (a ref
 * side past its page, local to local, local not 0 or 1), -EFAULT (local
 * memory not from grant_mem_alloc: required on both hosts), -ENOENT (no
 * such ref, or ended), -EACCES (a write to a read-only ref), -ESRCH (no
 * such granter), -EIO (another refusal by Xen).  A local side may cross
 * pages.
 */
int grant_v1_copy(grant_handle_t *h, struct grant_v1_copy_seg *segs,
                  unsigned n);

/*
 * Allocates `count` zeroed pages (1..GRANT_V1_MAX), contiguous at *addr,
 * and grants each to `grantee` with a v1 ref (refs[i] for page i),
 * read-write unless GRANT_V1_RDONLY (the grantee may only read).  All or
 * nothing.  On Xen the pages come from gntalloc, under xgrantd from
 * grant_mem_alloc: a driver must not name them as a local side of a copy
 * (-EFAULT on Xen), nor free them but with grant_v1_end.  -EINVAL, -ENOSYS (no
 * GRANT_FEAT_V1_SHARE), -ENOMEM, -ENOSPC (the grant table is full).
 */
int grant_v1_share(grant_handle_t *h, grant_domid_t grantee, unsigned count,
                   unsigned flags, grant_v1_ref_t *refs, void **addr);
/*
 * Ends the grants grant_v1_share made at addr and frees their pages; the
 * refs are dead from now on.  -EINVAL if addr is not such a range.  A
 * grantee that still maps a page: on Xen it keeps that page (gntalloc
 * frees it when the grantee unmaps); under xgrantd its mapping is
 * force-revoked (grant_revoke's GRANT_REVOKE_FORCE, which may block up to
 * about 2 s): the grantee's page becomes its scratch page, as grant_map
 * describes.  Either way the grantee never sees this domain's later use of
 * the memory.
 */
int grant_v1_end(grant_handle_t *h, void *addr);

/* ---- Inspection ------------------------------------------------------- */

/* The ABI's struct gntx_entry_info, field for field. */
struct grant_entry_info {
    grant_domid_t dom; /* granter */
    grant_domid_t grantee;
    grant_ref_t ref;
    unsigned rights;
    int indirect;
    int orphan;     /* an ancestor was revoked */
    unsigned depth; /* tree: 0 at the root */
    grant_domid_t parent_dom;
    grant_ref_t parent_ref;
    unsigned maps;
    uint64_t offset, length;
    uint64_t first_frame;
    unsigned nr_frames;
};
/* Fills up to `cap` entries of dom's table (its own, or any for the
 * control domain); returns how many there are in all (may exceed cap). */
int grant_query_table(grant_handle_t *h, grant_domid_t dom,
                      struct grant_entry_info *out, unsigned cap);
/* The delegation tree below (dom, ref), root first, depth-first (children
 * oldest first); returns the number of nodes (may exceed cap).  Read in
 * calls of at most 256 nodes: a tree that changes meanwhile may be listed
 * partly before, partly after the change; the walk starts again when the
 * node it stood at was revoked, and -EAGAIN after 8 such restarts. */
int grant_query_tree(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                     struct grant_entry_info *out, unsigned cap);

struct grant_usage {
    unsigned entries, max_entries;
    unsigned maps, max_maps;
    uint64_t frames, max_frames;
    uint64_t mem_frames;
};
int grant_usage(grant_handle_t *h, grant_domid_t dom, struct grant_usage *u);

/* ---- Page protection -------------------------------------------------- */

/*
 * A domain declares, per page of its OWN memory, the access anyone may
 * have: its grantees (copy, memset and map through any grant, whatever the
 * grant's rights), the hypervisor's copies on its behalf, and the domain's
 * own CPU accesses.  A violation runs the page's action:
 *   GRANT_ACT_DENY    the access fails: -EACCES from copy/memset/map; an
 *                     own access is an ordinary SIGSEGV (default action);
 *   GRANT_ACT_NOTIFY  as DENY for grantees, plus a record on this domain's
 *                     fault ring (grant_fault_ring_bind), delivered to the
 *                     handler by grant_fault_dispatch; an own access calls
 *                     the handler at once, in the SIGSEGV handler;
 *   GRANT_ACT_KILL    the offending domain is destroyed (an own access:
 *                     this process's group is SIGKILLed, which ends the
 *                     domain); never a domain that is privileged or
 *                     serves others (the control domain, a backend, one
 *                     mapping a third domain's memory: grant_abi.h), for
 *                     which KILL acts as NOTIFY;
 *   GRANT_ACT_LOG     allowed, and recorded (an own access opens the page
 *                     in this process and records once; protecting the
 *                     page again re-arms it).
 * Own-access enforcement under xgrantd is libgrant's: it mprotects this
 * handle's mapping of the domain memory and installs a SIGSEGV handler
 * (SA_SIGINFO, chaining to the previous handler for addresses outside
 * domain memory).  It binds this process and this handle only; a hostile
 * program can undo it (mprotect, sigaction, /proc/self/mem), and a
 * program that installs its own SIGSEGV handler after its first
 * grant_protect replaces libgrant's (chain to it, or install yours first).
 * Grantee and hypervisor-copy enforcement is the hypervisor's and cannot
 * be undone by the domain.  See README ("Page protection").
 */
#define GRANT_ACC_NONE 0x0u
#define GRANT_ACC_R    0x1u
#define GRANT_ACC_W    0x2u
#define GRANT_ACC_X    0x4u
#define GRANT_ACC_RW   0x3u
#define GRANT_ACC_RX   0x5u
#define GRANT_ACC_RWX  0x7u /* lifts the protection */

#define GRANT_ACT_DENY   0u
#define GRANT_ACT_NOTIFY 1u
#define GRANT_ACT_KILL   2u
#define GRANT_ACT_LOG    3u

/* A batch element for grant_protect_batch. */
struct grant_protect_req {
    void *ptr;       /* page-aligned, in this domain's memory */
    size_t len;      /* page multiple, > 0 */
    unsigned access; /* GRANT_ACC_*: NONE, R, RW, RX or RWX */
    unsigned action; /* GRANT_ACT_* */
    uint64_t cookie; /* handed back in fault records */
    int status;      /* out: 0 or -errno */
};
/*
 * Sets the protection of each element's pages.  Per element: an element
 * is validated whole before a page changes; returns how many succeeded
 * (statuses say which failed), or -errno for the call as a whole.  The
 * hypervisor applies at most a budget of pages per call (grant_abi.h);
 * elements it cuts short are resubmitted here until done, so callers never
 * see -EAGAIN, but a failure in a later round (-ENOSPC) leaves that
 * element's first pages protected (those of the earlier rounds: a round
 * fails -ENOSPC before it changes any page).  Element errors: -EINVAL
 * (unaligned or empty range, unknown access or action), -EFAULT (pages outside
 * this domain's memory), -EBUSY (the range holds the fault ring page), -ENOSPC
 * (more than 4096 distinct (access, action, cookie) triples, more than
 * 2^18 separate protected ranges, or, on Xen, more bookkeeping than this
 * domain's memory allowance holds: it pays for it, 24 bytes a range).  Any
 * memory of the domain may be
 * protected, not only
 * grant_mem_alloc's.  Tightening pages that grantees have mapped
 * downgrades those mappings before this returns (blocks up to about 2 s
 * for an unresponsive mapper, which is then destroyed).  Not
 * async-signal-safe.
 */
int grant_protect_batch(grant_handle_t *h, struct grant_protect_req *reqs,
                        unsigned n);
/* One range; 0 or the element's -errno. */
int grant_protect(grant_handle_t *h, void *ptr, size_t len, unsigned access,
                  unsigned action, uint64_t cookie);

/* A protected range, as grant_protect_query lists it.  gpa is a byte
 * offset in the domain's memory as grant_gpa gives it: on Xen, in this
 * handle's grant memory (Xen names machine frames; libgrant maps them
 * back), and a query of this domain lists only the pages of this handle;
 * another domain's ranges (the control domain's query) come as Xen names
 * them (machine frames x 4096 for a PV domain). */
struct grant_prot_range {
    uint64_t gpa, len; /* guest-physical bytes */
    uint64_t cookie;
    unsigned access, action;
};
/* Fills up to `cap` ranges of dom's protections (its own, or any for the
 * control domain), ascending; returns how many there are in all (may
 * exceed cap).  -EPERM for another domain's, -ESRCH for no such domain. */
int grant_protect_query(grant_handle_t *h, grant_domid_t dom,
                        struct grant_prot_range *out, unsigned cap);

/* What a fault handler is told. */
#define GRANT_VIA_COPY 0u /* a grantee's copy or memset */
#define GRANT_VIA_MAP  1u /* a grantee's map */
#define GRANT_VIA_SELF 2u /* this domain's own hypervisor copy */
#define GRANT_VIA_CPU  3u /* this process's own CPU access (SIGSEGV) */
struct grant_fault {
    grant_domid_t dom; /* who made the access (this domain for CPU) */
    unsigned access;   /* GRANT_ACC_R, _W or _X: what was attempted */
    unsigned action;   /* GRANT_ACT_* */
    unsigned via;      /* GRANT_VIA_* */
    uint64_t gpa;      /* guest-physical byte address (as grant_gpa) */
    void *addr;        /* the same in this handle's mapping; NULL when the
                          page is not this handle's (on Xen gpa is then
                          the machine address Xen recorded) */
    uint64_t cookie;   /* of the protection */
};
#define GRANT_FAULT_STOP     0 /* the default SIGSEGV action */
#define GRANT_FAULT_CONTINUE 1 /* retry the access (the handler fixed it) */
#define GRANT_FAULT_OPEN     2 /* open the page in this process, retry */
/*
 * The program's fault handler: for an own CPU access to a NOTIFY page it
 * runs INSIDE the SIGSEGV handler (only async-signal-safe work; its return
 * says what happens: GRANT_FAULT_*); for ring records (grantees' and own
 * hypervisor-copy faults, own LOG faults) it runs in grant_fault_dispatch
 * and its return is ignored.
 */
typedef int (*grant_fault_fn)(const struct grant_fault *f, void *arg);
/* Registers fn (NULL: none; own NOTIFY faults then act as DENY). */
int grant_fault_set_handler(grant_handle_t *h, grant_fault_fn fn, void *arg);
/*
 * Gives the hypervisor one page of this domain's memory (allocated here)
 * as the fault ring and an event channel port it signals; *fd polls
 * readable when records arrive (owned by the handle).  Again: -EBUSY.
 */
int grant_fault_ring_bind(grant_handle_t *h, int *fd);
/* Consumes the pending ring records and own LOG records, calling the
 * handler for each; returns how many.  Never blocks. */
int grant_fault_dispatch(grant_handle_t *h);

struct grant_fault_stats {
    unsigned ranges;
    uint64_t prot_pages;
    uint64_t caused;   /* violations dom made */
    uint64_t suffered; /* violations on dom's pages: the four below */
    uint64_t denied, notified, killed, logged;
    uint64_t dropped;      /* records a full or unbound ring lost */
    uint64_t own_reported; /* own CPU faults libgrant counted */
};
/* dom's counters (its own, or any for the control domain). */
int grant_fault_stats(grant_handle_t *h, grant_domid_t dom,
                      struct grant_fault_stats *s);

/* A static string naming a negative errno from this library ("ESTALE"). */
const char *grant_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBGRANT_H */
