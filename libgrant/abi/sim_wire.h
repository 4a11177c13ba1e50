/* SPDX-License-Identifier: MIT */
/*
 * sim_wire.h: the wire protocol between libgrant's sim transport and
 * xgrantd, the embedded hypervisor.  Private to this project (libgrant/lib
 * and tools/xgrantd include it); guests use libgrant.h.
 *
 * Connection: a Unix SOCK_STREAM socket at $XGRANT_SOCK (default
 * $XDG_RUNTIME_DIR/xgrant/xgrantd.sock, or /run/xgrant/xgrantd.sock as root,
 * or /tmp/xgrant-$UID/xgrantd.sock).  The daemon takes the caller's domain
 * from SO_PEERCRED: a process it spawned as a domain, or any descendant of
 * one, is that domain; any other process of the daemon's uid (or root) is
 * the control domain 0; anyone else is refused.  Nothing a client sends
 * names its own domain.
 *
 * Framing: every message, both ways, is a struct xgw_msg followed by `len`
 * payload bytes.  Requests are answered in order, one response each, with
 * the same seq; a request may be answered late (DOMAIN_WAIT, REVOKE with
 * FORCE that waits for unmap acks) but the connection handles one request
 * at a time.  File descriptors ride as SCM_RIGHTS on the first byte of the
 * response header; `nfds` says how many.  Hypercalls may instead go
 * through the call area, a shared-memory fast path (see below).
 *
 * Hypercall ops (op < XGW_OP_SIM_BASE) carry grant_abi.h's GNTX_OP_* with
 *   request payload:  args (count * element size), then aux INPUT
 *                     (aux_count elements) for ops whose aux is input
 *                     (CREATE's frames); for ops whose aux is output (MAP,
 *                     QUERY_*), aux_count is the capacity and no aux is sent.
 *   response payload: args (updated statuses/outputs), then aux OUTPUT
 *                     (aux_count elements actually written, for MAP: the
 *                     whole capacity) ; ret = the hypercall's return value.
 *   GNTX_OP_MAP additionally returns one fd per element with status 0, in
 *   element order: a memfd of root_dom's memory, opened read-only for
 *   GNTX_MAP_RDONLY maps; the frames in aux are page offsets in it.  At most
 *   XGW_MAX_MAP_BATCH elements per MAP call.
 *   GNTX_OP_IO takes its files as fds sent with the request (SCM_RIGHTS on
 *   its first byte, at most XGW_MAX_IO_FDS; nfds says how many): an
 *   element's `file` is an index into them.  The daemon closes them once
 *   it answers.  Or `file` names a file the connection registered
 *   (XGW_OP_IO_FILE_REGISTER): then the request carries no fd and may go
 *   through the call area.
 *
 * Limits: len <= XGW_MAX_PAYLOAD; a bigger or malformed message gets an
 * error response (-EINVAL / -E2BIG) when its framing can still be followed,
 * else the connection is closed.  Other clients are never affected.
 */
#ifndef SIM_WIRE_H
#define SIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "grant_abi.h"

#define XGW_MAGIC         0x78677731u /* "xgw1" */
#define XGW_MAX_PAYLOAD   (8u << 20)
#define XGW_MAX_MAP_BATCH 64u
#define XGW_MAX_IO_FDS    8u  /* fds one request may carry (GNTX_OP_IO) */
#define XGW_MAX_IO_FILES  16u /* registered files per connection */
#define XGW_IO_FILE_REG   0x40000000u /* a gntx_io `file`: registered */
#define XGW_NAME_MAX      32u
#define XGW_SOCK_ENV      "XGRANT_SOCK"
#define XGW_DOMID_ENV                                                          \
    "XGRANT_DOMID" /* informational, set for spawned domains */

struct xgw_msg {
    uint32_t magic;     /* XGW_MAGIC */
    uint32_t op;        /* GNTX_OP_* or XGW_OP_* */
    uint32_t seq;       /* echoed */
    uint32_t count;     /* elements in args */
    uint64_t aux_count; /* elements in aux (see above) */
    int64_t ret;        /* response: return value (>= 0 or -errno) */
    uint32_t len;       /* payload bytes that follow */
    uint32_t nfds;      /* response: fds attached */
};
_Static_assert(sizeof(struct xgw_msg) == 40, "xgw_msg");

enum xgw_op {
    XGW_OP_SIM_BASE = 0x100,

    /* First request on every connection.  req: xgw_hello_req; rep:
     * xgw_hello_rep + fds [memfd of own memory (read-write), notice socket]. */
    XGW_OP_HELLO = 0x100,

    /* Guest memory.  req: xgw_mem; rep: xgw_mem (first_gfn set).  Frames are
     * handed out contiguous, first fit; ENOMEM when no run is free.  They
     * belong to the connection that allocated them and go back on MEM_FREE
     * or when it closes (a domain's memory as a whole lives as long as the
     * domain): then every grant over them is revoked as with FORCE, and they
     * are handed out again only once every mapping of them is gone
     * (grant_abi.h, "Memory taken back"). */
    XGW_OP_MEM_ALLOC = 0x101,
    XGW_OP_MEM_FREE = 0x102,

    /* Event channels, Xen's semantics.  req/rep: xgw_evtchn.  ALLOC_UNBOUND
     * and BIND_INTERDOMAIN return the local port's eventfd (1 fd): it becomes
     * readable when the peer sends.  SEND on an unbound or closed port:
     * -ENOTCONN; CLOSE makes the peer's port unbound again.  A port names its
     * remote by id and incarnation: when the remote dies, the port is closed
     * for good (SEND -ENOTCONN, BIND -EINVAL for everyone, a domain reusing
     * the id included) until CLOSE frees it. */
    XGW_OP_EVTCHN_ALLOC_UNBOUND = 0x110,
    XGW_OP_EVTCHN_BIND_INTERDOMAIN = 0x111,
    XGW_OP_EVTCHN_SEND = 0x112,
    XGW_OP_EVTCHN_CLOSE = 0x113,

    /* Registered files for GNTX_OP_IO (as io_uring's fixed files): the
     * daemon keeps the file until UNREGISTER or the connection closes, and
     * IO calls name it without sending a descriptor (so they may use the
     * call area).  REGISTER: no payload, exactly 1 fd (a regular file or a
     * block device, not O_PATH: else -EBADF, -ESPIPE, -EISDIR, -EINVAL);
     * rep xgw_io_file (its GNTX_OP_IO `file` value, XGW_IO_FILE_REG set).
     * At most XGW_MAX_IO_FILES per connection (-ENOSPC).  UNREGISTER: req
     * xgw_io_file; -EBADF for a file not registered. */
    XGW_OP_IO_FILE_REGISTER = 0x130,
    XGW_OP_IO_FILE_UNREGISTER = 0x131,

    /* Domain control (control domain only, else -EPERM).
     * DOMAIN_CREATE: req xgw_domain_create + argv as NUL-separated strings
     *   (argc of them) + fds [stdin, stdout, stderr] (nfds in the request is
     *   3 or 0; 0 means /dev/null); rep xgw_domain_info of the new domain.
     * DOMAIN_DESTROY: req xgw_domid; the process is killed and every grant
     *   and mapping of the domain is gone when the reply comes.
     * DOMAIN_LIST: rep aux = xgw_domain_info[] (aux_count in the request is
     *   the capacity), ret = number of domains (all of them, even when more
     *   than the capacity).
     * DOMAIN_WAIT: req xgw_domid; answered when the domain is gone, ret =
     *   its wait status (as waitpid's), or -ESRCH.
     * SHUTDOWN: destroy every domain, answer, then exit. */
    XGW_OP_DOMAIN_CREATE = 0x120,
    XGW_OP_DOMAIN_DESTROY = 0x121,
    XGW_OP_DOMAIN_LIST = 0x122,
    XGW_OP_DOMAIN_WAIT = 0x123,
    XGW_OP_SHUTDOWN = 0x124,

    /* Notice socket (daemon -> library service thread), same framing:
     * XGW_NOTICE_UNMAP: count = 1, payload xgw_notice: the mapping is being
     *   force-revoked; the library MUST make the pages unreachable (replace
     *   them with an inaccessible or scratch mapping) and then answer on the
     *   same socket with an XGW_NOTICE_UNMAP_ACK message carrying the same
     *   xgw_notice.  A mapper that does not ack within XGW_UNMAP_TIMEOUT_MS
     *   is destroyed (domain) or disconnected and killed (control-domain
     *   process): the revoker's guarantee wins. */
    XGW_NOTICE_UNMAP = 0x140,
    XGW_NOTICE_UNMAP_ACK = 0x141,
    /* XGW_NOTICE_RESTRICT: count = 1, payload xgw_restrict: the owner
     *   tightened its page protections (GNTX_OP_PROTECT); pages [first,
     *   first + npages) of the mapping MUST allow at most `access`
     *   (GNTX_ACC_R or GNTX_ACC_NONE) before the library answers with an
     *   XGW_NOTICE_UNMAP_ACK carrying xgw_notice {handle, owner}; the same
     *   timeout and punishment as XGW_NOTICE_UNMAP. */
    XGW_NOTICE_RESTRICT = 0x142,
};

#define XGW_UNMAP_TIMEOUT_MS 2000

/* xgw_hello_req.flags / xgw_hello_rep.flags */
#define XGW_HELLO_CALL_AREA 0x1u /* the fast path below, if the daemon can */
#define XGW_HELLO_KICKS     0x2u /* with CALL_AREA: kicks (see below) */

struct xgw_hello_req {
    uint32_t abi_version; /* GNTX_ABI_VERSION */
    uint32_t flags;       /* XGW_HELLO_*; unknown bits: -EINVAL */
};
struct xgw_hello_rep {
    uint16_t domid;
    uint16_t flags; /* XGW_HELLO_* granted: CALL_AREA adds 2 fds */
    uint32_t abi_version;
    uint64_t mem_frames; /* the memfd is mem_frames * GNTX_PAGE_SIZE bytes */
};

struct xgw_mem {
    uint64_t first_gfn; /* out on ALLOC, in on FREE */
    uint64_t nr_frames;
};

struct xgw_evtchn {
    uint16_t remote_dom; /* ALLOC_UNBOUND, BIND_INTERDOMAIN */
    uint16_t pad;
    uint32_t remote_port; /* BIND_INTERDOMAIN */
    uint32_t port;        /* out on ALLOC/BIND; in on SEND/CLOSE */
    uint32_t pad2;
};

struct xgw_domid {
    uint16_t domid;
    uint16_t pad[3];
};

struct xgw_domain_create {
    char name[XGW_NAME_MAX]; /* NUL-terminated, [A-Za-z0-9_.-], unique */
    uint64_t memory_bytes;   /* page multiple, >= 1 page */
    uint32_t argc;           /* >= 1 */
    uint32_t max_entries;    /* 0: default quota */
    uint32_t max_maps;       /* 0: default */
    uint32_t pad;
    uint64_t max_frames; /* 0: default */
};

#define XGW_DOM_RUNNING 0
#define XGW_DOM_DYING   1
struct xgw_domain_info {
    char name[XGW_NAME_MAX];
    uint16_t domid;
    uint16_t state; /* XGW_DOM_* */
    int32_t pid;    /* 0 for the control domain */
    uint64_t mem_frames;
    struct gntx_usage usage;
};

struct xgw_notice {
    uint32_t handle; /* the mapping (GNTX_OP_MAP's handle) */
    uint16_t owner;  /* whose memory it maps */
    uint16_t pad;
};

struct xgw_restrict {
    uint32_t handle;
    uint16_t owner;
    uint16_t access; /* GNTX_ACC_R or GNTX_ACC_NONE */
    uint64_t first;  /* page index within the mapping */
    uint64_t npages;
};

struct xgw_io_file {
    uint32_t file; /* GNTX_OP_IO's `file`: XGW_IO_FILE_REG | slot */
    uint32_t pad;
};

_Static_assert(sizeof(struct xgw_io_file) == 8, "xgw_io_file");
_Static_assert(sizeof(struct xgw_restrict) == 24, "xgw_restrict");
_Static_assert(sizeof(struct xgw_hello_req) == 8, "xgw_hello_req");
_Static_assert(sizeof(struct xgw_hello_rep) == 16, "xgw_hello_rep");
_Static_assert(sizeof(struct xgw_mem) == 16, "xgw_mem");
_Static_assert(sizeof(struct xgw_evtchn) == 16, "xgw_evtchn");
_Static_assert(sizeof(struct xgw_domid) == 8, "xgw_domid");
_Static_assert(sizeof(struct xgw_domain_create) == 64, "xgw_domain_create");
_Static_assert(sizeof(struct xgw_domain_info) == 96, "xgw_domain_info");
_Static_assert(sizeof(struct xgw_notice) == 8, "xgw_notice");

/*
 * ---- The call area: a shared-memory fast path for hypercalls ----------
 *
 * Why: a socket round trip costs two cross-process wakeups (~10 us each on
 * a small VM).  When the daemon is awake, a request posted in shared memory
 * is seen in well under a microsecond.
 *
 * Setup: HELLO with XGW_HELLO_CALL_AREA in flags.  If the daemon grants it
 * (rep.flags has the bit), the response carries two more fds after the
 * usual two: [memfd of the call area (XGW_CA_SIZE bytes, read-write),
 * doorbell: the sending end of a datagram socket pair], and maybe a
 * third: the near page (XGW_NEAR_SIZE bytes, sealed so that it maps
 * read-only; see "Large copies" below).
 * Otherwise everything uses the socket, as before.
 *
 * Layout: struct xgw_ca_ctl at offset 0; the payload buffer at
 * XGW_CA_BUF_OFF, XGW_CA_BUF_SIZE bytes, holds the request payload, then
 * (overwritten by the daemon) the response payload.  Payloads use the
 * socket framing's layout exactly (args, then aux).  Each side writes only
 * its own words: the client req_seq, client_wait and req (one cache line);
 * the daemon rep_seq, daemon_state and rep (another).
 *
 * Which requests: the client stays synchronous (one request at a time on a
 * connection, either path), so the two paths never overlap.  Through the
 * area go only requests with no fds either way whose request payload and
 * largest response payload fit the buffer: every GNTX_OP_* except MAP (IO
 * only on registered files), XGW_OP_MEM_ALLOC/FREE and
 * XGW_OP_EVTCHN_SEND/CLOSE.  HELLO, MAP, IO_FILE_*,
 * EVTCHN_ALLOC_UNBOUND/BIND and every DOMAIN_* op or SHUTDOWN keep the
 * socket; the daemon answers any of them posted in the area with -EINVAL.
 * A request that defers (REVOKE with FORCE) is answered in the area when
 * it completes.
 *
 * One call (client; "rel"/"acq" = release/acquire, "sc" = seq_cst fence):
 *   1. write the payload into the buffer and req (magic, op, seq, count,
 *      aux_count, len; nfds 0);
 *   2. rel-store req_seq = seq   (orders 1 before the daemon's acq-load);
 *   3. sc fence; load daemon_state: XGW_CA_SLEEPING -> send a byte on
 *      the doorbell, MSG_DONTWAIT   (Dekker with the daemon's "store
 *      SLEEPING; sc; load req_seq": at least one side sees the other's
 *      store, so a request is never left unseen while the daemon sleeps);
 *   4. spin (bounded) for acq-load rep_seq == seq; then store
 *      client_wait = 1; sc fence; re-check rep_seq; FUTEX_WAIT on rep_seq
 *      (shared futex, bounded timeout, after which the socket is polled:
 *      EOF there means the daemon is gone); store client_wait = 0;
 *   5. read rep once (seq must be the call's, len <= XGW_CA_BUF_SIZE),
 *      then the payload.
 * Daemon, for each request:
 *   a. acq-load req_seq; a value other than the last one it served is a
 *      new request (pairs with 2);
 *   b. copy req and len bytes of payload out of the area ONCE, into its
 *      own memory, and validate only that copy (the client may scribble on
 *      the area at any time: it can only garble its own call);
 *   c. serve it exactly as if it came from the socket; write the response
 *      payload and rep (seq = the request's);
 *   d. rel-store rep_seq = the req_seq value of (a)  (orders c before the
 *      client's acq-load in 4);
 *   e. sc fence; load client_wait: set -> FUTEX_WAKE rep_seq  (Dekker with
 *      the client's "store client_wait; sc; load rep_seq").
 * Spinning is only worth it while the two sides run on different CPUs.
 * Each publishes the CPU it runs on (daemon_cpu, client_cpu: hints, never
 * trusted).  A client spinning on the daemon's CPU yields it instead; the
 * daemon yields after answering a client on its own CPU, and when that
 * keeps happening it moves itself to another CPU of its affinity mask
 * (which it then restores), since wakeups tend to stack the two on one
 * CPU where the scheduler sees no shared cache.  The daemon's own polling
 * yields every few microseconds too.
 * Daemon sleep: after serving, it keeps polling the areas for a bounded
 * time (xgrantd --poll-us); before blocking in epoll it stores
 * daemon_state = XGW_CA_SLEEPING in every area, sc fence, and re-checks
 * every req_seq (step 3's other half); once awake it stores XGW_CA_AWAKE.
 * A doorbell while the daemon is awake is harmless (drained, ignored).
 * When the daemon drops the connection it stores XGW_CA_CLOSED and wakes
 * the futex; a waiting client then fails the call with -ECONNRESET.
 *
 * Large copies run on the client's CPU: a COPY or MEMSET request that
 * moves at least XGW_CA_NEAR_BYTES in all (xgw_ca_move_bytes) is served by
 * a daemon thread pinned to client_cpu (the near worker of that CPU), as a
 * hypercall's copy runs on the caller's vCPU, so the bytes land in the
 * cache of the CPU that reads them.  The near page has one struct
 * xgw_near_cpu per CPU.  The client of such a call, after step 3: if
 * `sleeping` of its CPU is set, FUTEX_WAKE on that CPU's `go` (shared
 * futex; the worker then polls `go` for a while), and in step 4 goes to
 * the futex at once instead of spinning, so that the worker gets its CPU
 * without an idle CPU's wake-up in between.  The daemon hands the worker
 * the request by bumping `go` (and waking it if it sleeps).  A client that
 * does none of this only makes its own call slower; one that wakes
 * workers needlessly costs only CPU time it could spend anyway: a wake
 * that brings no job makes the worker skip polling for a while.  A job
 * the worker of client_cpu has not taken within 500 us is served by the
 * daemon's main thread, and that worker is skipped for a while (a busy
 * or wrongly claimed CPU costs one such wait per back-off).
 *
 * How long to spin and poll.  Both sides spin only while it can pay:
 *   - the daemon publishes `cpu_busy` (a hint: 1 while it saw no free CPU,
 *     all of them wanted by runnable tasks, in its last samples, taken at
 *     most once a millisecond from /proc/loadavg);
 *   - the daemon polls for --poll-us after serving, but only about as
 *     long as a sleep and its wake-up cost (3 us) when cpu_busy and the
 *     request came after a sleep (sparse traffic: polling would take the
 *     CPU from a task that wants it; a stream of requests it caught while
 *     polling keeps the whole window);
 *   - the client does not spin after ringing the doorbell while cpu_busy
 *     (the woken daemon needs a CPU, maybe its own), and bounds its spin
 *     by how its recent answers came: one that came only after it slept,
 *     later than 100 us, while its spin had caught nothing since the last
 *     such answer, halves the budget (the daemon was off its CPU: spinning
 *     was wasted), one that came after the spin but within 100 us doubles
 *     it (down to 2 us, up to 100 us).
 * The policy is in sim_spin.h, shared by both sides.
 *
 * Kicks: an asynchronous event channel SEND (grant_evtchn_notify_async),
 * granted at HELLO with XGW_HELLO_KICKS beside XGW_HELLO_CALL_AREA.  The
 * client sets the port's bit in `kick` (atomic OR), then rel-stores
 * kick_any = 1, sc fence, and rings the doorbell if daemon_state is
 * XGW_CA_SLEEPING (step 3's Dekker, with any_posted's re-check of
 * kick_any); it waits for nothing.  The daemon takes kicks with atomic
 * exchanges (kick_any, then each word with bits, acq) and sends each port
 * as SEND would.  Ordering: before it serves any request of the connection
 * (either path) it takes the kicks posted so far, after its acq-load of
 * req_seq: a kick posted before a call is delivered before that call is
 * served.  Kicks also go out while the daemon polls or wakes, and when the
 * connection closes.  A port kicked several times before the daemon looks
 * is sent once (Xen's pending bit: signals may merge).  A kick that fails
 * (an unbound, dead or unknown port: SEND's -ENOTCONN or -EINVAL) sets the
 * port's bit in `kick_err` and signals the port itself once, if it exists,
 * so that an event loop waiting on it wakes up; a SEND or kick that
 * succeeds clears the bit.  The client makes a synchronous SEND instead of
 * a kick while the port's `kick_err` bit is set, so the error reaches the
 * caller (on the next notify of that port).  Ports from XGW_CA_PORTS up
 * are always sent synchronously.
 *
 * Trust: the daemon reads every control word once per use and bounds every
 * length; a client writing garbage gets error responses (bad magic:
 * -EPROTO; bad sizes: -EINVAL / -E2BIG), never harm to others.  Kick bits
 * are ports of the client's own domain, checked as SEND checks them.
 */
#define XGW_CA_BUF_OFF  4096u
#define XGW_CA_BUF_SIZE (256u << 10)
#define XGW_CA_SIZE     (XGW_CA_BUF_OFF + XGW_CA_BUF_SIZE)

#define XGW_CA_NEAR_BYTES (64u << 10)

#define XGW_CA_PORTS 1024u /* ports a kick can name (xgrantd's per domain) */

#define XGW_CA_AWAKE    0u
#define XGW_CA_SLEEPING 1u
#define XGW_CA_CLOSED   2u

struct xgw_ca_ctl {
    /* written by the client */
    _Alignas(64) uint32_t req_seq;
    uint32_t client_wait; /* 1: futex-waiting on rep_seq */
    uint32_t client_cpu;  /* where the client posted from (a hint) */
    uint32_t pad0;
    struct xgw_msg req;
    /* written by the daemon */
    _Alignas(64) uint32_t rep_seq;
    uint32_t daemon_state; /* XGW_CA_* */
    uint32_t daemon_cpu;   /* where the daemon last ran (a spin hint) */
    uint32_t cpu_busy;     /* 1: no free CPU (a spin hint, see above) */
    struct xgw_msg rep;
    /* kicks: set by the client, taken (exchanged to 0) by the daemon */
    _Alignas(64) uint32_t kick_any;
    uint32_t pad1[15];
    uint64_t kick[XGW_CA_PORTS / 64];
    /* written by the daemon: the last kick or SEND of the port failed */
    _Alignas(64) uint64_t kick_err[XGW_CA_PORTS / 64];
};
_Static_assert(sizeof(struct xgw_ca_ctl) == 448, "xgw_ca_ctl");
_Static_assert(sizeof(struct xgw_ca_ctl) <= XGW_CA_BUF_OFF, "xgw_ca_ctl fits");

/* The near page: written by the daemon only (clients map it read-only). */
struct xgw_near_cpu {
    _Alignas(64) uint32_t go; /* bumped: a request for this CPU's worker */
    uint32_t sleeping;        /* 1: the worker futex-waits on go */
    uint32_t pad[14];
};
#define XGW_NEAR_CPUS 1024u
#define XGW_NEAR_SIZE (XGW_NEAR_CPUS * sizeof(struct xgw_near_cpu))
_Static_assert(sizeof(struct xgw_near_cpu) == 64, "xgw_near_cpu");

/* The bytes a COPY or MEMSET payload of `len` bytes asks to move in all
 * (saturated); 0 for other ops.  Reads the payload as it is: the daemon
 * calls it on its own copy. */
static inline uint64_t xgw_ca_move_bytes(uint32_t op, const void *pay,
                                         uint32_t len)
{
    size_t size = op == GNTX_OP_COPY     ? sizeof(struct gntx_copy)
                  : op == GNTX_OP_MEMSET ? sizeof(struct gntx_memset)
                                         : 0;
    size_t at = op == GNTX_OP_COPY ? offsetof(struct gntx_copy, len)
                                   : offsetof(struct gntx_memset, len);
    uint64_t sum = 0, n;

    for (size_t off = 0; size && off + size <= len; off += size) {
        __builtin_memcpy(&n, (const uint8_t *)pay + off + at, sizeof(n));
        if (__builtin_add_overflow(sum, n, &sum))
            return UINT64_MAX;
    }
    return sum;
}

#endif /* SIM_WIRE_H */
