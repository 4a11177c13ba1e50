/* SPDX-License-Identifier: MIT */
/*
 * test_kmod_release.c: libgrant/kmod/release.c compiled unchanged in user
 * space (kshim/, as test_kmod_call.c) against a fake hypervisor holding
 * one domain's table.  A closed file's pages go back to the kernel only
 * once every direct grant on them is revoked: when QUERY_TABLE is refused
 * (a FLASK policy that took `query` away, hv-patches 0020), fails part way,
 * or a revoke is refused, not one page is freed and the module says why.
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

#define NPAGES  4u
#define MFN_TOP 9000u
#define NENT    150u /* more than one 64-entry query chunk */

static struct page pages[NPAGES];
static struct xg_file file;

static struct ent {
    uint32_t ref;
    uint8_t type;
    uint64_t first_frame;
    uint32_t nr_frames;
    int live;
} table[NENT];
static unsigned nr_ent;

static int query_rc;            /* QUERY_TABLE's answer: 0 or -errno */
static unsigned query_fail_at;  /* fails from this round on (0: never) */
static uint32_t revoke_refused; /* this ref's revoke fails with EACCES */
static uint32_t revoke_gone;    /* this ref is revoked meanwhile: ENOENT */
static unsigned queries, revokes, freed, warnings;

unsigned long kshim_page_to_gfn(struct page *p)
{
    return MFN_TOP - 3 * (unsigned long)(p - pages); /* descending, holes */
}

void kshim_free_page(struct page *p)
{
    assert_true(p >= pages && p < pages + NPAGES);
    freed++;
}

void kshim_warn(const char *fmt, ...)
{
    (void)fmt;
    warnings++;
}

/* prot.c's part of the release: nothing protected here. */
bool xg_prot_release(struct xg_file *f, unsigned long idx)
{
    (void)f;
    (void)idx;
    return true;
}

void xg_prot_free(struct xg_file *f)
{
    (void)f;
}

static long fake_query(struct gntx_query *q, struct gntx_entry_info *out,
                       uint64_t cap)
{
    uint32_t n = 0, i = q->cursor;

    assert_int_equal(q->dom, GNTX_DOMID_SELF);
    queries++;
    if (query_rc)
        return query_rc;
    if (query_fail_at && queries >= query_fail_at)
        return -GNTX_EAGAIN;
    for (; i < nr_ent && n < cap; i++)
        if (table[i].live)
            out[n++] = (struct gntx_entry_info){
                .ref = table[i].ref,
                .type = table[i].type,
                .first_frame = table[i].first_frame,
                .nr_frames = table[i].nr_frames,
                .length = 1,
            };
    q->count = n;
    q->cursor = i < nr_ent ? i : 0;
    return 0;
}

static long fake_revoke(struct gntx_revoke *v)
{
    revokes++;
    assert_true(v->flags & GNTX_REVOKE_FORCE);
    if (v->ref == revoke_refused) {
        v->status = -GNTX_EACCES;
        return 0;
    }
    for (unsigned i = 0; i < nr_ent; i++)
        if (table[i].ref == v->ref && table[i].live) {
            table[i].live = 0;
            if (v->ref == revoke_gone)
                break;
            v->status = 0;
            return 1;
        }
    v->status = -GNTX_ENOENT;
    return 0;
}

int kshim_grant_table_op(unsigned int cmd, void *uop, unsigned int count)
{
    struct gntx_xen_call *c = uop;

    assert_int_equal(cmd, GNTTABOP_xgrant);
    assert_int_equal(count, 1);
    assert_int_equal(c->count, 1);
    if (c->op == GNTX_OP_QUERY_TABLE)
        return (int)fake_query((void *)(uintptr_t)c->args,
                               (void *)(uintptr_t)c->aux, c->aux_count);
    assert_int_equal(c->op, GNTX_OP_REVOKE);
    return (int)fake_revoke((void *)(uintptr_t)c->args);
}

static void add(uint8_t type, uint64_t frame)
{
    assert_true(nr_ent < NENT);
    table[nr_ent] = (struct ent){.ref = nr_ent + 1,
                                 .type = type,
                                 .first_frame = frame,
                                 .nr_frames = 1,
                                 .live = 1};
    nr_ent++;
}

/* A file of NPAGES pages; the table: many grants on another file's frames,
 * an indirect one, and direct grants on pages 0 and 3, the last one past
 * the first query chunk. */
static int setup(void **state)
{
    (void)state;
    memset(table, 0, sizeof(table));
    nr_ent = 0;
    query_rc = 0;
    query_fail_at = 0;
    revoke_refused = revoke_gone = 0;
    queries = revokes = freed = warnings = 0;
    file.pages = calloc(NPAGES, sizeof(*file.pages));
    assert_non_null(file.pages);
    for (unsigned i = 0; i < NPAGES; i++)
        file.pages[i] = &pages[i];
    file.nr_pages = NPAGES;
    add(GNTX_CREATE_DIRECT, kshim_page_to_gfn(&pages[0]));
    add(GNTX_CREATE_INDIRECT, kshim_page_to_gfn(&pages[1]));
    while (nr_ent < NENT - 1)
        add(GNTX_CREATE_DIRECT, 100 + nr_ent); /* not this file's */
    add(GNTX_CREATE_DIRECT, kshim_page_to_gfn(&pages[3]));
    return 0;
}

static unsigned live(void)
{
    unsigned n = 0;

    for (unsigned i = 0; i < nr_ent; i++)
        n += table[i].live;
    return n;
}

static void assert_released(void)
{
    assert_null(file.pages);
    assert_int_equal(file.nr_pages, 0);
}

static void grants_revoked_then_pages_freed(void **state)
{
    (void)state;
    xg_pages_free(&file, true);
    assert_int_equal(revokes, 2); /* pages 0 and 3, nothing else */
    assert_false(table[0].live);
    assert_false(table[NENT - 1].live);
    assert_int_equal(live(), NENT - 2);
    assert_int_equal(freed, NPAGES);
    assert_int_equal(warnings, 0);
    assert_released();
}

static void query_refused_keeps_pages(void **state)
{
    (void)state;
    query_rc = -GNTX_EACCES; /* FLASK: query taken away */
    xg_pages_free(&file, true);
    assert_int_equal(revokes, 0);
    assert_int_equal(live(), NENT); /* the grants stay live in Xen... */
    assert_int_equal(freed, 0);     /* ...so their pages never go back */
    assert_int_equal(warnings, 1);
    assert_released();
}

static void query_failing_midway_keeps_pages(void **state)
{
    (void)state;
    query_fail_at = 2; /* the first chunk is listed, the rest is not */
    xg_pages_free(&file, true);
    assert_int_equal(revokes, 1);
    assert_true(table[NENT - 1].live);
    assert_int_equal(freed, 0);
    assert_int_equal(warnings, 1);
    assert_released();
}

static void revoke_refused_keeps_pages(void **state)
{
    (void)state;
    revoke_refused = NENT; /* page 3's grant */
    xg_pages_free(&file, true);
    assert_int_equal(revokes, 2);
    assert_true(table[NENT - 1].live);
    assert_int_equal(freed, 0);
    assert_int_equal(warnings, 1);
    assert_released();
}

static void revoked_meanwhile_counts_as_gone(void **state)
{
    (void)state;
    revoke_gone = 1; /* page 0's grant: ENOENT */
    xg_pages_free(&file, true);
    assert_int_equal(live(), NENT - 2);
    assert_int_equal(freed, NPAGES);
    assert_int_equal(warnings, 0);
    assert_released();
}

static void never_granted_asks_nothing(void **state)
{
    (void)state;
    query_rc = -GNTX_EACCES;
    xg_pages_free(&file, false); /* a failed SETUP: no grant possible */
    assert_int_equal(revokes + queries, 0);
    assert_int_equal(freed, NPAGES);
    assert_int_equal(warnings, 0);
    assert_released();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(grants_revoked_then_pages_freed, setup),
        cmocka_unit_test_setup(query_refused_keeps_pages, setup),
        cmocka_unit_test_setup(query_failing_midway_keeps_pages, setup),
        cmocka_unit_test_setup(revoke_refused_keeps_pages, setup),
        cmocka_unit_test_setup(revoked_meanwhile_counts_as_gone, setup),
        cmocka_unit_test_setup(never_granted_asks_nothing, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
