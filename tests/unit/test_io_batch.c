/* SPDX-License-Identifier: MIT */
/*
 * test_io_batch.c: GNTX_OP_IO in two phases (gcore_io_batch) against
 * gcore_io: the same call on the same memory and file comes out the same
 * (statuses, cursors, every byte of memory and of the file) whatever
 * order the host's submit moves the pieces in, whether it cuts pieces
 * short or fails them; and the per-element answers of a mixed batch.
 */
#include "tests/unit/iofile.h"
#include "tests/unit/tutil.h"

#define FILE_SIZE IOF_SIZE
#define F_OK      3u /* a file the host takes */
#define F_BAD     4u /* one it refuses (a bad descriptor) */
#define F_EIO     5u /* one whose I/O fails */
#define MEM_BYTES (FX_FRAMES * PG)

/* The fake file and what the host saw. */
static struct {
    uint8_t data[FILE_SIZE];
    uint64_t size;
    unsigned cut;       /* submit: every cut-th piece moves half, 0: none */
    unsigned time_from; /* submit: its call from which time is up (1..) */
    unsigned submits;   /* submit calls */
    unsigned pieces;    /* pieces in them */
    unsigned redone;    /* data calls of fn (gcore_io's, or redone pieces) */
    unsigned max_wave;  /* most pieces in one submit */
} file;

static void file_reset(void)
{
    memset(&file, 0, sizeof(file));
    iof_fill(file.data, &file.size);
}

static long file_move(unsigned dir, uint64_t off, const struct gcore_iov *iov,
                      unsigned n)
{
    return iof_move(file.data, &file.size, dir, off, iov, n);
}

static long hook(void *ctx, uint32_t f, unsigned dir, uint64_t off,
                 const struct gcore_iov *iov, unsigned n)
{
    (void)ctx;
    if (f == F_BAD || (f != F_OK && f != F_EIO))
        return -GNTX_EBADF;
    if (!iov)
        return 0;
    assert_true(n >= 1 && n <= GCORE_IO_IOV);
    file.redone++;
    return f == F_EIO ? -5 /* EIO */ : file_move(dir, off, iov, n);
}

static uint64_t piece_len(const struct gcore_io_piece *p)
{
    uint64_t len = 0;

    for (unsigned i = 0; i < p->niov; i++)
        len += p->iov[i].len;
    return len;
}

/* One piece as a host in a hurry moves it: every cut-th only half. */
static long submit_one(const struct gcore_io_piece *p, unsigned i)
{
    struct gcore_iov iov[GCORE_IO_IOV];
    uint64_t want = piece_len(p), half = want / 2;
    unsigned n = 0;

    if (p->file == F_EIO)
        return -5 /* EIO */;
    if (!file.cut || i % file.cut || !half)
        return file_move(p->dir, p->file_off, p->iov, p->niov);
    for (unsigned k = 0; k < p->niov && half; k++) {
        uint64_t l = p->iov[k].len < half ? p->iov[k].len : half;

        iov[n++] = (struct gcore_iov){p->iov[k].base, (size_t)l};
        half -= l;
    }
    return file_move(p->dir, p->file_off, iov, n);
}

/* The host's submit: chains (a piece and those linked after it) last
 * first, each in order; a linked piece after one that did not move all
 * is skipped. */
static int submit(void *ctx, struct gcore_io_piece *p, unsigned n)
{
    (void)ctx;
    assert_int_equal(th_lock_depth(), 1);
    file.submits++;
    file.pieces += n;
    file.max_wave = n > file.max_wave ? n : file.max_wave;
    if (file.time_from && file.submits >= file.time_from)
        return -GNTX_EAGAIN;
    for (unsigned end = n; end > 0;) {
        unsigned start = end - 1;

        while (start > 0 && p[start].link)
            start--;
        for (unsigned i = start; i < end; i++) {
            bool skip =
                i > start && (p[i - 1].res < 0 ||
                              (uint64_t)p[i - 1].res != piece_len(&p[i - 1]));

            p[i].res = skip ? -GNTX_ECANCELED : submit_one(&p[i], i);
        }
        end = start;
    }
    return 0;
}

static struct gntx_io io_el(gntx_ref_t ref, uint8_t dir, uint64_t off,
                            uint64_t foff, uint64_t len, uint32_t f)
{
    return (struct gntx_io){.dom = 1,
                            .dir = dir,
                            .ref = ref,
                            .offset = off,
                            .len = len,
                            .file_off = foff,
                            .file = f};
}

static int run_batch(struct fx *f, struct gntx_io *v, unsigned n)
{
    return BAL(gcore_io_batch(f->c, 2, v, n, hook, submit, NULL));
}

/* The same call both ways, from the same memory and file: the same. */
static void same_both_ways(struct fx *f, const struct gntx_io *v, unsigned n)
{
    static uint8_t mem0[MEM_BYTES], mem_a[MEM_BYTES], file_a[FILE_SIZE];
    struct gntx_io a[32], b[32];
    uint64_t size0 = file.size, size_a;
    int ok_a, ok_b;

    assert_true(n <= 32);
    memcpy(mem0, th_dom_mem(f->d[1], 0), MEM_BYTES);
    memcpy(file_a, file.data, FILE_SIZE);
    memcpy(a, v, n * sizeof(*v));
    ok_a = BAL(gcore_io(f->c, 2, a, n, hook, NULL));
    memcpy(mem_a, th_dom_mem(f->d[1], 0), MEM_BYTES);
    size_a = file.size;
    /* Back to where it began, file_a becomes gcore_io's file. */
    memcpy(th_dom_mem(f->d[1], 0), mem0, MEM_BYTES);
    for (unsigned i = 0; i < FILE_SIZE; i++) {
        uint8_t t = file.data[i];

        file.data[i] = file_a[i];
        file_a[i] = t;
    }
    file.size = size0;
    memcpy(b, v, n * sizeof(*v));
    ok_b = run_batch(f, b, n);
    assert_int_equal(ok_b, ok_a);
    for (unsigned i = 0; i < n; i++) {
        assert_int_equal(b[i].status, a[i].status);
        assert_int_equal(b[i].done, a[i].done);
        assert_int_equal(b[i].len, a[i].len);
        assert_int_equal(b[i].offset, a[i].offset);
        assert_int_equal(b[i].file_off, a[i].file_off);
    }
    assert_memory_equal(th_dom_mem(f->d[1], 0), mem_a, MEM_BYTES);
    assert_int_equal(file.size, size_a);
    assert_memory_equal(file.data, file_a, FILE_SIZE);
}

static uint32_t rnd(uint32_t *s, uint32_t below)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) % below;
}

/* Random batches over overlapping windows and file ranges, past the end
 * of the file, with bad elements among them, under budgets that cut
 * them, the host cutting pieces short: the same both ways. */
static void random_batches(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[4] = {9, 3, 4, 12};
    gntx_ref_t refs[5] = {
        fx_direct_ok(f, 1, 2, R_RW, 0, 100, 5 * PG),
        fx_direct_ok(f, 1, 2, GNTX_R_READ, 2, 0, 3 * PG),
        fx_scattered(f, 1, 2, R_RW, fr, 4, 0, 4 * PG),
        fx_direct_ok(f, 1, 2, GNTX_R_WRITE, 6, 10, 2 * PG),
        fx_direct_ok(f, 1, 2, R_RW, 7, 0, PG),
    };
    const uint64_t budgets[4] = {0, 5000, 3 * PG, 20000};
    uint32_t s = 12345;

    assert_int_equal(fx_revoke(f, 1, refs[4], 0), 0); /* ESTALE */
    for (unsigned round = 0; round < 300; round++) {
        struct gntx_io v[32];
        unsigned n = 1 + rnd(&s, 24);

        file_reset();
        file.size = FILE_SIZE - rnd(&s, 3) * 20000;
        file.cut = rnd(&s, 4);
        gcore_set_io_bytes(f->c, budgets[rnd(&s, 4)]);
        for (unsigned i = 0; i < n; i++) {
            uint32_t kind = rnd(&s, 40);

            v[i] =
                io_el(refs[rnd(&s, 5)], (uint8_t)rnd(&s, 2), rnd(&s, 3 * PG),
                      rnd(&s, FILE_SIZE - 3 * PG), rnd(&s, 2 * PG + 1), F_OK);
            if (kind == 0)
                v[i].dir = 2; /* EINVAL */
            else if (kind == 1)
                v[i].file = F_BAD;
            else if (kind == 2)
                v[i].file = F_EIO;
            else if (kind < 6)
                v[i].file_off = FILE_SIZE - rnd(&s, PG); /* the end */
        }
        same_both_ways(f, v, n);
    }
    gcore_set_io_bytes(f->c, 0);
}

/* A mixed batch in one wave: a bad file, a revoked grant, a window out
 * of range and a READ meeting the end of the file among good elements;
 * each gets its own answer and the good ones move. */
static void mixed_batch(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 8 * PG);
    gntx_ref_t gone = fx_direct_ok(f, 1, 2, R_RW, 8, 0, PG);
    struct gntx_io v[7] = {
        io_el(r, GNTX_IO_READ, 0, 0, PG, F_OK),
        io_el(r, GNTX_IO_READ, PG, PG, PG, F_BAD),
        io_el(gone, GNTX_IO_READ, 0, 0, PG, F_OK),
        io_el(r, GNTX_IO_READ, 2 * PG, 2 * PG, PG, F_OK),
        io_el(r, GNTX_IO_READ, 8 * PG - 10, 0, 20, F_OK),
        io_el(r, GNTX_IO_READ, 3 * PG, FILE_SIZE - 100, PG, F_OK),
        io_el(r, GNTX_IO_READ, 4 * PG, 4 * PG, 2 * PG, F_EIO),
    };

    file_reset();
    assert_int_equal(fx_revoke(f, 1, gone, 0), 0);
    assert_int_equal(run_batch(f, v, 7), 3);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[0].done, PG);
    assert_int_equal(v[1].status, -GNTX_EBADF);
    assert_int_equal(v[2].status, -GNTX_ESTALE);
    assert_int_equal(v[3].status, 0);
    assert_int_equal(v[3].done, PG);
    assert_int_equal(v[4].status, -GNTX_ERANGE);
    assert_int_equal(v[5].status, 0); /* the end of the file: short */
    assert_int_equal(v[5].done, 100);
    assert_int_equal(v[5].len, PG - 100);
    assert_int_equal(v[6].status, -5 /* EIO */);
    assert_int_equal(v[6].done, 0);
    for (unsigned i = 1; i < 7; i++)
        assert_int_equal(v[i].done == 0, i != 3 && i != 5);
    /* One wave for the four that moved; fn asked again for the failed
     * one and for the rest of the short one (as preadv's loop does). */
    assert_int_equal(file.submits, 1);
    assert_int_equal(file.pieces, 4);
    assert_int_equal(file.redone, 2);
    assert_memory_equal(th_dom_mem(f->d[1], 0), file.data, PG);
    assert_int_equal(*th_dom_mem(f->d[1], PG), 0);
    assert_memory_equal(th_dom_mem(f->d[1], 2 * PG), file.data + 2 * PG, PG);
    assert_memory_equal(th_dom_mem(f->d[1], 3 * PG),
                        file.data + FILE_SIZE - 100, 100);
    assert_int_equal(*th_dom_mem(f->d[1], 3 * PG + 100), 0);
}

/* Elements whose order shows are in separate waves: a READ into memory a
 * later WRITE sends out, a WRITE a later READ reads back; disjoint ones
 * share one. */
static void overlap_waves(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 4 * PG);
    struct gntx_io v[4] = {
        io_el(r, GNTX_IO_READ, 0, 8 * PG, PG, F_OK),
        io_el(r, GNTX_IO_WRITE, 0, 0, PG, F_OK), /* the memory just read */
        io_el(r, GNTX_IO_READ, PG, 0, PG, F_OK), /* the file just written */
        io_el(r, GNTX_IO_READ, 2 * PG, 9 * PG, PG, F_OK), /* neither */
    };
    uint8_t want[PG];

    file_reset();
    memcpy(want, file.data + 8 * PG, PG);
    assert_int_equal(run_batch(f, v, 4), 4);
    assert_memory_equal(file.data, want, PG);
    assert_memory_equal(th_dom_mem(f->d[1], PG), want, PG);
    assert_int_equal(file.submits, 3);
    assert_int_equal(file.max_wave, 2);
    /* Reads of disjoint memory: one wave, whatever the file ranges. */
    for (unsigned i = 0; i < 4; i++)
        v[i] = io_el(r, GNTX_IO_READ, i * PG, 0, PG, F_OK);
    file.submits = 0;
    assert_int_equal(run_batch(f, v, 4), 4);
    assert_int_equal(file.submits, 1);
    assert_int_equal(file.max_wave, 4);
}

/* The host's time, asked per wave once something moved: the wave and
 * what follows come back -EAGAIN unmoved; asked before anything moved it
 * is not believed (all through fn).  A revoke before the resubmission
 * stops the rest, the prefix kept. */
static void time_and_revoke(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 4 * PG);
    struct gntx_io v[3] = {
        io_el(r, GNTX_IO_READ, 0, 0, PG, F_OK),
        io_el(r, GNTX_IO_WRITE, 0, 0, PG, F_OK), /* a second wave */
        io_el(r, GNTX_IO_READ, 2 * PG, 0, PG, F_OK),
    };

    file_reset();
    file.time_from = 2;
    assert_int_equal(run_batch(f, v, 3), 1);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[0].done, PG);
    assert_int_equal(v[1].status, -GNTX_EAGAIN);
    assert_int_equal(v[1].done, 0);
    assert_int_equal(v[1].offset, 0);
    assert_int_equal(v[2].status, -GNTX_EAGAIN);
    assert_int_equal(v[2].done, 0);
    assert_int_equal(*th_dom_mem(f->d[1], 2 * PG), 0);
    file.submits = 0;
    file.time_from = 1; /* before anything moved: not believed */
    assert_int_equal(run_batch(f, &v[1], 1), 1);
    assert_int_equal(v[1].done, PG);
    assert_int_equal(file.redone, 1);
    /* Budget cut, revoke, resubmission: ESTALE, the prefix kept. */
    file_reset();
    memset(th_dom_mem(f->d[1], 0), 0, 4 * PG);
    gcore_set_io_bytes(f->c, 5000);
    v[0] = io_el(r, GNTX_IO_READ, 0, 0, 3 * PG, F_OK);
    v[1] = io_el(r, GNTX_IO_WRITE, 0, 0, PG, F_OK);
    v[2] = io_el(r, GNTX_IO_READ, 3 * PG, 3 * PG, PG, F_OK);
    assert_int_equal(run_batch(f, v, 3), 0);
    assert_int_equal(v[0].status, -GNTX_EAGAIN);
    assert_int_equal(v[0].done, 5000);
    assert_int_equal(v[2].status, -GNTX_EAGAIN);
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    assert_int_equal(run_batch(f, v, 3), 0);
    assert_int_equal(v[0].status, -GNTX_ESTALE);
    assert_int_equal(v[0].done, 5000);
    assert_int_equal(v[2].status, -GNTX_ESTALE);
    assert_memory_equal(th_dom_mem(f->d[1], 0), file.data, 5000);
    assert_int_equal(*th_dom_mem(f->d[1], 5000), 0);
    assert_int_equal(*th_dom_mem(f->d[1], 3 * PG), 0);
    gcore_set_io_bytes(f->c, 0);
}

/* A frame the host cannot reach ends its element EFAULT after what moved
 * before it, as gcore_io; the others move. */
static void missing_frame(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 4 * PG);
    struct gntx_io v[3] = {
        io_el(r, GNTX_IO_READ, 0, 0, 2 * PG, F_OK),
        io_el(r, GNTX_IO_READ, PG, 0, PG, F_OK),
        io_el(r, GNTX_IO_READ, 2 * PG, 0, PG, F_OK),
    };

    file_reset();
    th_fail_frame(f->d[1], 1);
    same_both_ways(f, v, 3);
    assert_int_equal(run_batch(f, v, 3), 1);
    assert_int_equal(v[0].status, -GNTX_EFAULT);
    assert_int_equal(v[0].done, PG);
    assert_int_equal(v[1].status, -GNTX_EFAULT);
    assert_int_equal(v[1].done, 0);
    assert_int_equal(v[2].status, 0);
}

/* The granter's protections: an element they deny gets -EACCES, the
 * others move; each element of a protected owner completes the wave
 * before it (its check may write a fault record into memory the wave
 * fills), so each moves in a wave of its own. */
static void protected_owner(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 6 * PG);
    struct gntx_protect p = {
        .gfn = 3, .nr = 1, .access = GNTX_ACC_R, .action = GNTX_ACT_DENY};
    struct gntx_io v[4] = {
        io_el(r, GNTX_IO_READ, 0, 0, PG, F_OK),
        io_el(r, GNTX_IO_READ, 3 * PG, PG, PG, F_OK), /* denied */
        io_el(r, GNTX_IO_WRITE, 3 * PG, 2 * PG, PG, F_OK),
        io_el(r, GNTX_IO_READ, 4 * PG, 4 * PG, PG, F_OK),
    };

    file_reset();
    assert_int_equal(BAL(gcore_protect(f->c, 1, &p, 1)), 1);
    same_both_ways(f, v, 4);
    file.submits = 0;
    assert_int_equal(run_batch(f, v, 4), 3);
    assert_int_equal(v[1].status, -GNTX_EACCES);
    assert_int_equal(v[1].done, 0);
    assert_int_equal(v[2].done, PG);
    assert_int_equal(file.submits, 3);
}

/* No memory for a wave: the call goes one piece at a time (gcore_io),
 * with the same answers. */
static void no_memory(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 4 * PG);
    struct gntx_io v[2] = {
        io_el(r, GNTX_IO_READ, 0, 0, PG, F_OK),
        io_el(r, GNTX_IO_READ, PG, FILE_SIZE - 10, PG, F_OK),
    };

    file_reset();
    th_fail_alloc_after(0);
    assert_int_equal(run_batch(f, v, 2), 2);
    th_fail_alloc_after(-1);
    assert_int_equal(v[0].done, PG);
    assert_int_equal(v[1].done, 10);
    assert_int_equal(file.submits, 0);
    assert_int_equal(file.redone, 2);
    assert_memory_equal(th_dom_mem(f->d[1], 0), file.data, PG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(mixed_batch),     FX_TEST(overlap_waves),
        FX_TEST(time_and_revoke), FX_TEST(missing_frame),
        FX_TEST(protected_owner), FX_TEST(no_memory),
        FX_TEST(random_batches),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
