/* SPDX-License-Identifier: MIT */
/* test_mapcheck.c: tools/xgrantd/mapcheck.c: frames as runs, the per-frame
 * count that decides whether a mapper still maps a mapping, and the scan
 * of /proc/<pid>/maps (on this process). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tools/xgrantd/private.h"

static void runs_sorted_and_merged(void **state)
{
    static const uint64_t frames[] = {7, 8, 9, 3, 4, 20};
    struct xd_run *r;
    uint32_t n;

    (void)state;
    assert_int_equal(xd_runs_make(frames, 6, &r, &n), 0);
    assert_int_equal(n, 3);
    assert_true(r[0].first == 3 && r[0].nr == 2);
    assert_true(r[1].first == 7 && r[1].nr == 3);
    assert_true(r[2].first == 20 && r[2].nr == 1);
    free(r);
}

/* Domain 2 maps domain 1's frames; process 100 holds A (frames 10, 11)
 * and B (frame 10). */
struct fx {
    struct xd_dom d;
    struct xd_conn c, other;
    struct xd_map maps[2];
    struct xd_run ra, rb;
};

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof(*f));
    f->d.id = 2;
    f->c.pid = 100;
    f->other.pid = 200;
    f->ra = (struct xd_run){10, 2};
    f->rb = (struct xd_run){10, 1};
    f->maps[0] = (struct xd_map){1, 1, &f->c, &f->ra, 1, false};
    f->maps[1] = (struct xd_map){2, 1, &f->c, &f->rb, 1, false};
    f->d.maps = f->maps;
    f->d.nmaps = 2;
}

static bool lingers(struct fx *f, const struct xd_run *v, size_t n)
{
    struct xd_vmas vm = {(struct xd_run *)v, n, n};

    return xd_map_lingers(&vm, &f->d, &f->maps[0], NULL);
}

static void lingering_counts_per_frame(void **state)
{
    static const struct xd_run b_only[] = {{10, 1}};
    static const struct xd_run copy[] = {{10, 1}, {10, 2}};
    static const struct xd_run elsewhere[] = {{0, 10}, {12, 4}};
    struct fx f;

    (void)state;
    fx_init(&f);
    /* A gone, B's page still there: B accounts for it. */
    assert_false(lingers(&f, b_only, 1));
    assert_false(lingers(&f, elsewhere, 2));
    assert_false(lingers(&f, NULL, 0));
    /* A copy of A's pages kept besides B's. */
    assert_true(lingers(&f, copy, 2));
    /* B is unmapped by the same call: it excuses nothing. */
    f.maps[1].checking = true;
    assert_true(lingers(&f, b_only, 1));
    /* B held by another process: it excuses nothing either. */
    fx_init(&f);
    f.maps[1].conn = &f.other;
    assert_true(lingers(&f, b_only, 1));
    /* The mapper's own memory is never kept from it. */
    fx_init(&f);
    f.maps[0].owner = 2;
    assert_false(lingers(&f, copy, 2));
}

struct seen {
    uint64_t first[8], nr[8];
    int n;
};

static int collect(void *arg, uint64_t first, uint64_t nr)
{
    struct seen *s = arg;

    if (s->n < 8) {
        s->first[s->n] = first;
        s->nr[s->n++] = nr;
    }
    return 0;
}

static void scan_own_maps(void **state)
{
    struct seen s = {0};
    struct stat st;
    uint8_t *p, *q;
    int fd;

    (void)state;
    fd = memfd_create("test-mapcheck", MFD_CLOEXEC);
    assert_true(fd >= 0 && ftruncate(fd, 16 * 4096) == 0);
    assert_int_equal(fstat(fd, &st), 0);
    p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4 * 4096);
    assert_true(p != MAP_FAILED);
    assert_int_equal(
        xd_proc_maps_each(getpid(), st.st_dev, st.st_ino, collect, &s), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.first[0] == 4 && s.nr[0] == 3);
    /* A second mapping of the same pages shows as well. */
    q = mremap(p, 0, 4096, MREMAP_MAYMOVE);
    assert_true(q != MAP_FAILED);
    s.n = 0;
    assert_int_equal(
        xd_proc_maps_each(getpid(), st.st_dev, st.st_ino, collect, &s), 0);
    assert_int_equal(s.n, 2);
    munmap(p, 3 * 4096);
    munmap(q, 4096);
    s.n = 0;
    assert_int_equal(
        xd_proc_maps_each(getpid(), st.st_dev, st.st_ino, collect, &s), 0);
    assert_int_equal(s.n, 0);
    close(fd);
}

/* Lines longer than the parser keeps (a long file path) and lines split
 * across reads do not hide a mapping. */
static void scan_past_long_lines(void **state)
{
    char dir[] = "/tmp/test-mapcheck-XXXXXX", path[1024];
    void *files[40];
    struct seen s = {0};
    struct stat st;
    int fd, ffd;
    uint8_t *p;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/%0200d", dir, 0);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path + strlen(path), sizeof(path) - strlen(path), "/%0200d", 1);
    ffd = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(ffd >= 0 && ftruncate(ffd, 40 * 4096) == 0);
    /* 40 separate long lines (alternating protections keep them apart). */
    for (int i = 0; i < 40; i++) {
        files[i] = mmap(NULL, 4096, i % 2 ? PROT_READ : PROT_WRITE, MAP_SHARED,
                        ffd, i * 4096);
        assert_true(files[i] != MAP_FAILED);
    }
    fd = memfd_create("test-mapcheck", MFD_CLOEXEC);
    assert_true(fd >= 0 && ftruncate(fd, 4096) == 0 && fstat(fd, &st) == 0);
    p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(
        xd_proc_maps_each(getpid(), st.st_dev, st.st_ino, collect, &s), 0);
    assert_int_equal(s.n, 1);
    munmap(p, 4096);
    for (int i = 0; i < 40; i++)
        munmap(files[i], 4096);
    close(fd);
    close(ffd);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_sorted_and_merged),
        cmocka_unit_test(lingering_counts_per_frame),
        cmocka_unit_test(scan_own_maps),
        cmocka_unit_test(scan_past_long_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
