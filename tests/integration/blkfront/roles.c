/* SPDX-License-Identifier: MIT */
/*
 * roles.c: the guest programs of blkfront's tests, on libxgblkfront
 * (testbe.h's blkfront_role).  Each prints "ok ..." or "err ..." lines
 * for domain 0 to read.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testbe.h"
#include "xgblkfront.h"

static int open_dev(unsigned devid, int no_ext, struct xgbf **d)
{
    struct xgbf_opts o = {.no_grant_ext = no_ext, .timeout_ms = 10000};
    int i, rc = -ENOENT;

    /* The toolstack writes the device right after spawning us. */
    for (i = 0; i < 300 && rc == -ENOENT; i++) {
        rc = xgbf_open(d, devid, &o);
        if (rc == -ENOENT)
            usleep(10000);
    }
    return rc;
}

static void fill_rand(uint8_t *p, size_t n, unsigned *seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(rand_r(seed) >> 7);
}

#define FAIL(...)                                                              \
    do {                                                                       \
        printf("err " __VA_ARGS__);                                            \
        printf("\n");                                                          \
        return 1;                                                              \
    } while (0)

/* Reaps until got reaches sent, each completion 0: 0 or the error. */
static int reap_rest(struct xgbf *d, unsigned got, unsigned sent)
{
    struct xgbf_cqe c[NSLOT];
    unsigned k;
    int n;

    while (got < sent) {
        n = xgbf_reap(d, c, NSLOT, 5000);
        if (n <= 0)
            return n < 0 ? n : -ETIMEDOUT;
        for (k = 0; k < (unsigned)n; k++)
            if (c[k].status)
                return c[k].status;
        got += (unsigned)n;
    }
    return 0;
}

/* Async writes into distinct slots of the second half: as deep as the
 * rings allow. */
static int async_round(struct xgbf *d, uint8_t *model, uint8_t *src,
                       unsigned *seed, unsigned *maxqd)
{
    struct xgbf_cqe c[NSLOT];
    unsigned k, got = 0, sent = 0;
    int n;

    for (k = 0; k < NSLOT; k++) {
        size_t len = 512u * (1 + rand_r(seed) % (SLOT / 512));
        uint64_t off = DISK / 2 + (uint64_t)k * SLOT;
        uint8_t *b = src + (size_t)k * SLOT;

        fill_rand(b, len, seed);
        memcpy(model + off, b, len);
        while ((n = xgbf_submit(d, XGBF_WRITE, off, b, len, k)) == -EAGAIN) {
            n = xgbf_reap(d, c, NSLOT, 1000);
            if (n < 0)
                return n;
            got += (unsigned)n;
        }
        if (n < 0)
            return n;
        sent++;
        if (xgbf_inflight(d) > *maxqd)
            *maxqd = xgbf_inflight(d);
    }
    return reap_rest(d, got, sent);
}

/* As async_round, every write in one xgbf_submitv (more than the rings
 * hold: the rest wait for slots), from src, or with mixed from the heap
 * buffer for every other one (bounced: their group is granted one by
 * one). */
static int async_round_v(struct xgbf *d, uint8_t *model, uint8_t *src,
                         uint8_t *heap, unsigned *seed)
{
    struct xgbf_sqe v[NSLOT];
    unsigned k;
    int n;

    for (k = 0; k < NSLOT; k++) {
        size_t len = 512u * (1 + rand_r(seed) % (SLOT / 512));
        uint64_t off = DISK / 2 + (uint64_t)k * SLOT;
        uint8_t *b = heap && k % 2 ? heap + (size_t)k / 2 * SLOT
                                   : src + (size_t)k * SLOT;

        fill_rand(b, len, seed);
        memcpy(model + off, b, len);
        v[k] = (struct xgbf_sqe){XGBF_WRITE, off, b, len, k};
    }
    if ((n = xgbf_submitv(d, v, NSLOT)) != NSLOT)
        return n < 0 ? n : -EIO;
    return reap_rest(d, 0, NSLOT);
}

/* Threads at once on one device (nbdkit's parallel model): each owns
 * SLOTS_PER slots of the second half and writes, then reads back, each
 * of them with the synchronous calls, from heap memory (bounced) or
 * grantable memory; thread 0 instead submits and reaps asynchronously.
 * Each completion must reach the thread that waits for it. */
#define THREADS   8u
#define SLOTS_PER (NSLOT / THREADS)

struct worker {
    struct xgbf *d;
    uint8_t *model, *gmem, *heap;
    unsigned t, seed;
    int rc;
};

static int worker_async(struct worker *w, uint64_t off, uint8_t *b, size_t len)
{
    struct xgbf_cqe c;
    int n = xgbf_submit(w->d, XGBF_WRITE, off, b, len, w->t);

    if (n == 0)
        n = reap_rest(w->d, 0, 1);
    if (n == 0 &&
        (n = xgbf_submit(w->d, XGBF_READ, off, b + SLOT, len, w->t)) == 0) {
        n = xgbf_reap(w->d, &c, 1, 5000);
        n = n == 1 ? c.status : n < 0 ? n : -ETIMEDOUT;
    }
    return n;
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    unsigned i;

    for (i = 0; w->rc == 0 && i < 3 * SLOTS_PER; i++) {
        unsigned slot = w->t * SLOTS_PER + i % SLOTS_PER;
        uint64_t off = DISK / 2 + (uint64_t)slot * SLOT;
        size_t len = 512u * (1 + rand_r(&w->seed) % (SLOT / 512));
        uint8_t *b = w->t % 2 ? w->heap : w->gmem;

        fill_rand(b, len, &w->seed);
        memcpy(w->model + off, b, len);
        if (w->t == 0)
            w->rc = worker_async(w, off, b, len);
        else if ((w->rc = xgbf_pwrite(w->d, b, len, off)) == 0)
            w->rc = xgbf_pread(w->d, b + SLOT, len, off);
        if (w->rc == 0 && memcmp(b, b + SLOT, len))
            w->rc = -EILSEQ; /* another thread's data, or none */
    }
    return NULL;
}

static int threads_round(struct xgbf *d, uint8_t *model, uint8_t *gmem,
                         unsigned seed)
{
    struct worker w[THREADS];
    pthread_t th[THREADS];
    unsigned t, started;
    int rc = 0;

    for (t = started = 0; t < THREADS; t++) {
        w[t] = (struct worker){.d = d,
                               .model = model,
                               .gmem = gmem + (size_t)t * 2 * SLOT,
                               .heap = malloc(2 * SLOT),
                               .t = t,
                               .seed = seed + t};
        if (!w[t].heap ||
            pthread_create(&th[t], NULL, worker_run, &w[t]) != 0) {
            free(w[t].heap);
            rc = -ENOMEM;
            break;
        }
        started++;
    }
    for (t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        if (w[t].rc && !rc) {
            printf("# thread %u: %d\n", t, w[t].rc);
            rc = w[t].rc;
        }
        free(w[t].heap);
    }
    return rc;
}

static int role_io(unsigned devid, int no_ext)
{
    struct xgbf *d;
    struct xgbf_info in;
    uint8_t *model = calloc(1, DISK), *heap = malloc(1u << 20), *gbuf = NULL,
            *abuf = NULL, *back = malloc(DISK);
    unsigned seed = devid, maxqd = 0, r;
    uint64_t off;
    int rc = open_dev(devid, no_ext, &d);

    if (rc < 0)
        FAIL("open %d", rc);
    xgbf_get_info(d, &in);
    if (in.size != DISK || in.grant_ext == no_ext || !in.flush || !in.discard ||
        !in.indirect || in.max_io < (128u << 10))
        FAIL("info: size %llu ext %d flush %d discard %d indirect %d "
             "max_io %u",
             (unsigned long long)in.size, in.grant_ext, in.flush, in.discard,
             in.indirect, in.max_io);
    if (in.persistent == !no_ext)
        FAIL("persistent %d with grant-ext %d", in.persistent, in.grant_ext);
    if ((rc = xgbf_buf_alloc(d, 1u << 20, (void **)&gbuf)) < 0 ||
        (rc = xgbf_buf_alloc(d, NSLOT * SLOT, (void **)&abuf)) < 0)
        FAIL("buf_alloc %d", rc);
    /* First half: random sizes, alternately grantable and heap memory. */
    for (off = 0, r = 0; off < DISK / 2; r++) {
        size_t len = 512u * (1 + rand_r(&seed) % ((1u << 20) / 512));
        uint8_t *b = r & 1 ? heap : gbuf;

        if (off + len > DISK / 2)
            len = DISK / 2 - off;
        fill_rand(b, len, &seed);
        memcpy(model + off, b, len);
        if ((rc = xgbf_pwrite(d, b, len, off)) < 0)
            FAIL("pwrite %zu at %llu: %d", len, (unsigned long long)off, rc);
        off += len;
    }
    for (r = 0; r < 3; r++)
        if ((rc = async_round(d, model, abuf, &seed, &maxqd)) < 0)
            FAIL("async round %u: %d", r, rc);
    for (r = 0; r < 2; r++)
        if ((rc = async_round_v(d, model, abuf, r ? heap : NULL, &seed)) < 0)
            FAIL("xgbf_submitv round %u: %d", r, rc);
    if ((rc = threads_round(d, model, gbuf, seed)) < 0)
        FAIL("%u threads at once: %d", THREADS, rc);
    if ((rc = xgbf_flush(d)) < 0)
        FAIL("flush %d", rc);
    if ((rc = xgbf_discard(d, 1u << 20, 1u << 20)) < 0)
        FAIL("discard %d", rc);
    memset(model + (1u << 20), 0, 1u << 20);
    for (off = 0; off < DISK; off += 1u << 20)
        if ((rc = xgbf_pread(d, off & (2u << 20) ? heap : gbuf, 1u << 20,
                             off)) < 0 ||
            (memcpy(back + off, off & (2u << 20) ? heap : gbuf, 1u << 20), 0))
            FAIL("pread at %llu: %d", (unsigned long long)off, rc);
    if (memcmp(back, model, DISK))
        FAIL("read back differs from what was written");
    if ((rc = xgbf_pread(d, gbuf, 4096, DISK - 512)) != -ERANGE)
        FAIL("read past the end: %d", rc);
    if ((rc = xgbf_pread(d, gbuf, 100, 0)) != -EINVAL)
        FAIL("unaligned read: %d", rc);
    if (maxqd < 2)
        FAIL("queue depth reached only %u", maxqd);
    printf("ok crc=%08x maxqd=%u queues=%u ring=%u max_io=%u\n",
           crc32(model, DISK), maxqd, in.nr_queues, in.ring_size, in.max_io);
    fflush(stdout);
    xgbf_close(d);
    free(model);
    free(heap);
    free(back);
    return 0;
}

static int role_hostile(unsigned devid, const char *what)
{
    struct xgbf *d;
    uint8_t *buf = NULL;
    int rc = open_dev(devid, 0, &d), rc2;
    size_t i;

    if (rc < 0)
        FAIL("open %d", rc);
    if ((rc = xgbf_buf_alloc(d, 8192, (void **)&buf)) < 0)
        FAIL("buf_alloc %d", rc);
    memset(buf, 0xaa, 8192);
    rc = xgbf_pread(d, buf, 4096, 0);
    rc2 = xgbf_pread(d, buf + 4096, 4096, 4096);
    if (rc != -EIO)
        FAIL("%s: first read %d, want -EIO", what, rc);
    if (!strcmp(what, "bad-status")) {
        if (rc2 != 0)
            FAIL("bad-status: the next read %d, want 0", rc2);
    } else {
        struct xgbf_cqe c;
        int n;

        if (rc2 != -EIO)
            FAIL("%s: the next read %d, want -EIO (broken)", what, rc2);
        if ((n = xgbf_reap(d, &c, 1, 100)) != -EIO)
            FAIL("%s: reap on the broken device: %d, want -EIO", what, n);
        for (i = 0; i < 4096; i++)
            if (buf[i] != 0xaa)
                FAIL("%s: the failed read's buffer was written", what);
    }
    printf("ok %s: %d then %d\n", what, rc, rc2);
    fflush(stdout);
    xgbf_close(d);
    return 0;
}

static int role_restart(unsigned devid, int no_ext)
{
    struct xgbf *d;
    struct xgbf_info in;
    struct xgbf_cqe c[16];
    uint8_t *src = NULL, *back = NULL;
    unsigned seed = 7, k, got = 0;
    long long end;
    int rc = open_dev(devid, no_ext, &d), n, pers;

    if (rc < 0)
        FAIL("open %d", rc);
    xgbf_get_info(d, &in);
    pers = in.persistent;
    if (xgbf_buf_alloc(d, 16 * SLOT, (void **)&src) < 0 ||
        xgbf_buf_alloc(d, 16 * SLOT, (void **)&back) < 0)
        FAIL("buf_alloc");
    fill_rand(src, 16 * SLOT, &seed);
    for (k = 0; k < 16; k++)
        if ((rc = xgbf_submit(d, XGBF_WRITE, (uint64_t)k * SLOT,
                              src + (size_t)k * SLOT, SLOT, k)) < 0)
            FAIL("submit %u: %d", k, rc);
    printf("ok submitted 16\n");
    fflush(stdout);
    for (end = itest_ms() + 25000; got < 16 && itest_ms() < end;) {
        n = xgbf_reap(d, c, 16, 1000);
        if (n < 0)
            FAIL("reap %d", n);
        for (k = 0; k < (unsigned)n; k++)
            if (c[k].status)
                FAIL("write %llu: %d", (unsigned long long)c[k].cookie,
                     c[k].status);
        got += (unsigned)n;
    }
    if (got < 16)
        FAIL("only %u of 16 writes completed", got);
    if ((rc = xgbf_pread(d, back, 16 * SLOT, 0)) < 0)
        FAIL("read back %d", rc);
    if (memcmp(back, src, 16 * SLOT))
        FAIL("the re-issued writes read back wrong");
    xgbf_get_info(d, &in);
    printf("ok recovered 16 writes, %u reconnection(s), persistent %d -> %d\n",
           in.reconnects, pers, in.persistent);
    fflush(stdout);
    xgbf_close(d);
    return in.reconnects ? 0 : 1;
}

static int role_nolink(unsigned devid)
{
    struct xgbf *d;
    char go[8];
    int rc;

    printf("ready\n");
    fflush(stdout);
    if (!fgets(go, sizeof(go), stdin))
        return 1;
    rc = xgbf_open(&d, devid, NULL);
    if (rc != -ENOENT)
        FAIL("open of an unlinked device: %d, want -ENOENT", rc);
    printf("ok -ENOENT\n");
    fflush(stdout);
    /* Alive until the test has looked (a dead domain's store is gone). */
    while (fgets(go, sizeof(go), stdin))
        ;
    return 0;
}

/* A backend whose keys cannot be used (testbe.h's BE_JUNK_KEY,
 * BE_BIG_SECTOR): the open must fail -EPROTO. */
static int role_refused(unsigned devid)
{
    struct xgbf *d;
    char go[8];
    int rc = open_dev(devid, 1, &d);

    if (rc >= 0) {
        struct xgbf_info in;

        xgbf_get_info(d, &in);
        xgbf_close(d);
        FAIL("opened: size %llu sector-size %u max_io %u",
             (unsigned long long)in.size, in.sector_size, in.max_io);
    }
    if (rc != -EPROTO)
        FAIL("open %d, want -EPROTO", rc);
    printf("ok -EPROTO\n");
    fflush(stdout);
    /* Alive until the test has looked (a dead domain's store is gone). */
    while (fgets(go, sizeof(go), stdin))
        ;
    return 0;
}

/* Standard grants with a backend that offers no feature-persistent (and
 * keeps a mapping, testbe.h's BE_KEEP): page-sized writes one after the
 * other, each must read back. */
static int role_keep(unsigned devid)
{
    uint8_t *w = malloc(8 * 4096), *r = malloc(8 * 4096);
    unsigned seed = 5, k;
    struct xgbf_info in;
    struct xgbf *d;
    int rc = open_dev(devid, 1, &d);

    if (rc < 0)
        FAIL("open %d", rc);
    xgbf_get_info(d, &in);
    if (in.persistent || in.grant_ext)
        FAIL("persistent %d grant-ext %d, want neither", in.persistent,
             in.grant_ext);
    fill_rand(w, 8 * 4096, &seed);
    for (k = 0; k < 8; k++)
        if ((rc = xgbf_pwrite(d, w + k * 4096, 4096, k * 8192)) < 0)
            FAIL("write %u: %d", k, rc);
    for (k = 0; k < 8; k++)
        if ((rc = xgbf_pread(d, r + k * 4096, 4096, k * 8192)) < 0)
            FAIL("read %u: %d", k, rc);
    if (memcmp(w, r, 8 * 4096))
        FAIL("read back differs");
    printf("ok 8 writes\n");
    fflush(stdout);
    xgbf_close(d);
    free(w);
    free(r);
    return 0;
}

/* Writes everything in slots of 16 x 64 KiB round after round (16 in
 * flight), an acknowledged and flushed first part before: the backend is
 * killed and restarted meanwhile.  Every write must complete, and all of
 * it read back as written. */
static int churn_round(struct xgbf *d, uint8_t *model, uint8_t *src,
                       unsigned *seed)
{
    struct xgbf_cqe c[16];
    unsigned k, got = 0;
    long long end = itest_ms() + 30000;
    int n;

    fill_rand(src, 16 * SLOT, seed);
    for (k = 0; k < 16; k++)
        if ((n = xgbf_submit(d, XGBF_WRITE, DISK / 2 + (uint64_t)k * SLOT,
                             src + (size_t)k * SLOT, SLOT, k)) < 0)
            return n;
    while (got < 16 && itest_ms() < end) {
        n = xgbf_reap(d, c, 16, 1000);
        if (n < 0)
            return n;
        for (k = 0; k < (unsigned)n; k++)
            if (c[k].status)
                return c[k].status;
        got += (unsigned)n;
    }
    memcpy(model + DISK / 2, src, 16 * SLOT);
    return got == 16 ? 0 : -ETIMEDOUT;
}

static int role_churn(unsigned devid)
{
    struct xgbf *d;
    struct xgbf_info in;
    uint8_t *model = calloc(1, DISK), *src = NULL, *back = malloc(DISK);
    unsigned seed = 11, rounds = 0, after = 0;
    long long end;
    int rc = open_dev(devid, 0, &d);

    if (rc < 0)
        FAIL("open %d", rc);
    if (xgbf_buf_alloc(d, 16 * SLOT, (void **)&src) < 0)
        FAIL("buf_alloc");
    fill_rand(model, 2u << 20, &seed);
    if ((rc = xgbf_pwrite(d, model, 2u << 20, 0)) < 0 ||
        (rc = xgbf_flush(d)) < 0)
        FAIL("first part: %d", rc);
    printf("ok flushed\n");
    fflush(stdout);
    for (end = itest_ms() + 40000; after < 3 && itest_ms() < end; rounds++) {
        if ((rc = churn_round(d, model, src, &seed)) < 0)
            FAIL("round %u: %d", rounds, rc);
        xgbf_get_info(d, &in);
        after += in.reconnects > 0;
    }
    if (!after)
        FAIL("no reconnection within 40 s (%u rounds)", rounds);
    if ((rc = xgbf_flush(d)) < 0 || (rc = xgbf_pread(d, back, DISK, 0)) < 0)
        FAIL("read back %d", rc);
    if (memcmp(back, model, DISK))
        FAIL("read back differs from what was written");
    printf("ok recovered crc=%08x rounds=%u reconnects=%u\n",
           crc32(model, DISK), rounds, in.reconnects);
    fflush(stdout);
    xgbf_close(d);
    free(model);
    free(back);
    return 0;
}

int blkfront_role(const char *role, unsigned devid)
{
    if (!strcmp(role, "io-ext"))
        return role_io(devid, 0);
    if (!strcmp(role, "io-v1"))
        return role_io(devid, 1);
    if (!strcmp(role, "nolink"))
        return role_nolink(devid);
    if (!strncmp(role, "hostile-", 8))
        return role_hostile(devid, role + 8);
    if (!strcmp(role, "keep"))
        return role_keep(devid);
    if (!strcmp(role, "refused"))
        return role_refused(devid);
    if (!strcmp(role, "churn"))
        return role_churn(devid);
    if (!strcmp(role, "restart"))
        return role_restart(devid, 0);
    if (!strcmp(role, "restart-v1"))
        return role_restart(devid, 1);
    printf("err unknown role %s\n", role);
    return 1;
}
