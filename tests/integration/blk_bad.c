/* SPDX-License-Identifier: MIT */
/*
 * blk_bad: every bad input of issue 13's list against xgrant-blkback,
 * while a second device (a well-behaved guest) keeps being served.
 *
 * The "bad" guest (persistent standard grants) sends, one at a time:
 * out-of-range and foreign grefs, first_sect > last_sect, last_sect > 7,
 * zero and too many segments (direct and indirect), sectors past the end
 * (and one that overflows), an unknown operation, an indirect request of
 * a flush, an indirect page full of garbage and one whose gref is dead, a
 * discard past the end; each must be answered with the right status and
 * the device must go on serving good requests.  Then it force-revokes a
 * persistent grant the backend has mapped (the request using it fails,
 * the device lives), also while a request using it is in flight; last it
 * makes the ring's producer index jump: that device closes with `error`
 * naming the ring.  The "ro" guest writes to a read-only disk.  The
 * "die" guest dies with requests in flight: its device closes and
 * domain 0 is left with no mapping of it.  xgrant-blkback runs
 * throughout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk/rawfront.h"
#include "common/itest.h"

#define IMG_BYTES (4u << 20)
#define SECTORS   (IMG_BYTES / 512)
#define E_OK      BLKIF_RSP_OKAY
#define E_ERR     BLKIF_RSP_ERROR
#define E_NOTSUPP BLKIF_RSP_EOPNOTSUPP

/* ---- Guests ------------------------------------------------------------- */

static char buf[RF_POOL_PAGES * 4096], back[RF_POOL_PAGES * 4096];

/* Writes and reads back 40 sectors (indirect, every pool page it uses). */
static int good_io(struct rf *f, uint64_t sector, uint32_t seed)
{
    int rc;

    rf_fill(buf, 40 * 512, seed);
    rc = rf_io(f, 1, sector, 40, 1, buf);
    if (rc == 0)
        rc = rf_io(f, 0, sector, 40, 1, back);
    if (rc == 0 && memcmp(buf, back, 40 * 512))
        rc = -EIO;
    return rc;
}

struct direct {
    uint8_t op, nseg, first, last;
    uint64_t sector;
    grant_ref_t gref; /* 0: the pool's refs */
};

static void mk_direct(struct rf *f, struct blkif_request *req, const void *a)
{
    const struct direct *d = a;
    unsigned i;

    req->operation = d->op;
    req->nr_segments = d->nseg;
    req->sector_number = d->sector;
    for (i = 0; i < d->nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        req->seg[i].gref = d->gref ? d->gref : f->pref[i];
        req->seg[i].first_sect = d->first;
        req->seg[i].last_sect = d->last;
    }
}

struct indirect {
    uint8_t op;
    uint16_t nseg;
    uint64_t sector;
    int garbage;      /* the page full of 0xff */
    grant_ref_t iref; /* 0: the indirect page's ref */
};

static void mk_indirect(struct rf *f, struct blkif_request *req, const void *a)
{
    const struct indirect *d = a;
    struct blkif_request_indirect *in = (void *)req;
    struct blkif_request_segment *s = f->ind;
    unsigned i;

    for (i = 0; i < 512; i++) {
        s[i].gref = f->pref[i % RF_POOL_PAGES];
        s[i].first_sect = 0;
        s[i].last_sect = 7;
    }
    if (d->garbage)
        memset(f->ind, 0xff, 4096);
    in->operation = BLKIF_OP_INDIRECT;
    in->indirect_op = d->op;
    in->nr_segments = d->nseg;
    in->sector_number = d->sector;
    in->indirect_grefs[0] = d->iref ? d->iref : f->ind_ref;
}

struct discard {
    uint64_t sector, nr;
};

static void mk_discard(struct rf *f, struct blkif_request *req, const void *a)
{
    const struct discard *d = a;
    struct blkif_request_discard *r = (void *)req;

    (void)f;
    r->operation = BLKIF_OP_DISCARD;
    r->sector_number = d->sector;
    r->nr_sectors = d->nr;
}

static void report(const char *name, int got, int want, uint8_t op,
                   uint8_t want_op)
{
    printf("%s %s: status %d (want %d), op %u (want %u)\n",
           got == want && op == want_op ? "ok" : "err", name, got, want, op,
           want_op);
}

/* `other`: a domain that is not the backend's (a foreign gref is one
 * granted to it). */
static void bad_cases(struct rf *f, unsigned other)
{
    static const struct {
        const char *name;
        struct direct d;
        int want;
    } dcases[] = {
        {"out-of-range gref", {BLKIF_OP_READ, 1, 0, 7, 0, 999999}, E_ERR},
        {"first_sect > last_sect", {BLKIF_OP_READ, 1, 5, 2, 0, 0}, E_ERR},
        {"last_sect > 7", {BLKIF_OP_WRITE, 1, 0, 8, 0, 0}, E_ERR},
        {"zero segments", {BLKIF_OP_READ, 0, 0, 7, 0, 0}, E_ERR},
        {"12 direct segments", {BLKIF_OP_READ, 12, 0, 7, 0, 0}, E_ERR},
        {"sector past the end",
         {BLKIF_OP_READ, 1, 0, 7, SECTORS - 4, 0},
         E_ERR},
        {"sector overflow",
         {BLKIF_OP_WRITE, 2, 0, 7, UINT64_MAX - 8, 0},
         E_ERR},
        {"unknown operation", {42, 1, 0, 7, 0, 0}, E_NOTSUPP},
        {"last sector in range",
         {BLKIF_OP_READ, 1, 0, 7, SECTORS - 8, 0},
         E_OK},
    };
    static const struct {
        const char *name;
        struct indirect d;
        int want;
    } icases[] = {
        {"indirect zero segments", {BLKIF_OP_READ, 0, 0, 0, 0}, E_ERR},
        {"indirect 257 segments", {BLKIF_OP_READ, 257, 0, 0, 0}, E_ERR},
        {"indirect flush", {BLKIF_OP_FLUSH_DISKCACHE, 20, 0, 0, 0}, E_ERR},
        {"indirect garbage page", {BLKIF_OP_WRITE, 20, 0, 1, 0}, E_ERR},
        {"indirect dead page gref", {BLKIF_OP_READ, 20, 0, 0, 888888}, E_ERR},
        {"indirect past the end",
         {BLKIF_OP_READ, 20, SECTORS - 80, 0, 0},
         E_ERR},
        {"indirect 256 segments", {BLKIF_OP_READ, 256, 0, 0, 0}, E_OK},
    };
    struct direct fd = {BLKIF_OP_READ, 1, 0, 7, 0, 0};
    struct discard dd = {SECTORS - 2, 8};
    char *foreign;
    unsigned i;
    uint8_t op = 0;
    int rc;

    for (i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
        op = 0;
        rc = rf_call(f, mk_direct, &dcases[i].d, &op);
        report(dcases[i].name, rc, dcases[i].want, op, dcases[i].d.op);
    }
    for (i = 0; i < sizeof(icases) / sizeof(icases[0]); i++) {
        op = 0;
        rc = rf_call(f, mk_indirect, &icases[i].d, &op);
        report(icases[i].name, rc, icases[i].want, op, icases[i].d.op);
    }
    rc = grant_v1_share(f->h, (grant_domid_t)other, 1, 0, &fd.gref,
                        (void **)&foreign);
    rc = rc ? rc : rf_call(f, mk_direct, &fd, &op);
    report("foreign gref", rc, E_ERR, op, BLKIF_OP_READ);
    rc = rf_call(f, mk_discard, &dd, &op);
    report("discard past the end", rc, E_ERR, op, BLKIF_OP_DISCARD);
    rc = good_io(f, 100, 1);
    printf("%s good I/O after the bad ones (%d)\n", rc ? "err" : "ok", rc);
}

/* A persistent grant force-revoked: the request using it fails, the
 * device goes on (pool page 1 replaced by a fresh share). */
static void revoke_cases(struct rf *f)
{
    struct direct rd = {BLKIF_OP_READ, 2, 0, 7, 8, 0};
    struct blkif_response rsp;
    uint8_t op = 0;
    void *page;
    int rc;

    rc = good_io(f, 200, 2); /* pages 0..39 mapped by the backend */
    grant_revoke(f->h, f->pref[1], GRANT_REVOKE_FORCE);
    rc = rc ? rc : rf_call(f, mk_direct, &rd, &op);
    report("read through a revoked persistent grant", rc, E_ERR, op,
           BLKIF_OP_READ);
    /* Mid-I/O: a 40-segment write in flight when page 2 is revoked. */
    rf_fill(buf, 40 * 512, 3);
    {
        struct indirect w = {BLKIF_OP_WRITE, 40, 300, 0, 0};
        struct blkif_request *req = rf_slot(f);

        mk_indirect(f, req, &w);
        req->id = ++f->next_id;
        rf_push(f);
        grant_revoke(f->h, f->pref[2], GRANT_REVOKE_FORCE);
        rc = rf_wait(f, &rsp, 5000);
        printf("%s revoked mid-I/O: answered (%d, status %d)\n",
               rc == 1 && rsp.id == f->next_id ? "ok" : "err", rc,
               rc == 1 ? rsp.status : 0);
    }
    /* Fresh pages in place of the revoked ones: the device still works. */
    rc = grant_v1_share(f->h, 0, 1, 0, &f->pref[1], &page);
    if (rc == 0)
        rc = grant_v1_share(f->h, 0, 1, 0, &f->pref[2], &page);
    rc = rc ? rc : good_io(f, 400, 4);
    printf("%s good I/O after the revokes (%d)\n", rc ? "err" : "ok", rc);
}

static int role(const char *what, unsigned devid, unsigned arg)
{
    struct rf f = {0};
    char line[32];
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    rc = rf_attach(&f, devid, RF_V1P, 0);
    printf("%s attached (%d)\n", rc ? "err" : "ok", rc);
    fflush(stdout);
    while (rc == 0 && fgets(line, sizeof(line), stdin)) {
        if (!strncmp(line, "io", 2)) {
            rc = good_io(&f, 500 + arg, arg);
            printf("%s io (%d)\n", rc ? "err" : "ok", rc);
        } else if (!strncmp(line, "bad", 3)) {
            bad_cases(&f, arg);
            revoke_cases(&f);
            printf("end\n");
        } else if (!strncmp(line, "ro", 2)) {
            struct discard dd = {0, 8};
            uint8_t op = 0;

            rf_fill(buf, 4096, 9);
            report("write to a read-only disk", rf_io(&f, 1, 0, 8, 8, buf),
                   E_ERR, BLKIF_OP_WRITE, BLKIF_OP_WRITE);
            rc = rf_call(&f, mk_discard, &dd, &op);
            report("discard on a read-only disk", rc, E_ERR, op,
                   BLKIF_OP_DISCARD);
            report("read from a read-only disk", rf_io(&f, 0, 0, 8, 8, buf),
                   E_OK, BLKIF_OP_READ, BLKIF_OP_READ);
            printf("end\n");
        } else if (!strncmp(line, "jump", 4)) {
            f.q[0].r.sring[0] += 1000; /* req_prod far past the ring */
            grant_evtchn_notify(f.h, f.q[0].port);
            printf("ok jumped\n");
        } else if (!strncmp(line, "die", 3)) {
            unsigned i;

            for (i = 0; i < 20; i++) { /* requests in flight, then gone */
                struct indirect w = {BLKIF_OP_WRITE, 40, i * 40, 0, 0};
                struct blkif_request *req = rf_slot(&f);

                mk_indirect(&f, req, &w);
                req->id = ++f.next_id;
                xfe_ring_req_done(&f.q[0].r);
            }
            xfe_ring_push(&f.q[0].r);
            grant_evtchn_notify(f.h, f.q[0].port);
            _exit(0);
        }
        fflush(stdout);
    }
    (void)what;
    return 0;
}

/* ---- Domain 0 ----------------------------------------------------------- */

static grant_xenbus_t *xb0;

static void spawn(grant_handle_t *dom0, struct itest_agent *a, const char *name,
                  unsigned devid, unsigned arg, const char *img,
                  const char *mode)
{
    char id[16], ar[16], line[128];
    char *argv[] = {itest_self(), "--role", (char *)name, id, ar, NULL};

    snprintf(id, sizeof(id), "%u", devid);
    snprintf(ar, sizeof(ar), "%u", arg);
    itest_spawn_argv(dom0, a, name, 512, argv);
    ICHECK(rf_toolstack_add(xb0, a->domid, devid, img, mode) == 0,
           "%s: toolstack wrote vbd %u/%u", name, a->domid, devid);
    rf_read_line(a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok attached", 11), "%s: %s", name, line);
}

static void good_still(struct itest_agent *good, const char *when)
{
    char line[128];

    dprintf(good->to, "io\n");
    rf_read_line(good, line, sizeof(line));
    ICHECK(!strncmp(line, "ok io", 5), "the second device is served %s: %s",
           when, line);
}

static void gone(grant_handle_t *dom0, struct itest_agent *a, unsigned devid)
{
    itest_agent_close(a);
    grant_ctl_domain_destroy(dom0, a->domid);
    rf_toolstack_rm(xb0, a->domid, devid);
}

/* The bad guest's cases, then its ring index jump. */
static void bad_guest(grant_handle_t *dom0, struct itest_agent *good,
                      const char *img)
{
    struct itest_agent bad;
    char line[256], *err;

    spawn(dom0, &bad, "bad", 51728, good->domid, img, "w");
    dprintf(bad.to, "bad\n");
    rf_results(&bad, "bad requests");
    good_still(good, "after the bad requests");
    dprintf(bad.to, "jump\n");
    rf_read_line(&bad, line, sizeof(line));
    ICHECK(rf_wait_be_state(xb0, bad.domid, 51728, XenbusStateClosing, 5000),
           "a ring whose index jumped: the device is Closing");
    err = rf_be_key(xb0, bad.domid, 51728, "error");
    ICHECK(err && strstr(err, "ring"), "its error names the ring (%s)",
           err ? err : "none");
    free(err);
    good_still(good, "after a ring jumped");
    gone(dom0, &bad, 51728);
}

static void ro_guest(grant_handle_t *dom0, const char *img)
{
    struct itest_agent ro;
    char *info;

    spawn(dom0, &ro, "ro", 51744, 0, img, "r");
    info = rf_be_key(xb0, ro.domid, 51744, "info");
    ICHECK(info && !strcmp(info, "4"), "mode=r: info is VDISK_READONLY (%s)",
           info ? info : "none");
    free(info);
    dprintf(ro.to, "ro\n");
    rf_results(&ro, "read-only disk");
    gone(dom0, &ro, 51744);
}

/* A frontend dying with requests in flight leaves nothing mapped. */
static void dying_guest(grant_handle_t *dom0, unsigned maps0, const char *img)
{
    struct itest_agent die;
    char *err;
    int i;

    spawn(dom0, &die, "die", 51760, 0, img, "w");
    ICHECK(rf_dom0_maps(dom0) > maps0, "the dying guest's ring is mapped");
    dprintf(die.to, "die\n");
    usleep(20000);
    grant_ctl_domain_destroy(dom0, die.domid);
    ICHECK(rf_wait_be_state(xb0, die.domid, 51760, XenbusStateClosed, 5000),
           "a frontend dead mid-I/O: its device is Closed");
    err = rf_be_key(xb0, die.domid, 51760, "error");
    ICHECK(!err, "a dead frontend is no protocol error (error: %s)",
           err ? err : "none");
    free(err);
    for (i = 0; i < 100 && rf_dom0_maps(dom0) != maps0; i++)
        usleep(20000);
    ICHECK(rf_dom0_maps(dom0) == maps0,
           "no mapping of the dead frontend left in domain 0 (%u, want %u)",
           rf_dom0_maps(dom0), maps0);
    itest_agent_close(&die);
    rf_toolstack_rm(xb0, die.domid, 51760);
}

/* params naming no file: that device closes, its error says params. */
static void missing_image(struct itest_agent *good, const char *dir)
{
    char path[600], *err;

    snprintf(path, sizeof(path), "%s/absent.img", dir);
    rf_toolstack_add(xb0, good->domid, 99, path, "w");
    ICHECK(rf_wait_be_state(xb0, good->domid, 99, XenbusStateClosing, 5000),
           "an image that does not open: the device is Closing");
    err = rf_be_key(xb0, good->domid, 99, "error");
    ICHECK(err && strstr(err, "params") && strstr(err, "absent.img"),
           "its error names params and the file (%s)", err ? err : "none");
    free(err);
    good_still(good, "after a missing image");
    rf_toolstack_rm(xb0, good->domid, 99);
}

static void run(grant_handle_t *dom0, const char *dir)
{
    char rw[600], ro[600], other[600];
    struct itest_agent good;
    unsigned maps0;

    snprintf(rw, sizeof(rw), "%s/rw.img", dir);
    snprintf(ro, sizeof(ro), "%s/ro.img", dir);
    snprintf(other, sizeof(other), "%s/other.img", dir);
    ICHECK(rf_image_create(rw, IMG_BYTES) == 0 &&
               rf_image_create(ro, IMG_BYTES) == 0 &&
               rf_image_create(other, IMG_BYTES) == 0,
           "three images");
    spawn(dom0, &good, "good", 51712, 7, other, "w");
    good_still(&good, "from the start");
    maps0 = rf_dom0_maps(dom0);
    bad_guest(dom0, &good, rw);
    ro_guest(dom0, ro);
    good_still(&good, "after the read-only disk");
    missing_image(&good, dir);
    dying_guest(dom0, maps0, rw);
    good_still(&good, "after a frontend died mid-I/O");
    gone(dom0, &good, 51712);
}

int main(int argc, char **argv)
{
    struct rf_run r = {0};

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return role(argv[2], (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (rf_run_begin(&r, "blk_bad", NULL) == 0) {
        xb0 = r.xb;
        run(r.dom0, r.dir);
    }
    return rf_run_end(&r);
}
