/* SPDX-License-Identifier: MIT */
/* testbe.c: blkfront's tests' blkif backend (testbe.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#define grant_handle_t xen_grant_handle_t
#include <xen/io/blkif.h>
#undef grant_handle_t

#include "testbe.h"

uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1u));
    }
    return ~c;
}

grant_handle_t *h0;
grant_xenbus_t *xb0;
uint8_t *disks[32]; /* by devid */
enum be_mode modes[32];
static uint8_t *scratch; /* dom0 grantable memory for copies */
unsigned not_exact;      /* segment grants wider than their bytes */
unsigned segs_seen, ind_seen, held;
void *kept;
unsigned kept_saw;

static enum be_mode mode_of(struct xbe_dev *d)
{
    return xbe_dev_devid(d) < 32 ? modes[xbe_dev_devid(d)] : BE_OK;
}

static int be_probe(struct xbe_dev *d, xs_transaction_t t)
{
    grant_xenbus_t *xb = xbe_xb(xbe_dev_bus(d));

    return (mode_of(d) == BE_BIG_SECTOR
                ? 0
                : grant_xenbus_write(xb, t, xbe_dev_dir(d),
                                     "feature-max-indirect-segments", "32")) |
           (mode_of(d) == BE_KEEP
                ? 0
                : grant_xenbus_write(xb, t, xbe_dev_dir(d),
                                     "feature-persistent",
                                     mode_of(d) == BE_NOPERS ? "0" : "1"));
}

/* BE_KEEP: the first page written stays mapped; a later write's data
 * seen through that mapping means the frontend reused the page. */
static void keep_check(struct xbe_dev *d, const struct blkif_request_segment *s,
                       unsigned off, unsigned len)
{
    grant_v1_ref_t ref = s->gref;

    if (!kept) {
        if (grant_v1_map(h0, (grant_domid_t)xbe_dev_fe_id(d), &ref, 1,
                         GRANT_V1_RDONLY, &kept) < 0)
            kept = NULL;
        return;
    }
    if (!memcmp((const char *)kept + off, scratch, len))
        kept_saw++;
}

static int be_connect(struct xbe_dev *d, xs_transaction_t t)
{
    grant_xenbus_t *xb = xbe_xb(xbe_dev_bus(d));
    const char *dir = xbe_dev_dir(d);
    int rc = 0;

    rc |= grant_xenbus_printf(xb, t, dir, "sectors", "%u%s", DISK / 512,
                              mode_of(d) == BE_JUNK_KEY ? "abc" : "");
    rc |= grant_xenbus_write(xb, t, dir, "info",
                             mode_of(d) == BE_HUGE_INFO ? "4294967300" : "0");
    rc |= grant_xenbus_write(xb, t, dir, "sector-size",
                             mode_of(d) == BE_BIG_SECTOR ? "65536" : "512");
    rc |= grant_xenbus_write(xb, t, dir, "feature-flush-cache", "1");
    rc |= grant_xenbus_write(xb, t, dir, "feature-discard", "1");
    rc |= grant_xenbus_write(xb, t, dir, "discard-granularity", "4096");
    return rc ? -EIO : 0;
}

const struct xbe_ops be_ops = {
    .kind = KIND,
    .nr_rings = 1,
    .ring = {{"ring-ref", sizeof(union blkif_sring_entry), 1}},
    .max_ring_order = 2,
    .max_queues = 2,
    .grant_ext = 1,
    .probe = be_probe,
    .connect = be_connect,
};

/* Moves one segment between the disk and the frontend's grant. */
static int be_seg(struct xbe_dev *d, const struct blkif_request_segment *s,
                  int write, uint64_t at)
{
    unsigned fe = xbe_dev_fe_id(d), devid = xbe_dev_devid(d);
    unsigned off = s->first_sect * 512u;
    unsigned len = (s->last_sect - s->first_sect + 1u) * 512u;
    int rc;

    if (s->first_sect > s->last_sect || at + len > DISK)
        return -EINVAL;
    segs_seen++;
    if (xbe_dev_grant_ext(d)) {
        if (s->first_sect != 0)
            return -EINVAL;
        /* Byte-exact: the byte after the segment is outside the grant. */
        if (grant_copy_from(h0, scratch, (grant_domid_t)fe, s->gref, len, 1) ==
            0)
            not_exact++;
        rc = write ? grant_copy_from(h0, scratch, (grant_domid_t)fe, s->gref, 0,
                                     len)
                   : (memcpy(scratch, disks[devid] + at, len),
                      grant_copy_to(h0, (grant_domid_t)fe, s->gref, 0, scratch,
                                    len));
    } else {
        struct grant_v1_copy_seg c = {.len = (uint16_t)len};
        struct grant_v1_ptr g = {.granter = (grant_domid_t)fe,
                                 .ref = s->gref,
                                 .offset = (uint16_t)off};
        struct grant_v1_ptr l = {.local = 1, .ptr = scratch};

        if (s->last_sect > 7)
            return -EINVAL;
        c.src = write ? g : l;
        c.dst = write ? l : g;
        if (!write)
            memcpy(scratch, disks[devid] + at, len);
        rc = grant_v1_copy(h0, &c, 1) == 1 ? 0 : -EIO;
        if (rc == 0 && write && mode_of(d) == BE_KEEP)
            keep_check(d, s, off, len);
    }
    if (rc == 0 && write)
        memcpy(disks[devid] + at, scratch, len);
    return rc == 0 ? (int)len : rc;
}

/* Persistent grants agreed: both sides wrote feature-persistent = 1 (as
 * Linux's blkback: the frontend's key and its own). */
static int fe_persistent(struct xbe_dev *d)
{
    unsigned v = 0;

    return mode_of(d) != BE_KEEP && mode_of(d) != BE_NOPERS &&
           grant_xenbus_scanf(xb0, XBT_NULL, xbe_dev_fe_dir(d),
                              "feature-persistent", "%u", &v) == 1 &&
           v == 1;
}

/* An indirect page with persistent grants, as Linux's blkback takes it:
 * mapped read-write (it maps every persistent grant so, once), which a
 * read-only grant refuses. */
static int ind_map_rw(struct xbe_dev *d, grant_v1_ref_t ref, size_t len)
{
    void *p;
    int rc = grant_v1_map(h0, (grant_domid_t)xbe_dev_fe_id(d), &ref, 1, 0, &p);

    if (rc < 0)
        return rc;
    memcpy(scratch, p, len);
    return grant_v1_unmap(h0, p);
}

static int be_rw(struct xbe_dev *d, const union blkif_sring_entry *e)
{
    struct blkif_request_segment segs[32];
    const struct blkif_request_indirect *ind = (const void *)&e->req;
    unsigned n, i;
    int write, rc;
    uint64_t at;

    if (e->req.operation == BLKIF_OP_INDIRECT) {
        n = ind->nr_segments;
        write = ind->indirect_op == BLKIF_OP_WRITE;
        at = ind->sector_number * 512;
        if (n == 0 || n > 32)
            return -EINVAL;
        ind_seen++;
        if (xbe_dev_grant_ext(d)) {
            rc = grant_copy_from(h0, scratch, (grant_domid_t)xbe_dev_fe_id(d),
                                 ind->indirect_grefs[0], 0, n * sizeof(*segs));
        } else if (fe_persistent(d)) {
            rc = ind_map_rw(d, ind->indirect_grefs[0], n * sizeof(*segs));
        } else {
            struct grant_v1_copy_seg c = {
                .src = {.granter = (grant_domid_t)xbe_dev_fe_id(d),
                        .ref = ind->indirect_grefs[0]},
                .dst = {.local = 1, .ptr = scratch},
                .len = (uint16_t)(n * sizeof(*segs))};

            rc = grant_v1_copy(h0, &c, 1) == 1 ? 0 : -EIO;
        }
        if (rc < 0)
            return rc;
        memcpy(segs, scratch, n * sizeof(*segs));
    } else {
        n = e->req.nr_segments;
        write = e->req.operation == BLKIF_OP_WRITE;
        at = e->req.sector_number * 512;
        if (n == 0 || n > BLKIF_MAX_SEGMENTS_PER_REQUEST)
            return -EINVAL;
        memcpy(segs, e->req.seg, n * sizeof(*segs));
    }
    for (i = 0; i < n; i++) {
        rc = be_seg(d, &segs[i], write, at);
        if (rc < 0)
            return rc;
        at += (uint64_t)rc;
    }
    return 0;
}

static int be_do(struct xbe_dev *d, const union blkif_sring_entry *e)
{
    const struct blkif_request_discard *dis = (const void *)&e->req;

    switch (e->req.operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
    case BLKIF_OP_INDIRECT:
        return be_rw(d, e);
    case BLKIF_OP_FLUSH_DISKCACHE:
        return 0;
    case BLKIF_OP_DISCARD:
        if (dis->sector_number * 512 + dis->nr_sectors * 512 > DISK)
            return -EINVAL;
        memset(disks[xbe_dev_devid(d)] + dis->sector_number * 512, 0,
               dis->nr_sectors * 512);
        return 0;
    default:
        return -EOPNOTSUPP;
    }
}

static void be_answer(struct xbe_dev *d, struct xbe_ring *ring,
                      const union blkif_sring_entry *e, int rc)
{
    enum be_mode m = modes[xbe_dev_devid(d)];
    struct blkif_response *rsp = xbe_ring_rsp_slot(ring);

    rsp->id = e->req.id; /* field by field, in the slot */
    rsp->operation = e->req.operation;
    rsp->status = rc == 0             ? BLKIF_RSP_OKAY
                  : rc == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP
                                      : BLKIF_RSP_ERROR;
    if (m == BE_BAD_ID)
        rsp->id = e->req.id + 1000;
    if (m == BE_BAD_OP)
        rsp->operation = 0x55;
    if (m == BE_BAD_STATUS) {
        rsp->status = 77;
        modes[xbe_dev_devid(d)] = BE_OK; /* only the first */
    }
    xbe_ring_rsp_done(ring);
}

static void be_serve(struct xbe *bus)
{
    unsigned i, q;

    for (i = 0; i < xbe_count(bus); i++) {
        struct xbe_dev *d = xbe_dev_at(bus, i);
        unsigned devid = xbe_dev_devid(d);

        for (q = 0; devid < 32 && q < xbe_dev_nr_queues(d); q++) {
            struct xbe_queue *xq = xbe_dev_queue(d, q);
            union blkif_sring_entry e;
            int rc;

            if (!xq)
                continue;
            while ((rc = xbe_ring_take(&xq->ring[0], &e)) == 1) {
                if (modes[devid] == BE_HOLD) {
                    held++;
                    continue;
                }
                /* The lying modes answer without doing the I/O: the
                 * buffer must come back untouched. */
                be_answer(d, &xq->ring[0], &e,
                          modes[devid] == BE_BAD_ID ||
                                  modes[devid] == BE_BAD_OP ||
                                  modes[devid] == BE_JUMP
                              ? 0
                              : be_do(d, &e));
            }
            if (rc < 0) {
                xbe_fatal(d, rc, "ring: request index out of range");
                break;
            }
            rc = xbe_ring_push(&xq->ring[0]);
            if (modes[devid] == BE_JUMP) {
                xq->ring[0].sring[2] += 1000; /* rsp_prod far ahead */
                rc = 1;
            }
            if (rc)
                xbe_notify(d, q, 0);
        }
    }
}

void pump(struct xbe *bus, int ms, int (*done)(void *), void *arg)
{
    long long end = itest_ms() + ms;
    struct pollfd p = {.fd = xbe_fd(bus), .events = POLLIN};

    while (itest_ms() < end && !(done && done(arg))) {
        poll(&p, 1, 1);
        xbe_dispatch(bus, 0);
        be_serve(bus);
    }
}

/* Pumps the backend until the agent prints a line. */
void pump_line(struct xbe *bus, struct itest_agent *a, char *buf, size_t len,
               int ms)
{
    struct itest_line_wait lw = {a, buf, len, 0};

    buf[0] = '\0';
    pump(bus, ms, itest_line_ready, &lw);
    buf[strcspn(buf, "\n")] = '\0';
}

/* A guest running this binary in role `role` on device devid. */
int be_init(void)
{
    return grant_mem_alloc(h0, (1u << 20) / GRANT_PAGE_SIZE + 1,
                           (void **)&scratch);
}
