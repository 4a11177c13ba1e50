/* SPDX-License-Identifier: MIT */
/*
 * private.h: xgrantd internals, shared by the daemon's files only.
 *
 * xgrantd is one thread around one epoll loop.  Objects:
 *   domain (struct xd_dom)   a process tree plus a memfd of guest memory,
 *                            known to the core under its id;
 *   connection (xd_conn)     one client socket + its notice socket, bound to
 *                            one domain (identity from SO_PEERCRED);
 *   group (xd_group)         a request whose reply waits for unmap acks
 *                            and/or a domain's reaping (FORCE revoke,
 *                            DOMAIN_DESTROY);
 *   ack (xd_ack)             one unmap notice awaiting its acknowledgment;
 *   call area (xd_ca)        a connection's shared-memory fast path
 *                            (sim_wire.h), polled while the daemon is
 *                            busy, rung through a doorbell when it sleeps.
 * Objects that an epoll event may still name are never freed in the middle
 * of an event batch: closing moves them to a graveyard emptied between
 * batches (xd_reap_graveyard).
 */
#ifndef XGRANTD_PRIVATE_H
#define XGRANTD_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#include "gcore.h"
#include "libgrant/abi/sim_wire.h"

#define XD_DOM0_NAME      "Domain-0"
#define XD_MAX_PORTS      1024u             /* event channel ports per domain */
#define XD_MAX_DOMU_PORTS 256u              /* ... of which a domU may use */
#define XD_FD_RESERVE     512               /* descriptors only domain 0 gets */
#define XD_RX_FDS         8                 /* fds accepted with one request */
#define XD_MAX_ARGC       4096u             /* DOMAIN_CREATE argv bound */
#define XD_MAX_MEM_BYTES  (64ull << 30)     /* largest domain memory */
#define XD_OUT_FDS        XGW_MAX_MAP_BATCH /* most fds in one response */
#define XD_TOKEN_ENV      "XGRANT_DOMTOKEN" /* per-domain secret, see spawn.c */
#define XD_TOKEN_LEN      32u               /* hex digits */
#define XD_INIT_ARGV0     "xgrantd-domain-init" /* argv[0] of a domain's init */
#define XD_MAX_DOM_CONNS  64u /* default connections per domU */

/* What an epoll event's data.ptr points to. */
enum xd_ev_kind {
    XD_EV_LISTEN,
    XD_EV_SIGNAL,
    XD_EV_CONN,
    XD_EV_NOTICE,
    XD_EV_PIDFD,
    XD_EV_BELL,         /* a call area's doorbell; obj: the connection */
    XD_EV_PROC,         /* a lingering connection's process pidfd; obj: it */
    XD_EV_STORE_LISTEN, /* the store's socket (store/conn.c) */
    XD_EV_STORE_CONN,   /* a store connection; obj: struct xst_conn */
    XD_EV_SPAWN,        /* a new domain's exec pipe (spawn.c); obj: it */
};
struct xd_ev {
    enum xd_ev_kind kind;
    void *obj;
};

/* One queued outgoing message; fds ride on its first byte. */
struct xd_out {
    struct xd_out *next;
    size_t len; /* bytes to send */
    size_t off; /* bytes sent */
    int nfds;
    int fds[XD_OUT_FDS];       /* owned: closed once sent or dropped */
    _Alignas(8) uint8_t buf[]; /* struct xgw_msg + payload (8-aligned) */
};
struct xd_outq {
    struct xd_out *head, *tail;
};

/* Released blocks that mappings may still reach: out of the allocator
 * until the FORCE revoke of the grants over them is complete (mem.c). */
struct xd_quar {
    struct xd_quar *next;
    struct xd_dom *dom;    /* NULL once the domain's memory is gone */
    struct gcore_range *r; /* sorted, disjoint */
    size_t n;
};

/* An incoming message being read or waiting to be served. */
struct xd_rx {
    struct xgw_msg hdr;
    size_t hdr_got;
    uint8_t *pay;
    size_t pay_got;
    size_t pay_cap;
    int fds[XD_RX_FDS];
    int nfds;
    bool fds_lost; /* more fds arrived than fit: the request is refused */
    bool ready;    /* complete, waiting its turn */
};

struct xd_group;
struct xd_ca;

struct xd_conn {
    struct xd_conn *prev, *next; /* live list, or graveyard */
    uint64_t serial;
    int fd;    /* request socket */
    int nfd;   /* daemon end of the notice socket, -1 before HELLO */
    pid_t pid; /* SO_PEERCRED */
    int pidfd; /* the peer process (SO_PEERPIDFD / pidfd_open), -1 none */
    uid_t uid;
    struct xd_dom *dom;
    bool hello;
    bool closed;
    bool lingering;   /* closed, but its process may still hold mappings */
    struct xd_ev pev; /* pidfd event while lingering */
    uint32_t ev_mask, nev_mask; /* what epoll watches now */
    struct xd_ev ev, nev;
    struct xd_rx rx;
    uint8_t nrx[sizeof(struct xgw_msg) + sizeof(struct xgw_notice)];
    size_t nrx_got;
    struct xd_outq out, nout;
    struct xd_group *defer; /* the reply this connection waits for */
    int wait_dom;           /* DOMAIN_WAIT: domain id, -1 none */
    uint32_t wait_seq;
    struct gcore_range *allocs; /* blocks handed out by MEM_ALLOC */
    size_t nallocs, allocs_cap;
    struct xd_ca *ca; /* the call area, NULL without one */
    /* Registered files (io.c): fd + 1 (0: free slot), an O_DIRECT one's
     * buffered twin, and the check each direction got at registration
     * (1 + its result, as in io.c). */
    int io_file[XGW_MAX_IO_FILES];
    int io_file_twin[XGW_MAX_IO_FILES]; /* fd + 1 of its buffered twin */
    int io_file_ok[XGW_MAX_IO_FILES][2];
    int maps_fd;      /* /proc/<pid>/maps once checked (mapcheck.c), or -1 */
    struct xd_ev bev; /* its doorbell (lives as long as c: epoll safety) */
};

/* A port of a domain's event channel table.  DEAD: its remote domain died
 * (closed for good, only CLOSE frees it). */
enum { XD_PORT_FREE, XD_PORT_UNBOUND, XD_PORT_INTERDOMAIN, XD_PORT_DEAD };
struct xd_port {
    uint8_t state;
    uint16_t rdom;  /* UNBOUND: who may bind; INTERDOMAIN: peer domain */
    uint64_t rinc;  /* UNBOUND, INTERDOMAIN: rdom's incarnation (xd_dom.inc) */
    uint32_t rport; /* INTERDOMAIN: peer port */
    int sfd;        /* the daemon's sending end of the port's signal pair */
    int cfd;        /* the client's end, until the reply hands it over */
    struct xd_conn *owner; /* connection that made it (domain 0 frees) */
};

/* A run of consecutive frames of a mapping (mapcheck.c). */
struct xd_run {
    uint64_t first, nr;
};

/* A live mapping, for unmap on close, for routing FORCE notices, and for
 * checking that a mapper let go of it (the owner's frames it maps). */
struct xd_map {
    uint32_t handle;
    uint16_t owner;
    struct xd_conn *conn;
    struct xd_run *runs; /* owned */
    uint32_t nruns;
    bool checking; /* being unmapped by the call checked now (hcall.c) */
};

/* Lines a domain's requests may log (log.c): a token bucket. */
struct xd_logbucket {
    uint64_t last_ms; /* last refill, 0 before the first line */
    uint64_t milli;   /* tokens, in thousandths of a line */
    uint64_t dropped; /* lines suppressed since the last one logged */
};

struct xd_dom {
    uint16_t id;
    uint64_t inc; /* incarnation: unique in the daemon's life, 0 until an
                     event channel names the domain (evtchn.c) */
    int state;    /* XGW_DOM_RUNNING / XGW_DOM_DYING */
    char name[XGW_NAME_MAX];
    pid_t pid; /* its init (spawn.c); 0 for domain 0 */
    int pidfd;
    int statfd;  /* the program's wait status comes here from the init */
    bool has_ns; /* in its own PID namespace (ns_dev, ns_ino) */
    dev_t ns_dev;
    ino_t ns_ino;
    char token[XD_TOKEN_LEN + 1]; /* XGRANT_DOMTOKEN of its processes */
    unsigned nconns;              /* connections, lingering ones included */
    size_t rx_bytes;              /* request bytes buffered for it */
    struct xd_ev ev;
    int memfd;
    uint8_t *mem;
    uint64_t nr_frames;
    uint64_t *bitmap;      /* MEM_ALLOC: one bit per frame in use */
    struct xd_quar *quar;  /* released blocks waiting for their unmaps */
    struct xd_port *ports; /* XD_MAX_PORTS, allocated on first use */
    struct xd_map *maps;
    size_t nmaps, maps_cap;
    struct xd_group **reapers; /* DOMAIN_DESTROY replies waiting the reap */
    size_t nreapers;
    struct xd_logbucket logb; /* what its connections' lines may cost */
    bool in_core;
    bool reaped; /* gone; freed between event batches */
    struct xd_dom *grave_next;

    /* Starting: did its program run?  (spawn.c, domctl.c) */
    int errfd;                /* the exec pipe, -1 once known */
    struct xd_ev sev;         /* its event */
    struct xd_group *started; /* DOMAIN_CREATE's reply, sent then */

    /* Ending: its init is reaped, then (no PID namespace) the child that
     * kills what is left of it (proc.c) is too; then it is gone. */
    bool init_gone;
    int exit_status; /* the program's, kept for then */
    pid_t killer;    /* that child, 0 none */
};

/* A deferred reply: sent when `pending` drops to 0 (after `done`). */
struct xd_group {
    unsigned pending;
    struct xd_conn *requester; /* NULL: nobody to answer (gone or internal) */
    struct xd_out *reply;
    void (*done)(void *arg); /* NULL, or run once when pending drops to 0 */
    void *done_arg;
};

/* Global state. */
struct xd {
    struct gcore *core;
    int epfd;
    int lfd;
    int sfd;
    struct xd_ev lev, sev;
    char sock[128];
    char pidfile[4200];
    bool verbose;
    bool quit;
    int exit_code;
    struct xd_dom *doms[GNTX_DOMID_MAX + 1];
    struct xd_conn *conns;     /* live */
    struct xd_conn *lingering; /* closed, mappings kept until the process
                                  is gone (xd_conn.pidfd) */
    struct xd_conn *graveyard; /* closed, freed between event batches */
    struct xd_dom *dom_graveyard;
    struct xd_group *cur; /* request being served (gh_unmap_notify) */
    uint64_t next_serial;
    int reserve_fd;         /* spare fd for accept under EMFILE */
    unsigned poll_us;       /* call areas: busy-poll this long after work */
    unsigned max_dom_conns; /* connections per domU */
    int fd_limit;           /* RLIMIT_NOFILE once raised */
    size_t rx_bytes_domu;   /* request bytes buffered for all domUs */
};
extern struct xd xd;

/* Is descriptor number fd so high that only domain 0 may have more?  The
 * kernel hands out the lowest free number, so fd tracks how many are open. */
static inline bool xd_fd_scarce(int fd)
{
    return fd >= xd.fd_limit - XD_FD_RESERVE;
}

/* ---- log.c ---- */
int xd_log_open(const char *path);
void xd_log_reopen(void);
void xd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xd_dbg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void xd_log_conn(const struct xd_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same, never rate-limited: punishments only (one line each). */
void xd_log_conn_always(const struct xd_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void xd_log_dom(const struct xd_dom *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A line caused by domain `id`'s requests (rate-limited per domain). */
void xd_log_domid(unsigned id, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* At most a burst of lines per interval from one call site (rl). */
struct xd_ratelimit {
    uint64_t start;
    unsigned n, dropped;
};
void xd_log_rl(struct xd_ratelimit *rl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- main.c ---- */
int xd_sock_clear(const char *path);
int xd_sock_listen(const char *path);
int xd_epoll_add(int fd, uint32_t events, struct xd_ev *ev);
int xd_epoll_mod(int fd, uint32_t events, struct xd_ev *ev);
void xd_epoll_del(int fd);
uint64_t xd_now_ms(void);

/* ---- conn.c ---- */
void xd_accept(void);
/* The domain of a peer (pid, uid from SO_PEERCRED, pidfd or -1), fail
 * closed: NULL and *why when refused.  xd_peer_pidfd: its pidfd or -1. */
struct xd_dom *xd_identify(pid_t pid, uid_t uid, int pidfd, const char **why);
int xd_peer_pidfd(int fd, pid_t pid);
bool xd_conn_idle(const struct xd_conn *c);
void xd_conn_event(struct xd_conn *c, uint32_t events);
void xd_notice_event(struct xd_conn *c, uint32_t events);
void xd_conn_close(struct xd_conn *c, const char *why);
void xd_conn_update(struct xd_conn *c);
void xd_reap_graveyard(void);
void xd_conn_close_all(void);
void xd_conn_proc_event(struct xd_conn *c);
void xd_conn_release_dom(struct xd_dom *d);
void xd_conn_kill(struct xd_conn *c);
void xd_flush_all(int timeout_ms);

/* ---- out.c ---- */
struct xd_out *xd_out_new(uint32_t op, uint32_t seq, int64_t ret,
                          size_t paylen);
void xd_out_free(struct xd_out *m);
int xd_out_add_fd(struct xd_out *m, int fd);
int xd_out_dup_fd(struct xd_out *m, int fd);
struct xgw_msg *xd_out_hdr(struct xd_out *m);
void *xd_out_payload(struct xd_out *m);
void xd_out_truncate(struct xd_out *m, size_t paylen);
void xd_outq_push(struct xd_outq *q, struct xd_out *m);
int xd_outq_flush(int fd, struct xd_outq *q);
void xd_outq_clear(struct xd_outq *q);
void xd_reply(struct xd_conn *c, struct xd_out *m);
void xd_reply_err(struct xd_conn *c, const struct xgw_msg *req, int64_t ret);

/* ---- callarea.c ---- */
int xd_ca_open(struct xd_conn *c, int *memfd, int *bell);
void xd_ca_close(struct xd_conn *c);
bool xd_ca_busy(const struct xd_conn *c);
bool xd_ca_reply(struct xd_conn *c, struct xd_out *m);
void xd_ca_bell(struct xd_conn *c);
int xd_ca_timeout(int timeout_ms);
void xd_ca_awake(void);
void xd_ca_run(bool worked);
/* Sends the kicks c's client posted in its call area (before any request
 * of c is served); how many ports were kicked. */
unsigned xd_ca_kicks(struct xd_conn *c);
/* Records whether a kick or SEND of port by c's client failed (ret < 0)
 * in its area's kick_err bits. */
void xd_ca_kick_result(struct xd_conn *c, uint32_t port, int ret);

/* ---- near.c: large copies on the caller's CPU ---- */
/* Runs fn(arg) on a daemon thread pinned to `cpu` and returns true once it
 * ran; false (fn not run: the caller runs it) for our own CPU, one without
 * a worker, or a worker that did not take it within NEAR_TAKE_NS. */
bool xd_near_run(int cpu, void (*fn)(void *), void *arg);
/* A new descriptor of the near page (sim_wire.h), for a client; -errno. */
int xd_near_fd(void);
/* true on a near worker thread (what must run on the main thread waits). */
bool xd_near_on_worker(void);
/* Wakes a client's futex (shared): at once, or on a worker only once its
 * job is reported done. */
void xd_near_wake(uint32_t *word);

/* ---- dispatch.c ---- */
void xd_dispatch(struct xd_conn *c, struct xd_rx *rx);

/* ---- hcall.c ---- */
void xd_hypercall(struct xd_conn *c, struct xd_rx *rx);
size_t xd_hcall_max_len(const struct xgw_msg *h);

/* ---- io.c: GNTX_OP_IO on the files the request carries or the
 * connection registered ---- */
long xd_io_run(struct xd_conn *c, const struct xd_rx *rx, struct gntx_io *v,
               unsigned n);
void xd_io_file_register(struct xd_conn *c, struct xd_rx *rx);
void xd_io_file_unregister(struct xd_conn *c, struct xd_rx *rx);
void xd_io_files_release(struct xd_conn *c);

/* ---- domain.c ---- */
struct xd_dom *xd_dom_new(uint16_t id, const char *name);
void xd_dom_free(struct xd_dom *d);
void xd_dom_insert(struct xd_dom *d);
unsigned xd_dom_id_top(void);
struct xd_dom *xd_dom_get(unsigned id);
struct xd_dom *xd_dom_of_pid(pid_t pid);
int xd_dom0_create(uint64_t mem_bytes);
void xd_dom_teardown(struct xd_dom *d);
void xd_dom_destroy(struct xd_dom *d, const char *why);
void xd_dom_kill(struct xd_dom *d);
void xd_dom_wait_reap(struct xd_dom *d, struct xd_group *g);
void xd_dom_event(struct xd_dom *d);
void xd_dom_destroy_all(void);
void xd_dom_sigchld(void);
void xd_dom_reap_graveyard(void);
int xd_dom_exit_status(unsigned id, int *status);
bool xd_dom_id_reserved(unsigned id);

/* ---- domctl.c ---- */
void xd_dom_create(struct xd_conn *c, struct xd_rx *rx);
void xd_dom_destroy_req(struct xd_conn *c, struct xd_rx *rx);
void xd_dom_list(struct xd_conn *c, struct xd_rx *rx);
void xd_dom_wait(struct xd_conn *c, struct xd_rx *rx);
void xd_dom_started(struct xd_dom *d, bool gone);

/* ---- store/conn.c, store/dom.c (the store, store/private.h) ---- */
const char *xst_store_path(void);
/* Writes the new domain's store nodes, fires @introduceDomain. */
void xst_dom_introduce(const struct xd_dom *d);
/* Removes them, closes its store connections, fires @releaseDomain. */
void xst_dom_release(uint16_t id);

/* ---- spawn.c ---- */
int xd_spawn(struct xd_dom *d, char *const argv[], const int *fds);
int xd_spawn_settle(struct xd_dom *d, bool gone);
void xd_spawn_reap(void);
int xd_init_main(int argc, char **argv);

/* ---- uidrange.c ---- */
#define XD_UID_RANGE (1u << 20) /* uids for confined domains, from the base */
void xd_confine_set_uid_base(unsigned base);
unsigned xd_confine_uid_base(void);
int xd_confine_check_uid_base(unsigned base, char *why, size_t len);
uid_t xd_confine_uid_next(void);

/* ---- confine.c ---- */
void xd_confine_disable(void);
bool xd_confine_on(void);
mode_t xd_confine_umask(void);
int xd_confine_mem(const struct xd_dom *d);
int xd_confine_reach(const struct xd_dom *d, const char *argv0);
int xd_confine_prepare(void);
int xd_confine_child(const struct xd_dom *d, uid_t uid);

/* ---- proc.c ---- */
int xd_proc_stat(pid_t pid, pid_t *ppid, pid_t *sid, char *state);
int xd_proc_token(pid_t pid, char *tok, size_t len);
int xd_proc_pidns(pid_t pid, dev_t *dev, ino_t *ino);
struct xd_dom *xd_dom_of_pidns(pid_t pid, int *err);
pid_t xd_proc_kill_strays(const struct xd_dom *d);
bool xd_proc_reaches(pid_t pid, const struct xd_dom *owner);

/* ---- mapcheck.c ---- */
/* Calls fn for each mapping of file (dev, ino) that /proc/<pid>/maps
 * lists: its first page in the file and its pages.  Stops at the first
 * non-zero return of fn and returns it; 0 at the end; -errno when maps
 * cannot be read. */
typedef int xd_maps_fn(void *arg, uint64_t first, uint64_t nr);
int xd_proc_maps_each(pid_t pid, dev_t dev, ino_t ino, xd_maps_fn *fn,
                      void *arg);
/* The frames as sorted runs (*runs malloc'd); 0 or -ENOMEM. */
int xd_runs_make(const uint64_t *frames, uint64_t n, struct xd_run **runs,
                 uint32_t *nruns);
/* The pages of one domain's memory a process maps: (first page in the
 * memfd, pages) per mapping. */
struct xd_vmas {
    struct xd_run *v;
    size_t n, cap;
};
/* One mapping of a memfd (its inode) by a process. */
struct xd_vma {
    uint64_t ino, first, nr;
};
/* A process's mappings of every domain's memory, read once for all the
 * owners a call or an ack names: sorted by (ino, first). */
struct xd_procmaps {
    struct xd_vma *v;
    size_t n, cap;
    dev_t dev; /* of the memfds */
    bool read;
    int rc; /* of the read */
};
/* A process with more lines in /proc/<pid>/maps than this is not read: its
 * UNMAP is refused (EBUSY) and its acks of unmap notices are not believed,
 * so that one read costs the event loop at most about 8 ms (0.25 us a
 * line measured; max_map_count is 65530 by default). */
#define XD_MAPS_LINES_MAX 32768
/* Opens c->maps_fd (once): 0 or -errno. */
int xd_maps_fd_open(struct xd_conn *c);
/* Reads c's process's mappings of the memfds (owner's names their device)
 * through c->maps_fd, opened on first use: 0, or -errno when /proc cannot
 * tell (-E2BIG: over XD_MAPS_LINES_MAX lines); a process that is gone maps
 * nothing: 0. */
int xd_procmaps_read(struct xd_conn *c, const struct xd_dom *owner,
                     struct xd_procmaps *pm);
/* vm := the mappings of owner's memory in pm: 0, -ENOMEM, or -EXDEV
 * when pm was not read for memfds on the device of owner's. */
int xd_procmaps_owner(const struct xd_procmaps *pm, const struct xd_dom *owner,
                      struct xd_vmas *vm);
void xd_procmaps_free(struct xd_procmaps *pm);
/* Appends a run to vm: 0 or -ENOMEM. */
int xd_vmas_add(struct xd_vmas *vm, uint64_t first, uint64_t nr);
void xd_vmas_free(struct xd_vmas *vm);
/* Does the process (vm, read for rec->conn and rec->owner) still map a
 * frame of rec more often than its other live mappings of d (not those
 * marked `checking`) and the frames in legit (NULL: none) account for? */
bool xd_map_lingers(const struct xd_vmas *vm, const struct xd_dom *d,
                    const struct xd_map *rec, const struct xd_vmas *legit);

/* ---- protect.c ---- */
void xd_prot_kills_run(void);

/* ---- mem.c ---- */
int xd_mem_setup(struct xd_dom *d, uint64_t bytes);
void xd_mem_teardown(struct xd_dom *d);
void xd_mem_alloc(struct xd_conn *c, struct xd_rx *rx);
void xd_mem_free(struct xd_conn *c, struct xd_rx *rx);
void xd_mem_release_conn(struct xd_conn *c);

/* ---- evtchn.c ---- */
int xd_sig_pair(int *mine, int *theirs);
void xd_sig_drain(int fd);
void xd_evtchn_signal(struct xd_port *p);
void xd_evtchn_op(struct xd_conn *c, struct xd_rx *rx);
/* A kick of `port` (SEND without a reply); on failure the port itself,
 * if it exists, is signalled once.  0 or SEND's -errno. */
int xd_evtchn_kick(struct xd_conn *c, uint32_t port);
void xd_evtchn_release_conn(struct xd_conn *c);
void xd_evtchn_dom_close(struct xd_dom *d);

/* ---- hostif.c (gh_* are declared by gcore_host.h) ---- */
struct xd_group *xd_group_new(void);
void xd_group_get(struct xd_group *g);
void xd_group_put(struct xd_group *g);
void xd_group_finish(struct xd_group *g, struct xd_conn *c,
                     struct xd_out *reply);
void xd_ack_received(struct xd_conn *c, const struct xgw_notice *n);
void xd_acks_drop_conn(struct xd_conn *c);
int xd_acks_timeout_ms(void);
void xd_acks_expire_conn(struct xd_conn *c);
void xd_acks_expire(void);
bool xd_acks_owed(const struct xd_conn *c);
void xd_acks_hold_for_reap(struct xd_dom *d);
/* g waits for the reap of every dying domain that mapped owner's memory. */
void xd_dying_hold(uint16_t owner, struct xd_group *g);
int xd_map_add(struct xd_conn *c, uint32_t handle, uint16_t owner,
               const uint64_t *frames, uint64_t npages);
void xd_map_remove(struct xd_dom *d, uint32_t handle);
struct xd_map *xd_map_find(struct xd_dom *d, uint32_t handle);
void xd_maps_drop_conn(struct xd_conn *c);
void xd_maps_free(struct xd_dom *d);
bool xd_maps_held(const struct xd_conn *c);
bool xd_maps_reachable(const struct xd_conn *c);

/* An array of *cap elements of `elem` bytes with room for `need`: v as it
 * is, or reallocated to the doubled capacity (from `first`) and *cap
 * updated; NULL when out of memory (v and *cap untouched). */
static inline void *xd_grow(void *v, size_t *cap, size_t need, size_t elem,
                            size_t first)
{
    size_t c = *cap ? *cap : first;
    void *n;

    if (need <= *cap)
        return v;
    while (c < need)
        c *= 2;
    n = reallocarray(v, c, elem);
    if (n)
        *cap = c;
    return n;
}

#endif /* XGRANTD_PRIVATE_H */
