/* SPDX-License-Identifier: MIT */
/*
 * tutil.h: cmocka fixture and helpers shared by the core unit tests.
 *
 * The fixture is a core with domains 0..FX_NDOM-1, each with FX_FRAMES
 * frames of test-host memory.  Every helper asserts, after the core call,
 * that the host is balanced (no lock held or nested, no frame outstanding,
 * no frame outside a domain touched); teardown also asserts no leak.
 */
#ifndef TUTIL_H
#define TUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gcore.h"
#include "tests/unit/testhost.h"

#define FX_NDOM   5
#define FX_FRAMES 16u
#define PG        GNTX_PAGE_SIZE
#define R_RW      (GNTX_R_READ | GNTX_R_WRITE)
#define R_RWD     (GNTX_R_READ | GNTX_R_WRITE | GNTX_R_DELEGATE)

/* Evaluates a core call, then checks the host balance. */
#define BAL(expr)                                                              \
    ({                                                                         \
        __typeof__(expr) bal_r_ = (expr);                                      \
        assert_true(th_balanced());                                            \
        bal_r_;                                                                \
    })

struct fx {
    struct gcore *c;
    struct th_dom *d[FX_NDOM];
};

static inline int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    th_reset();
    assert_int_equal(gcore_create(&f->c), 0);
    for (unsigned i = 0; i < FX_NDOM; i++) {
        f->d[i] = th_dom_new(FX_FRAMES);
        assert_non_null(f->d[i]);
        assert_int_equal(
            BAL(gcore_dom_add(f->c, (gntx_domid_t)i, FX_FRAMES, f->d[i])), 0);
    }
    *state = f;
    return 0;
}

static inline int fx_teardown(void **state)
{
    struct fx *f = *state;

    gcore_destroy(f->c);
    assert_true(th_balanced());
    assert_int_equal(th_allocs_live(), 0);
    for (unsigned i = 0; i < FX_NDOM; i++)
        th_dom_free(f->d[i]);
    free(f);
    th_reset();
    return 0;
}

static inline uint32_t fx_pages(uint64_t off, uint64_t len)
{
    return (uint32_t)((off + len + PG - 1) / PG);
}

/* A cmocka test that runs with the fixture. */
#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

/* Byte `pos` of a grant of dom over frames `fr` from offset `off`. */
static inline uint8_t *fx_gbyte(struct fx *f, gntx_domid_t dom,
                                const uint64_t *fr, uint64_t off, uint64_t pos)
{
    uint64_t at = off + pos;

    return th_dom_mem(f->d[dom], fr[at / PG] * PG + at % PG);
}

/* Direct grant of frames fr[0..nr) covering [off, off+len) of them. */
static inline int fx_create_direct(struct fx *f, gntx_domid_t granter,
                                   gntx_domid_t grantee, uint16_t rights,
                                   const uint64_t *fr, uint32_t nr,
                                   uint64_t off, uint64_t len, gntx_ref_t *ref)
{
    struct gntx_create v = {.type = GNTX_CREATE_DIRECT,
                            .grantee = grantee,
                            .rights = rights,
                            .nr_frames = nr,
                            .offset = off,
                            .length = len};
    int rc = BAL(gcore_grant_create(f->c, granter, &v, 1, fr, nr));

    assert_int_equal(v.status, rc);
    if (ref)
        *ref = v.ref;
    return rc;
}

/* The same, over frames that need not be contiguous; must succeed. */
static inline gntx_ref_t fx_scattered(struct fx *f, gntx_domid_t granter,
                                      gntx_domid_t grantee, uint16_t rights,
                                      const uint64_t *fr, uint32_t nr,
                                      uint64_t off, uint64_t len)
{
    gntx_ref_t ref = 0;

    assert_int_equal(
        fx_create_direct(f, granter, grantee, rights, fr, nr, off, len, &ref),
        0);
    return ref;
}

/* Direct grant of frames gfn0, gfn0+1, ... covering [off, off+len). */
static inline int fx_direct(struct fx *f, gntx_domid_t granter,
                            gntx_domid_t grantee, uint16_t rights,
                            uint64_t gfn0, uint64_t off, uint64_t len,
                            gntx_ref_t *ref)
{
    uint64_t frames[64];
    uint32_t nr = fx_pages(off, len);

    assert_true(nr <= 64);
    for (uint32_t i = 0; i < nr; i++)
        frames[i] = gfn0 + i;
    return fx_create_direct(f, granter, grantee, rights, frames, nr, off, len,
                            ref);
}

static inline gntx_ref_t fx_direct_ok(struct fx *f, gntx_domid_t granter,
                                      gntx_domid_t grantee, uint16_t rights,
                                      uint64_t gfn0, uint64_t off, uint64_t len)
{
    gntx_ref_t ref = 0;

    assert_int_equal(
        fx_direct(f, granter, grantee, rights, gfn0, off, len, &ref), 0);
    assert_int_not_equal(ref, GNTX_REF_INVALID);
    return ref;
}

static inline int fx_indirect(struct fx *f, gntx_domid_t caller,
                              gntx_domid_t grantee, uint16_t rights,
                              gntx_domid_t pdom, gntx_ref_t pref, uint64_t off,
                              uint64_t len, gntx_ref_t *ref)
{
    struct gntx_create v = {.type = GNTX_CREATE_INDIRECT,
                            .grantee = grantee,
                            .rights = rights,
                            .parent_dom = pdom,
                            .parent_ref = pref,
                            .offset = off,
                            .length = len};
    int rc = BAL(gcore_grant_create(f->c, caller, &v, 1, NULL, 0));

    assert_int_equal(v.status, rc);
    if (ref)
        *ref = v.ref;
    return rc;
}

static inline gntx_ref_t fx_indirect_ok(struct fx *f, gntx_domid_t caller,
                                        gntx_domid_t grantee, uint16_t rights,
                                        gntx_domid_t pdom, gntx_ref_t pref,
                                        uint64_t off, uint64_t len)
{
    gntx_ref_t ref = 0;

    assert_int_equal(
        fx_indirect(f, caller, grantee, rights, pdom, pref, off, len, &ref), 0);
    assert_int_not_equal(ref, GNTX_REF_INVALID);
    return ref;
}

static inline int fx_revoke(struct fx *f, gntx_domid_t caller, gntx_ref_t ref,
                            uint32_t flags)
{
    struct gntx_revoke v = {.ref = ref, .flags = flags};
    int n = BAL(gcore_grant_revoke(f->c, caller, &v, 1));

    assert_int_equal(n, v.status == 0);
    return v.status;
}

static inline struct gntx_ptr P_LOCAL(uint64_t addr) {
    return (struct gntx_ptr){.kind = GNTX_PTR_LOCAL, .addr = addr};
}

static inline struct gntx_ptr
P_GRANT(gntx_domid_t dom, gntx_ref_t ref, uint64_t addr) {
    return (struct gntx_ptr){
        .kind = GNTX_PTR_GRANT, .dom = dom, .ref = ref, .addr = addr};
}

static inline int
fx_copy(struct fx *f, gntx_domid_t caller, struct gntx_ptr src,
        struct gntx_ptr dst, uint64_t len)
{
    struct gntx_copy v = {.src = src, .dst = dst, .len = len, .status = 1};
    int n = BAL(gcore_copy(f->c, caller, &v, 1));

    assert_int_equal(n, v.status == 0);
    return v.status;
}

static inline int fx_memset(struct fx *f, gntx_domid_t caller,
                            struct gntx_ptr dst, uint64_t len, uint8_t val)
{
    struct gntx_memset v = {.dst = dst, .len = len, .value = val, .status = 1};
    int n = BAL(gcore_memset(f->c, caller, &v, 1));

    assert_int_equal(n, v.status == 0);
    return v.status;
}

/* Maps into frames[0..]; *handle and *root out. */
static inline int fx_map(struct fx *f, gntx_domid_t caller, gntx_domid_t dom,
                         gntx_ref_t ref, uint64_t off, uint64_t len,
                         uint16_t flags, uint64_t *frames, uint64_t nr,
                         uint32_t *handle, uint16_t *root)
{
    struct gntx_map v = {.dom = dom,
                         .flags = flags,
                         .ref = ref,
                         .offset = off,
                         .length = len,
                         .status = 1};
    int n = BAL(gcore_map(f->c, caller, &v, 1, frames, nr));

    assert_int_equal(n, v.status == 0);
    if (handle)
        *handle = v.handle;
    if (root)
        *root = v.root_dom;
    if (v.status == 0)
        assert_int_not_equal(v.handle, 0);
    return v.status;
}

static inline int fx_unmap(struct fx *f, gntx_domid_t caller, uint32_t handle)
{
    struct gntx_unmap v = {.handle = handle, .status = 1};
    int n = BAL(gcore_unmap(f->c, caller, &v, 1));

    assert_int_equal(n, v.status == 0);
    return v.status;
}

/* Usage of dom, as the control domain sees it. */
static inline struct gntx_usage fx_usage(struct fx *f, gntx_domid_t dom)
{
    struct gntx_usage u = {.dom = dom};

    assert_int_equal(BAL(gcore_usage(f->c, GNTX_DOMID_CONTROL, &u)), 0);
    return u;
}

static inline void fx_quota(struct fx *f, gntx_domid_t dom, uint32_t entries,
                            uint32_t maps, uint64_t frames)
{
    struct gntx_usage u = {.dom = dom,
                           .max_entries = entries,
                           .max_maps = maps,
                           .max_frames = frames};

    assert_int_equal(BAL(gcore_set_quota(f->c, GNTX_DOMID_CONTROL, &u)), 0);
}

/* The table entry with reference `ref` of dom (asserts it is listed). */
static inline struct gntx_entry_info fx_entry(struct fx *f, gntx_domid_t dom,
                                              gntx_ref_t ref)
{
    struct gntx_entry_info out[64];
    struct gntx_query q = {.dom = dom};

    do {
        int n = BAL(gcore_query_table(f->c, GNTX_DOMID_CONTROL, &q, out, 64));

        assert_true(n >= 0);
        for (int i = 0; i < n; i++)
            if (out[i].ref == ref)
                return out[i];
    } while (q.cursor);
    fail_msg("ref %#x not in dom %u's table", ref, dom);
    return out[0];
}

/* Fills dom's memory with a pattern that names each byte. */
static inline void fx_pattern(struct fx *f, gntx_domid_t dom, uint8_t seed)
{
    struct th_dom *d = f->d[dom];

    for (uint64_t i = 0; i < d->nr_frames * PG; i++)
        d->mem[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

#endif /* TUTIL_H */
