/* SPDX-License-Identifier: MIT */
/*
 * test_kmod_call.c: libgrant/kmod/call.c compiled unchanged in user
 * space (kshim/ stands in for the kernel headers) against a fake
 * hypervisor.  Proves the translation the lab cannot check without the
 * patched Xen: LOCAL ranges are split so that no piece crosses a page, the
 * pieces reach the right (non-contiguous) frames, statuses merge back per
 * element, the continuation rule (-EAGAIN, addresses advanced) holds under
 * a byte budget and under the piece limit, and CREATE frames are rewritten.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <linux/kernel.h> /* kshim: __user, u64 for xgrant.h */

#include "gntx_xen.h"
#include "grant_abi.h"
#include "xgrant.h"
#include "xgrant_uapi.h"

#define NPAGES    8u
#define MFN_TOP   5000u
#define GRANT_DOM 1u
#define GRANT_REF 7u

static struct page pages[NPAGES];
static struct page *ptrs[NPAGES];
static struct xg_file file = {.pages = ptrs, .nr_pages = NPAGES};
static uint8_t grant_buf[5 * 4096];
static uint64_t budget; /* bytes one call moves; 0: unlimited */
static uint64_t seen_frames[16];
static unsigned nr_seen;
static unsigned calls, crossed;

/* Page i's machine frame: descending and with holes, never contiguous. */
unsigned long kshim_page_to_gfn(struct page *p)
{
    return MFN_TOP - 2 * (unsigned long)(p - pages);
}

static uint8_t *frame(uint64_t mfn)
{
    if (mfn > MFN_TOP || (MFN_TOP - mfn) % 2 || (MFN_TOP - mfn) / 2 >= NPAGES)
        return NULL;
    return pages[(MFN_TOP - mfn) / 2].data;
}

static uint8_t *logical(uint64_t addr)
{
    return &pages[addr / 4096].data[addr % 4096];
}

static int fake_ptr(const struct gntx_ptr *p, uint64_t len, uint8_t **out)
{
    uint8_t *f;

    if (p->kind == GNTX_PTR_LOCAL) {
        f = frame(p->addr >> 12);
        if (!f)
            return -GNTX_EFAULT;
        if ((p->addr & 4095) + len > 4096) {
            crossed++; /* the module let a piece cross a page */
            return -GNTX_EINVAL;
        }
        *out = f + (p->addr & 4095);
        return 0;
    }
    if (p->dom != GRANT_DOM || p->ref != GRANT_REF)
        return -GNTX_ESTALE;
    if (p->addr > sizeof(grant_buf) || len > sizeof(grant_buf) - p->addr)
        return -GNTX_ERANGE;
    *out = grant_buf + p->addr;
    return 0;
}

/* One element under the budget: validated whole, then a prefix moves. */
static int32_t fake_move(struct gntx_ptr *src, struct gntx_ptr *dst,
                         uint64_t *len, int value, uint64_t *left)
{
    uint8_t *s = NULL, *d;
    uint64_t n;
    int rc;

    if (budget && *left == 0)
        return -GNTX_EAGAIN;
    rc = fake_ptr(dst, *len, &d);
    if (rc == 0 && src)
        rc = fake_ptr(src, *len, &s);
    if (rc < 0)
        return rc;
    n = budget && *left < *len ? *left : *len;
    if (s)
        memmove(d, s, n);
    else
        memset(d, value, n);
    if (budget)
        *left -= n;
    if (n == *len)
        return 0;
    if (src)
        src->addr += n;
    dst->addr += n;
    *len -= n;
    return -GNTX_EAGAIN;
}

int kshim_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
    struct gntx_xen_call *c = uop;
    uint64_t left = budget;
    int ok = 0;

    assert_int_equal(cmd, GNTTABOP_xgrant);
    assert_int_equal(count, 1);
    assert_true(c->count <= GNTX_MAX_BATCH);
    calls++;
    for (unsigned i = 0; i < c->count; i++) {
        if (c->op == GNTX_OP_COPY) {
            struct gntx_copy *e = (struct gntx_copy *)(uintptr_t)c->args + i;

            e->status = fake_move(&e->src, &e->dst, &e->len, 0, &left);
            ok += e->status == 0;
        } else if (c->op == GNTX_OP_MEMSET) {
            struct gntx_memset *e =
                (struct gntx_memset *)(uintptr_t)c->args + i;

            e->status = fake_move(NULL, &e->dst, &e->len, e->value, &left);
            ok += e->status == 0;
        } else if (c->op == GNTX_OP_QUERY_TABLE) {
            struct gntx_entry_info *e = (void *)(uintptr_t)c->aux;

            for (uint64_t k = 0; k < c->aux_count; k++) /* fills it all */
                e[k] = (struct gntx_entry_info){.ref = (uint32_t)k + 1,
                                                .length = 77};
            ((struct gntx_query *)(uintptr_t)c->args)->count =
                (uint32_t)c->aux_count;
        } else if (c->op == GNTX_OP_PROTECT) {
            struct gntx_protect *e =
                (struct gntx_protect *)(uintptr_t)c->args + i;

            assert_int_equal(e->nr, 1); /* frames are not contiguous */
            if (nr_seen < 16)
                seen_frames[nr_seen++] = e->gfn;
            e->status = frame(e->gfn) ? 0 : -GNTX_EFAULT;
            ok += e->status == 0;
        } else if (c->op == GNTX_OP_FAULT_RING) {
            seen_frames[nr_seen++] =
                ((struct gntx_fault_ring *)(uintptr_t)c->args)[i].gfn;
        } else if (c->op == GNTX_OP_CREATE) {
            memcpy(seen_frames, (void *)(uintptr_t)c->aux,
                   c->aux_count * sizeof(uint64_t));
            ((struct gntx_create *)(uintptr_t)c->args)[i].status = 0;
        }
    }
    return ok;
}

/* prot.c's side (kernel only): which pages lost or got back W. */
static unsigned long dropped, restored;
static int drop_rc;

int xg_prot_drop(struct xg_file *f, unsigned long idx)
{
    (void)f;
    if (drop_rc < 0 && idx == 3)
        return drop_rc;
    dropped |= 1ul << idx;
    return 1;
}

int xg_prot_restore(struct xg_file *f, unsigned long idx)
{
    (void)f;
    restored |= 1ul << idx;
    return 0;
}

/* map.c is kernel-only: MAP must reach it, never the plain path. */
static unsigned long map_routed;

long xg_map(struct xg_file *f, const struct gntx_xen_call *c)
{
    (void)f, (void)c;
    map_routed++;
    return -ENOTTY;
}

static int setup(void **state)
{
    (void)state;
    for (unsigned i = 0; i < NPAGES; i++) {
        ptrs[i] = &pages[i];
        for (unsigned j = 0; j < 4096; j++)
            pages[i].data[j] = (uint8_t)(i * 4096 + j) * 3 + 1;
    }
    memset(grant_buf, 0, sizeof(grant_buf));
    budget = 0;
    calls = crossed = nr_seen = 0;
    dropped = restored = 0;
    drop_rc = 0;
    return 0;
}

static long call(unsigned op, void *args, unsigned count, void *aux,
                 uint64_t aux_count)
{
    struct gntx_xen_call c = {.op = op,
                              .count = count,
                              .args = (uintptr_t)args,
                              .aux = (uintptr_t)aux,
                              .aux_count = aux_count};

    return xg_call(&file, &c);
}

/* Resubmits -EAGAIN elements as libgrant does, until none is left. */
static void copy_all(struct gntx_copy *v, unsigned n)
{
    static struct gntx_copy work[GNTX_MAX_BATCH];
    static unsigned idx[GNTX_MAX_BATCH];
    unsigned k = n, again, rounds = 0;

    memcpy(work, v, n * sizeof(*v));
    for (unsigned i = 0; i < n; i++)
        idx[i] = i;
    while (k) {
        assert_true(call(GNTX_OP_COPY, work, k, NULL, 0) >= 0);
        assert_true(++rounds < 1000);
        again = 0;
        for (unsigned i = 0; i < k; i++) {
            v[idx[i]].status = work[i].status;
            if (work[i].status == -GNTX_EAGAIN) {
                work[again] = work[i];
                idx[again++] = idx[i];
            }
        }
        k = again;
    }
}

static struct gntx_copy local_to_grant(uint64_t addr, uint64_t off,
                                       uint64_t len)
{
    return (struct gntx_copy){.src = {.kind = GNTX_PTR_LOCAL, .addr = addr},
                              .dst = {.kind = GNTX_PTR_GRANT,
                                      .dom = GRANT_DOM,
                                      .ref = GRANT_REF,
                                      .addr = off},
                              .len = len};
}

static void local_to_grant_across_pages(void **state)
{
    struct gntx_copy v = local_to_grant(4000, 10, 9000);

    (void)state;
    assert_int_equal(call(GNTX_OP_COPY, &v, 1, NULL, 0), 1);
    assert_int_equal(v.status, 0);
    assert_int_equal(crossed, 0);
    for (unsigned i = 0; i < 9000; i++)
        assert_int_equal(grant_buf[10 + i], *logical(4000 + i));
}

static void budget_resumes(void **state)
{
    struct gntx_copy v = {.src = {.kind = GNTX_PTR_GRANT,
                                  .dom = GRANT_DOM,
                                  .ref = GRANT_REF,
                                  .addr = 5},
                          .dst = {.kind = GNTX_PTR_LOCAL, .addr = 100},
                          .len = 12000};

    (void)state;
    for (unsigned i = 0; i < sizeof(grant_buf); i++)
        grant_buf[i] = (uint8_t)(i * 11);
    budget = 3000;
    copy_all(&v, 1);
    assert_int_equal(v.status, 0);
    assert_true(calls >= 4);
    assert_int_equal(crossed, 0);
    for (unsigned i = 0; i < 12000; i++)
        assert_int_equal(*logical(100 + i), (uint8_t)((5 + i) * 11));
}

static void local_outside_pool(void **state)
{
    struct gntx_copy v[2] = {local_to_grant(NPAGES * 4096 - 10, 0, 20),
                             local_to_grant(0, 0, 10)};

    (void)state;
    assert_int_equal(call(GNTX_OP_COPY, v, 2, NULL, 0), 1);
    assert_int_equal(v[0].status, -GNTX_EFAULT);
    assert_int_equal(v[1].status, 0);
}

static void address_overflow(void **state)
{
    struct gntx_copy v = local_to_grant(UINT64_MAX - 5, 0, 10);

    (void)state;
    assert_int_equal(call(GNTX_OP_COPY, &v, 1, NULL, 0), 0);
    assert_int_equal(v.status, -GNTX_EOVERFLOW);
    assert_int_equal(calls, 0);
}

/* 3 pieces per element: a full batch does not fit in one call. */
static void piece_limit(void **state)
{
    static struct gntx_copy v[GNTX_MAX_BATCH];

    (void)state;
    for (unsigned i = 0; i < GNTX_MAX_BATCH; i++)
        v[i] = local_to_grant(100 + (i % 4) * 4096, i % 4, 8192);
    copy_all(v, GNTX_MAX_BATCH);
    assert_true(calls >= 3);
    assert_int_equal(crossed, 0);
    for (unsigned i = 0; i < GNTX_MAX_BATCH; i++)
        assert_int_equal(v[i].status, 0);
    for (unsigned i = 0; i < 8192; i++) /* the last writer of offset 3 */
        assert_int_equal(grant_buf[3 + i], *logical(100 + 3 * 4096 + i));
}

static void grant_error_in_later_piece(void **state)
{
    struct gntx_copy v = local_to_grant(4000, sizeof(grant_buf) - 100, 9000);

    (void)state;
    assert_int_equal(call(GNTX_OP_COPY, &v, 1, NULL, 0), 0);
    assert_int_equal(v.status, -GNTX_ERANGE);
}

static void memset_across_pages(void **state)
{
    struct gntx_memset m = {.dst = {.kind = GNTX_PTR_LOCAL, .addr = 4090},
                            .len = 20,
                            .value = 0xab};
    uint8_t before = *logical(4089), after = *logical(4110);

    (void)state;
    assert_int_equal(call(GNTX_OP_MEMSET, &m, 1, NULL, 0), 1);
    assert_int_equal(m.status, 0);
    for (unsigned i = 0; i < 20; i++)
        assert_int_equal(*logical(4090 + i), 0xab);
    assert_int_equal(*logical(4089), before);
    assert_int_equal(*logical(4110), after);
}

static void create_frames(void **state)
{
    struct gntx_create c = {.type = GNTX_CREATE_DIRECT, .nr_frames = 3};
    uint64_t frames[3] = {0, 3, NPAGES};

    (void)state;
    assert_int_equal(call(GNTX_OP_CREATE, &c, 1, frames, 3), 0);
    assert_int_equal(seen_frames[0], MFN_TOP);
    assert_int_equal(seen_frames[1], MFN_TOP - 6);
    assert_true(seen_frames[2] == ~0ULL);
    assert_int_equal(frames[1], 3); /* the caller's array is untouched */
}

/* PROTECT goes page by page; a range past the memory fails alone. */
static void protect_pages(void **state)
{
    struct gntx_protect p[3] = {
        {.gfn = 2, .nr = 3, .access = GNTX_ACC_R},
        {.gfn = NPAGES - 1, .nr = 2, .access = GNTX_ACC_R},
        {.gfn = 0, .nr = 0, .access = GNTX_ACC_R}};

    (void)state;
    assert_int_equal(call(GNTX_OP_PROTECT, p, 3, NULL, 0), 1);
    assert_int_equal(p[0].status, 0);
    assert_int_equal(p[1].status, -GNTX_EFAULT);
    assert_int_equal(p[2].status, -GNTX_EINVAL);
    assert_int_equal(nr_seen, 3);
    assert_int_equal(seen_frames[0], MFN_TOP - 4);
    assert_int_equal(seen_frames[2], MFN_TOP - 8);
    assert_int_equal(p[0].gfn, 2); /* the caller's element is unchanged */
    /* W taken away: pages 2..4 were dropped first, none restored. */
    assert_int_equal(dropped, 0x1c);
    assert_int_equal(restored, 0);
}

/* Lifting W gives the direct map back; a failed drop undoes the others. */
static void protect_drop_restore(void **state)
{
    struct gntx_protect lift = {.gfn = 5, .nr = 2, .access = GNTX_ACC_RWX};
    struct gntx_protect ro = {.gfn = 1, .nr = 3, .access = GNTX_ACC_R};

    (void)state;
    assert_int_equal(call(GNTX_OP_PROTECT, &lift, 1, NULL, 0), 1);
    assert_int_equal(dropped, 0);
    assert_int_equal(restored, 0x60);
    restored = nr_seen = 0;
    drop_rc = -EOPNOTSUPP;
    assert_int_equal(call(GNTX_OP_PROTECT, &ro, 1, NULL, 0), -EOPNOTSUPP);
    assert_int_equal(nr_seen, 0); /* never sent */
    assert_int_equal(dropped, 0x6);
    assert_int_equal(restored, 0x6);
}

static void fault_ring_frame(void **state)
{
    struct gntx_fault_ring r[2] = {{.gfn = 5, .port = 9},
                                   {.gfn = GNTX_FAULT_RING_NONE}};

    (void)state;
    assert_true(call(GNTX_OP_FAULT_RING, r, 2, NULL, 0) >= 0);
    assert_int_equal(seen_frames[0], MFN_TOP - 10);
    assert_true(seen_frames[1] == GNTX_FAULT_RING_NONE);
}

/* XGRANT_IOC_FRAMES: the way back from Xen's frames to page indexes. */
static void frames_out(void **state)
{
    uint64_t fr[NPAGES + 1] = {0};
    struct xgrant_ioc_frames a = {
        .first = 2, .count = 3, .frames = (uintptr_t)fr};

    (void)state;
    assert_int_equal(xg_frames(&file, &a), 0);
    assert_int_equal(fr[0], MFN_TOP - 4);
    assert_int_equal(fr[2], MFN_TOP - 8);
    assert_int_equal(fr[3], 0); /* nothing past count */
    a = (struct xgrant_ioc_frames){
        .first = 0, .count = NPAGES, .frames = (uintptr_t)fr};
    assert_int_equal(xg_frames(&file, &a), 0);
    assert_int_equal(fr[NPAGES - 1], MFN_TOP - 2 * (NPAGES - 1));
    a.first = 1; /* one past the grant memory */
    assert_int_equal(xg_frames(&file, &a), -EINVAL);
    a = (struct xgrant_ioc_frames){.first = NPAGES + 1};
    assert_int_equal(xg_frames(&file, &a), -EINVAL);
}

/* Output aux: the hypervisor may fill all aux_count entries. */
static void query_out(void **state)
{
    struct gntx_query q = {.dom = 0};
    struct gntx_entry_info info[40] = {0};

    (void)state;
    assert_true(call(GNTX_OP_QUERY_TABLE, &q, 1, info, 40) >= 0);
    assert_int_equal(q.count, 40);
    assert_int_equal(info[0].ref, 1);
    assert_int_equal(info[39].ref, 40);
    assert_int_equal(info[39].length, 77);
}

static void map_routed_to_windows(void **state)
{
    struct gntx_map v = {.length = 4096};
    uint64_t aux[1] = {0};
    unsigned long before = map_routed;

    (void)state;
    assert_int_equal(call(GNTX_OP_MAP, &v, 1, aux, 1), -ENOTTY);
    assert_int_equal(map_routed, before + 1);
}

/* The module's aux bound is Xen's (gntx_xen.h), not a larger one. */
static void aux_bound_is_xens(void **state)
{
    struct gntx_query q = {.dom = 0};
    uint64_t over = GNTX_XEN_MAX_AUX_BYTES / sizeof(struct gntx_entry_info) + 1;

    (void)state;
    assert_int_equal(call(GNTX_OP_QUERY_TABLE, &q, 1, NULL, over), -E2BIG);
}

static void unknown_op(void **state)
{
    (void)state;
    assert_int_equal(call(GNTX_OP__MAX + 7, NULL, 0, NULL, 0), -EOPNOTSUPP);
    assert_int_equal(call(GNTX_OP_IO, NULL, 0, NULL, 0), -EOPNOTSUPP);
    assert_int_equal(call(GNTX_OP_COPY, NULL, GNTX_MAX_BATCH + 1, NULL, 0),
                     -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(local_to_grant_across_pages, setup),
        cmocka_unit_test_setup(budget_resumes, setup),
        cmocka_unit_test_setup(local_outside_pool, setup),
        cmocka_unit_test_setup(address_overflow, setup),
        cmocka_unit_test_setup(piece_limit, setup),
        cmocka_unit_test_setup(grant_error_in_later_piece, setup),
        cmocka_unit_test_setup(memset_across_pages, setup),
        cmocka_unit_test_setup(create_frames, setup),
        cmocka_unit_test_setup(query_out, setup),
        cmocka_unit_test_setup(protect_pages, setup),
        cmocka_unit_test_setup(protect_drop_restore, setup),
        cmocka_unit_test_setup(fault_ring_frame, setup),
        cmocka_unit_test_setup(frames_out, setup),
        cmocka_unit_test_setup(unknown_op, setup),
        cmocka_unit_test_setup(map_routed_to_windows, setup),
        cmocka_unit_test_setup(aux_bound_is_xens, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
