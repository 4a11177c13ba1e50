/* SPDX-License-Identifier: MIT */
/*
 * blk_io: xgrant-blkback serving a raw frontend (tests/integration/blk)
 * in each grant mode: persistent standard grants (mapped once, I/O
 * straight into the mapping), standard grants by grant copy, and
 * byte-exact extension grants (segments spanning pages, a 4-page ring).
 * Each guest writes random data with direct and indirect requests, reads
 * it back and compares; domain 0 compares the image file too.  Then
 * flush, barrier and discard (the hole reads back as zeros), the keys
 * Linux's blkback writes, the counters in statistics/, and a clean detach
 * leaving no mapping in domain 0.
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

#define IMG_BYTES (16u << 20)

struct io_case {
    unsigned sector, nsect, seg_sects;
};
/* Standard grants: segments of a page at most (8 sectors). */
static const struct io_case v1_cases[] = {
    {0, 8, 8},      /* one segment */
    {1000, 88, 8},  /* 11 segments, direct */
    {3001, 21, 3},  /* partial pages, odd sector */
    {5000, 320, 8}, /* 40 segments: indirect */
};
/* Byte-exact grants: a segment is up to 256 sectors, spanning pages. */
static const struct io_case ext_cases[] = {
    {7, 120, 24}, /* 12 KiB segments */
    {2000, 512, 256},
    {9001, 480, 16}, /* 30 segments: indirect */
};

static const struct io_case *cases_of(int mode, unsigned *n)
{
    *n = mode == RF_EXT ? 3 : 4;
    return mode == RF_EXT ? ext_cases : v1_cases;
}

/* Each mode writes its own stretch of the disk. */
static uint64_t base_of(int mode)
{
    return (uint64_t)mode * 10000;
}

/* ---- The guest ---------------------------------------------------------- */

static int run_cases(struct rf *f, int mode, char *buf)
{
    unsigned n, i;
    const struct io_case *c = cases_of(mode, &n);
    static char back[RF_POOL_PAGES * GRANT_PAGE_SIZE];

    for (i = 0; i < n; i++) {
        size_t len = (size_t)c[i].nsect * 512;
        uint64_t s = base_of(mode) + c[i].sector;
        int rc;

        f->cur = i % f->nq; /* cases take turns on the queues */
        rf_fill(buf, len, mode * 100 + i);
        rc = rf_io(f, 1, s, c[i].nsect, c[i].seg_sects, buf);
        if (rc != 0)
            return printf("err write case %d: %d\n", i, rc);
        memset(back, 0xee, len);
        rc = rf_io(f, 0, s, c[i].nsect, c[i].seg_sects, back);
        if (rc != 0 || memcmp(buf, back, len))
            return printf("err read back case %d: %d\n", i, rc);
    }
    return 0;
}

/* A FLUSH_DISKCACHE carrying one page of data (pool page 0) at arg. */
static void mk_flush_data(struct rf *f, struct blkif_request *req,
                          const void *arg)
{
    req->operation = BLKIF_OP_FLUSH_DISKCACHE;
    req->nr_segments = 1;
    req->sector_number = *(const uint64_t *)arg;
    req->seg[0].gref = f->pref[0];
    req->seg[0].last_sect = 7;
}

/* A READ of 8 sectors at sector 0 through the grant in *arg. */
static void mk_read_gref(struct rf *f, struct blkif_request *req,
                         const void *arg)
{
    (void)f;
    req->operation = BLKIF_OP_READ;
    req->nr_segments = 1;
    req->seg[0].gref = *(const grant_ref_t *)arg;
    req->seg[0].last_sect = 7;
}

/* Byte-exact grants are exact: a grant shorter than its segment, or
 * without the right the operation needs, fails the request. */
static int ext_exactness(struct rf *f)
{
    grant_ref_t g;
    uint8_t op = 0;
    int rc;

    grant_create_direct(f->h, 0, GRANT_R_WRITE, f->pool, 2048, &g);
    rc = rf_call(f, mk_read_gref, &g, &op);
    grant_revoke(f->h, g, 0);
    if (rc != BLKIF_RSP_ERROR)
        return printf("err a 2 KiB grant for a 4 KiB segment: %d\n", rc);
    grant_create_direct(f->h, 0, GRANT_R_READ, f->pool, 4096, &g);
    rc = rf_call(f, mk_read_gref, &g, &op);
    grant_revoke(f->h, g, 0);
    if (rc != BLKIF_RSP_ERROR)
        return printf("err a read through a READ-only grant: %d\n", rc);
    return 0;
}

/* Flush, barrier, discard: the hole reads back as zeros. */
static int run_ops(struct rf *f, int mode, char *buf)
{
    uint64_t s = base_of(mode) + 8000;
    static char zero[4096], back_page[4096];
    int rc;

    f->cur = 0;
    if ((rc = rf_simple(f, BLKIF_OP_FLUSH_DISKCACHE, 0, 0)) != 0)
        return printf("err flush %d\n", rc);
    if ((rc = rf_simple(f, BLKIF_OP_WRITE_BARRIER, 0, 0)) != 0)
        return printf("err barrier %d\n", rc);
    /* An empty flush or barrier moves no sector: its sector_number is
     * whatever the block layer had (Linux's blkfront sends ~0), as
     * Linux's blkback reads it (bounds only when there are sectors). */
    if ((rc = rf_simple(f, BLKIF_OP_FLUSH_DISKCACHE, ~0ull, 0)) != 0)
        return printf("err flush at sector ~0 %d\n", rc);
    if ((rc = rf_simple(f, BLKIF_OP_WRITE_BARRIER, ~0ull, 0)) != 0)
        return printf("err barrier at sector ~0 %d\n", rc);
    if (mode != RF_EXT) { /* a flush with data writes it */
        uint8_t op = 0;

        rf_fill(f->pool, 4096, 11);
        rf_fill(buf, 4096, 11);
        rc = rf_call(f, mk_flush_data, &s, &op);
        if (rc == 0)
            rc = rf_io(f, 0, s, 8, 8, back_page);
        if (rc != 0 || memcmp(buf, back_page, 4096))
            return printf("err flush with data %d\n", rc);
    }
    rf_fill(buf, 4096, 7);
    if ((rc = rf_io(f, 1, s, 8, 8, buf)) != 0)
        return printf("err write before discard %d\n", rc);
    if ((rc = rf_simple(f, BLKIF_OP_DISCARD, s, 8)) != 0)
        return printf("err discard %d\n", rc);
    if ((rc = rf_io(f, 0, s, 8, 8, buf)) != 0 || memcmp(buf, zero, 4096))
        return printf("err discarded sectors not zero %d\n", rc);
    return 0;
}

static int role_io(unsigned devid, int mode)
{
    static char buf[RF_POOL_PAGES * GRANT_PAGE_SIZE];
    struct rf f = {0};
    char line[32];
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    /* Persistent: 2 queues of 2-page rings; ext: a 4-page ring. */
    f.want_queues = mode == RF_V1P ? 2 : 1;
    rc = rf_attach(&f, devid, mode, mode == RF_EXT ? 2 : mode == RF_V1P);
    if (rc)
        printf("err attach %d\n", rc);
    else if (!run_cases(&f, mode, buf) && !run_ops(&f, mode, buf) &&
             (mode != RF_EXT || !ext_exactness(&f)))
        printf("ok io mode %d\n", mode);
    fflush(stdout);
    if (fgets(line, sizeof(line), stdin) && rc == 0)
        rf_detach(&f);
    printf("ok detached\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}

/* ---- Domain 0 ----------------------------------------------------------- */

static grant_xenbus_t *xb0;

static int key_is(unsigned fe, unsigned devid, const char *key,
                  const char *want)
{
    char *v = rf_be_key(xb0, fe, devid, key);
    int ok = v && !strcmp(v, want);

    if (!ok)
        printf("# %s = %s, want %s\n", key, v ? v : "(none)", want);
    free(v);
    return ok;
}

/* The image holds what the guest of `mode` wrote. */
static int image_matches(const char *img, int mode)
{
    static char want[1u << 20], got[1u << 20];
    unsigned n, i;
    const struct io_case *c = cases_of(mode, &n);
    int fd = open(img, O_RDONLY), ok = fd >= 0;

    for (i = 0; ok && i < n; i++) {
        size_t len = (size_t)c[i].nsect * 512;

        rf_fill(want, len, mode * 100 + i);
        ok = pread(fd, got, len, (off_t)(base_of(mode) + c[i].sector) * 512) ==
                 (ssize_t)len &&
             !memcmp(want, got, len);
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

static void one_mode(grant_handle_t *dom0, const char *img, int mode)
{
    static const char *const names[] = {"grant copy", "persistent grants",
                                        "byte-exact grants"};
    unsigned devid = 51712 + mode * 16; /* xvda, xvdb, xvdc */
    char id[16], md[8], line[256];
    char *argv[] = {itest_self(), "--role", "io", id, md, NULL};
    struct itest_agent a;
    unsigned maps;
    char *v;
    int i;

    snprintf(id, sizeof(id), "%u", devid);
    snprintf(md, sizeof(md), "%d", mode);
    itest_spawn_argv(dom0, &a, "blkio", 512, argv);
    ICHECK(rf_toolstack_add(xb0, a.domid, devid, img, "w") == 0,
           "toolstack wrote vbd %u/%u", a.domid, devid);
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok io", 5),
           "%s: written, read back, flush, "
           "barrier, discard: %s",
           names[mode], line[0] ? line : "(nothing)");
    ICHECK(image_matches(img, mode), "%s: the image holds the guest's data",
           names[mode]);
    /* Persistent: two 2-page rings and every data page mapped once per
     * queue (queue 0: pages 0..6, queue 1: pages 0..39 and the indirect
     * page) and kept; copy: the ring only (1 page; 4 for the ext guest's). */
    maps = rf_dom0_maps(dom0);
    ICHECK(mode == RF_V1P ? maps == 4 + 7 + 40 + 1
                          : maps == (mode == RF_EXT ? 4 : 1),
           "%s: domain 0 maps %u pages while connected", names[mode], maps);
    ICHECK(key_is(a.domid, devid, "feature-max-indirect-segments", "256") &&
               key_is(a.domid, devid, "sector-size", "512") &&
               key_is(a.domid, devid, "sectors", "32768") &&
               key_is(a.domid, devid, "info", "0") &&
               key_is(a.domid, devid, "feature-flush-cache", "1") &&
               key_is(a.domid, devid, "feature-barrier", "1") &&
               key_is(a.domid, devid, "feature-discard", "1") &&
               key_is(a.domid, devid, "max-ring-page-order", "4") &&
               key_is(a.domid, devid, "multi-queue-max-queues", "2") &&
               key_is(a.domid, devid, "feature-persistent",
                      mode == RF_EXT ? "0" : "1"),
           "%s: the keys Linux's blkback writes", names[mode]);
    for (i = 0, v = NULL; i < 40 && (!v || atoi(v) == 0); i++) {
        free(v); /* 0 at connect, then the count within a second */
        usleep(50000);
        v = rf_be_key(xb0, a.domid, devid, "statistics/rd_req");
    }
    ICHECK(v && atoi(v) > 0,
           "%s: statistics/rd_req published while connected (%s)", names[mode],
           v ? v : "none");
    free(v);
    dprintf(a.to, "detach\n");
    rf_read_line(&a, line, sizeof(line));
    ICHECK(rf_wait_be_state(xb0, a.domid, devid, XenbusStateClosed, 5000),
           "%s: the backend followed the frontend to Closed", names[mode]);
    v = rf_be_key(xb0, a.domid, devid, "statistics/wr_req");
    ICHECK(v && atoi(v) >= (mode == RF_EXT ? 3 : 4),
           "%s: statistics/wr_req counted (%s)", names[mode], v ? v : "none");
    free(v);
    v = rf_be_key(xb0, a.domid, devid, "statistics/ds_req");
    ICHECK(v && !strcmp(v, "1"), "%s: statistics/ds_req = 1 (%s)", names[mode],
           v ? v : "none");
    free(v);
    ICHECK(rf_dom0_maps(dom0) == 0, "%s: no mapping left in domain 0 (%u)",
           names[mode], rf_dom0_maps(dom0));
    itest_agent_close(&a);
    grant_ctl_domain_destroy(dom0, a.domid);
    rf_toolstack_rm(xb0, a.domid, devid);
}

static int log_has(const char *log, const char *what)
{
    static char text[1 << 16];
    FILE *f = fopen(log, "r");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;

    if (f)
        fclose(f);
    text[n] = '\0';
    return strstr(text, what) != NULL;
}

/* A clean stop (SIGTERM), then xgrant-blkback with other options. */
static void restart(struct rf_run *r, const char *const *args)
{
    int st = 0;

    kill(r->bb, SIGTERM);
    waitpid(r->bb, &st, 0);
    ICHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "xgrant-blkback exits 0 on SIGTERM (0x%x)", st);
    r->bb = rf_blkback_start(r->log, args);
}

int main(int argc, char **argv)
{
    static const char *const args[] = {"--max-queues", "2", NULL};
    static const char *const no_io[] = {"--max-queues", "2", "--no-grant-io",
                                        NULL};
    struct rf_run r = {0};
    char img[600];

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return role_io((unsigned)atoi(argv[3]), atoi(argv[4]));
    if (rf_run_begin(&r, "blk_io", args) == 0) {
        xb0 = r.xb;
        snprintf(img, sizeof(img), "%s/disk.img", r.dir);
        ICHECK(rf_image_create(img, IMG_BYTES) == 0, "a 16 MiB image");
        one_mode(r.dom0, img, RF_V1P);
        one_mode(r.dom0, img, RF_V1);
        one_mode(r.dom0, img, RF_EXT);
        ICHECK(log_has(r.log, "byte-exact grants (grant I/O)"),
               "byte-exact grants moved by the grant-I/O call");
        /* The same guest with grant copy instead (as on Xen). */
        restart(&r, no_io);
        one_mode(r.dom0, img, RF_EXT);
        ICHECK(log_has(r.log, "byte-exact grants (grant copy)"),
               "--no-grant-io: byte-exact grants by grant copy");
    }
    return rf_run_end(&r);
}
