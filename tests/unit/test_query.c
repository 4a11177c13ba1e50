/* SPDX-License-Identifier: MIT */
/* test_query.c: QUERY_TABLE, QUERY_TREE, USAGE, SET_QUOTA. */
#include "tests/unit/tutil.h"

static void table_cursor(void **state)
{
    struct fx *f = *state;
    gntx_ref_t refs[10], seen[10];
    struct gntx_entry_info out[4];
    struct gntx_query q = {.dom = 1};
    int total = 0, calls = 0;

    for (int i = 0; i < 12; i++) {
        gntx_ref_t r = fx_direct_ok(f, 1, 2, R_RW, (uint64_t)i, (uint64_t)i,
                                    100 + (uint64_t)i);
        if (i == 3 || i == 7)
            assert_int_equal(fx_revoke(f, 1, r, 0), 0);
        else
            refs[total++] = r;
    }
    assert_int_equal(total, 10);
    total = 0;
    do {
        int n = BAL(gcore_query_table(f->c, 1, &q, out, 4));

        assert_int_equal(n, q.count);
        assert_true(n <= 4);
        for (int i = 0; i < n; i++) {
            uint32_t k = gntx_ref_index(out[i].ref);

            assert_int_equal(out[i].dom, 1);
            assert_int_equal(out[i].grantee, 2);
            assert_int_equal(out[i].type, GNTX_CREATE_DIRECT);
            assert_int_equal(out[i].rights, R_RW);
            assert_int_equal(out[i].state, GNTX_STATE_LIVE);
            assert_int_equal(out[i].offset, k);
            assert_int_equal(out[i].length, 100 + k);
            assert_int_equal(out[i].first_frame, k);
            assert_int_equal(out[i].nr_frames, 1);
            seen[total++] = out[i].ref;
        }
        assert_true(++calls < 10);
    } while (q.cursor);
    assert_int_equal(calls, 3);
    assert_memory_equal(seen, refs, sizeof(refs));
    /* Capacity 0 with entries left: ENOSPC, nothing written. */
    q.cursor = 0;
    assert_int_equal(BAL(gcore_query_table(f->c, 1, &q, NULL, 0)),
                     -GNTX_ENOSPC);
    assert_int_equal(q.count, 0);
    q.cursor = 11;
    assert_int_equal(BAL(gcore_query_table(f->c, 1, &q, NULL, 0)),
                     -GNTX_ENOSPC);
    assert_int_equal(q.cursor, 11);
    q.cursor = 12;
    assert_int_equal(BAL(gcore_query_table(f->c, 1, &q, NULL, 0)), 0);
    assert_int_equal(q.cursor, 0);
    q.cursor = 100000;
    assert_int_equal(BAL(gcore_query_table(f->c, 1, &q, out, 4)), 0);
    assert_int_equal(q.cursor, 0);
}

static void table_permissions(void **state)
{
    struct fx *f = *state;
    struct gntx_entry_info out[4];
    struct gntx_query q = {.dom = 1};

    fx_direct_ok(f, 1, 2, R_RW, 0, 0, 10);
    assert_int_equal(BAL(gcore_query_table(f->c, 2, &q, out, 4)), -GNTX_EPERM);
    assert_int_equal(BAL(gcore_query_table(f->c, 0, &q, out, 4)), 1);
    q.dom = GNTX_DOMID_SELF;
    assert_int_equal(BAL(gcore_query_table(f->c, 1, &q, out, 4)), 1);
    assert_int_equal(out[0].dom, 1);
    q.dom = 9;
    assert_int_equal(BAL(gcore_query_table(f->c, 0, &q, out, 4)), -GNTX_ESRCH);
    assert_int_equal(BAL(gcore_query_table(f->c, 9, &q, out, 4)), -GNTX_ESRCH);
    assert_int_equal(BAL(gcore_query_table(f->c, 0, NULL, out, 4)),
                     -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_query_table(f->c, 0, &q, NULL, 4)),
                     -GNTX_EINVAL);
}

struct tree {
    gntx_ref_t d, i1, i2, i3;
};

/* d (1 -> 2), i1 (2 -> 3) and i2 (2 -> 4) from d, i3 (3 -> 4) from i1. */
static struct tree make_tree(struct fx *f)
{
    struct tree t;

    t.d = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 1000);
    t.i1 = fx_indirect_ok(f, 2, 3, R_RWD, 1, t.d, 10, 500);
    t.i2 = fx_indirect_ok(f, 2, 4, GNTX_R_READ, 1, t.d, 600, 100);
    t.i3 = fx_indirect_ok(f, 3, 4, GNTX_R_WRITE, 2, t.i1, 5, 50);
    return t;
}

static void tree_order(void **state)
{
    struct fx *f = *state;
    struct tree t = make_tree(f);
    struct gntx_entry_info out[8];
    struct gntx_query q = {.dom = 1, .ref = t.d};

    fx_direct_ok(f, 1, 3, R_RWD, 0, 0, 10); /* not in the tree */
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 8)), 4);
    assert_int_equal(q.count, 4);
    assert_int_equal(out[0].ref, t.d);
    assert_int_equal(out[0].depth, 0);
    assert_int_equal(out[0].dom, 1);
    assert_int_equal(out[1].ref, t.i1);
    assert_int_equal(out[1].dom, 2);
    assert_int_equal(out[1].depth, 1);
    assert_int_equal(out[1].parent_dom, 1);
    assert_int_equal(out[1].parent_ref, t.d);
    assert_int_equal(out[1].offset, 10);
    assert_int_equal(out[1].length, 500);
    assert_int_equal(out[1].type, GNTX_CREATE_INDIRECT);
    assert_int_equal(out[2].ref, t.i3);
    assert_int_equal(out[2].dom, 3);
    assert_int_equal(out[2].depth, 2);
    assert_int_equal(out[3].ref, t.i2);
    assert_int_equal(out[3].depth, 1);
    assert_int_equal(out[3].grantee, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(out[i].state, GNTX_STATE_LIVE);
    /* Too small: what fits, and a cursor naming the next node. */
    q.count = 0;
    assert_int_equal(BAL(gcore_query_tree(f->c, 0, &q, out, 2)), 2);
    assert_int_equal(q.count, 2);
    assert_int_equal(out[1].ref, t.i1);
    assert_int_equal(q.cursor_dom, 3);
    assert_int_equal(q.cursor, t.i3);
    assert_int_equal(BAL(gcore_query_tree(f->c, 0, &q, out, 0)), -GNTX_ENOSPC);
    assert_int_equal(BAL(gcore_query_tree(f->c, 0, &q, out, 8)), 2);
    assert_int_equal(out[0].ref, t.i3);
    assert_int_equal(out[0].depth, 2);
    assert_int_equal(out[1].ref, t.i2);
    assert_int_equal(out[1].depth, 1);
    assert_int_equal(q.cursor, 0);
    assert_int_equal(q.cursor_dom, 0);
    /* A subtree. */
    q = (struct gntx_query){.dom = 2, .ref = t.i1};
    assert_int_equal(BAL(gcore_query_tree(f->c, 2, &q, out, 8)), 2);
    assert_int_equal(out[1].ref, t.i3);
    assert_int_equal(out[1].depth, 1);
}

static void tree_orphans_and_permissions(void **state)
{
    struct fx *f = *state;
    struct tree t = make_tree(f);
    struct gntx_entry_info out[8];
    struct gntx_query q = {.dom = 1, .ref = t.d};

    assert_int_equal(BAL(gcore_query_tree(f->c, 3, &q, out, 8)), -GNTX_EPERM);
    assert_int_equal(BAL(gcore_query_tree(f->c, 2, &q, out, 8)), -GNTX_EPERM);
    assert_int_equal(fx_revoke(f, 2, t.i1, 0), 0);
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 8)), 2);
    assert_int_equal(out[1].ref, t.i2);
    q = (struct gntx_query){.dom = 3, .ref = t.i3};
    assert_int_equal(BAL(gcore_query_tree(f->c, 3, &q, out, 8)), 1);
    assert_int_equal(out[0].state, GNTX_STATE_ORPHAN);
    q = (struct gntx_query){.dom = 2, .ref = t.i1};
    assert_int_equal(BAL(gcore_query_tree(f->c, 2, &q, out, 8)), -GNTX_ESTALE);
    q = (struct gntx_query){.dom = 9, .ref = t.i1};
    assert_int_equal(BAL(gcore_query_tree(f->c, 0, &q, out, 8)), -GNTX_ESRCH);
    /* A grandchild under an orphan is an orphan too. */
    gntx_ref_t a = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, 100);
    gntx_ref_t b = fx_indirect_ok(f, 2, 3, R_RWD, 1, a, 0, 100);
    gntx_ref_t c = fx_indirect_ok(f, 3, 4, R_RWD, 2, b, 0, 100);
    assert_int_equal(fx_revoke(f, 1, a, 0), 0);
    q = (struct gntx_query){.dom = 2, .ref = b};
    assert_int_equal(BAL(gcore_query_tree(f->c, 0, &q, out, 8)), 2);
    assert_int_equal(out[0].state, GNTX_STATE_ORPHAN);
    assert_int_equal(out[1].ref, c);
    assert_int_equal(out[1].state, GNTX_STATE_ORPHAN);
}

static void usage_and_quota(void **state)
{
    struct fx *f = *state;
    struct gntx_usage u = {.dom = 1};

    fx_direct_ok(f, 1, 2, R_RW, 0, 0, 3 * PG);
    assert_int_equal(BAL(gcore_usage(f->c, 1, &u)), 0);
    assert_int_equal(u.entries, 1);
    assert_int_equal(u.frames, 3);
    assert_int_equal(u.maps, 0);
    assert_int_equal(u.mem_frames, FX_FRAMES);
    assert_int_equal(u.max_entries, GCORE_DEFAULT_MAX_ENTRIES);
    assert_int_equal(u.max_maps, GCORE_DEFAULT_MAX_MAPS);
    assert_int_equal(u.max_frames, GCORE_DEFAULT_MAX_FRAMES);
    assert_int_equal(BAL(gcore_usage(f->c, 2, &u)), -GNTX_EPERM);
    u.dom = GNTX_DOMID_SELF;
    assert_int_equal(BAL(gcore_usage(f->c, 2, &u)), 0);
    assert_int_equal(u.entries, 0);
    u.dom = 9;
    assert_int_equal(BAL(gcore_usage(f->c, 0, &u)), -GNTX_ESRCH);
    assert_int_equal(BAL(gcore_usage(f->c, 0, NULL)), -GNTX_EINVAL);

    u = (struct gntx_usage){
        .dom = 1, .max_entries = 7, .max_maps = 8, .max_frames = 9};
    assert_int_equal(BAL(gcore_set_quota(f->c, 1, &u)), -GNTX_EPERM);
    assert_int_equal(fx_usage(f, 1).max_entries, GCORE_DEFAULT_MAX_ENTRIES);
    assert_int_equal(BAL(gcore_set_quota(f->c, 0, &u)), 0);
    assert_int_equal(fx_usage(f, 1).max_entries, 7);
    assert_int_equal(fx_usage(f, 1).max_maps, 8);
    assert_int_equal(fx_usage(f, 1).max_frames, 9);
    u.max_entries = GNTX_MAX_ENTRIES + 1;
    assert_int_equal(BAL(gcore_set_quota(f->c, 0, &u)), -GNTX_EINVAL);
    u.max_entries = 7;
    u.max_maps = GNTX_MAX_ENTRIES + 1;
    assert_int_equal(BAL(gcore_set_quota(f->c, 0, &u)), -GNTX_EINVAL);
    u.dom = 9;
    assert_int_equal(BAL(gcore_set_quota(f->c, 0, &u)), -GNTX_ESRCH);
    assert_int_equal(BAL(gcore_set_quota(f->c, 0, NULL)), -GNTX_EINVAL);
    assert_int_equal(BAL(gcore_set_quota(f->c, 9, &u)), -GNTX_ESRCH);
}

/* One call lists at most GNTX_MAX_BATCH nodes however big aux is, and the
 * cursor continues exactly there. */
static void tree_bounded_per_call(void **state)
{
    struct fx *f = *state;
    const unsigned kids = GNTX_MAX_BATCH + 100;
    static struct gntx_entry_info out[2 * GNTX_MAX_BATCH];
    static gntx_ref_t kid[GNTX_MAX_BATCH + 100];
    gntx_ref_t root = fx_direct_ok(f, 1, 2, R_RWD, 0, 0, PG);
    struct gntx_query q = {.dom = 1, .ref = root};

    fx_quota(f, 2, 2 * GNTX_MAX_BATCH, 1, 1);
    for (unsigned i = 0; i < kids; i++)
        kid[i] = fx_indirect_ok(f, 2, 3, GNTX_R_READ, 1, root, 0, 1);
    assert_int_equal(
        BAL(gcore_query_tree(f->c, 1, &q, out, 2 * GNTX_MAX_BATCH)),
        GNTX_MAX_BATCH);
    assert_int_equal(out[0].ref, root);
    for (unsigned i = 1; i < GNTX_MAX_BATCH; i++)
        assert_int_equal(out[i].ref, kid[i - 1]); /* oldest first */
    assert_int_equal(q.cursor, kid[GNTX_MAX_BATCH - 1]);
    assert_int_equal(
        BAL(gcore_query_tree(f->c, 1, &q, out, 2 * GNTX_MAX_BATCH)), 101);
    assert_int_equal(out[0].ref, kid[GNTX_MAX_BATCH - 1]);
    assert_int_equal(out[100].ref, kid[kids - 1]);
    assert_int_equal(q.cursor, 0);
}

/* A cursor whose node left the tree is refused (EAGAIN: start again);
 * nodes revoked before it do not matter. */
static void tree_cursor_stale(void **state)
{
    struct fx *f = *state;
    struct tree t = make_tree(f);
    struct gntx_entry_info out[8];
    struct gntx_query q = {.dom = 1, .ref = t.d};

    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 2)), 2);
    assert_int_equal(q.cursor, t.i3);
    assert_int_equal(fx_revoke(f, 3, t.i3, 0), 0);
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 8)), -GNTX_EAGAIN);
    q = (struct gntx_query){.dom = 1, .ref = t.d};
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 2)), 2);
    assert_int_equal(q.cursor, t.i2);
    assert_int_equal(fx_revoke(f, 2, t.i1, 0), 0);
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 8)), 1);
    assert_int_equal(out[0].ref, t.i2);
    /* A cursor elsewhere, or naming the root: refused too. */
    q = (struct gntx_query){
        .dom = 1, .ref = t.d, .cursor_dom = 1, .cursor = t.d};
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 8)), -GNTX_EAGAIN);
    q.cursor_dom = 4;
    assert_int_equal(BAL(gcore_query_tree(f->c, 1, &q, out, 8)), -GNTX_EAGAIN);
}

/* Random creates and revokes over four domains against a model of the
 * parent links: every live entry's tree, walked in calls of 3 nodes, is
 * the model's depth-first order (children oldest first). */
#define MT_MAX 1500
struct mt_node {
    gntx_domid_t dom, grantee;
    gntx_ref_t ref;
    int parent;     /* model index, -1 direct */
    unsigned depth; /* in its chain */
    bool live;
};

static unsigned mt_expect(const struct mt_node *m, int n, int at,
                          unsigned depth, struct gntx_entry_info *want,
                          unsigned k)
{
    want[k].dom = m[at].dom;
    want[k].ref = m[at].ref;
    want[k++].depth = (uint16_t)depth;
    if (depth + 1 >= GNTX_MAX_DEPTH)
        return k;
    for (int i = 0; i < n; i++)
        if (m[i].live && m[i].parent == at)
            k = mt_expect(m, n, i, depth + 1, want, k);
    return k;
}

static void mt_check(struct fx *f, const struct mt_node *m, int n, int root)
{
    static struct gntx_entry_info want[MT_MAX], got[MT_MAX + 3];
    struct gntx_query q = {.dom = m[root].dom, .ref = m[root].ref};
    unsigned k = mt_expect(m, n, root, 0, want, 0), have = 0;
    int rc;

    do {
        rc = BAL(gcore_query_tree(f->c, 0, &q, got + have, 3));
        assert_true(rc > 0);
        have += (unsigned)rc;
        assert_true(have <= k);
    } while (q.cursor);
    assert_int_equal(have, k);
    for (unsigned i = 0; i < k; i++) {
        assert_int_equal(got[i].dom, want[i].dom);
        assert_int_equal(got[i].ref, want[i].ref);
        assert_int_equal(got[i].depth, want[i].depth);
    }
}

static void tree_model(void **state)
{
    struct fx *f = *state;
    static struct mt_node m[MT_MAX];
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    int n = 0;

    for (int op = 0; op < 2000; op++) {
        int pick;

        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        pick = n ? (int)(seed % (uint64_t)n) : 0;
        if (n < MT_MAX && (seed >> 32) % 3) {
            gntx_domid_t to = (gntx_domid_t)(1 + (seed >> 48) % 4);
            struct mt_node *p = n ? &m[pick] : NULL;
            gntx_ref_t r;

            if (p && p->live && p->depth + 1 < GNTX_MAX_DEPTH &&
                to != p->grantee &&
                fx_indirect(f, p->grantee, to, R_RWD, p->dom, p->ref, 0, 1,
                            &r) == 0) {
                m[n] = (struct mt_node){p->grantee, to,           r,
                                        pick,       p->depth + 1, true};
                n++;
            } else if (!p || !p->live || (seed >> 20) % 4 == 0) {
                gntx_domid_t from = to % 4 + 1;

                r = fx_direct_ok(f, from, to, R_RWD, 0, 0, 1);
                m[n++] = (struct mt_node){from, to, r, -1, 0, true};
            }
        } else if (n && m[pick].live) {
            assert_int_equal(fx_revoke(f, m[pick].dom, m[pick].ref, 0), 0);
            m[pick].live = false;
        }
        if (n && m[pick].live && op % 5 == 0)
            mt_check(f, m, n, pick);
    }
    for (int i = 0; i < n; i++)
        if (m[i].live)
            mt_check(f, m, n, i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        FX_TEST(table_cursor),      FX_TEST(table_permissions),
        FX_TEST(tree_order),        FX_TEST(tree_orphans_and_permissions),
        FX_TEST(usage_and_quota),   FX_TEST(tree_bounded_per_call),
        FX_TEST(tree_cursor_stale), FX_TEST(tree_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
