/* SPDX-License-Identifier: MIT */
/*
 * blk_iohelper: xgrant-blkback --io-helper.  A raw frontend
 * (tests/integration/blk) answering feature-grant-delegate grants each
 * segment with READ or WRITE plus DELEGATE; blkback delegates each
 * segment to its queue's I/O helper domain, which moves the bytes with
 * grant_io.  Checked:
 *   - data both ways through the helper (read back, and the image);
 *   - a frontend that does not answer the key: blkback's own grant I/O;
 *     one that answers but grants without DELEGATE: ERROR, device lives;
 *   - the frontend revoking its segment grants while the helper READs 32
 *     MiB into them: the request fails, no byte lands once the revoke
 *     returned; the same with a 32 MiB WRITE: no byte the frontend put
 *     in its buffer after the revoke reaches the image; the next
 *     requests work;
 *   - the helper domain destroyed mid-request: that request ERROR, the
 *     helper restarted, the next requests work;
 *   - a helper hanging on a request: the frontend closes, blkback stops
 *     the queue at once (not after its 20 s timeout), helper destroyed;
 *   - no helper can start: the frontend that agreed is served by
 *     blkback's own grant I/O, the reason logged;
 *   - narrowing: a hostile helper (this binary, --io-helper-prog) tries
 *     each delegated grant past its window, wider than it, in the other
 *     direction, and re-delegating it: every try refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/blkback/iohelper.h"
#include "blk/rawfront.h"
#include "common/itest.h"

#define IMG_BYTES  (96u << 20) /* the big READs', WRITEs', then rw's */
#define BIG_SEGS   256u
#define BIG_SECTS  256u /* 128 KiB segments: 32 MiB a request */
#define BIG_BYTES  ((size_t)BIG_SEGS * BIG_SECTS * 512)
#define POOL_PAGES (BIG_BYTES / GRANT_PAGE_SIZE)
#define TRIES      8
#define WBYTE      0x5a                  /* what a big WRITE writes */
#define RW_BASE    (2 * BIG_BYTES / 512) /* rw's sectors start there */
#define HANG_SECT                                                              \
    (RW_BASE + 20000) /* a WRITE there: the hostile helper hangs */

/* ---- The hostile helper ------------------------------------------------- */

/* One try that must fail with `want`; 1 when it did. */
static int refused(grant_handle_t *h, int file, const struct bbh_seg *s,
                   unsigned dir, uint64_t off, uint64_t len, int want)
{
    struct grant_io_seg io = {.fd = file,
                              .dir = dir | GRANT_IO_FIXED,
                              .granter = (grant_domid_t)s->granter,
                              .ref = s->ref,
                              .offset = off,
                              .file_off = s->file_off,
                              .len = len};
    int rc = grant_io(h, &io, 1);

    rc = rc < 0 ? rc : io.status;
    if (rc != want)
        fprintf(stderr, "hostile io-helper: PASSED a try (%d, want %d)\n", rc,
                want);
    return rc == want;
}

static int hostile(grant_handle_t *h, int file, const struct bbh_msg *m)
{
    unsigned i, ok = 0, tries = 0;
    grant_ref_t ref;

    if (m->seg[0].file_off == (uint64_t)HANG_SECT * 512) {
        fprintf(stderr, "hostile io-helper: hanging\n");
        sleep(60); /* blkback must not wait for this to stop the device */
    }

    for (i = 0; i < m->nseg; i++) {
        const struct bbh_seg *s = &m->seg[i];
        unsigned other =
            s->dir == GRANT_IO_READ ? GRANT_IO_WRITE : GRANT_IO_READ;
        int rc;

        ok += refused(h, file, s, s->dir, s->len, 512, -ERANGE);
        ok += refused(h, file, s, s->dir, 0, s->len + 512, -ERANGE);
        ok += refused(h, file, s, other, 0, s->len, -EACCES);
        /* the very right it holds (READ IO: WRITE into the grant) */
        rc = grant_create_indirect(
            h, 0, s->dir == GRANT_IO_READ ? GRANT_R_WRITE : GRANT_R_READ,
            (grant_domid_t)s->granter, s->ref, 0, s->len, &ref);
        ok += rc == -EPERM;
        tries += 4;
    }
    fprintf(stderr, "hostile io-helper: %u of %u tries refused\n", ok, tries);
    return ok == tries ? 0 : -EXDEV;
}

/* ---- The guest ---------------------------------------------------------- */

static uint8_t fbyte(uint64_t k)
{
    return (uint8_t)(k * 13 + (k >> 12) + 1);
}

struct io_case {
    unsigned sector, nsect, seg_sects;
};
static const struct io_case cases[] = {
    {7, 120, 24}, /* 5 segments of 12 KiB */
    {2000, 512, 256},
    {9001, 480, 16}, /* 30 segments: indirect */
};

/* Writes seeded data, reads it back: "ok" or why not. */
static void guest_rw(struct rf *f, unsigned seed, char *buf, char *back)
{
    unsigned i;
    int rc;

    for (i = 0; i < 3; i++) {
        size_t len = (size_t)cases[i].nsect * 512;

        rf_fill(buf, len, seed + i);
        rc = rf_io(f, 1, RW_BASE + cases[i].sector, cases[i].nsect,
                   cases[i].seg_sects, buf);
        if (rc != 0) {
            printf("err write case %u: %d\n", i, rc);
            return;
        }
        memset(back, 0xee, len);
        rc = rf_io(f, 0, RW_BASE + cases[i].sector, cases[i].nsect,
                   cases[i].seg_sects, back);
        if (rc != 0 || memcmp(buf, back, len)) {
            printf("err read back case %u: %d\n", i, rc);
            return;
        }
    }
    printf("ok rw\n");
}

/* A 32 MiB indirect READ of the image's first half into the pool, or
 * (write) a WRITE of the pool (all WBYTE) to its second half; segment
 * grants WRITE (READ) | DELEGATE in segs[0..255], the indirect page's in
 * segs[256].  Pushed, not waited for.  The request id or 0. */
static uint64_t big_io(struct rf *f, struct blkif_request_segment *segs,
                       int write)
{
    struct blkif_request_indirect *in;
    unsigned i;

    memset(f->pool, write ? WBYTE : 0, BIG_BYTES);
    for (i = 0; i < BIG_SEGS; i++) {
        segs[i] = (struct blkif_request_segment){.last_sect = BIG_SECTS - 1};
        if (grant_create_direct(f->h, 0,
                                (write ? GRANT_R_READ : GRANT_R_WRITE) |
                                    GRANT_R_DELEGATE,
                                (char *)f->pool + (size_t)i * BIG_SECTS * 512,
                                BIG_SECTS * 512, &segs[i].gref) < 0)
            return 0;
    }
    memcpy(f->ind, segs, BIG_SEGS * sizeof(segs[0]));
    in = (void *)rf_slot(f);
    if (!in || grant_create_direct(f->h, 0, GRANT_R_READ, f->ind,
                                   GRANT_PAGE_SIZE, &segs[BIG_SEGS].gref) < 0)
        return 0;
    in->operation = BLKIF_OP_INDIRECT;
    in->indirect_op = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
    in->nr_segments = BIG_SEGS;
    in->sector_number = write ? BIG_BYTES / 512 : 0;
    in->indirect_grefs[0] = segs[BIG_SEGS].gref;
    in->id = ++f->next_id;
    rf_push(f);
    return in->id;
}

static void revoke_all(struct rf *f, struct blkif_request_segment *segs)
{
    struct grant_revoke_req rv[BIG_SEGS + 1];
    unsigned i;

    for (i = 0; i <= BIG_SEGS; i++)
        rv[i] = (struct grant_revoke_req){.ref = segs[i].gref};
    grant_revoke_batch(f->h, rv, BIG_SEGS + 1);
}

/* The answer to id: its status, or -errno. */
static int answer_of(struct rf *f, uint64_t id)
{
    struct blkif_response rsp;
    int rc = rf_wait(f, &rsp, 20000);

    if (rc <= 0)
        return rc ? rc : -ETIMEDOUT;
    return rsp.id == id ? rsp.status : -EPROTO;
}

/* "race US" ("wrace US"): the big READ (WRITE), its grants revoked US
 * later, then the pool set to 0xa5: for a READ no byte of it may change
 * after that, for a WRITE no 0xa5 may reach the image (domain 0 looks).
 * "ok race STATUS CHANGED". */
static void guest_race(struct rf *f, unsigned us, int write)
{
    struct blkif_request_segment segs[BIG_SEGS + 1];
    uint64_t id = big_io(f, segs, write);
    size_t k, changed = 0;
    int st;

    if (!id) {
        printf("err big read\n");
        return;
    }
    usleep(us);
    revoke_all(f, segs);
    memset(f->pool, 0xa5, BIG_BYTES); /* after the revoke: nothing lands */
    st = answer_of(f, id);
    for (k = 0; k < BIG_BYTES; k++)
        changed += ((uint8_t *)f->pool)[k] != 0xa5;
    printf("ok race %d %zu\n", st, changed);
}

/* "big": the big READ with "go" once pushed; "ok big STATUS BAD" with
 * BAD the bytes differing from the image's pattern when it succeeded. */
static void guest_big(struct rf *f)
{
    struct blkif_request_segment segs[BIG_SEGS + 1];
    uint64_t id = big_io(f, segs, 0);
    size_t k, bad = 0;
    int st;

    printf(id ? "go\n" : "err big read\n");
    fflush(stdout);
    if (!id)
        return;
    st = answer_of(f, id);
    revoke_all(f, segs);
    for (k = 0; st == 0 && k < BIG_BYTES; k++)
        bad += ((uint8_t *)f->pool)[k] != fbyte(k);
    printf("ok big %d %zu\n", st, bad);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;

    return (x > y) - (x < y);
}

/* Median microseconds of n reads of nsect sectors in segments of 256. */
static long long median_read_us(struct rf *f, unsigned n, unsigned nsect,
                                char *buf)
{
    long long t[200];
    struct timespec a, b;
    unsigned i;

    for (i = 0; i < n && i < 200; i++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (rf_io(f, 0, (uint64_t)i * nsect % 65536, nsect, 256, buf) != 0)
            return -1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] =
            (b.tv_sec - a.tv_sec) * 1000000ll + (b.tv_nsec - a.tv_nsec) / 1000;
    }
    qsort(t, i, sizeof(t[0]), cmp_ll);
    return t[i / 2];
}

static int role_guest(unsigned devid, int delegate)
{
    static char buf[1u << 20], back[1u << 20];
    struct rf f = {0};
    char line[64];
    unsigned v;
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    f.want_queues = 1;
    f.pool_pages = POOL_PAGES;
    f.delegate = delegate;
    rc = rf_attach(&f, devid, RF_EXT, 0);
    printf(rc ? "err attach %d\n" : "ok attached %d\n", rc ? rc : f.delegating);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "rw %u", &v) == 1) {
            guest_rw(&f, v, buf, back);
        } else if (sscanf(line, "race %u", &v) == 1) {
            guest_race(&f, v, 0);
        } else if (sscanf(line, "wrace %u", &v) == 1) {
            guest_race(&f, v, 1);
        } else if (!strcmp(line, "lat\n")) {
            printf("ok lat %lld %lld\n", median_read_us(&f, 200, 8, buf),
                   median_read_us(&f, 40, 2048, buf));
        } else if (!strcmp(line, "hang\n")) {
            struct blkif_request *r = rf_slot(&f);

            if (r &&
                grant_create_direct(f.h, 0, GRANT_R_READ | GRANT_R_DELEGATE,
                                    f.pool, 4096, &r->seg[0].gref) == 0) {
                r->operation = BLKIF_OP_WRITE;
                r->nr_segments = 1;
                r->sector_number = HANG_SECT;
                r->seg[0].last_sect = 7;
                r->id = ++f.next_id;
                rf_push(&f); /* not waited for */
                printf("go\n");
            } else {
                printf("err hang\n");
            }
        } else if (!strcmp(line, "big\n")) {
            guest_big(&f);
        } else if (!strcmp(line, "nodelegate\n")) {
            f.delegating = 0; /* agreed, but grants without DELEGATE */
            rc = rf_io(&f, 1, RW_BASE, 8, 8, buf);
            f.delegating = 1;
            printf("ok nodelegate %d\n", rc);
        } else {
            rf_detach(&f);
            printf("ok detached\n");
        }
        fflush(stdout);
    }
    return 0;
}

/* ---- Domain 0 ----------------------------------------------------------- */

static struct rf_run run;
static unsigned next_devid = 51712;

static int log_count(const char *what)
{
    static char text[1 << 20];
    FILE *f = fopen(run.log, "r");
    size_t n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    const char *p = text;
    int c = 0;

    if (f)
        fclose(f);
    text[n] = '\0';
    while ((p = strstr(p, what))) {
        c++;
        p++;
    }
    return c;
}

/* A guest on a new vbd over img; its "ok attached N" checked. */
static void guest_up(struct itest_agent *a, const char *img, int delegate)
{
    char id[16], dl[4], line[64];
    char *argv[] = {itest_self(), "--role", id, dl, NULL};
    unsigned devid = next_devid;

    next_devid += 16;
    snprintf(id, sizeof(id), "%u", devid);
    snprintf(dl, sizeof(dl), "%d", delegate);
    itest_spawn_argv(run.dom0, a, "blkguest", POOL_PAGES + 64, argv);
    ICHECK(rf_toolstack_add(run.xb, a->domid, devid, img, "w") == 0,
           "toolstack wrote vbd %u/%u", a->domid, devid);
    rf_read_line(a, line, sizeof(line));
    ICHECK(!strcmp(line, delegate ? "ok attached 1" : "ok attached 0"),
           "guest %u attached, feature-grant-delegate %s: %s", a->domid,
           delegate ? "agreed" : "not answered", line);
}

static void guest_down(struct itest_agent *a)
{
    char line[64];

    dprintf(a->to, "detach\n");
    rf_read_line(a, line, sizeof(line));
    itest_agent_close(a);
    grant_ctl_domain_destroy(run.dom0, a->domid);
}

static void say(struct itest_agent *a, char *line, size_t len, const char *cmd)
{
    dprintf(a->to, "%s\n", cmd);
    rf_read_line(a, line, len);
}

/* The image holds what "rw seed" wrote. */
static int image_has(const char *img, unsigned seed)
{
    static char want[1u << 20], got[1u << 20];
    int fd = open(img, O_RDONLY), ok = fd >= 0;
    unsigned i;

    for (i = 0; ok && i < 3; i++) {
        size_t len = (size_t)cases[i].nsect * 512;

        rf_fill(want, len, seed + i);
        ok = pread(fd, got, len, (off_t)(RW_BASE + cases[i].sector) * 512) ==
                 (ssize_t)len &&
             !memcmp(want, got, len);
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

/* The image's first 32 MiB: fbyte(k), for the big READs. */
static int image_make(const char *img)
{
    static uint8_t b[1u << 20];
    int fd, ok;

    if (rf_image_create(img, IMG_BYTES) < 0)
        return -1;
    fd = open(img, O_WRONLY);
    ok = fd >= 0;
    for (size_t at = 0; ok && at < BIG_BYTES; at += sizeof(b)) {
        for (size_t k = 0; k < sizeof(b); k++)
            b[k] = fbyte(at + k);
        ok = pwrite(fd, b, sizeof(b), (off_t)at) == (ssize_t)sizeof(b);
    }
    if (fd >= 0)
        close(fd);
    return ok ? 0 : -1;
}

/* Bytes of the image's second half that are neither 0 nor WBYTE: what a
 * WRITE moved after its grants were revoked (the pool was 0xa5 then). */
static size_t image_foreign(const char *img)
{
    static uint8_t b[1u << 20];
    int fd = open(img, O_RDONLY);
    size_t bad = 0;

    for (size_t at = BIG_BYTES; fd >= 0 && at < 2 * BIG_BYTES;
         at += sizeof(b)) {
        if (pread(fd, b, sizeof(b), (off_t)at) != (ssize_t)sizeof(b))
            return SIZE_MAX;
        for (size_t k = 0; k < sizeof(b); k++)
            bad += b[k] != 0 && b[k] != WBYTE;
    }
    if (fd >= 0)
        close(fd);
    return fd >= 0 ? bad : SIZE_MAX;
}

/* The helper domains blkback runs now ("bbio-..."): how many, the
 * first's id in *id. */
static int helpers(grant_domid_t *id)
{
    struct grant_domain_info d[64];
    int n = grant_ctl_domain_list(run.dom0, d, 64), c = 0;

    for (int i = 0; i < n && i < 64; i++)
        if (!strncmp(d[i].name, "bbio-", 5) && !d[i].dying && c++ == 0)
            *id = d[i].domid;
    return c;
}

/* Grants in domain 0's table: blkback's delegations (the test has none). */
static unsigned dom0_grants(void)
{
    struct grant_usage u = {0};

    grant_usage(run.dom0, 0, &u);
    return u.entries;
}

static void case_data(const char *img)
{
    struct itest_agent a, b;
    char line[64];
    grant_domid_t hid = 0;
    int n;

    guest_up(&a, img, 1);
    n = helpers(&hid);
    ICHECK(n == 1, "one helper domain for the queue (%d: %u)", n, hid);
    say(&a, line, sizeof(line), "rw 100");
    ICHECK(!strcmp(line, "ok rw"),
           "through the helper: written, read back (direct, 2 x 128 KiB, "
           "indirect): %s",
           line);
    ICHECK(image_has(img, 100), "the image holds the guest's data");
    n = (int)dom0_grants();
    ICHECK(n == 0, "every delegation revoked after its answer (%d left)", n);
    ICHECK(log_count("grant I/O by helper domains") == 1,
           "blkback says the helper moves the bytes");
    say(&a, line, sizeof(line), "nodelegate");
    ICHECK(!strcmp(line, "ok nodelegate -1"),
           "agreed, then a segment without DELEGATE: ERROR (%s)", line);
    say(&a, line, sizeof(line), "rw 200");
    ICHECK(!strcmp(line, "ok rw") && image_has(img, 200),
           "the device still works: %s", line);
    say(&a, line, sizeof(line), "lat");
    printf("# through the helper, median READ 4 KiB / 1 MiB: %s us\n",
           line + 7);
    guest_down(&a);
    /* A frontend not answering the key: blkback's own grant I/O. */
    guest_up(&b, img, 0);
    say(&b, line, sizeof(line), "rw 300");
    ICHECK(!strcmp(line, "ok rw") && image_has(img, 300),
           "no DELEGATE agreed: blkback's own grant I/O: %s", line);
    ICHECK(log_count("byte-exact grants (grant I/O)\n") == 1,
           "blkback says it moves those bytes itself");
    say(&b, line, sizeof(line), "lat");
    printf("# by blkback itself, median READ 4 KiB / 1 MiB: %s us\n", line + 7);
    guest_down(&b);
}

/* Tries `what` ("race" or "wrace") with growing delays until the revoke
 * cuts the request; every try checked for bytes moved after the revoke. */
static void revoke_tries(struct itest_agent *a, const char *img,
                         const char *what)
{
    char line[64], cmd[32];
    int st = 0, cut = 0, i, write = what[0] == 'w';
    size_t moved = 0;

    for (i = 0; i < TRIES && !cut; i++) {
        snprintf(cmd, sizeof(cmd), "%s %u", what, 500u << i);
        say(a, line, sizeof(line), cmd);
        ICHECK(sscanf(line, "ok race %d %zu", &st, &moved) == 2,
               "%s %d answered: %s", what, i, line);
        if (write)
            moved = image_foreign(img);
        ICHECK(moved == 0,
               "%s: no byte moved after the revoke returned (%zu did)",
               write ? "WRITE" : "READ", moved);
        cut = st == BLKIF_RSP_ERROR;
    }
    ICHECK(cut,
           "the revoke cut the helper's 32 MiB %s midway: ERROR (in %d "
           "tries)",
           write ? "WRITE" : "READ", i);
}

static void case_revoke(const char *img)
{
    struct itest_agent a;
    char line[64];

    guest_up(&a, img, 1);
    revoke_tries(&a, img, "race");
    revoke_tries(&a, img, "wrace");
    say(&a, line, sizeof(line), "rw 400");
    ICHECK(!strcmp(line, "ok rw") && image_has(img, 400),
           "then the device works: %s", line);
    guest_down(&a);
}

static void case_kill(const char *img)
{
    struct itest_agent a;
    char line[64];
    int st = 0, cut = 0, i, n;
    size_t bad = 0;
    grant_domid_t hid = 0;

    guest_up(&a, img, 1);
    for (i = 0; i < TRIES && !cut; i++) {
        n = helpers(&hid);
        ICHECK(n == 1, "a helper domain (%d: %u)", n, hid);
        say(&a, line, sizeof(line), "big");
        ICHECK(!strcmp(line, "go"), "big READ pushed: %s", line);
        usleep(500u << i);
        grant_ctl_domain_destroy(run.dom0, hid);
        rf_read_line(&a, line, sizeof(line));
        ICHECK(sscanf(line, "ok big %d %zu", &st, &bad) == 2,
               "big READ answered: %s", line);
        ICHECK(st != 0 || bad == 0, "a READ answered OKAY is the image's");
        cut = st == BLKIF_RSP_ERROR;
    }
    ICHECK(cut, "the helper destroyed mid-request: ERROR (in %d tries)", i);
    say(&a, line, sizeof(line), "rw 500");
    ICHECK(!strcmp(line, "ok rw") && image_has(img, 500),
           "then the device works, through a new helper: %s", line);
    n = helpers(&hid);
    ICHECK(n == 1 && log_count("restarting it") >= 1,
           "blkback restarted the helper (domain %u)", hid);
    n = (int)dom0_grants();
    ICHECK(n == 0, "no delegation left behind by the dead helper's (%d)", n);
    guest_down(&a);
}

static void case_hostile(const char *img)
{
    struct itest_agent a;
    grant_domid_t hid = 0;
    char line[64];
    int n;

    guest_up(&a, img, 1);
    say(&a, line, sizeof(line), "rw 600");
    ICHECK(!strcmp(line, "ok rw") && image_has(img, 600),
           "a hostile helper: the data still right: %s", line);
    ICHECK(log_count(" tries refused") == 6 && !log_count("PASSED a try") &&
               log_count("hostile io-helper: 120 of 120 tries refused"),
           "each delegated grant refused past its window, wider, the other "
           "way and re-delegated (6 requests)");
    n = helpers(&hid);
    ICHECK(n == 1, "the hostile helper is blkback's (domain %u)", hid);
    guest_down(&a);
}

/* The helper hangs on a request; the frontend closes: blkback stops the
 * queue at once (the helper destroyed), not after its 20 s timeout. */
static void case_hang(const char *img)
{
    struct itest_agent a;
    char line[64];
    struct timespec t0, t1;
    long ms;
    int n, closed;
    grant_domid_t hid = 0;

    guest_up(&a, img, 1);
    say(&a, line, sizeof(line), "hang");
    ICHECK(!strcmp(line, "go"), "a request the helper hangs on: %s", line);
    usleep(300000);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dprintf(a.to, "detach\n");
    closed = rf_wait_be_state(run.xb, a.domid, next_devid - 16,
                              XenbusStateClosed, 8000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ICHECK(closed && ms < 8000,
           "the frontend closed with the helper hung: blkback closed in %ld "
           "ms",
           ms);
    n = helpers(&hid);
    ICHECK(n == 0, "the hung helper destroyed with the queue (%d left)", n);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(run.dom0, a.domid);
}

/* No helper can start (a program that does not exist): the frontend
 * that agreed is served by blkback's own grant I/O. */
static void case_no_helper(const char *img)
{
    struct itest_agent a;
    char line[64];

    guest_up(&a, img, 1);
    say(&a, line, sizeof(line), "rw 700");
    ICHECK(!strcmp(line, "ok rw") && image_has(img, 700),
           "no helper: the data by blkback's own grant I/O: %s", line);
    ICHECK(log_count("cannot start the I/O helper domain") >= 1,
           "blkback said why");
    guest_down(&a);
}

static void restart(const char *const *args)
{
    grant_domid_t hid = 0;
    int st = 0;

    kill(run.bb, SIGTERM);
    waitpid(run.bb, &st, 0);
    ICHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "xgrant-blkback exits 0 on SIGTERM (0x%x)", st);
    st = helpers(&hid);
    ICHECK(st == 0, "its helper domains are gone with it (%d)", st);
    run.bb = rf_blkback_start(run.log, args);
}

int main(int argc, char **argv)
{
    const char *const args[] = {"--io-helper", "--max-queues", "1", NULL};
    const char *hostile_args[] = {"--io-helper",      "--max-queues", "1",
                                  "--io-helper-prog", itest_self(),   NULL};
    const char *const none_args[] = {"--io-helper", "--io-helper-prog",
                                     "/nonexistent/helper", NULL};
    char img[600];

    if (argc == 2 && !strcmp(argv[1], BBH_ARG))
        return bbh_helper_main(0, hostile);
    if (argc == 4 && !strcmp(argv[1], "--role"))
        return role_guest((unsigned)atoi(argv[2]), atoi(argv[3]));
    if (rf_run_begin(&run, "blk_iohelper", args) == 0) {
        snprintf(img, sizeof(img), "%s/disk.img", run.dir);
        ICHECK(image_make(img) == 0, "a 96 MiB image");
        case_data(img);
        case_revoke(img);
        case_kill(img);
        restart(hostile_args);
        case_hostile(img);
        case_hang(img);
        restart(none_args);
        case_no_helper(img);
    }
    return rf_run_end(&run);
}
