/* SPDX-License-Identifier: MIT */
/*
 * xenbus.c: libgrant_xenbus.h's handles, nodes, device paths and the
 * XenbusState machine, over the real libxenstore.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "xenbus_private.h"
#include "xsperm.h"

int lg_xb_err(void)
{
    return errno > 0 ? -errno : -EIO;
}

int lg_xb_path(const char *dir, const char *node, char *buf, size_t len)
{
    int n;

    if (!dir || !*dir)
        return -EINVAL;
    if (node && *node)
        n = snprintf(buf, len, "%s/%s", dir, node);
    else
        n = snprintf(buf, len, "%s", dir);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Points libxenstore at xgrantd's store unless told otherwise. */
static int store_env(void)
{
    const char *cur = getenv("XENSTORED_PATH");
    char path[4096];
    int rc;

    if (strcmp(lg_transport_name(), "sim") != 0 || (cur && *cur))
        return 0;
    rc = lg_store_sock_path(path, sizeof(path));
    if (rc < 0)
        return rc;
    return setenv("XENSTORED_PATH", path, 1) < 0 ? -ENOMEM : 0;
}

int grant_xenbus_open(grant_xenbus_t **out, unsigned flags)
{
    grant_xenbus_t *xb;
    int rc;

    *out = NULL;
    if (flags)
        return -EINVAL;
    rc = store_env();
    if (rc < 0)
        return rc;
    xb = calloc(1, sizeof(*xb));
    if (!xb)
        return -ENOMEM;
    xb->xs = xs_open(0);
    if (!xb->xs) {
        rc = lg_xb_err();
        free(xb);
        return rc;
    }
    xb->fd = xs_fileno(xb->xs);
    if (xb->fd < 0) {
        rc = lg_xb_err();
        grant_xenbus_close(xb);
        return rc;
    }
    *out = xb;
    return 0;
}

void grant_xenbus_close(grant_xenbus_t *xb)
{
    if (!xb)
        return;
    xs_close(xb->xs); /* the store drops the connection's watches */
    lg_xb_events_free(xb);
    free(xb);
}

struct xs_handle *grant_xenbus_xs(grant_xenbus_t *xb)
{
    return xb->xs;
}

/* ---- Nodes ------------------------------------------------------------ */

int grant_xenbus_read(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                      const char *node, char **value, unsigned *len)
{
    char path[GRANT_XENBUS_PATH_MAX];
    unsigned n;
    int rc = lg_xb_path(dir, node, path, sizeof(path));

    *value = NULL;
    if (rc < 0)
        return rc;
    *value = xs_read(xb->xs, t, path, &n); /* NUL-terminated by libxenstore */
    if (!*value)
        return lg_xb_err();
    if (len)
        *len = n;
    return 0;
}

int grant_xenbus_write(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                       const char *node, const char *value)
{
    char path[GRANT_XENBUS_PATH_MAX];
    size_t n = strlen(value);
    int rc = lg_xb_path(dir, node, path, sizeof(path));

    if (rc < 0)
        return rc;
    if (n > XENSTORE_PAYLOAD_MAX)
        return -ENAMETOOLONG;
    return xs_write(xb->xs, t, path, value, (unsigned)n) ? 0 : lg_xb_err();
}

int grant_xenbus_printf(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                        const char *node, const char *fmt, ...)
{
    char value[XENSTORE_PAYLOAD_MAX + 1];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(value, sizeof(value), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(value))
        return -ENAMETOOLONG;
    return grant_xenbus_write(xb, t, dir, node, value);
}

int grant_xenbus_scanf(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                       const char *node, const char *fmt, ...)
{
    char *value;
    va_list ap;
    int rc = grant_xenbus_read(xb, t, dir, node, &value, NULL);

    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    rc = vsscanf(value, fmt, ap);
    va_end(ap);
    free(value);
    return rc < 0 ? 0 : rc; /* EOF: an empty value converts nothing */
}

/* op (xs_rm or xs_mkdir) on dir/node. */
static int path_op(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                   const char *node,
                   bool (*op)(struct xs_handle *, xs_transaction_t,
                              const char *))
{
    char path[GRANT_XENBUS_PATH_MAX];
    int rc = lg_xb_path(dir, node, path, sizeof(path));

    if (rc < 0)
        return rc;
    return op(xb->xs, t, path) ? 0 : lg_xb_err();
}

int grant_xenbus_rm(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                    const char *node)
{
    int rc = path_op(xb, t, dir, node, xs_rm);

    return rc == -ENOENT ? 0 : rc;
}

int grant_xenbus_mkdir(grant_xenbus_t *xb, xs_transaction_t t, const char *dir,
                       const char *node)
{
    return path_op(xb, t, dir, node, xs_mkdir);
}

_Static_assert(LG_PERM_READ == XS_PERM_READ && LG_PERM_WRITE == XS_PERM_WRITE,
               "xsperm.h's modes are libxenstore's bits");

int grant_xenbus_set_perms(grant_xenbus_t *xb, xs_transaction_t t,
                           const char *dir, const char *node, const char *perms)
{
    struct xs_permissions p[16];
    char path[GRANT_XENBUS_PATH_MAX];
    unsigned n = 0;
    const char *s = perms;
    int rc = lg_xb_path(dir, node, path, sizeof(path));

    if (rc < 0)
        return rc;
    for (;;) {
        size_t len = strcspn(s, ",");
        unsigned mode, dom;

        if (n == 16 || lg_perm_parse(s, len, &mode, &dom) < 0)
            return -EINVAL;
        p[n].perms = mode;
        p[n++].id = dom;
        if (!s[len])
            break;
        s += len + 1;
    }
    return xs_set_permissions(xb->xs, t, path, p, n) ? 0 : lg_xb_err();
}

/* ---- Device paths ----------------------------------------------------- */

static int kind_ok(const char *kind)
{
    return kind && *kind && !strchr(kind, '/') && strlen(kind) < 64;
}

int grant_xenbus_frontend_dir(unsigned fe_domid, const char *kind,
                              unsigned devid, char *buf, size_t len)
{
    int n;

    if (!kind_ok(kind))
        return -EINVAL;
    n = snprintf(buf, len, "/local/domain/%u/device/%s/%u", fe_domid, kind,
                 devid);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int grant_xenbus_backend_dir(unsigned be_domid, const char *kind,
                             unsigned fe_domid, unsigned devid, char *buf,
                             size_t len)
{
    int n;

    if (!kind_ok(kind))
        return -EINVAL;
    n = snprintf(buf, len, "/local/domain/%u/backend/%s/%u/%u", be_domid, kind,
                 fe_domid, devid);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* A decimal domain id with nothing around it. */
static int parse_domid(const char *s, unsigned *domid)
{
    unsigned long v;
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (*end || errno || v > 0x7fef) /* DOMID_FIRST_RESERVED - 1 */
        return -EINVAL;
    *domid = (unsigned)v;
    return 0;
}

int grant_xenbus_otherend(grant_xenbus_t *xb, const char *dir, const char *end,
                          char **path, unsigned *domid)
{
    char idnode[64], *id = NULL;
    unsigned dummy;
    int rc, n = snprintf(idnode, sizeof(idnode), "%s-id", end);

    *path = NULL;
    if (n < 0 || (size_t)n >= sizeof(idnode) || !*end || strchr(end, '/'))
        return -EINVAL;
    rc = grant_xenbus_read(xb, XBT_NULL, dir, idnode, &id, NULL);
    if (rc == 0)
        rc = parse_domid(id, domid ? domid : &dummy);
    free(id);
    if (rc == 0)
        rc = grant_xenbus_read(xb, XBT_NULL, dir, end, path, NULL);
    if (rc == 0 && (*path)[0] != '/')
        rc = -EINVAL;
    if (rc < 0) {
        free(*path);
        *path = NULL;
    }
    return rc;
}

/* ---- The XenbusState machine ------------------------------------------ */

const char *grant_xenbus_state_name(int state)
{
    static const char *const names[] = {
        "Unknown", "Initialising", "InitWait",      "Initialised",  "Connected",
        "Closing", "Closed",       "Reconfiguring", "Reconfigured",
    };

    if (state < 0 || (size_t)state >= sizeof(names) / sizeof(names[0]))
        return "Invalid";
    return names[state];
}

int grant_xenbus_read_state(grant_xenbus_t *xb, xs_transaction_t t,
                            const char *dir, int *state)
{
    char *v, *end;
    long s;
    int rc = grant_xenbus_read(xb, t, dir, "state", &v, NULL);

    if (rc == -ENOENT) {
        *state = XenbusStateUnknown;
        return 0;
    }
    if (rc < 0)
        return rc;
    errno = 0;
    s = strtol(v, &end, 10);
    rc = (*v && !*end && !errno && s >= 0 && s <= INT_MAX) ? 0 : -EINVAL;
    free(v);
    if (rc == 0)
        *state = (int)s;
    return rc;
}

struct switch_arg {
    const char *dir;
    int state;
};

static int switch_in(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    const struct switch_arg *a = arg;
    char *cur;
    int rc = grant_xenbus_read(xb, t, a->dir, "state", &cur, NULL);
    int same;

    if (rc < 0)
        return rc;
    same = atoi(cur) == a->state && *cur;
    free(cur);
    return same ? 0
                : grant_xenbus_printf(xb, t, a->dir, "state", "%d", a->state);
}

int grant_xenbus_switch_state(grant_xenbus_t *xb, xs_transaction_t t,
                              const char *dir, int state)
{
    struct switch_arg a = {dir, state};

    if (state < XenbusStateUnknown || state > XenbusStateReconfigured)
        return -EINVAL;
    if (t != XBT_NULL)
        return switch_in(xb, t, &a);
    return grant_xenbus_transact(xb, switch_in, &a, 0);
}
