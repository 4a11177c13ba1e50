/* SPDX-License-Identifier: MIT */
/*
 * testbe.h: the blkif backend blkfront's tests run in domain 0 (on
 * backend/common): a RAM disk per devid, data moved by grant copy (byte-
 * exact extension grants or standard ones), indirect segments, flush,
 * discard, and modes that lie (ids, operations, statuses, indices) or hold
 * requests unanswered.
 */
#ifndef BLKFRONT_TESTBE_H
#define BLKFRONT_TESTBE_H

#include <stdint.h>

#include "common/devtest.h"
#include "xbe.h"

#define KIND      "vbd"
#define DISK      (4u << 20) /* every test disk's size */
#define SLOT      (64u << 10)
#define NSLOT     32u   /* SLOT x NSLOT = DISK / 2 */
#define GUEST_MEM 8192u /* pages of a guest running a role */

/* BE_JUNK_KEY: `sectors` with trailing junk; BE_BIG_SECTOR: sector-size
 * 65536 and no indirect segments (no request could carry a sector);
 * BE_KEEP: no feature-persistent, and the first standard-grant page
 * written is mapped and kept after the answer (as a backend that fails to
 * unmap): kept_saw counts later writes whose data showed up in it;
 * BE_NOPERS: no feature-persistent, otherwise as BE_OK; BE_HUGE_INFO:
 * `info` 2^32 + 4 (VDISK_READONLY once cut to 32 bits). */
enum be_mode {
    BE_OK,
    BE_BAD_ID,
    BE_BAD_OP,
    BE_BAD_STATUS,
    BE_JUMP,
    BE_HOLD,
    BE_JUNK_KEY,
    BE_BIG_SECTOR,
    BE_KEEP,
    BE_NOPERS,
    BE_HUGE_INFO
};

extern grant_handle_t *h0;
extern grant_xenbus_t *xb0;
extern uint8_t *disks[32];     /* by devid: the RAM disks */
extern enum be_mode modes[32]; /* by devid */
extern unsigned not_exact;     /* segment grants wider than their bytes */
extern unsigned segs_seen, ind_seen, held;
extern void *kept;        /* BE_KEEP's mapping, NULL before */
extern unsigned kept_saw; /* later writes seen through it */
extern const struct xbe_ops be_ops;

/* Domain 0's copy buffer: 0 or -errno. */
int be_init(void);
/* Serves the bus for up to ms, or until done(arg). */
void pump(struct xbe *bus, int ms, int (*done)(void *), void *arg);
/* Serves the bus until the agent prints a line (into buf). */
void pump_line(struct xbe *bus, struct itest_agent *a, char *buf, size_t len,
               int ms);
uint32_t crc32(const uint8_t *p, size_t n);
/* Runs guest role `role` on device/vbd/<devid> (roles.c): the exit code. */
int blkfront_role(const char *role, unsigned devid);

#endif
