/* SPDX-License-Identifier: MIT */
/*
 * tree.c: the store's node tree and Xen's permission rules.
 *
 * Nodes are reference counted; a node with more than one reference is
 * never changed: an edit copies every shared node on its way down (the
 * copy takes a reference on each child), then changes the copies.  A
 * snapshot is therefore one reference on a root, and an edit made on a
 * fresh reference of the live root is thrown away whole when it fails.
 *
 * Permissions are cxenstored's: domain 0 and the owner (perms[0].dom) may
 * do everything; otherwise the first entry naming the domain applies, else
 * perms[0].mode.  A node created by a domain other than 0 is owned by it;
 * one created by domain 0 keeps the parent's owner.  Both inherit the
 * parent's list.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XST_TREE_ONLY
#include "private.h"

#define DEPTH_MAX (XST_PATH_ABS_MAX / 2 + 1)

struct xst_node *xst_node_get(struct xst_node *n)
{
    if (n)
        n->ref++;
    return n;
}

void xst_node_put(struct xst_node *n)
{
    if (!n || --n->ref > 0)
        return;
    for (uint32_t i = 0; i < n->nkids; i++)
        xst_node_put(n->kids[i]);
    free(n->kids);
    free(n->perms);
    free(n->val);
    free(n->name);
    free(n);
}

static struct xst_node *node_new(const char *name, size_t nlen,
                                 const struct xst_perm *p, uint32_t np)
{
    struct xst_node *n = calloc(1, sizeof(*n));

    if (!n)
        return NULL;
    n->ref = 1;
    n->name = strndup(name, nlen);
    n->perms = malloc(np * sizeof(*p));
    if (!n->name || !n->perms) {
        xst_node_put(n);
        return NULL;
    }
    memcpy(n->perms, p, np * sizeof(*p));
    n->nperms = np;
    return n;
}

struct xst_node *xst_tree_new(void)
{
    static const struct xst_perm p = {0, XST_P_NONE};

    return node_new("", 0, &p, 1);
}

/* A private copy of n (children shared). */
static struct xst_node *node_copy(const struct xst_node *n)
{
    struct xst_node *c =
        node_new(n->name, strlen(n->name), n->perms, n->nperms);

    if (!c)
        return NULL;
    c->gen = n->gen;
    if (n->vlen && !(c->val = malloc(n->vlen)))
        goto fail;
    if (n->vlen)
        memcpy(c->val, n->val, n->vlen);
    c->vlen = n->vlen;
    if (n->nkids && !(c->kids = malloc(n->nkids * sizeof(*c->kids))))
        goto fail;
    for (uint32_t i = 0; i < n->nkids; i++)
        c->kids[i] = xst_node_get(n->kids[i]);
    c->nkids = n->nkids;
    return c;
fail:
    xst_node_put(c);
    return NULL;
}

/* Makes *slot exclusively ours; 0 or -ENOMEM. */
static int own(struct xst_node **slot)
{
    struct xst_node *c;

    if ((*slot)->ref == 1)
        return 0;
    c = node_copy(*slot);
    if (!c)
        return -ENOMEM;
    xst_node_put(*slot);
    *slot = c;
    return 0;
}

/* Index of the child named [name, name+len), or where it would go
 * (negative: -(pos + 1)). */
static long kid_index(const struct xst_node *n, const char *name, size_t len)
{
    size_t lo = 0, hi = n->nkids;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(n->kids[mid]->name, name, len);

        if (c == 0 && n->kids[mid]->name[len] != '\0')
            c = 1;
        if (c == 0)
            return (long)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(long)lo - 1;
}

/* The next component of *p (advanced past it): its length, 0 at the end. */
static size_t next_comp(const char **p, const char **comp)
{
    const char *s = *p, *e;

    while (*s == '/')
        s++;
    e = strchrnul(s, '/');
    *comp = s;
    *p = e;
    return (size_t)(e - s);
}

/* The nearest existing node of path; *missing: components below it. */
static const struct xst_node *nearest(const struct xst_node *n,
                                      const char *path, unsigned *missing)
{
    const char *comp;
    size_t len;

    *missing = 0;
    while ((len = next_comp(&path, &comp)) > 0) {
        long i = kid_index(n, comp, len);

        if (i < 0) {
            *missing = 1;
            while (next_comp(&path, &comp) > 0)
                (*missing)++;
            break;
        }
        n = n->kids[i];
    }
    return n;
}

const struct xst_node *xst_tree_nearest(const struct xst_node *root,
                                        const char *path)
{
    unsigned missing;

    return nearest(root, path, &missing);
}

const struct xst_node *xst_tree_find(const struct xst_node *root,
                                     const char *path)
{
    const char *comp;
    size_t len;

    while ((len = next_comp(&path, &comp)) > 0) {
        long i = kid_index(root, comp, len);

        if (i < 0)
            return NULL;
        root = root->kids[i];
    }
    return root;
}

unsigned xst_perm_for(const struct xst_node *n, uint16_t dom)
{
    if (dom == 0 || n->perms[0].dom == dom)
        return XST_P_BOTH;
    for (uint32_t i = 1; i < n->nperms; i++)
        if (n->perms[i].dom == dom)
            return n->perms[i].mode;
    return n->perms[0].mode;
}

int xst_tree_get(const struct xst_node *root, const char *path, uint16_t dom,
                 unsigned need, const struct xst_node **out)
{
    const struct xst_node *n = xst_tree_find(root, path);

    if (!n) {
        /* Do not tell whether it exists below what dom may not read. */
        n = xst_tree_nearest(root, path);
        return xst_perm_for(n, dom) & XST_P_READ ? -ENOENT : -EACCES;
    }
    if ((xst_perm_for(n, dom) & need) != need)
        return -EACCES;
    *out = n;
    return 0;
}

/* ---- accounting ---------------------------------------------------------- */

int32_t xst_acct_of(const struct xst_edit *e, uint16_t dom)
{
    for (size_t i = 0; i < e->nacct; i++)
        if (e->acct[i].dom == dom)
            return e->acct[i].delta;
    return 0;
}

static int acct(struct xst_edit *e, uint16_t dom, int32_t delta)
{
    struct xst_acct *a;

    for (size_t i = 0; i < e->nacct; i++) {
        if (e->acct[i].dom == dom) {
            e->acct[i].delta += delta;
            return 0;
        }
    }
    if (e->nacct == e->acct_cap) {
        size_t cap = e->acct_cap ? e->acct_cap * 2 : 4;

        a = reallocarray(e->acct, cap, sizeof(*a));
        if (!a)
            return -ENOMEM;
        e->acct = a;
        e->acct_cap = cap;
    }
    e->acct[e->nacct++] = (struct xst_acct){dom, delta};
    return 0;
}

void xst_edit_done(struct xst_edit *e)
{
    free(e->acct);
    e->acct = NULL;
    e->nacct = e->acct_cap = 0;
}

/* May e's caller own n more nodes? */
static int quota_ok(const struct xst_edit *e, uint32_t n)
{
    int64_t have;

    if (e->caller == 0 || !e->counts)
        return 0;
    have = (int64_t)e->counts[e->caller] + xst_acct_of(e, e->caller);
    return have + n > e->quota ? -ENOSPC : 0;
}

/* ---- edits --------------------------------------------------------------- */

/* A new child [name, len) of the exclusive node parent, inheriting its
 * perms; *out the child. */
static int add_kid(struct xst_edit *e, struct xst_node *parent,
                   const char *name, size_t len, long at, struct xst_node **out)
{
    size_t pos = (size_t)(-at - 1);
    struct xst_node **k, *n;

    k = reallocarray(parent->kids, parent->nkids + 1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    parent->kids = k;
    n = node_new(name, len, parent->perms, parent->nperms);
    if (!n || acct(e, e->caller ? e->caller : parent->perms[0].dom, 1) < 0) {
        xst_node_put(n);
        return -ENOMEM;
    }
    if (e->caller)
        n->perms[0].dom = e->caller;
    n->gen = ++*e->gen;
    memmove(k + pos + 1, k + pos, (parent->nkids - pos) * sizeof(*k));
    k[pos] = n;
    parent->nkids++;
    parent->gen = n->gen;
    *out = n;
    return 0;
}

/* Walks to path making every node on the way exclusive, creating missing
 * ones when create; *out the node, *parent_out its parent (NULL at root). */
static int walk_own(struct xst_edit *e, const char *path, bool create,
                    struct xst_node **out, struct xst_node **parent_out)
{
    struct xst_node **slot = &e->root, *parent = NULL;
    const char *comp;
    size_t len;
    int r = own(slot);

    while (r == 0 && (len = next_comp(&path, &comp)) > 0) {
        struct xst_node *n = *slot;
        long i = kid_index(n, comp, len);

        parent = n;
        if (i >= 0) {
            slot = &n->kids[i];
            r = own(slot);
        } else if (!create) {
            r = -ENOENT;
        } else {
            struct xst_node *kid;

            r = add_kid(e, n, comp, len, i, &kid);
            if (r == 0)
                slot = &n->kids[kid_index(n, comp, len)];
        }
    }
    if (r == 0) {
        *out = *slot;
        if (parent_out)
            *parent_out = parent;
    }
    return r;
}

static int set_val(struct xst_node *n, const char *val, uint32_t vlen,
                   uint64_t gen)
{
    char *v = NULL;

    if (vlen && !(v = malloc(vlen)))
        return -ENOMEM;
    if (vlen)
        memcpy(v, val, vlen);
    free(n->val);
    n->val = v;
    n->vlen = vlen;
    n->gen = gen;
    return 0;
}

int xst_tree_write(struct xst_edit *e, const char *path, const char *val,
                   uint32_t vlen, bool mkdir)
{
    const struct xst_node *n = xst_tree_find(e->root, path);
    struct xst_node *w;
    int r;

    /* MKDIR of an existing node is fine only where a write would be (as
     * cxenstored), so it tells nothing about nodes the caller may not see. */
    if (n && !(xst_perm_for(n, e->caller) & XST_P_WRITE))
        return -EACCES;
    if (n && mkdir)
        return 0;
    if (!n) {
        unsigned missing;
        const struct xst_node *a = nearest(e->root, path, &missing);

        if (!(xst_perm_for(a, e->caller) & XST_P_WRITE))
            return -EACCES;
        r = quota_ok(e, missing);
        if (r < 0)
            return r;
    }
    r = walk_own(e, path, true, &w, NULL);
    if (r == 0 && (!n || !mkdir))
        r = set_val(w, val, vlen, ++*e->gen);
    return r;
}

/* Uncounts every node of the subtree at n. */
static int uncount(struct xst_edit *e, const struct xst_node *n, unsigned depth)
{
    int r = acct(e, n->perms[0].dom, -1);

    if (depth > DEPTH_MAX)
        return -EIO; /* cannot happen: paths are bounded */
    for (uint32_t i = 0; r == 0 && i < n->nkids; i++)
        r = uncount(e, n->kids[i], depth + 1);
    return r;
}

int xst_tree_rm(struct xst_edit *e, const char *path)
{
    const struct xst_node *n = xst_tree_find(e->root, path);
    const char *slash = strrchr(path, '/');
    char parent_path[XST_PATH_ABS_MAX + 1];
    struct xst_node *p, *dummy;
    long i;
    int r;

    if (!slash || slash[1] == '\0')
        return -EINVAL; /* "/" */
    snprintf(parent_path, sizeof(parent_path), "%.*s",
             slash == path ? 1 : (int)(slash - path), path);
    if (!n) {
        unsigned missing;
        const struct xst_node *a = nearest(e->root, path, &missing);

        /* As cxenstored: the nearest existing ancestor's write permission
         * decides, so the answer tells nothing about what dom may not
         * touch; then a missing child of an existing parent is fine. */
        if (!(xst_perm_for(a, e->caller) & XST_P_WRITE))
            return -EACCES;
        return missing == 1 ? 0 : -ENOENT;
    }
    if (!(xst_perm_for(n, e->caller) & XST_P_WRITE))
        return -EACCES;
    r = walk_own(e, parent_path, false, &p, &dummy);
    if (r == 0)
        r = uncount(e, n, 0);
    if (r < 0)
        return r;
    i = kid_index(p, slash + 1, strlen(slash + 1));
    xst_node_put(p->kids[i]);
    memmove(p->kids + i, p->kids + i + 1,
            (p->nkids - (size_t)i - 1) * sizeof(*p->kids));
    p->nkids--;
    p->gen = ++*e->gen;
    return 0;
}

int xst_tree_set_perms(struct xst_edit *e, const char *path,
                       const struct xst_perm *p, uint32_t np)
{
    const struct xst_node *n;
    struct xst_node *w;
    struct xst_perm *cp;
    int r = xst_tree_get(e->root, path, e->caller, XST_P_WRITE, &n);

    if (r < 0)
        return r;
    if (e->caller != 0 && n->perms[0].dom != e->caller)
        return -EACCES; /* only its owner (or domain 0) */
    if (e->caller != 0 && p[0].dom != n->perms[0].dom)
        return -EPERM; /* only domain 0 gives a node away */
    cp = malloc(np * sizeof(*cp));
    if (!cp)
        return -ENOMEM;
    memcpy(cp, p, np * sizeof(*cp));
    r = walk_own(e, path, false, &w, NULL);
    if (r == 0 && w->perms[0].dom != p[0].dom)
        r = acct(e, w->perms[0].dom, -1) ?: acct(e, p[0].dom, 1);
    if (r < 0) {
        free(cp);
        return r;
    }
    free(w->perms);
    w->perms = cp;
    w->nperms = np;
    w->gen = ++*e->gen;
    return 0;
}

/* ---- a domain is gone ---------------------------------------------------- */

static bool mentions(const struct xst_node *n, uint16_t dom)
{
    for (uint32_t i = 0; i < n->nperms; i++)
        if (n->perms[i].dom == dom)
            return true;
    return false;
}

static bool subtree_mentions(const struct xst_node *n, uint16_t dom)
{
    if (mentions(n, dom))
        return true;
    for (uint32_t i = 0; i < n->nkids; i++)
        if (subtree_mentions(n->kids[i], dom))
            return true;
    return false;
}

/* Domain 0 takes over what dom owned; entries naming dom are dropped. */
static int forget_node(struct xst_edit *e, struct xst_node *n, uint16_t dom)
{
    uint32_t k = 1;

    if (n->perms[0].dom == dom) {
        if (acct(e, dom, -1) < 0 || acct(e, 0, 1) < 0)
            return -ENOMEM;
        n->perms[0].dom = 0;
    }
    for (uint32_t i = 1; i < n->nperms; i++)
        if (n->perms[i].dom != dom)
            n->perms[k++] = n->perms[i];
    n->nperms = k;
    n->gen = ++*e->gen;
    return 0;
}

static int forget(struct xst_edit *e, struct xst_node **slot, uint16_t dom)
{
    struct xst_node *n;
    int r;

    if (!subtree_mentions(*slot, dom))
        return 0;
    if ((r = own(slot)) < 0)
        return r;
    n = *slot;
    if (mentions(n, dom) && (r = forget_node(e, n, dom)) < 0)
        return r;
    for (uint32_t i = 0; r == 0 && i < n->nkids; i++)
        r = forget(e, &n->kids[i], dom);
    return r;
}

int xst_tree_forget_dom(struct xst_edit *e, uint16_t dom)
{
    return dom == 0 ? 0 : forget(e, &e->root, dom);
}
