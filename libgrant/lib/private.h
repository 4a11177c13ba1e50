/* SPDX-License-Identifier: MIT */
/*
 * private.h: libgrant internals.  The handle, the transport interface
 * (struct grant_ops) and the helpers the files of this directory share.
 *
 * Layout: the common code (handle.c, mem.c, create.c, copy.c, io.c, map.c,
 * evtchn.c, query.c, ctl.c, strerror.c) validates arguments, translates
 * between libgrant.h and grant_abi.h, and keeps the handle's bookkeeping;
 * every hypervisor interaction goes through h->ops.  One transport per file
 * set: sim*.c talks to xgrantd.  A Xen transport goes in xen*.c with its own
 * `lg_xen_ops`, listed in handle.c's transport table.
 *
 * Internal functions shared between files carry the lg_ prefix: the version
 * script (libgrant.map) exports grant_* and nothing else.
 */
#ifndef LIBGRANT_PRIVATE_H
#define LIBGRANT_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "libgrant.h"
#include "libgrant_ctl.h"
#include "../abi/grant_abi.h"
#include "../abi/sim_wire.h" /* for struct sim_conn below; common code uses ops */
#include "sim/sim_spin.h"

/* One hypercall as the common code describes it to a transport. */
struct grant_call {
    unsigned op; /* GNTX_OP_* */
    void *args;  /* in/out: count elements of elem_size */
    size_t elem_size;
    unsigned count;
    const void *aux_in; /* input aux (CREATE's frames) or NULL */
    uint64_t aux_in_count;
    void *aux_out;          /* output aux (MAP, QUERY_*) or NULL */
    uint64_t aux_out_cap;   /* elements aux_out holds */
    size_t aux_elem_size;   /* bytes per aux element, in or out */
    uint64_t aux_out_count; /* out: elements written to aux_out */
    const int *fds_in;      /* fds sent with the call (IO), or NULL */
    unsigned nfds_in;
    int *fds; /* out: fds received (MAP), caller closes */
    unsigned max_fds;
    unsigned nr_fds; /* out */
};

/*
 * Standard grants, a transport's part (v1.c checks the arguments and
 * keeps the records): lg_v1_ext_ops over the extension's whole-page grants
 * (v1_ext.c, the sim transport's), lg_xen_v1_ops over gntdev and gntalloc
 * (xen_v1.c).  copy fills every status and returns 0 or the call's -errno
 * for at most 64 segments; unmap and end get back what map and share gave
 * (refs: the share's).
 */
struct grant_v1_ops {
    int (*map)(grant_handle_t *h, grant_domid_t granter,
               const grant_v1_ref_t *refs, unsigned count, unsigned flags,
               void **addr);
    int (*unmap)(grant_handle_t *h, void *addr, unsigned count);
    int (*copy)(grant_handle_t *h, struct grant_v1_copy_seg *segs, unsigned n);
    int (*share)(grant_handle_t *h, grant_domid_t grantee, unsigned count,
                 unsigned flags, grant_v1_ref_t *refs, void **addr);
    int (*end)(grant_handle_t *h, void *addr, unsigned count,
               const grant_v1_ref_t *refs);
};

/*
 * The transport.  Every function returns 0/count or -errno.  `open` fills
 * h->domid, h->mem and h->mem_frames and starts whatever the transport needs
 * to deliver unmap notices (it calls lg_map_revoked for each).  `close`
 * undoes open; with `forked` set it runs in a child of the opener and must
 * only release process-local resources (no messages, no joins).
 */
struct grant_ops {
    const char *name;
    uint32_t max_payload;   /* bytes of args + aux one hypercall may carry */
    unsigned max_map_batch; /* MAP elements one hypercall may carry */
    int (*open)(grant_handle_t *h);
    void (*close)(grant_handle_t *h, int forked);
    long (*hypercall)(grant_handle_t *h, struct grant_call *c);
    int (*mem_alloc)(grant_handle_t *h, uint64_t nr_frames, uint64_t *gfn);
    int (*mem_free)(grant_handle_t *h, uint64_t gfn, uint64_t nr_frames);
    int (*evtchn_alloc_unbound)(grant_handle_t *h, grant_domid_t remote,
                                uint32_t *port, int *fd);
    int (*evtchn_bind)(grant_handle_t *h, grant_domid_t remote,
                       uint32_t remote_port, uint32_t *port, int *fd);
    int (*evtchn_send)(grant_handle_t *h, uint32_t port);
    /* Optional (NULL: evtchn_send): posts the signal without waiting for
     * the hypervisor's answer; 0 once posted, or an error an earlier
     * signal of the port found (libgrant.h, grant_evtchn_notify_async). */
    int (*evtchn_send_async)(grant_handle_t *h, uint32_t port);
    int (*evtchn_close)(grant_handle_t *h, uint32_t port);
    /*
     * Optional: consumes the signals pending on `port` after its fd polled
     * readable, returning how many (0: none), or -errno.  NULL: the fd is
     * an eventfd and evtchn.c reads its counter.
     */
    int (*evtchn_consume)(grant_handle_t *h, uint32_t port);
    int (*domain_create)(grant_handle_t *h,
                         const struct grant_domain_config *cfg,
                         grant_domid_t *domid);
    int (*domain_destroy)(grant_handle_t *h, grant_domid_t domid);
    int (*domain_list)(grant_handle_t *h, struct grant_domain_info *out,
                       unsigned cap);
    int (*domain_wait)(grant_handle_t *h, grant_domid_t domid);
    int (*shutdown)(grant_handle_t *h);
    /*
     * Map windows, optional.  NULL (sim): MAP returns the frames and an fd
     * of the owner's memory, map.c maps them itself, and grant_unmap sends
     * UNMAP.  Set (xen): map_window makes a window of `len` bytes the
     * hypervisor maps into (PROT_READ only with GRANT_MAP_RDONLY): at
     * *addr when it is not NULL (MAP_FIXED, over the caller's reservation
     * of a batch range), else anywhere, returned in *addr; and writes what
     * MAP's aux carries in for each page to aux[0 .. len/PAGE_SIZE).  MAP
     * then fills the window (aux comes back holding the frames).
     * unmap_window releases a window, and with it the mapping the
     * hypervisor made there: libgrant sends no UNMAP for it.  A mapping
     * made over a window (MAP_FIXED) releases it the same way.
     */
    int (*map_window)(grant_handle_t *h, size_t len, unsigned flags,
                      void **addr, uint64_t *aux);
    int (*unmap_window)(grant_handle_t *h, void *addr, size_t len);
    const struct grant_v1_ops *v1; /* standard grants (below) */
    /* Optional (NULL: -EOPNOTSUPP): registered files for grant I/O; *file
     * is what a GNTX_OP_IO element names the file by, below INT_MAX. */
    int (*io_file_register)(grant_handle_t *h, int fd, uint32_t *file);
    int (*io_file_unregister)(grant_handle_t *h, uint32_t file);
};

/* A run of frames from grant_mem_alloc. */
struct grant_alloc {
    struct grant_alloc *next;
    uint64_t gfn, nr_frames;
};

/* A batch's address range (grant_map_batch): the mappings of its elements
 * lie in it; the range is released with the last of them. */
struct grant_range {
    uint8_t *base;
    size_t len;
    unsigned live; /* mappings still in it */
};

/* A mapping from grant_map or grant_map_batch.  In a transport's window
 * (map_window) it stays LIVE: the hypervisor itself replaces the pages on
 * a FORCE revoke. */
#define GRANT_MAPPING_LIVE    0 /* the granter's pages */
#define GRANT_MAPPING_REVOKED 1 /* force-revoked: private scratch pages */
#define GRANT_MAPPING_GONE    2 /* force-revoked: range already munmapped */
struct grant_mapping {
    struct grant_mapping *next;
    struct grant_mapping *ev_next; /* on the revoked queue (map_revoked.c) */
    uint8_t *addr;
    size_t len;
    uint32_t handle; /* GNTX_OP_MAP's handle */
    grant_domid_t granter, owner;
    grant_ref_t ref;
    uint64_t offset;           /* in the grant's window */
    int prot;                  /* PROT_READ, with PROT_WRITE unless read-only */
    int state;                 /* GRANT_MAPPING_* */
    int queued;                /* on the revoked queue */
    struct grant_range *range; /* NULL: a range of its own */
};

struct grant_port {
    uint32_t port;
    int fd;
};

/* Unmap notices that arrived while a map reply was in flight. */
#define GRANT_EARLY_MAX 64u

/* Per-call buffers the handle owns (lg_scratch), so that the hot calls
 * allocate nothing once they have run at their size. */
enum lg_scratch_slot {
    LG_SCRATCH_COPY,     /* copy.c: the ABI elements of one batch */
    LG_SCRATCH_COPY_IDX, /* copy.c: their segment indices */
    LG_SCRATCH_SPANS,    /* create.c */
    LG_SCRATCH_CREATE,   /* create.c: the ABI elements */
    LG_SCRATCH_FRAMES,   /* create.c: the frames of direct grants */
    LG_SCRATCH_REVOKE,   /* create.c: grant_revoke_batch's elements */
    LG_SCRATCH_MAP_IDX,  /* map.c: a chunk's element indices */
    LG_SCRATCH_MAP,      /* map.c: its ABI elements */
    LG_SCRATCH_MAP_FDS,  /* map.c: the fds MAP returns (sim) */
    LG_SCRATCH_MAP_UNDO, /* map.c: handles to unmap again (sim) */
    LG_SCRATCH_MAP_AUX,  /* map.c: the frames (or window addresses) */
    LG_SCRATCH_IO,       /* io.c: the ABI elements of one batch */
    LG_SCRATCH_IO_IDX,   /* io.c: their segment indices */
    LG_SCRATCH_MAX
};
struct lg_scratch {
    void *p;
    size_t cap; /* bytes */
};

struct grant_handle {
    const struct grant_ops *ops;
    void *tp;       /* the transport's private state */
    unsigned flags; /* GRANT_OPEN_* */
    pid_t pid;      /* the opener: another pid means forked */
    grant_domid_t domid;
    uint8_t *mem; /* the whole domain memory, read-write */
    uint64_t mem_frames;
    struct grant_alloc *allocs;

    /* map_lock guards maps, spare_maps, early[], nr_early, early_overflow
     * and map_inflight: the notice service thread uses them too. */
    pthread_mutex_t map_lock;
    struct grant_mapping *maps;
    struct grant_mapping *spare_maps; /* unmapped records, for reuse */
    uint32_t early[GRANT_EARLY_MAX];
    unsigned nr_early;
    int early_overflow;
    int map_inflight;
    /* Force-revoked mappings not yet reported (grant_map_revoked_next),
     * oldest first, and the eventfd that polls readable while there are
     * any (-1 until grant_map_revoked_fd).  map_lock guards them too. */
    struct grant_mapping *rev_head, *rev_tail;
    int rev_fd;

    struct grant_port *ports;
    unsigned nr_ports, cap_ports;
    int evt_epfd; /* epoll over the ports' fds (evtchn.c), -1 until used */

    struct lg_prot *prot; /* page protection (protect*.c), NULL until used */
    struct lg_frames *frames; /* frames.c: NULL when gfn == page index */

    struct lg_scratch scratch[LG_SCRATCH_MAX];

    unsigned features;    /* GRANT_FEAT_*, set by the transport's open */
    struct lg_v1_rec *v1; /* v1.c: this handle's v1 maps and shares */
    void *v1tp;           /* the transport's v1 state (xen_v1.c) */
};

/* handle.c */
int lg_fail(const grant_handle_t *h, const char *what, int err);
int lg_forked(const grant_handle_t *h);
/* self.c: getpid(), asked of the kernel once per process (and again in a
 * forked child), not on every call. */
pid_t lg_self_pid(void);
/* The handle's buffer `slot`, at least `bytes` long (contents undefined),
 * or NULL (out of memory).  Grows, never shrinks: a call that ran once at
 * its size allocates nothing the next time.  Single-threaded, like the
 * handle. */
void *lg_scratch(grant_handle_t *h, enum lg_scratch_slot slot, size_t bytes);

/* mem.c */
/* The gpa of [ptr, ptr+len) if it lies in one allocation, else -EFAULT. */
int lg_local_gpa(const grant_handle_t *h, const void *ptr, uint64_t len,
                 uint64_t *gpa);
void lg_mem_release(grant_handle_t *h);

/* map.c */
/* Reserves len bytes of address space (PROT_NONE, not inherited by fork):
 * at addr (MAP_FIXED, replacing what was there) or anywhere for NULL.
 * The address, or NULL with errno set. */
void *lg_map_reserve(void *addr, size_t len);

/* unmap.c */
/* Sends UNMAP for one handle, result ignored (undoing a map). */
void lg_unmap_send(grant_handle_t *h, uint32_t handle);
/* Keeps an unlinked mapping record for the next map (map_lock held), so
 * that map and unmap allocate nothing once records are spare.  At most
 * GRANT_SPARE_MAPS are kept; the rest are freed. */
#define GRANT_SPARE_MAPS 64u
void lg_mapping_put(grant_handle_t *h, struct grant_mapping *m);
/* grant_close: drops every mapping (a forked child only the records). */
void lg_map_release(grant_handle_t *h, int forked);

/* map_revoked.c */
/* An unmap notice for `handle` (of `owner`'s memory): replaces the pages
 * with private scratch pages and queues the event.  0 when they are
 * replaced (or were never mapped), -errno when the range could not be
 * replaced (then the notice must not be acked).  Takes map_lock. */
int lg_map_revoked(grant_handle_t *h, uint32_t handle, grant_domid_t owner);
/* map_lock held: m is being unmapped; its pending event goes with it. */
void lg_map_ev_cancel(grant_handle_t *h, struct grant_mapping *m);
/* map_lock held (or forked): forgets the queue and closes the eventfd. */
void lg_map_ev_release(grant_handle_t *h);

/* handle.c: the transport XGRANT_TRANSPORT names ("sim" when unset). */
const char *lg_transport_name(void);

/* evtchn.c */
void lg_evtchn_release(grant_handle_t *h, int forked);

/* v1.c: unmaps and ends the handle's v1 maps and shares (a forked child
 * only frees the records). */
void lg_v1_release(grant_handle_t *h, int forked);

/* v1_ext.c and xen_v1.c: the transports' standard grants. */
extern const struct grant_v1_ops lg_v1_ext_ops;
extern const struct grant_v1_ops lg_xen_v1_ops;
/* xen_v1.c: opens gntdev and gntalloc with the xen transport and adds
 * GRANT_FEAT_V1_* to h->features for those that opened. */
void lg_xen_v1_open(grant_handle_t *h);
void lg_xen_v1_close(grant_handle_t *h);

/* frames.c: the way back from the hypervisor's frames to the handle's
 * pages.  A transport whose frames are not the page indexes (xen) hands
 * the frame of each page of h->mem at open; lg_frames_free in its close. */
int lg_frames_set(grant_handle_t *h, const uint64_t *frames, uint64_t n);
void lg_frames_free(grant_handle_t *h);
/* The page of h->mem that frame is, or -ENOENT (not the handle's). */
int lg_frame_index(const grant_handle_t *h, uint64_t frame, uint64_t *idx);
/* PROTECT_QUERY's n ranges of dom (frames) as libgrant lists them: the
 * handle's own pages, ascending and merged, when dom is the handle's
 * domain and the frames are not page indexes; else as they came.  Returns
 * how many (up to cap written), or -ENOMEM. */
int lg_frames_ranges(const grant_handle_t *h, grant_domid_t dom,
                     const struct gntx_prot_range *in, unsigned n,
                     struct grant_prot_range *out, unsigned cap);

/* protect.c, protect_fault.c: page protection.  The handle's own view of
 * its protections, read by the SIGSEGV handler (async-signal-safe: only
 * atomics), written by grant_protect. */
#define LG_PROT_VALID  0x80000000u /* meta: the page has a protection */
#define LG_OWN_LOG_MAX 64u         /* own LOG/NOTIFY records kept */
struct lg_prot_page {
    uint64_t cookie;
    uint32_t meta; /* LG_PROT_VALID | action << 8 | access */
    uint32_t pad;
};
struct lg_own_rec {
    uint64_t gpa, cookie;
    uint32_t access, action;
};
struct lg_prot {
    struct lg_prot_page *page; /* mem_frames entries (mmap'd) */
    size_t page_bytes;
    grant_fault_fn fn;
    void *arg;
    int slot; /* in the signal handler's registry, -1 none */
    struct gntx_fault_ring_page *ring; /* NULL until bound */
    void *ring_mem;                    /* its grant_mem_alloc page */
    uint32_t ring_port;
    struct lg_own_rec log[LG_OWN_LOG_MAX]; /* own LOG faults, dispatched */
    uint32_t log_prod, log_cons;
};
int lg_prot_get(grant_handle_t *h, struct lg_prot **out);
void lg_prot_release(grant_handle_t *h, int forked);
/* Registers h with the SIGSEGV handler (installed on first use). */
int lg_prot_sig_register(grant_handle_t *h);
void lg_prot_sig_unregister(grant_handle_t *h);
/* A restrict notice (XGW_NOTICE_RESTRICT) for mapping `handle`. */
int lg_map_restrict(grant_handle_t *h, const struct xgw_restrict *r);

/* copy.c, io.c: per-element calls.  LG_NO_STATUS marks an element the
 * hypervisor has not answered yet; lg_elem_status is an element's status
 * as the library reports it (the call's error, or -EPROTO for one left
 * unanswered); lg_pending_bytes sums the uint64_t lengths at len_off of
 * k elements of esz bytes (what a resubmission must shrink). */
#define LG_NO_STATUS 1
int lg_elem_status(int rc, int32_t st);
uint64_t lg_pending_bytes(const void *v, unsigned k, size_t esz,
                          size_t len_off);

/* ---- The sim transport (xgrantd) ---------------------------------------- */

struct sim_conn {
    int fd;        /* requests and responses */
    int notice_fd; /* unmap notices, read by the service thread */
    int memfd;     /* the domain's memory */
    size_t mem_size;
    struct xgw_ca_ctl *ca; /* the call area (sim_wire.h), NULL without */
    uint8_t *ca_buf;       /* its payload buffer */
    int bell_fd;           /* its doorbell, -1 without */
    const struct xgw_near_cpu *near; /* the near page, NULL without */
    int kicks;                       /* the daemon takes kicks (sim_wire.h) */
    struct xgw_spin spin;            /* the adaptive spin (sim_spin.h) */
    uint32_t seq;
    int broken;              /* connection lost: every call -ECONNRESET */
    pthread_mutex_t io_lock; /* one request/response at a time */
    pthread_t thread;
    int thread_started;
};

/* One request/response round trip (sim_io.c).  The response payload is
 * `rep_size` bytes into rep (or nothing, which sets got_rep = 0), then up
 * to aux_cap elements of aux_elem bytes into aux. */
struct sim_rpc {
    uint32_t op, count;
    uint64_t aux_count;
    const struct iovec *iov; /* request payload */
    int iovcnt;
    const int *fds_in;
    unsigned nfds_in;
    void *rep;
    size_t rep_size;
    void *aux;
    uint64_t aux_cap;
    size_t aux_elem;
    int *fds; /* received fds: the caller owns them */
    unsigned max_fds;
    /* out */
    int64_t ret;
    int got_rep;
    uint64_t aux_got;
    unsigned nr_fds;
};

/* sim.c */
extern const struct grant_ops lg_sim_ops;
/* xen.c: the real-Xen transport over the guest module's /dev/xgrant. */
extern const struct grant_ops lg_xen_ops;
/* The call's status: r->ret (clamped to int) or the transport error. */
int lg_sim_status(int rc, const struct sim_rpc *r);

/* sim_io.c */
/* 0 when a response came (its ret in r->ret), else -errno: -ECONNRESET
 * once the connection is lost, -EPROTO for a malformed response. */
int lg_sim_rpc(grant_handle_t *h, struct sim_rpc *r);
int lg_sim_read_full(int fd, void *buf, size_t len);
int lg_sim_write_full(int fd, const struct iovec *iov, int iovcnt,
                      const int *fds, unsigned nfds);
/* Receives a header and its fds (extras beyond max_fds are closed). */
int lg_sim_recv_hdr(int fd, struct xgw_msg *m, int *fds, unsigned max_fds,
                    unsigned *nr_fds);
int lg_sim_discard(int fd, uint64_t len);
/* The default socket path (sim_wire.h's rule). */
int lg_sim_sock_path(char *buf, size_t len);
/* The store (xenstore protocol) socket: $XENSTORED_PATH, else next to
 * xgrantd's socket (sockpath.c says how); 0 or -ENAMETOOLONG. */
int lg_store_sock_path(char *buf, size_t len);
int lg_store_sock_path_of(const char *xgrantd_sock, char *buf, size_t len);

/* sim_fast.c: the call area. */
/* Maps the call area's memfd and the near page's (-1: none; both taken:
 * closed here in every case) and keeps the doorbell; -errno leaves the
 * connection on the socket alone (a near page that does not map only
 * goes without). */
int lg_sim_fast_open(struct sim_conn *c, int memfd, int bell_fd, int near_fd);
void lg_sim_fast_close(struct sim_conn *c);
/* Can r go through the call area? */
int lg_sim_fast_ok(const struct sim_conn *c, const struct sim_rpc *r);
/* lg_sim_rpc's exchange through the call area (io_lock held). */
int lg_sim_fast_exchange(struct sim_conn *c, struct sim_rpc *r);
/* Posts a kick of port (no lock: atomics only): 0; -EAGAIN when it must go as a
 * synchronous SEND instead (a port out of range, or its last signal
 * failed: the SEND says why); -ECONNRESET once the daemon is gone. */
int lg_sim_fast_kick(struct sim_conn *c, uint32_t port);

/* sim_notice.c */
int lg_sim_notice_start(grant_handle_t *h);
void lg_sim_notice_stop(grant_handle_t *h);

/* sim_ctl.c: the domain control ops of lg_sim_ops. */
int lg_sim_domain_create(grant_handle_t *h,
                         const struct grant_domain_config *cfg,
                         grant_domid_t *domid);
int lg_sim_domain_destroy(grant_handle_t *h, grant_domid_t domid);
int lg_sim_domain_list(grant_handle_t *h, struct grant_domain_info *out,
                       unsigned cap);
int lg_sim_domain_wait(grant_handle_t *h, grant_domid_t domid);
int lg_sim_shutdown(grant_handle_t *h);

/* sim_calls.c: memory and event channel ops of lg_sim_ops. */
int lg_sim_mem_alloc(grant_handle_t *h, uint64_t nr_frames, uint64_t *gfn);
int lg_sim_mem_free(grant_handle_t *h, uint64_t gfn, uint64_t nr_frames);
int lg_sim_evtchn_alloc_unbound(grant_handle_t *h, grant_domid_t remote,
                                uint32_t *port, int *fd);
int lg_sim_evtchn_bind(grant_handle_t *h, grant_domid_t remote,
                       uint32_t remote_port, uint32_t *port, int *fd);
int lg_sim_evtchn_send(grant_handle_t *h, uint32_t port);
int lg_sim_evtchn_send_async(grant_handle_t *h, uint32_t port);
int lg_sim_evtchn_close(grant_handle_t *h, uint32_t port);
int lg_sim_io_file_register(grant_handle_t *h, int fd, uint32_t *file);
int lg_sim_io_file_unregister(grant_handle_t *h, uint32_t file);

#endif /* LIBGRANT_PRIVATE_H */
