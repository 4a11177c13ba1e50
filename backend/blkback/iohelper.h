/* SPDX-License-Identifier: MIT */
/*
 * iohelper.h: xgrant-blkback's I/O helper (--io-helper), the wire between
 * the daemon and the helper domain, and both ends.
 *
 * The helper is a domain of its own (grant_ctl_domain_create), running
 * `PROG --blkback-io-helper` with a SOCK_SEQPACKET socket as its stdin.
 * It holds no grant of its own: per request the daemon delegates it one
 * indirect grant per segment (exactly the segment's bytes, READ for a
 * WRITE request, WRITE for a READ), and it moves the bytes between the
 * image and those grants with grant_io.  A frontend revoking its segment
 * grant cuts the helper off at once (the delegation dies with its root).
 *
 * Messages (host byte order, one per datagram):
 *   daemon -> helper  struct bbh_msg, nseg 0, with the image descriptor
 *                     (SCM_RIGHTS): the hello; then one per request with
 *                     nseg segments;
 *   helper -> daemon  struct bbh_rsp per message: the hello's status is
 *                     grant_io_register's; a request's is grant_io's
 *                     return, with each segment's status and done.
 */
#ifndef BLKBACK_IOHELPER_H
#define BLKBACK_IOHELPER_H

#include <stdint.h>

#include "libgrant.h"

#define BBH_MAGIC    0x78626831u /* "xbh1" */
#define BBH_MAX_SEGS 256u
#define BBH_ARG      "--blkback-io-helper"

struct bbh_seg {
    uint32_t dir;     /* GRANT_IO_READ or GRANT_IO_WRITE */
    uint32_t granter; /* the daemon's domain */
    uint32_t ref;     /* the delegated grant */
    uint32_t pad;
    uint64_t file_off;
    uint64_t len;
};

struct bbh_msg {
    uint32_t magic;
    uint32_t nseg;
    uint64_t seq;
    struct bbh_seg seg[BBH_MAX_SEGS];
};

struct bbh_seg_rsp {
    int32_t status;
    uint32_t pad;
    uint64_t done;
};

struct bbh_rsp {
    uint32_t magic;
    int32_t status;
    uint64_t seq;
    uint32_t nseg;
    uint32_t pad;
    struct bbh_seg_rsp seg[BBH_MAX_SEGS];
};

/* ---- The helper's side (helper.c) ---------------------------------------- */

/* Called with each request before its I/O (a test's hook, NULL in
 * xgrant-blkback); a status < 0 answers the request with it. */
typedef int bbh_hook_fn(grant_handle_t *h, int file, const struct bbh_msg *m);
/* The helper's main loop on socket `sock` (its stdin): the hello, then
 * one grant_io call per request, until the daemon closes.  Exit code. */
int bbh_helper_main(int sock, bbh_hook_fn *hook);

/* ---- The daemon's side (iohelper.c) ---------------------------------------
 */

struct bbh {
    int sock; /* -1: no helper */
    grant_domid_t domid;
    uint64_t seq;
    long retry_sec;   /* no new spawn before this (monotonic seconds) */
    unsigned backoff; /* seconds between failed spawns, up to 60 */
    struct bbh_msg msg;
    struct bbh_rsp rsp;
    struct grant_create_req cr[BBH_MAX_SEGS]; /* a request's delegations */
    struct grant_revoke_req rv[BBH_MAX_SEGS];
};

/* Starts a helper domain (`prog`, this binary when NULL) over image fd
 * `img_fd`, through dom0 handle h.  0 or -errno (logged with `who`). */
int bbh_spawn(struct bbh *b, grant_handle_t *h, const char *prog, int img_fd,
              const char *who);
/* Destroys the helper domain.  NULL-safe, idempotent. */
void bbh_destroy(struct bbh *b, grant_handle_t *h);
/* Sends b->msg (nseg set) and waits for the answer in b->rsp: 0, or
 * -errno when the helper broke, died or gave no answer in 20 s (then it
 * is destroyed; the next bbh_spawn starts another), -ECANCELED when
 * stop_fd became readable first (the helper destroyed likewise). */
int bbh_call(struct bbh *b, grant_handle_t *h, const char *who, int stop_fd);
/* The helper broke (why): logged, destroyed, the next bbh_spawn starts
 * another at once. */
void bbh_lost(struct bbh *b, grant_handle_t *h, const char *who, int why);

#endif
