/* SPDX-License-Identifier: MIT */
/*
 * dom.c: the store's view of domains.
 *
 * When xgrantd makes a domain it writes what libxl's libxl__domain_make
 * and build_post write (tools/libs/light/libxl_create.c, libxl_dom.c), with
 * the same permissions: /local/domain/<N> and cpu/, memory/, device/,
 * control/ owned by domain 0 and readable by N ("n0 rN"); control/shutdown,
 * control/feature-*, control/sysrq, device/suspend/event-channel, data/,
 * drivers/, feature/, attr/, error/ owned by N ("nN"); name, domid, vm,
 * memory/static-max and memory/target inherit "n0 rN"; /vm/<uuid> and
 * /libxl/<N>.  Then @introduceDomain fires.  When it is destroyed those go
 * (backend nodes under /local/domain/0/backend are the toolstack's), its
 * store connections close, what it still owns goes to domain 0, and
 * @releaseDomain fires.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "private.h"

enum { P_INHERIT, P_RO, P_RW, P_NONE };

struct node_spec {
    const char *rel; /* below /local/domain/<N> ("" itself) */
    int perm;
};

/* Nodes made empty, in libxl's order. */
static const struct node_spec dom_nodes[] = {
    {"", P_RO},
    {"/cpu", P_RO},
    {"/memory", P_RO},
    {"/device", P_RO},
    {"/control", P_RO},
    {"/control/shutdown", P_RW},
    {"/control/feature-poweroff", P_RW},
    {"/control/feature-reboot", P_RW},
    {"/control/feature-suspend", P_RW},
    {"/control/sysrq", P_RW},
    {"/device/suspend/event-channel", P_RW},
    {"/data", P_RW},
    {"/drivers", P_RW},
    {"/feature", P_RW},
    {"/attr", P_RW},
    {"/error", P_RW},
};

static uint8_t introduced[XST_DOMID_COUNT];

int xst_special_index(const char *path)
{
    if (strcmp(path, "@introduceDomain") == 0)
        return 0;
    if (strcmp(path, "@releaseDomain") == 0)
        return 1;
    return -1;
}

bool xst_dom_known(unsigned id)
{
    return id < XST_DOMID_COUNT && introduced[id];
}

/* Writes path (val NULL: an empty node) with perm for domain dom. */
static int put(struct xst_edit *e, const char *path, const char *val, int perm,
               uint16_t dom)
{
    struct xst_perm p[2] = {{0, XST_P_NONE}, {dom, XST_P_READ}};
    int r =
        xst_tree_write(e, path, val ? val : "", val ? strlen(val) : 0, false);

    if (r == 0 && perm == P_RW)
        p[0].dom = dom;
    if (r == 0 && perm != P_INHERIT)
        r = xst_tree_set_perms(e, path, p, perm == P_RO ? 2 : 1);
    return r;
}

static int putf(struct xst_edit *e, const char *dom_path, const char *rel,
                const char *val, uint16_t dom)
{
    char path[256];

    snprintf(path, sizeof(path), "%s%s", dom_path, rel);
    return put(e, path, val, P_INHERIT, dom);
}

static void make_uuid(char *buf, size_t len)
{
    uint8_t u[16] = {0};

    if (getrandom(u, sizeof(u), GRND_NONBLOCK) != (ssize_t)sizeof(u))
        u[0] ^= 1; /* unique enough: the domid is in it too */
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    snprintf(buf, len,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
             u[11], u[12], u[13], u[14], u[15]);
}

/* Everything but the nodes of dom_nodes; vm is /vm/<uuid>. */
static int put_values(struct xst_edit *e, const struct xd_dom *d,
                      const char *dp, const char *vm)
{
    char buf[256], kib[32], id[8];
    int r;

    snprintf(kib, sizeof(kib), "%llu", (unsigned long long)(d->nr_frames * 4u));
    snprintf(id, sizeof(id), "%u", (unsigned)d->id);
    r = put(e, vm, NULL, P_RO, d->id);
    snprintf(buf, sizeof(buf), "%s/uuid", vm);
    r = r ?: put(e, buf, vm + 4, P_INHERIT, d->id);
    snprintf(buf, sizeof(buf), "%s/name", vm);
    r = r ?: put(e, buf, d->name, P_INHERIT, d->id);
    snprintf(buf, sizeof(buf), "/libxl/%u", (unsigned)d->id);
    r = r ?: put(e, buf, NULL, P_NONE, d->id);
    snprintf(buf, sizeof(buf), "/libxl/%u/type", (unsigned)d->id);
    r = r ?: put(e, buf, "pv", P_INHERIT, d->id);
    r = r ?: putf(e, dp, "/vm", vm, d->id);
    r = r ?: putf(e, dp, "/name", d->name, d->id);
    r = r ?: putf(e, dp, "/domid", id, d->id);
    r = r ?: putf(e, dp, "/memory/static-max", kib, d->id);
    r = r ?: putf(e, dp, "/memory/target", kib, d->id);
    r = r
            ?: putf(e, dp, "/control/platform-feature-multiprocessor-suspend",
                    "1", d->id);
    r = r
            ?: putf(e, dp, "/control/platform-feature-xs_reset_watches", "1",
                    d->id);
    return r;
}

static int make_nodes(struct xst_edit *e, const struct xd_dom *d,
                      const char *dp, const char *vm)
{
    char path[256];
    int r = xst_tree_rm(e, dp);

    for (size_t i = 0; r == 0 && i < sizeof(dom_nodes) / sizeof(*dom_nodes);
         i++) {
        snprintf(path, sizeof(path), "%s%s", dp, dom_nodes[i].rel);
        r = put(e, path, NULL, dom_nodes[i].perm, d->id);
    }
    return r ?: put_values(e, d, dp, vm);
}

void xst_dom_introduce(const struct xd_dom *d)
{
    char dp[64], vm[64], uuid[40];
    struct xst_edit e;
    int r;

    if (xst.lfd < 0 || d->id >= XST_DOMID_COUNT)
        return;
    make_uuid(uuid, sizeof(uuid));
    snprintf(dp, sizeof(dp), "/local/domain/%u", (unsigned)d->id);
    snprintf(vm, sizeof(vm), "/vm/%s", uuid);
    xst_live_begin(&e, 0);
    r = make_nodes(&e, d, dp, vm);
    xst_live_end(&e, r == 0);
    if (r < 0) {
        xd_log_dom(d, "store: cannot write its nodes: %s", strerror(-r));
        return;
    }
    introduced[d->id] = 1;
    xst_watch_fire(dp, false, xst.root);
    xst_watch_fire(vm, false, xst.root);
    xst_watch_fire_special(0);
}

/* Removes path (if there) in e, firing later; 0 or -errno. */
static int rm_path(struct xst_edit *e, const char *path)
{
    return path[0] == '/' ? xst_tree_rm(e, path) : 0;
}

static void close_conns(uint16_t id)
{
    struct xst_conn *c, *next;

    for (c = xst.conns; c; c = next) {
        next = c->next;
        if (c->dom == id)
            xst_conn_close(c, NULL);
    }
}

void xst_dom_release(uint16_t id)
{
    char dp[64], lx[32], vm[XST_PATH_ABS_MAX + 1] = "";
    const struct xst_node *n;
    struct xst_node *old;
    struct xst_edit e;
    int r;

    if (xst.lfd < 0 || id == 0 || id >= XST_DOMID_COUNT)
        return;
    close_conns(id);
    snprintf(dp, sizeof(dp), "/local/domain/%u", (unsigned)id);
    snprintf(lx, sizeof(lx), "/libxl/%u", (unsigned)id);
    snprintf(vm, sizeof(vm), "%s/vm", dp);
    n = xst_tree_find(xst.root, vm);
    vm[0] = '\0';
    if (n && n->vlen > 4 && n->vlen < 64 && memcmp(n->val, "/vm/", 4) == 0)
        snprintf(vm, sizeof(vm), "%.*s", (int)n->vlen, n->val);
    old = xst_node_get(xst.root);
    xst_live_begin(&e, 0);
    r = rm_path(&e, dp) ?: rm_path(&e, lx) ?: rm_path(&e, vm);
    r = r ?: xst_tree_forget_dom(&e, id);
    xst_live_end(&e, r == 0);
    if (r == 0) {
        xst_watch_fire(dp, true, old);
        if (vm[0])
            xst_watch_fire(vm, true, old);
    }
    xst_node_put(old);
    introduced[id] = 0;
    xst.nodes[id] = 0;
    xst_watch_fire_special(1);
}

int xst_dom_init(void)
{
    static const struct xst_perm none = {0, XST_P_NONE};
    struct xst_edit e;
    int r;

    xst.gen = 1;
    xst.root = xst_tree_new();
    xst.special[0] = xst_tree_new();
    xst.special[1] = xst_tree_new();
    if (!xst.root || !xst.special[0] || !xst.special[1])
        return -ENOMEM;
    xst_live_begin(&e, 0);
    r = put(&e, "/local/domain/0", NULL, P_INHERIT, 0);
    r = r ?: xst_tree_set_perms(&e, "/local/domain/0", &none, 1);
    r = r ?: put(&e, "/local/domain/0/name", XD_DOM0_NAME, P_INHERIT, 0);
    r = r ?: put(&e, "/local/domain/0/domid", "0", P_INHERIT, 0);
    r = r ?: put(&e, "/tool/xenstored", NULL, P_INHERIT, 0);
    xst_live_end(&e, r == 0);
    introduced[0] = 1;
    return r;
}
