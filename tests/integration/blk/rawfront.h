/* SPDX-License-Identifier: MIT */
/*
 * rawfront.h: what the blk_* tests share.  A raw blkif frontend written
 * straight on xfe_ring and libgrant (not the blkfront library), so a test
 * can build any request, well-formed or not; and the dom0 side: a
 * toolstack writing vbd devices as libxl does, xgrant-blkback started and
 * killed, the image compared.
 */
#ifndef RAWFRONT_H
#define RAWFRONT_H

#include <stdint.h>
#include <sys/types.h>

#include "libgrant.h"
#include "libgrant_xenbus.h"
#include "xfe_ring.h"

#define grant_handle_t xen_grant_handle_t
#include <xen/io/blkif.h>
#undef grant_handle_t

enum { RF_V1, RF_V1P, RF_EXT }; /* copy, persistent, byte-exact grants */

#define RF_POOL_PAGES 72 /* data pages (v1: each with its ref) */
#define RF_MAX_QUEUES 4

struct rf_queue {
    struct xfe_ring r;
    void *ring;
    grant_ref_t ring_ref[16];
    uint32_t port;
};

struct rf {
    grant_handle_t *h;
    grant_xenbus_t *xb;
    char dir[GRANT_XENBUS_PATH_MAX];
    char *be;
    int mode;
    unsigned order;
    unsigned want_queues; /* set before rf_attach: 0 or 1 = flat keys */
    unsigned nq;          /* queues in use */
    unsigned cur;         /* the queue rf_slot/rf_push/rf_wait use */
    struct rf_queue q[RF_MAX_QUEUES];
    uint64_t sectors;
    unsigned max_indirect;
    unsigned pool_pages; /* set before rf_attach: 0 = RF_POOL_PAGES */
    int delegate;        /* set before rf_attach: RF_EXT answers the
                            backend's feature-grant-delegate */
    int delegating;      /* negotiated: segment grants carry DELEGATE */
    void *pool;
    grant_v1_ref_t *pref;   /* v1: pool page refs */
    void *ind;              /* the indirect page */
    grant_v1_ref_t ind_ref; /* v1: its ref */
    uint64_t next_id;
};

/* ---- Frontend (in a guest) ---------------------------------------------- */

/* Waits for device/vbd/<devid>, then the whole handshake up to Connected:
 * rings of 2^order pages, f->want_queues queues (queue-N/ keys when more
 * than one, up to the backend's multi-queue-max-queues), keys written as
 * Linux's blkfront writes them (RF_V1P adds feature-persistent = 1,
 * RF_EXT feature-grant-ext = 1, and with f->delegate
 * feature-grant-delegate = 1 when the backend offers it). */
int rf_attach(struct rf *f, unsigned devid, int mode, unsigned order);
/* Closes (Closing, Closed) and frees the grants, not the handles. */
void rf_detach(struct rf *f);
/* A zeroed request slot (NULL when the ring is full); rf_push sends. */
struct blkif_request *rf_slot(struct rf *f);
void rf_push(struct rf *f);
/* The next response within ms: 1, 0 (timeout), -EPROTO. */
int rf_wait(struct rf *f, struct blkif_response *rsp, int ms);
/*
 * Synchronous I/O of nsect sectors at sector through the pool: segments
 * of seg_sects sectors (v1: at most 8; ext: at most 256), direct when 11
 * or fewer, else indirect.  Returns the response status (BLKIF_RSP_*) or
 * -errno (-ETIMEDOUT: no answer).
 */
int rf_io(struct rf *f, int write, uint64_t sector, unsigned nsect,
          unsigned seg_sects, void *buf);
/* Sends the request fn builds in a zeroed slot (the id is set here) and
 * waits for its answer: its status (or -errno: -ETIMEDOUT, -EPROTO for
 * another id), the operation answered in *op. */
typedef void rf_build_fn(struct rf *f, struct blkif_request *req,
                         const void *arg);
int rf_call(struct rf *f, rf_build_fn *fn, const void *arg, uint8_t *op);
/* A request with no data (FLUSH_DISKCACHE, WRITE_BARRIER) or a DISCARD. */
int rf_simple(struct rf *f, uint8_t op, uint64_t sector, uint64_t nr);
/* Fills buf with seeded pseudo-random bytes. */
void rf_fill(void *buf, size_t len, uint32_t seed);

/* ---- dom0 --------------------------------------------------------------- */

struct itest_agent;

/* A blk test's run: xgrantd, the store, a temp dir, xgrant-blkback. */
struct rf_run {
    grant_handle_t *dom0;
    grant_xenbus_t *xb;
    char dir[512];
    char log[600];
    pid_t bb;
    int quiet; /* rf_run_end does not show blkback's log */
};
/* Starts it all (blkback with args, NULL-terminated); -1 when it could
 * not (the failure is checked). */
int rf_run_begin(struct rf_run *r, const char *name, const char *const *args);
/* blkback must still be running; SIGTERM must end it with 0; its log is
 * shown (as "# " lines), the temp dir removed, xgrantd shut down.
 * Returns the test's exit code. */
int rf_run_end(struct rf_run *r);
/* A guest running nbdkit with xgrant's plugin on vbd devid (backed by
 * img, added here), listening on <r->dir>/nbd.sock (written to sock,
 * 600 bytes).  0 once it listens; -ENOENT without nbdkit or the plugin;
 * -ETIMEDOUT. */
int rf_nbdkit_guest(struct rf_run *r, struct itest_agent *a, unsigned devid,
                    const char *img, char *sock);
/* One line from a guest (no newline), within 20 s; "" if none. */
void rf_read_line(struct itest_agent *a, char *line, size_t len);
/* Reads a guest's result lines up to "end"; checks each starts with "ok"
 * and that there was at least one. */
void rf_results(struct itest_agent *a, const char *who);
/* Mappings domain 0 holds. */
unsigned rf_dom0_maps(grant_handle_t *dom0);
/* backend/vbd/<fe>/<devid>/<key> of domain 0 (the caller frees), or NULL. */
char *rf_be_key(grant_xenbus_t *xb, unsigned fe, unsigned devid,
                const char *key);

/* Writes backend/vbd/<fe>/<devid> and device/vbd/<devid> in one
 * transaction, params and mode included. */
int rf_toolstack_add(grant_xenbus_t *xb, unsigned fe, unsigned devid,
                     const char *params, const char *mode);
/* The toolstack's removal (online 0, directories removed). */
void rf_toolstack_rm(grant_xenbus_t *xb, unsigned fe, unsigned devid);
/* Starts build/bin/xgrant-blkback (extra args, NULL-terminated) with
 * its log at logpath; its pid. */
pid_t rf_blkback_start(const char *logpath, const char *const *args);
/* A sparse image of `bytes` at path; 0 or -errno. */
int rf_image_create(const char *path, uint64_t bytes);
/* Waits up to ms for backend dir's state; 1 when reached. */
int rf_wait_be_state(grant_xenbus_t *xb, unsigned fe, unsigned devid, int state,
                     int ms);

#endif
