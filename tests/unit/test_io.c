/* SPDX-License-Identifier: MIT */
/* test_io.c: GNTX_OP_IO, the core's half (gcore_io) against a file kept in
 * memory by the test's hook. */
#include "tests/unit/iofile.h"
#include "tests/unit/tutil.h"

#define FILE_SIZE IOF_SIZE

/* The fake file and what the hook saw. */
static struct {
    uint8_t data[FILE_SIZE];
    uint64_t size;          /* bytes of data that exist */
    int check_rc;           /* what the n == 0 check answers */
    long lie;               /* > 0: the hook claims this many bytes more */
    unsigned time_after;    /* > 0: data calls after this many: -EAGAIN */
    unsigned calls, pieces; /* data calls, pieces in them */
    long depth;             /* the core lock's depth in the hook */
} file;

static long hook(void *ctx, uint32_t f, unsigned dir, uint64_t off,
                 const struct gcore_iov *iov, unsigned n)
{
    assert_ptr_equal(ctx, &file);
    assert_int_equal(f, 3);
    file.depth = th_lock_depth();
    if (!iov)
        return file.check_rc;
    if (file.time_after && file.calls >= file.time_after)
        return -GNTX_EAGAIN; /* the host's time for the call is up */
    file.calls++;
    file.pieces += n;
    assert_true(n >= 1 && n <= GCORE_IO_IOV);
    return iof_move(file.data, &file.size, dir, off, iov, n) + file.lie;
}

static void file_reset(void)
{
    memset(&file, 0, sizeof(file));
    iof_fill(file.data, &file.size);
}

static struct gntx_io io_el(uint16_t dom, gntx_ref_t ref, uint8_t dir,
                            uint64_t off, uint64_t foff, uint64_t len)
{
    return (struct gntx_io){.dom = dom,
                            .dir = dir,
                            .ref = ref,
                            .offset = off,
                            .len = len,
                            .file_off = foff,
                            .file = 3};
}

static int io1(struct fx *f, gntx_domid_t caller, struct gntx_io *v)
{
    int ok = BAL(gcore_io(f->c, caller, v, 1, hook, &file));

    assert_int_equal(ok, v->status == 0);
    return v->status;
}

/* READ and WRITE over scattered frames: byte-exact, pages joined only
 * where the host maps them back to back, the hook under the lock. */
static void read_write_scattered(void **state)
{
    struct fx *f = *state;
    const uint64_t fr[4] = {5, 6, 2, 9};
    gntx_ref_t r = fx_scattered(f, 1, 2, R_RW, fr, 4, 100, 3 * PG + 500);
    struct gntx_io v = io_el(1, r, GNTX_IO_READ, 50, 1000, 3 * PG);

    file_reset();
    assert_int_equal(io1(f, 2, &v), 0);
    assert_int_equal(v.done, 3 * PG);
    assert_int_equal(v.len, 0);
    assert_int_equal(v.offset, 50 + 3 * PG);
    assert_int_equal(v.file_off, 1000 + 3 * PG);
    assert_int_equal(file.depth, 1);
    assert_int_equal(file.calls, 1);
    assert_int_equal(file.pieces, 3); /* frames 5+6, 2, 9 */
    for (uint64_t i = 0; i < 3 * PG; i++)
        assert_int_equal(*fx_gbyte(f, 1, fr, 100, 50 + i), file.data[1000 + i]);
    assert_int_equal(*fx_gbyte(f, 1, fr, 100, 49), 0);
    /* And back out, somewhere else in the file. */
    v = io_el(1, r, GNTX_IO_WRITE, 50, 20000, 3 * PG);
    assert_int_equal(io1(f, 2, &v), 0);
    assert_memory_equal(file.data + 20000, file.data + 1000, 3 * PG);
}

/* The rights each direction needs, the window, and the other refusals:
 * nothing moves, the hook is never asked for data. */
static void refusals(void **state)
{
    struct fx *f = *state;
    gntx_ref_t ro = fx_direct_ok(f, 1, 2, GNTX_R_READ, 0, 0, 2 * PG);
    gntx_ref_t wo = fx_direct_ok(f, 1, 2, GNTX_R_WRITE, 0, 0, 2 * PG);
    struct gntx_io v;

    file_reset();
    v = io_el(1, ro, GNTX_IO_READ, 0, 0, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EACCES);
    v = io_el(1, wo, GNTX_IO_WRITE, 0, 0, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EACCES);
    v = io_el(1, wo, GNTX_IO_READ, 2 * PG - 5, 0, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_ERANGE);
    v = io_el(1, wo, GNTX_IO_READ, 0, 0, 10);
    assert_int_equal(io1(f, 3, &v), -GNTX_EPERM); /* not the grantee */
    v = io_el(1, wo, 2, 0, 0, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EINVAL);
    v = io_el(1, wo, GNTX_IO_READ, 0, 0, 10);
    v.pad = 1;
    assert_int_equal(io1(f, 2, &v), -GNTX_EINVAL);
    v = io_el(1, wo, GNTX_IO_READ, 0, UINT64_MAX - 3, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EOVERFLOW);
    v = io_el(1, wo, GNTX_IO_READ, 0, GNTX_IO_FILE_OFF_MAX - 3, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EOVERFLOW);
    v = io_el(1, wo, GNTX_IO_READ, UINT64_MAX - 3, 0, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EOVERFLOW);
    file.check_rc = -GNTX_EBADF; /* the host refuses the file */
    v = io_el(1, wo, GNTX_IO_READ, 0, 0, 10);
    assert_int_equal(io1(f, 2, &v), -GNTX_EBADF);
    assert_int_equal(v.done, 0);
    assert_int_equal(file.calls, 0);
    assert_int_equal(*th_dom_mem(f->d[1], 0), 0);
    /* gcore_hypercall has no file I/O (Xen's answer). */
    v = io_el(1, wo, GNTX_IO_READ, 0, 0, 10);
    assert_int_equal(BAL(gcore_hypercall(f->c, 2, GNTX_OP_IO, &v, 1, NULL, 0)),
                     -GNTX_EOPNOTSUPP);
    assert_int_equal(BAL(gcore_io(f->c, 2, &v, 1, NULL, NULL)),
                     -GNTX_EOPNOTSUPP);
}

/* The end of the file: a short count with status 0. */
static void short_read(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    struct gntx_io v = io_el(1, r, GNTX_IO_READ, 0, 0, 3 * PG);

    file_reset();
    file.size = 5000;
    assert_int_equal(io1(f, 2, &v), 0);
    assert_int_equal(v.done, 5000);
    assert_int_equal(v.len, 3 * PG - 5000);
    assert_int_equal(*th_dom_mem(f->d[1], 5000), 0);
}

/* A host that claims more than it moved is not believed; one that fails
 * after a prefix keeps the prefix counted. */
static void host_errors(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    struct gntx_io v = io_el(1, r, GNTX_IO_READ, 0, 0, 3 * PG);

    file_reset();
    file.lie = 1;
    assert_int_equal(io1(f, 2, &v), -GNTX_EFAULT);
    assert_int_equal(v.done, 0);
    file_reset();
    th_fail_frame(f->d[1], 1); /* the host cannot reach frame 1 */
    v = io_el(1, r, GNTX_IO_READ, 0, 0, 3 * PG);
    assert_int_equal(io1(f, 2, &v), -GNTX_EFAULT); /* after frame 0 */
    assert_int_equal(v.done, PG);
    assert_memory_equal(th_dom_mem(f->d[1], 0), file.data, PG);
    v = io_el(1, r, GNTX_IO_READ, PG, 0, PG);
    assert_int_equal(io1(f, 2, &v), -GNTX_EFAULT);
    assert_int_equal(v.done, 0);
}

/* The budget cuts an element; the rest comes back EAGAIN; a revoke in
 * between stops the rest with the prefix counted. */
static void budget_and_revoke(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    struct gntx_io v[2] = {io_el(1, r, GNTX_IO_READ, 10, 0, 9000),
                           io_el(1, r, GNTX_IO_READ, 0, 0, 1)};

    file_reset();
    gcore_set_io_bytes(f->c, 4000);
    assert_int_equal(BAL(gcore_io(f->c, 2, v, 2, hook, &file)), 0);
    assert_int_equal(v[0].status, -GNTX_EAGAIN);
    assert_int_equal(v[0].done, 4000);
    assert_int_equal(v[0].len, 5000);
    assert_int_equal(v[0].offset, 4010);
    assert_int_equal(v[0].file_off, 4000);
    assert_int_equal(v[1].status, -GNTX_EAGAIN);
    assert_int_equal(v[1].done, 0);
    assert_memory_equal(th_dom_mem(f->d[1], 10), file.data, 4000);
    assert_int_equal(*th_dom_mem(f->d[1], 4010), 0);
    assert_int_equal(fx_revoke(f, 1, r, 0), 0);
    assert_int_equal(BAL(gcore_io(f->c, 2, v, 2, hook, &file)), 0);
    assert_int_equal(v[0].status, -GNTX_ESTALE);
    assert_int_equal(v[0].done, 4000);
    assert_int_equal(*th_dom_mem(f->d[1], 4010), 0);
    gcore_set_io_bytes(f->c, 0);
}

/* The host's time budget: the call ends where the host says so, as with
 * the byte budget; a host saying so before anything moved is not
 * believed (the call would never end). */
static void host_time_budget(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    struct gntx_io v[3] = {io_el(1, r, GNTX_IO_READ, 0, 0, PG),
                           io_el(1, r, GNTX_IO_READ, PG, PG, PG),
                           io_el(1, r, GNTX_IO_READ, 2 * PG, 2 * PG, 10)};

    file_reset();
    file.time_after = 1;
    assert_int_equal(BAL(gcore_io(f->c, 2, v, 3, hook, &file)), 1);
    assert_int_equal(v[0].status, 0);
    assert_int_equal(v[0].done, PG);
    assert_int_equal(v[1].status, -GNTX_EAGAIN);
    assert_int_equal(v[1].done, 0);
    assert_int_equal(v[1].offset, PG);
    assert_int_equal(v[2].status, -GNTX_EAGAIN);
    assert_int_equal(*th_dom_mem(f->d[1], PG), 0);
    file.calls = 0; /* the next call: the first piece moves again */
    assert_int_equal(BAL(gcore_io(f->c, 2, &v[1], 2, hook, &file)), 1);
    assert_int_equal(v[1].status, 0);
    assert_int_equal(v[1].done, PG);
    assert_int_equal(v[2].status, -GNTX_EAGAIN);
    file.calls = 1; /* time up before the call's first byte: a host bug */
    assert_int_equal(io1(f, 2, &v[2]), -GNTX_EFAULT);
    assert_memory_equal(th_dom_mem(f->d[1], 0), file.data, 2 * PG);
}

/* Through a delegation, narrowed; the owner's protection denies. */
static void indirect_and_protect(void **state)
{
    struct fx *f = *state;
    gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 4 * PG);
    gntx_ref_t ind =
        fx_indirect_ok(f, 2, 3, GNTX_R_WRITE, 1, r, PG + 7, 2 * PG);
    struct gntx_io v = io_el(2, ind, GNTX_IO_READ, 0, 0, 2 * PG);
    struct gntx_protect p = {
        .gfn = 2, .nr = 1, .access = GNTX_ACC_R, .action = GNTX_ACT_DENY};

    file_reset();
    assert_int_equal(io1(f, 3, &v), 0);
    assert_memory_equal(th_dom_mem(f->d[1], PG + 7), file.data, 2 * PG);
    v = io_el(2, ind, GNTX_IO_WRITE, 0, 0, 10);
    assert_int_equal(io1(f, 3, &v), -GNTX_EACCES);
    assert_int_equal(BAL(gcore_protect(f->c, 1, &p, 1)), 1);
    file.data[0] ^= 0xff;
    v = io_el(2, ind, GNTX_IO_READ, 0, 0, 2 * PG);
    assert_int_equal(io1(f, 3, &v), -GNTX_EACCES);
    assert_int_equal(v.done, 0);
    assert_int_not_equal(*th_dom_mem(f->d[1], PG + 7), file.data[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(read_write_scattered), FX_TEST(refusals),
        FX_TEST(short_read),           FX_TEST(host_errors),
        FX_TEST(budget_and_revoke),    FX_TEST(indirect_and_protect),
        FX_TEST(host_time_budget),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
