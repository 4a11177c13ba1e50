/* SPDX-License-Identifier: MIT */
/*
 * grant_io: grant I/O (grant_io, GNTX_OP_IO) through xgrantd.  Domain 0
 * (this program) is the grantee that asks the hypervisor to move bytes
 * between its files and windows other domains granted it:
 *   - READ (file -> grant) and WRITE (grant -> file), byte-exact, at odd
 *     offsets across pages, the bytes around the window and the file
 *     range untouched;
 *   - through an indirect grant (delegated and narrowed): the narrowed
 *     window and rights hold;
 *   - a READ past the end of the file: a short count;
 *   - the bytes never pass through the caller: its read/write byte
 *     counters (/proc/self/io) barely move and it maps nothing new;
 *   - every bad input (fd, file kind, direction, offsets, grants) gets
 *     its own -errno, and xgrantd keeps serving;
 *   - registered files (grant_io_register): named by id, the same checks;
 *   - an O_DIRECT file: unaligned windows and offsets work too.
 * grant_io_race.c races a revoke against a long I/O; protections are
 * checked there too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/itest.h"

#define PG 4096u

static char dir[512];

/* The agent's pattern (xgrant-guest's fill/check). */
static uint8_t pat(uint64_t seed, uint64_t i)
{
    return (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

/* A file of len bytes: byte k is fn(k); opened with flags. */
static int make_file(const char *name, size_t len, int byte, int flags)
{
    char path[600];
    uint8_t *b = malloc(len ? len : 1);
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !b) {
        fprintf(stderr, "grant_io: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    memset(b, byte, len);
    if (pwrite(fd, b, len, 0) != (ssize_t)len)
        exit(1);
    free(b);
    close(fd);
    fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        exit(1);
    return fd;
}

static int io1(grant_handle_t *h, int fd, unsigned dir_, grant_domid_t dom,
               grant_ref_t ref, uint64_t off, uint64_t file_off, uint64_t len,
               uint64_t *done)
{
    struct grant_io_seg s = {.fd = fd,
                             .dir = dir_,
                             .granter = dom,
                             .ref = ref,
                             .offset = off,
                             .file_off = file_off,
                             .len = len};
    int rc = grant_io(h, &s, 1);

    if (done)
        *done = s.done;
    return rc < 0 ? rc : s.status;
}

/* A revokes `ref`; then an I/O through (dom, use) fails -ESTALE. */
static void revoked_stale(grant_handle_t *dom0, struct itest_agent *a,
                          uint64_t ref, int fd, grant_domid_t dom, uint64_t use,
                          const char *what)
{
    itest_ok(a, "revoke 0x%llx", (unsigned long long)ref);
    ICHECK(io1(dom0, fd, GRANT_IO_READ, dom, (grant_ref_t)use, 0, 0, 10,
               NULL) == -ESTALE,
           "%s: -ESTALE", what);
}

/* rchar and wchar of this process (/proc/self/io). */
static void proc_io(uint64_t *rchar, uint64_t *wchar)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    unsigned long long v;

    *rchar = *wchar = 0;
    while (f && fgets(line, sizeof(line), f)) {
        if (sscanf(line, "rchar: %llu", &v) == 1)
            *rchar = v;
        if (sscanf(line, "wchar: %llu", &v) == 1)
            *wchar = v;
    }
    if (f)
        fclose(f);
}

/* Does this process map any of domain `name`'s memory (its memfd is
 * named after it)? */
static int maps_domain(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024], want[64];
    int n = 0;

    snprintf(want, sizeof(want), "memfd:%s ", name);
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, want) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* READ into a granted window across pages, byte-exact, nothing else
 * touched; the caller's own read counter does not see the bytes. */
static void case_read(grant_handle_t *dom0, struct itest_agent *a)
{
    enum { WIN_OFF = 100, WIN = 5 * PG, AT = 5, LEN = 4 * PG + 123 };
    uint8_t *b = malloc(LEN + 3000);
    uint64_t ref, done = 0, r0, w0, r1, w1;
    int fd;

    for (unsigned k = 0; k < LEN; k++)
        b[3000 + k] = pat(7, WIN_OFF + AT + k);
    fd = make_file("read.img", 0, 0, O_RDWR);
    ICHECK(pwrite(fd, b, LEN + 3000, 0) == LEN + 3000, "read.img written");
    free(b);
    itest_ok(a, "alloc 8");
    ref = itest_ok(a, "grant 0 rw 0 %u %u", WIN_OFF, WIN);
    proc_io(&r0, &w0);
    ICHECK(io1(dom0, fd, GRANT_IO_READ, a->domid, ref, AT, 3000, LEN, &done) ==
                   0 &&
               done == LEN,
           "READ of %u bytes into the window at offset %u (done %llu)", LEN, AT,
           (unsigned long long)done);
    proc_io(&r1, &w1);
    ICHECK(itest_ok(a, "check 0 %u %u 7", WIN_OFF + AT, LEN) == 0,
           "the granter's memory holds the file's bytes, byte-exact");
    ICHECK(itest_ok(a, "expect 0 0 %u 0", WIN_OFF + AT) == 0 &&
               itest_ok(a, "expect 0 %u %u 0", WIN_OFF + AT + LEN,
                        8 * PG - (WIN_OFF + AT + LEN)) == 0,
           "no byte before or after the range changed");
    ICHECK(r1 - r0 < LEN / 8 && w1 - w0 < LEN / 8,
           "the bytes never passed through the caller (rchar +%llu, wchar "
           "+%llu for %u bytes)",
           (unsigned long long)(r1 - r0), (unsigned long long)(w1 - w0), LEN);
    ICHECK(maps_domain(a->name) == 0,
           "the caller maps none of the granter's memory");
    {
        /* The check above sees a mapping when there is one. */
        uint64_t mref = itest_ok(a, "grant 0 rm 0 %u %u", 4 * PG, PG);
        void *m = NULL;

        ICHECK(grant_map(dom0, a->domid, (grant_ref_t)mref, 0, PG,
                         GRANT_MAP_RDONLY, &m) == 0 &&
                   maps_domain(a->name) > 0 && grant_unmap(dom0, m) == 0,
               "(a mapping of the granter's page is seen by that check)");
        itest_ok(a, "revoke 0x%llx", (unsigned long long)mref);
    }
    close(fd);
}

/* WRITE from a granted window to a file at an offset; the file around
 * it untouched. */
static void case_write(grant_handle_t *dom0, struct itest_agent *a)
{
    enum { WIN_OFF = 50, AT = 10, LEN = 3 * PG + 7, FOFF = 777, FLEN = 20000 };
    uint8_t *b = malloc(FLEN);
    uint64_t ref, done = 0, r0, w0, r1, w1;
    int fd = make_file("write.img", FLEN, 0xee, O_RDWR), bad = 0;

    itest_ok(a, "alloc 4");
    itest_ok(a, "fill 1 0 %u 9", 4 * PG);
    ref = itest_ok(a, "grant 0 r 1 %u %u", WIN_OFF, 3 * PG + 100);
    proc_io(&r0, &w0);
    ICHECK(io1(dom0, fd, GRANT_IO_WRITE, a->domid, ref, AT, FOFF, LEN, &done) ==
                   0 &&
               done == LEN,
           "WRITE of %u bytes from the window to the file at %u", LEN, FOFF);
    proc_io(&r1, &w1);
    ICHECK(pread(fd, b, FLEN, 0) == FLEN, "write.img read back");
    for (unsigned k = 0; k < FLEN; k++) {
        int in = k >= FOFF && k < FOFF + LEN;
        uint8_t want = in ? pat(9, WIN_OFF + AT + k - FOFF) : 0xee;

        bad += b[k] != want;
    }
    ICHECK(bad == 0,
           "the file holds the window's bytes, the rest untouched "
           "(%d bad)",
           bad);
    ICHECK(r1 - r0 < LEN / 8 && w1 - w0 < LEN / 8,
           "no byte passed through the caller (rchar +%llu, wchar +%llu)",
           (unsigned long long)(r1 - r0), (unsigned long long)(w1 - w0));
    /* The right each direction needs. */
    ICHECK(io1(dom0, fd, GRANT_IO_READ, a->domid, ref, 0, 0, 10, NULL) ==
               -EACCES,
           "READ into a read-only grant: -EACCES");
    free(b);
    close(fd);
}

/* Through a grant B delegated to us from A's, narrowed to a window and to
 * WRITE: READ works inside it only, WRITE needs READ. */
static void case_indirect(grant_handle_t *dom0, struct itest_agent *a,
                          struct itest_agent *b)
{
    int fd = make_file("ind.img", 3 * PG, 0, O_RDWR);
    uint8_t *buf = malloc(2 * PG);
    uint64_t ref, ind, done = 0;

    for (unsigned k = 0; k < 2 * PG; k++)
        buf[k] = pat(5, 3 * PG + 300 + 1000 + k);
    ICHECK(pwrite(fd, buf, 2 * PG, 0) == 2 * PG, "ind.img written");
    free(buf);
    itest_ok(a, "alloc 8");
    ref = itest_ok(a, "grant %u rwd 2 %u %u", b->domid, 3 * PG, 4 * PG);
    ind = itest_ok(b, "delegate 0 w %u 0x%llx 300 %u", a->domid,
                   (unsigned long long)ref, 2 * PG + 1000);
    ICHECK(io1(dom0, fd, GRANT_IO_READ, b->domid, ind, 1000, 0, 2 * PG,
               &done) == 0 &&
               done == 2 * PG,
           "READ through the delegated, narrowed grant");
    ICHECK(itest_ok(a, "check 2 %u %u 5", 3 * PG + 1300, 2 * PG) == 0 &&
               itest_ok(a, "expect 2 0 %u 0", 3 * PG + 1300) == 0,
           "the bytes landed in A's memory at the delegated window's place");
    ICHECK(io1(dom0, fd, GRANT_IO_READ, b->domid, ind, 1001, 0, 2 * PG, NULL) ==
               -ERANGE,
           "one byte past the narrowed window: -ERANGE");
    ICHECK(io1(dom0, fd, GRANT_IO_WRITE, b->domid, ind, 0, 0, 10, NULL) ==
               -EACCES,
           "WRITE through a WRITE-only delegation (READ dropped): -EACCES");
    ICHECK(io1(dom0, fd, GRANT_IO_READ, a->domid, ref, 0, 0, 10, NULL) ==
               -EPERM,
           "A's grant to B used by us (a foreign grant): -EPERM");
    revoked_stale(dom0, a, ref, fd, b->domid, ind,
                  "the delegation after its parent's revoke");
    close(fd);
}

/* A READ past the end of the file: a short count. */
static void case_eof(grant_handle_t *dom0, struct itest_agent *a)
{
    int fd = make_file("eof.img", 5000, 0x42, O_RDONLY);
    uint64_t ref, done = 99;

    itest_ok(a, "alloc 2");
    ref = itest_ok(a, "grant 0 w 3 0 %u", 2 * PG);
    int rc = io1(dom0, fd, GRANT_IO_READ, a->domid, ref, 0, 4000, 3000, &done);

    ICHECK(rc == 0 && done == 1000,
           "READ of 3000 bytes at 4000 of a 5000-byte file: 1000 (%d, %llu)",
           rc, (unsigned long long)done);
    ICHECK(itest_ok(a, "expect 3 0 1000 66") == 0 &&
               itest_ok(a, "expect 3 1000 2000 0") == 0,
           "the 1000 bytes arrived, nothing after them");
    ICHECK(io1(dom0, fd, GRANT_IO_READ, a->domid, ref, 0, 9000, 100, &done) ==
                   0 &&
               done == 0,
           "READ wholly past the end: 0 bytes, status 0");
    close(fd);
}

struct bad {
    const char *what;
    int fd;
    unsigned dir;
    uint64_t off, file_off, len;
    int want;
};

/* Every bad input: its own error, nothing moved, the daemon lives. */
static void case_bad(grant_handle_t *dom0, struct itest_agent *a)
{
    char path[600];
    int rw = make_file("bad.img", 2 * PG, 0x11, O_RDWR);
    int ro = make_file("bad-ro.img", 2 * PG, 0x11, O_RDONLY);
    int wo = make_file("bad-wo.img", 2 * PG, 0x11, O_WRONLY);
    int ap = make_file("bad-ap.img", 2 * PG, 0x11, O_WRONLY | O_APPEND);
    int pth, dfd, pp[2], closed = dup(rw);
    uint64_t ref, done;

    snprintf(path, sizeof(path), "%s/bad.img", dir);
    pth = open(path, O_PATH | O_CLOEXEC);
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ICHECK(pth >= 0 && dfd >= 0 && pipe(pp) == 0 && closed >= 0,
           "the bad files are ready");
    close(closed);
    itest_ok(a, "alloc 2");
    itest_ok(a, "fill 4 0 %u 3", 2 * PG);
    ref = itest_ok(a, "grant 0 rw 4 0 %u", 2 * PG);
    {
        const struct bad cases[] = {
            {"fd -1", -1, GRANT_IO_READ, 0, 0, 10, -EBADF},
            {"a closed fd", closed, GRANT_IO_READ, 0, 0, 10, -EBADF},
            {"an O_PATH fd", pth, GRANT_IO_READ, 0, 0, 10, -EBADF},
            {"an O_PATH fd (WRITE)", pth, GRANT_IO_WRITE, 0, 0, 10, -EBADF},
            {"READ from a write-only fd", wo, GRANT_IO_READ, 0, 0, 10, -EBADF},
            {"WRITE to a read-only fd", ro, GRANT_IO_WRITE, 0, 0, 10, -EBADF},
            {"WRITE to an O_APPEND fd", ap, GRANT_IO_WRITE, 0, 0, 10, -EINVAL},
            {"a pipe", pp[0], GRANT_IO_READ, 0, 0, 10, -ESPIPE},
            {"a directory", dfd, GRANT_IO_READ, 0, 0, 10, -EISDIR},
            {"unknown dir", rw, 7, 0, 0, 10, -EINVAL},
            {"file_off + len wraps", rw, GRANT_IO_READ, 0, UINT64_MAX - 5, 10,
             -EOVERFLOW},
            {"file_off + len past INT64_MAX", rw, GRANT_IO_READ, 0,
             INT64_MAX - 5, 10, -EOVERFLOW},
            {"offset + len wraps", rw, GRANT_IO_READ, UINT64_MAX - 5, 0, 10,
             -EOVERFLOW},
            {"past the window", rw, GRANT_IO_READ, 2 * PG - 5, 0, 10, -ERANGE},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            int rc = io1(dom0, cases[i].fd, cases[i].dir, a->domid, ref,
                         cases[i].off, cases[i].file_off, cases[i].len, &done);

            ICHECK(rc == cases[i].want && done == 0, "%s: %d (want %d)",
                   cases[i].what, rc, cases[i].want);
        }
    }
    ICHECK(io1(dom0, rw, GRANT_IO_READ, a->domid, ref + 1, 0, 0, 10, NULL) ==
               -ENOENT,
           "a ref never issued: -ENOENT");
    ICHECK(itest_ok(a, "check 4 0 %u 3", 2 * PG) == 0,
           "no bad call wrote a byte");
    /* A batch: the good segments go through beside the bad. */
    {
        struct grant_io_seg s[3] = {{.fd = rw,
                                     .dir = GRANT_IO_READ,
                                     .granter = a->domid,
                                     .ref = (grant_ref_t)ref,
                                     .offset = 0,
                                     .file_off = 0,
                                     .len = 100},
                                    {.fd = pth,
                                     .dir = GRANT_IO_READ,
                                     .granter = a->domid,
                                     .ref = (grant_ref_t)ref,
                                     .len = 100},
                                    {.fd = ro,
                                     .dir = GRANT_IO_READ,
                                     .granter = a->domid,
                                     .ref = (grant_ref_t)ref,
                                     .offset = 100,
                                     .len = 100}};
        int ok = grant_io(dom0, s, 3);

        ICHECK(ok == 2 && s[0].status == 0 && s[1].status == -EBADF &&
                   s[2].status == 0 && s[0].done == 100 && s[2].done == 100,
               "a batch is per segment (%d %d %d)", s[0].status, s[1].status,
               s[2].status);
        ICHECK(itest_ok(a, "expect 4 0 200 17") == 0,
               "the good segments of the batch moved");
    }
    revoked_stale(dom0, a, ref, rw, a->domid, ref, "a revoked grant");
    close(rw);
    close(ro);
    close(wo);
    close(ap);
    close(pth);
    close(dfd);
    close(pp[0]);
    close(pp[1]);
}

/* Registered files: named by id, no descriptor per call; their own bad
 * inputs. */
static void case_registered(grant_handle_t *dom0, struct itest_agent *a)
{
    int rw = make_file("reg.img", 3 * PG, 0x21, O_RDWR);
    int ro = make_file("reg-ro.img", PG, 0x22, O_RDONLY);
    int pp[2], ids[16], id, idro, n = 0, pth;
    char path[600];
    uint64_t ref, done = 0;

    snprintf(path, sizeof(path), "%s/reg.img", dir);
    pth = open(path, O_PATH | O_CLOEXEC);
    ICHECK(pipe(pp) == 0 && pth >= 0, "a pipe and an O_PATH fd");
    itest_ok(a, "alloc 3");
    ref = itest_ok(a, "grant 0 rw 5 0 %u", 3 * PG);
    id = grant_io_register(dom0, rw);
    idro = grant_io_register(dom0, ro);
    ICHECK(id >= 0 && idro >= 0, "two files registered (%d, %d)", id, idro);
    close(rw); /* the hypervisor keeps its own reference */
    ICHECK(io1(dom0, id, GRANT_IO_READ | GRANT_IO_FIXED, a->domid, ref, 10, 0,
               2 * PG, &done) == 0 &&
               done == 2 * PG,
           "READ from a registered file (its fd closed since)");
    ICHECK(itest_ok(a, "expect 5 10 %u 33", 2 * PG) == 0 &&
               itest_ok(a, "expect 5 0 10 0") == 0,
           "its bytes arrived");
    ICHECK(io1(dom0, idro, GRANT_IO_WRITE | GRANT_IO_FIXED, a->domid, ref, 0, 0,
               10, NULL) == -EBADF,
           "WRITE to a file registered read-only: -EBADF");
    ICHECK(io1(dom0, idro + 1000, GRANT_IO_READ | GRANT_IO_FIXED, a->domid, ref,
               0, 0, 10, NULL) == -EBADF,
           "an id never registered: -EBADF");
    ICHECK(grant_io_register(dom0, pth) == -EBADF,
           "registering O_PATH: -EBADF");
    ICHECK(grant_io_register(dom0, pp[0]) == -ESPIPE,
           "registering a pipe: -ESPIPE");
    ICHECK(grant_io_register(dom0, -1) == -EBADF, "registering fd -1: -EBADF");
    for (int i = 0; i < 16; i++) {
        ids[i] = grant_io_register(dom0, ro);
        n += ids[i] >= 0;
    }
    ICHECK(n == 14 && ids[15] == -ENOSPC,
           "16 files per handle, then -ENOSPC (%d more, last %d)", n, ids[15]);
    for (int i = 0; i < 16; i++)
        if (ids[i] >= 0)
            grant_io_unregister(dom0, ids[i]);
    ICHECK(grant_io_unregister(dom0, id) == 0 &&
               grant_io_unregister(dom0, id) == -EBADF,
           "unregistered once; twice: -EBADF");
    ICHECK(io1(dom0, id, GRANT_IO_READ | GRANT_IO_FIXED, a->domid, ref, 0, 0,
               10, NULL) == -EBADF,
           "an unregistered id: -EBADF");
    grant_io_unregister(dom0, idro);
    close(ro);
    close(pth);
    close(pp[0]);
    close(pp[1]);
}

/* An O_DIRECT file: aligned I/O goes straight to it, a byte-exact window
 * at an odd place through the daemon's buffered twin of it; both
 * byte-exact, registered or sent with the call. */
static void case_direct(grant_handle_t *dom0, struct itest_agent *a)
{
    int plain = make_file("direct.img", 4 * PG, 0x44, O_RDWR), fd, id;
    char path[600];
    uint8_t b[100];
    uint64_t ref, done = 0;

    snprintf(path, sizeof(path), "%s/direct.img", dir);
    fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        printf("# O_DIRECT case skipped: %s does not open O_DIRECT (%s)\n",
               path, strerror(errno));
        close(plain);
        return;
    }
    itest_ok(a, "alloc 4");
    ref = itest_ok(a, "grant 0 rw 6 0 %u", 4 * PG);
    ICHECK(io1(dom0, fd, GRANT_IO_READ, a->domid, ref, 0, 0, 2 * PG, &done) ==
                   0 &&
               done == 2 * PG,
           "O_DIRECT READ of two aligned pages");
    ICHECK(io1(dom0, fd, GRANT_IO_READ, a->domid, ref, 2 * PG + 5, 7, 1000,
               &done) == 0 &&
               done == 1000,
           "O_DIRECT file, unaligned window and offset: READ works");
    ICHECK(itest_ok(a, "expect 6 0 %u 68", 2 * PG) == 0 &&
               itest_ok(a, "expect 6 %u 1000 68", 2 * PG + 5) == 0 &&
               itest_ok(a, "expect 6 %u 5 0", 2 * PG) == 0,
           "both READs byte-exact");
    itest_ok(a, "fill 6 0 %u 11", 4 * PG);
    id = grant_io_register(dom0, fd);
    ICHECK(id >= 0, "an O_DIRECT file registers");
    ICHECK(io1(dom0, id, GRANT_IO_WRITE | GRANT_IO_FIXED, a->domid, ref, 3, 101,
               100, &done) == 0 &&
               done == 100,
           "O_DIRECT file, unaligned: WRITE through the registered file");
    ICHECK(pread(plain, b, 100, 101) == 100, "read back");
    done = 0;
    for (unsigned k = 0; k < 100; k++)
        done += b[k] != pat(11, 3 + k);
    ICHECK(done == 0, "the file holds the window's bytes");
    grant_io_unregister(dom0, id);
    close(fd);
    close(plain);
}

static int open_in_dir(const char *name, int flags)
{
    char path[600];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return open(path, flags | O_CLOEXEC);
}

static struct grant_io_seg seg(int fd, unsigned dir_, grant_domid_t dom,
                               uint64_t ref, uint64_t off, uint64_t file_off,
                               uint64_t len)
{
    return (struct grant_io_seg){.fd = fd,
                                 .dir = dir_,
                                 .granter = dom,
                                 .ref = (grant_ref_t)ref,
                                 .offset = off,
                                 .file_off = file_off,
                                 .len = len};
}

/* Bytes [off, off+len) of fd all pattern pat(seed, k - base)? */
static int file_is(int fd, uint64_t off, uint64_t len, uint64_t seed,
                   uint64_t base)
{
    uint8_t b[PG];
    int bad = len > PG || pread(fd, b, len, (off_t)off) != (ssize_t)len;

    for (uint64_t k = 0; !bad && k < len; k++)
        bad = b[k] != pat(seed, off + k - base);
    return !bad;
}

/* One call of many segments (xgrantd has those on an O_DIRECT file in
 * flight at once, io_uring; `direct`: the source and destination are): a
 * file not open for the direction, a revoked grant, a READ meeting the
 * end of the file and a window out of range among good READs; a WRITE
 * of memory a READ before it filled, and a READ of what that WRITE wrote
 * (the order shows).  Each segment gets its own answer, as alone. */
static void case_batch(grant_handle_t *dom0, struct itest_agent *a, int direct)
{
    enum { N = 9 };
    uint8_t *b = malloc(8 * PG);
    int src = make_file("batch-src.img", 0, 0, O_RDWR | direct);
    int dst = make_file("batch-dst.img", 2 * PG, 0x5a, O_RDWR | direct);
    int eof = make_file("batch-eof.img", 5000, 0x42, O_RDONLY);
    int ro = make_file("batch-ro.img", PG, 0, O_RDONLY);
    int out = make_file("batch-out.img", 0, 0, O_RDWR);
    int slot = (int)itest_ok(a, "alloc 8"), ok;
    uint64_t ref = itest_ok(a, "grant 0 rw %d 0 %u", slot, 8 * PG);
    uint64_t gone = itest_ok(a, "grant 0 rw %d 0 %u", slot, PG);
    grant_domid_t d = a->domid;
    struct grant_io_seg v[N] = {
        seg(src, GRANT_IO_READ, d, ref, 0, 0, PG),
        seg(ro, GRANT_IO_WRITE, d, ref, PG, 0, PG),          /* -EBADF */
        seg(src, GRANT_IO_READ, d, gone, 0, 0, PG),          /* -ESTALE */
        seg(src, GRANT_IO_READ, d, ref, 2 * PG, 2 * PG, PG), /* 0 */
        seg(eof, GRANT_IO_READ, d, ref, 3 * PG, 4000, 3000), /* 1000 */
        seg(src, GRANT_IO_READ, d, ref, 8 * PG - 10, 0, 20), /* -ERANGE */
        seg(dst, GRANT_IO_WRITE, d, ref, 0, PG, PG),         /* what 0 read */
        seg(dst, GRANT_IO_READ, d, ref, 5 * PG, PG, PG),     /* what 6 wrote */
        seg(src, GRANT_IO_READ, d, ref, 6 * PG, 6 * PG, PG),
    };
    const int want[N] = {0, -EBADF, -ESTALE, 0, 0, -ERANGE, 0, 0, 0};
    const uint64_t done[N] = {PG, 0, 0, PG, 1000, 0, PG, PG, PG};

    int wr = open_in_dir("batch-src.img", O_WRONLY); /* not O_DIRECT */

    for (unsigned k = 0; k < 8 * PG; k++)
        b[k] = pat(3, k);
    ICHECK(pwrite(wr, b, 8 * PG, 0) == 8 * PG, "batch-src.img written");
    close(wr);
    itest_ok(a, "revoke 0x%llx", (unsigned long long)gone);
    ok = grant_io(dom0, v, N);
    ICHECK(ok == 6, "a batch of %d segments%s: 6 succeed (%d)", N,
           direct ? " (O_DIRECT files)" : "", ok);
    for (unsigned i = 0; i < N; i++)
        ICHECK(v[i].status == want[i] && v[i].done == done[i],
               "segment %u: status %d done %llu (want %d, %llu)", i,
               v[i].status, (unsigned long long)v[i].done, want[i],
               (unsigned long long)done[i]);
    ICHECK(itest_ok(a, "check %d 0 %u 3", slot, PG) == 0 &&
               itest_ok(a, "check %d %u %u 3", slot, 2 * PG, PG) == 0 &&
               itest_ok(a, "check %d %u %u 3", slot, 6 * PG, PG) == 0,
           "the good READs' bytes arrived");
    ICHECK(itest_ok(a, "expect %d %u %u 66", slot, 3 * PG, 1000) == 0 &&
               itest_ok(a, "expect %d %u %u 0", slot, 3 * PG + 1000,
                        PG - 1000) == 0 &&
               itest_ok(a, "expect %d %u %u 0", slot, PG, PG) == 0,
           "the short READ stopped at the end; the refused ones moved nothing");
    wr = open_in_dir("batch-dst.img", O_RDONLY); /* not O_DIRECT */
    ICHECK(file_is(wr, PG, PG, 3, PG),
           "the WRITE sent what the READ before it filled");
    close(wr);
    ICHECK(io1(dom0, out, GRANT_IO_WRITE, d, ref, 5 * PG, 0, PG, NULL) == 0 &&
               file_is(out, 0, PG, 3, 0),
           "the READ after it read what it wrote");
    itest_ok(a, "free %d", slot);
    free(b);
    close(src);
    close(dst);
    close(eof);
    close(ro);
    close(out);
}

/* case_batch on O_DIRECT files, where the file system takes them. */
static void case_batch_direct(grant_handle_t *dom0, struct itest_agent *a)
{
    int fd = open_in_dir("direct.img", O_RDWR | O_DIRECT);

    if (fd < 0) {
        printf("# O_DIRECT batch skipped: %s/direct.img does not open "
               "O_DIRECT (%s)\n",
               dir, strerror(errno));
        return;
    }
    close(fd);
    case_batch(dom0, a, O_DIRECT);
}

int main(void)
{
    struct itest_agent a, b;
    grant_handle_t *dom0;
    char cmd[700];

    if (itest_mkdtemp(dir, sizeof(dir), "grant_io") < 0) {
        fprintf(stderr, "grant_io: no temp dir\n");
        return 1;
    }
    itest_setup(&dom0);
    ICHECK(grant_features(dom0) & GRANT_FEAT_IO, "xgrantd offers grant I/O");
    itest_spawn(dom0, &a, "io-granter", 64);
    itest_spawn(dom0, &b, "io-middle", 16);
    case_read(dom0, &a);
    case_write(dom0, &a);
    case_indirect(dom0, &a, &b);
    case_eof(dom0, &a);
    case_bad(dom0, &a);
    case_registered(dom0, &a);
    case_direct(dom0, &a);
    case_batch(dom0, &a, 0);
    case_batch_direct(dom0, &a);
    ICHECK(itest_ok(&a, "domid") == a.domid && itest_ok(&b, "domid") == b.domid,
           "xgrantd still serves every domain");
    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "grant_io: could not remove %s\n", dir);
    return itest_done();
}
