/* SPDX-License-Identifier: MIT */
/* test_store_tree.c: the store's tree (tools/xgrantd/store/tree.c): Xen's
 * permission rules, inheritance, quotas, copy-on-write snapshots; and its
 * names (store/path.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define XST_TREE_ONLY
#include "libgrant/lib/xsperm.h"
#include "tools/xgrantd/store/private.h"

struct fx {
    struct xst_node *root;
    uint64_t gen;
    uint32_t counts[XST_DOMID_COUNT];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    f->root = xst_tree_new();
    f->gen = 1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    xst_node_put(f->root);
    free(f);
    return 0;
}

/* An edit as dom on a new reference of f's root. */
static struct xst_edit begin(struct fx *f, uint16_t dom)
{
    return (struct xst_edit){.root = xst_node_get(f->root),
                             .caller = dom,
                             .counts = f->counts,
                             .quota = 5,
                             .gen = &f->gen};
}

/* Keeps (r == 0) or drops the edit; returns r. */
static int end(struct fx *f, struct xst_edit *e, int r)
{
    if (r == 0) {
        for (size_t i = 0; i < e->nacct; i++)
            f->counts[e->acct[i].dom] += e->acct[i].delta;
        xst_node_put(f->root);
        f->root = e->root;
    } else {
        xst_node_put(e->root);
    }
    xst_edit_done(e);
    return r;
}

static int wr(struct fx *f, uint16_t dom, const char *path, const char *v)
{
    struct xst_edit e = begin(f, dom);

    return end(f, &e, xst_tree_write(&e, path, v, (uint32_t)strlen(v), false));
}

static int rm(struct fx *f, uint16_t dom, const char *path)
{
    struct xst_edit e = begin(f, dom);

    return end(f, &e, xst_tree_rm(&e, path));
}

static int chmod_(struct fx *f, uint16_t dom, const char *path,
                  const char *perms)
{
    struct xst_perm p[8];
    char buf[128];
    size_t n = strlen(perms) + 1;
    int np;
    struct xst_edit e;

    memcpy(buf, perms, n);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == ' ')
            buf[i] = '\0';
    np = xst_perms_parse(buf, n, p, 8);
    assert_true(np > 0);
    e = begin(f, dom);
    return end(f, &e, xst_tree_set_perms(&e, path, p, (uint32_t)np));
}

static int rd(struct fx *f, uint16_t dom, const char *path)
{
    const struct xst_node *n;

    return xst_tree_get(f->root, path, dom, XST_P_READ, &n);
}

/* "n0,r3" of path. */
static const char *perms(struct fx *f, const char *path)
{
    static char buf[128];
    const struct xst_node *n = xst_tree_find(f->root, path);

    buf[0] = '\0';
    for (uint32_t i = 0; n && i < n->nperms; i++) {
        if (i)
            strcat(buf, ",");
        xst_perm_format(&n->perms[i], buf + strlen(buf), 8);
    }
    return buf;
}

static int mkdir_(struct fx *f, uint16_t dom, const char *path)
{
    struct xst_edit e = begin(f, dom);

    return end(f, &e, xst_tree_write(&e, path, NULL, 0, true));
}

/* MKDIR of a node that exists needs write access to it, like WRITE: it
 * must not answer OK where the node is hidden (an existence oracle). */
static void mkdir_existing_needs_write(void **state)
{
    struct fx *f = *state;

    assert_int_equal(wr(f, 0, "/s/hidden", "v"), 0);
    assert_int_equal(mkdir_(f, 3, "/s/hidden"), -EACCES);
    assert_int_equal(mkdir_(f, 3, "/s/missing"), -EACCES);
    assert_int_equal(chmod_(f, 0, "/s", "n0 b3"), 0);
    assert_int_equal(mkdir_(f, 3, "/s/mine"), 0);
    assert_int_equal(mkdir_(f, 3, "/s/mine"), 0); /* exists: fine */
    assert_int_equal(chmod_(f, 0, "/s/hidden", "n0"), 0);
    assert_int_equal(mkdir_(f, 3, "/s/hidden"), -EACCES);
    assert_int_equal(mkdir_(f, 0, "/s/hidden"), 0);
}

static void write_read_inherit(void **state)
{
    struct fx *f = *state;

    assert_int_equal(wr(f, 0, "/a/b/c", "v"), 0);
    assert_string_equal(perms(f, "/a/b"), "n0");
    assert_int_equal(rd(f, 3, "/a/b/c"), -EACCES);
    assert_int_equal(rd(f, 3, "/a/x/y"), -EACCES); /* ancestor unreadable */
    assert_int_equal(rd(f, 0, "/a/x/y"), -ENOENT);
    assert_int_equal(chmod_(f, 0, "/a", "n0 b3"), 0);
    assert_int_equal(rd(f, 3, "/a/x"), -ENOENT);
    assert_int_equal(wr(f, 3, "/a/d/e", "x"), 0);
    assert_string_equal(perms(f, "/a/d"), "n3,b3");
    assert_string_equal(perms(f, "/a/d/e"), "n3,b3");
    assert_int_equal(f->counts[3], 2);
    /* Domain 0 creating below a domU's node keeps the owner. */
    assert_int_equal(wr(f, 0, "/a/d/z", "x"), 0);
    assert_string_equal(perms(f, "/a/d/z"), "n3,b3");
    assert_int_equal(f->counts[3], 3);
    assert_int_equal(wr(f, 4, "/a/d/q", "x"), -EACCES);
    assert_int_equal(wr(f, 3, "/a/b/c", "x"), -EACCES);
}

static void acl_order_and_owner(void **state)
{
    struct fx *f = *state;

    assert_int_equal(wr(f, 0, "/n", ""), 0);
    assert_int_equal(chmod_(f, 0, "/n", "r5 w6 n7"), 0);
    assert_int_equal(xst_perm_for(xst_tree_find(f->root, "/n"), 5), XST_P_BOTH);
    assert_int_equal(xst_perm_for(xst_tree_find(f->root, "/n"), 6),
                     XST_P_WRITE);
    assert_int_equal(xst_perm_for(xst_tree_find(f->root, "/n"), 7), XST_P_NONE);
    assert_int_equal(xst_perm_for(xst_tree_find(f->root, "/n"), 8), XST_P_READ);
    assert_int_equal(xst_perm_for(xst_tree_find(f->root, "/n"), 0), XST_P_BOTH);
    assert_int_equal(f->counts[5], 1);
    assert_int_equal(f->counts[0], 0);
    /* The owner may change the list but not give the node away. */
    assert_int_equal(chmod_(f, 5, "/n", "r5 b9"), 0);
    assert_int_equal(chmod_(f, 5, "/n", "r9"), -EPERM);
    assert_int_equal(chmod_(f, 9, "/n", "r9"), -EACCES);
}

static void quota(void **state)
{
    struct fx *f = *state;
    char p[32];
    int r = 0, i;

    assert_int_equal(chmod_(f, 0, "/", "b0"), 0); /* all may write */
    for (i = 0; i < 10; i++) {
        snprintf(p, sizeof(p), "/q%d", i);
        if ((r = wr(f, 2, p, "")) < 0)
            break;
    }
    assert_int_equal(i, 5);
    assert_int_equal(r, -ENOSPC);
    assert_int_equal(wr(f, 2, "/q0/a/b", ""), -ENOSPC);
    assert_int_equal(rm(f, 2, "/q0"), 0);
    assert_int_equal(f->counts[2], 4);
    assert_int_equal(wr(f, 2, "/q9", ""), 0);
    assert_int_equal(wr(f, 0, "/z/z/z/z/z/z/z", ""), 0); /* dom 0: no quota */
}

static void rm_rules(void **state)
{
    struct fx *f = *state;

    assert_int_equal(wr(f, 0, "/r/a/b", "1"), 0);
    assert_int_equal(rm(f, 0, "/r/zz"), 0); /* missing child: fine */
    assert_int_equal(rm(f, 0, "/nope/zz"), -ENOENT);
    assert_int_equal(rm(f, 0, "/"), -EINVAL);
    assert_int_equal(rm(f, 3, "/r/a"), -EACCES);
    assert_int_equal(rm(f, 0, "/r/a"), 0);
    assert_null(xst_tree_find(f->root, "/r/a/b"));
    assert_non_null(xst_tree_find(f->root, "/r"));
}

/* RM must not tell a domain whether a node exists where it may not write
 * (cxenstored: the nearest existing ancestor's write permission decides). */
static void rm_missing_tells_nothing(void **state)
{
    struct fx *f = *state;

    assert_int_equal(wr(f, 0, "/h/there", "v"), 0);
    assert_int_equal(rm(f, 3, "/h/there"), -EACCES);
    assert_int_equal(rm(f, 3, "/h/nothere"), -EACCES);
    assert_int_equal(rm(f, 3, "/h/no/deeper"), -EACCES);
    assert_int_equal(chmod_(f, 0, "/h", "n0 r3"), 0); /* readable only */
    assert_int_equal(rm(f, 3, "/h/nothere"), -EACCES);
    assert_int_equal(chmod_(f, 0, "/h", "n0 b3"), 0);
    assert_int_equal(rm(f, 3, "/h/nothere"), 0);
    assert_int_equal(rm(f, 3, "/h/no/deeper"), -ENOENT);
    assert_int_equal(chmod_(f, 0, "/h/there", "n0"), 0);
    assert_int_equal(rm(f, 3, "/h/there"), -EACCES);
    assert_non_null(xst_tree_find(f->root, "/h/there"));
}

static void snapshot_is_untouched(void **state)
{
    struct fx *f = *state;
    struct xst_node *snap;
    const struct xst_node *n;
    uint64_t g;

    assert_int_equal(wr(f, 0, "/s/x", "old"), 0);
    snap = xst_node_get(f->root);
    g = xst_tree_find(snap, "/s/x")->gen;
    assert_int_equal(wr(f, 0, "/s/x", "new"), 0);
    assert_int_equal(wr(f, 0, "/s/y", "1"), 0);
    assert_int_equal(rm(f, 0, "/s"), 0);
    n = xst_tree_find(snap, "/s/x");
    assert_non_null(n);
    assert_memory_equal(n->val, "old", 3);
    assert_int_equal(n->gen, g);
    assert_null(xst_tree_find(snap, "/s/y"));
    assert_null(xst_tree_find(f->root, "/s"));
    xst_node_put(snap);
}

static void failed_edit_leaves_nothing(void **state)
{
    struct fx *f = *state;
    struct xst_edit e;

    assert_int_equal(wr(f, 0, "/f", "1"), 0);
    e = begin(f, 0);
    assert_int_equal(xst_tree_write(&e, "/f/a", "x", 1, false), 0);
    assert_int_equal(end(f, &e, -EIO), -EIO); /* dropped */
    assert_null(xst_tree_find(f->root, "/f/a"));
}

static void forget_domain(void **state)
{
    struct fx *f = *state;

    assert_int_equal(chmod_(f, 0, "/", "n0 b7"), 0);
    assert_int_equal(wr(f, 7, "/g/h", "1"), 0);
    assert_int_equal(chmod_(f, 0, "/g/h", "n7 r7 r8"), 0);
    {
        struct xst_edit e = begin(f, 0);

        assert_int_equal(end(f, &e, xst_tree_forget_dom(&e, 7)), 0);
    }
    assert_string_equal(perms(f, "/g/h"), "n0,r8");
    assert_string_equal(perms(f, "/g"), "n0");
    assert_string_equal(perms(f, "/"), "n0");
    assert_int_equal(f->counts[7], 0);
}

static void names(void **state)
{
    char out[4096];
    size_t rel;
    char lng[3000];

    (void)state;
    assert_int_equal(xst_path_canon("data/x", 3, false, out, sizeof(out), &rel),
                     0);
    assert_string_equal(out, "/local/domain/3/data/x");
    assert_string_equal(out + rel, "data/x");
    assert_int_equal(xst_path_canon("/a/b", 3, false, out, sizeof(out), &rel),
                     0);
    assert_int_equal(rel, 0);
    assert_int_equal(xst_path_canon("/a/", 0, false, out, 4096, &rel), -EINVAL);
    assert_int_equal(xst_path_canon("/a//b", 0, false, out, 4096, &rel),
                     -EINVAL);
    assert_int_equal(xst_path_canon("/a b", 0, false, out, 4096, &rel),
                     -EINVAL);
    assert_int_equal(xst_path_canon("", 0, false, out, 4096, &rel), -EINVAL);
    assert_int_equal(
        xst_path_canon("@releaseDomain", 0, false, out, 4096, &rel), -EINVAL);
    assert_int_equal(xst_path_canon("@releaseDomain", 0, true, out, 4096, &rel),
                     0);
    assert_int_equal(xst_path_canon("/", 0, false, out, 4096, &rel), 0);
    memset(lng, 'a', sizeof(lng));
    lng[0] = '/';
    lng[XST_PATH_REL_MAX + 1] = '\0';
    assert_int_equal(xst_path_canon(lng, 0, false, out, 4096, &rel), -EINVAL);
    lng[XST_PATH_REL_MAX] = '\0';
    assert_int_equal(xst_path_canon(lng, 0, false, out, 4096, &rel), 0);
    /* Below /local/domain/<id>/ the prefix does not count. */
    lng[XST_PATH_REL_MAX] = 'a';
    lng[XST_PATH_REL_MAX - 15] = '\0';
    assert_int_equal(xst_path_canon(lng + 1, 12, false, out, 4096, &rel), 0);
    assert_true(xst_path_under("/a/b", "/a"));
    assert_true(xst_path_under("/a", "/a"));
    assert_false(xst_path_under("/ab", "/a"));
    assert_true(xst_path_under("/x", "/"));
}

static void perm_strings(void **state)
{
    struct xst_perm p[4];

    (void)state;
    assert_int_equal(xst_perms_parse("n0\0r3\0b12\0w4", 13, p, 4), 4);
    assert_int_equal(p[2].dom, 12);
    assert_int_equal(p[2].mode, XST_P_BOTH);
    assert_int_equal(xst_perms_parse("x0", 3, p, 4), -EINVAL);
    assert_int_equal(xst_perms_parse("r", 2, p, 4), -EINVAL);
    assert_int_equal(xst_perms_parse("r3x", 4, p, 4), -EINVAL);
    assert_int_equal(xst_perms_parse("r99999", 7, p, 4), -EINVAL);
    assert_int_equal(xst_perms_parse("r1", 2, p, 4), -EINVAL); /* no NUL */
    assert_int_equal(xst_perms_parse("r1\0r2\0r3", 9, p, 2), -ENOSPC);
    assert_int_equal(xst_perms_parse("r32751", 7, p, 4), 1);
    assert_int_equal(p[0].dom, 32751);
    assert_int_equal(xst_perms_parse("r32752", 7, p, 4), -EINVAL); /* 0x7ff0 */
    assert_int_equal(xst_perms_parse("r0000003", 9, p, 4), -EINVAL);
    assert_int_equal(xst_perms_parse("r+3", 4, p, 4), -EINVAL);
    assert_int_equal(xst_perms_parse("r 3", 4, p, 4), -EINVAL);
}

/* The one parser of an entry (libgrant/lib/xsperm.c), as libgrant's
 * xenbus helpers call it: n bytes, not NUL-terminated. */
static void perm_entry(void **state)
{
    unsigned mode = 9, dom = 9;

    (void)state;
    assert_int_equal(lg_perm_parse("b7,r0", 2, &mode, &dom), 0);
    assert_int_equal(mode, LG_PERM_BOTH);
    assert_int_equal(dom, 7);
    assert_int_equal(lg_perm_parse("w12345", 6, &mode, &dom), 0);
    assert_int_equal(mode, LG_PERM_WRITE);
    assert_int_equal(dom, 12345);
    assert_int_equal(lg_perm_parse("n0", 2, &mode, &dom), 0);
    assert_int_equal(mode, LG_PERM_NONE);
    mode = dom = 9;
    assert_int_equal(lg_perm_parse("r1", 1, &mode, &dom), -EINVAL);
    assert_int_equal(lg_perm_parse("r123456", 7, &mode, &dom), -EINVAL);
    assert_int_equal(lg_perm_parse("q1", 2, &mode, &dom), -EINVAL);
    assert_int_equal(lg_perm_parse("r65535", 6, &mode, &dom), -EINVAL);
    assert_int_equal(lg_perm_parse("r1,", 3, &mode, &dom), -EINVAL);
    assert_int_equal(mode, 9); /* nothing written on failure */
    assert_int_equal(dom, 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(write_read_inherit, setup, teardown),
        cmocka_unit_test_setup_teardown(acl_order_and_owner, setup, teardown),
        cmocka_unit_test_setup_teardown(quota, setup, teardown),
        cmocka_unit_test_setup_teardown(rm_missing_tells_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rm_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(snapshot_is_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_edit_leaves_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(forget_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(mkdir_existing_needs_write, setup,
                                        teardown),
        cmocka_unit_test(names),
        cmocka_unit_test(perm_strings),
        cmocka_unit_test(perm_entry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
