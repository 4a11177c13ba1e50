/* SPDX-License-Identifier: MIT */
/*
 * xlab_xs.c: the handshake between dom0 and the guest, in xenstore under
 * /local/domain/<guest>/data/xlab.  dom0 makes the folder and gives it to
 * the guest (owner), so both sides read and write every key there.  Waits
 * poll (under TCG a watch buys nothing) with a generous bound.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xenstore.h>

#include "xlab.h"

static struct xs_handle *xs;
static char base[64];
static int peer_gone; /* a wait timed out: later ones fail at once */

int xlab_xs_open(unsigned guest, int make_dir)
{
    struct xs_permissions perm = {.id = guest, .perms = XS_PERM_NONE};
    char *dom;
    unsigned len;

    xs = xs_open(0);
    if (!xs)
        return -errno;
    if (!guest) { /* the guest: its own id from its home folder */
        dom = xs_read(xs, XBT_NULL, "domid", &len);
        if (!dom)
            return -errno;
        guest = (unsigned)strtoul(dom, NULL, 10);
        free(dom);
    }
    snprintf(base, sizeof(base), "/local/domain/%u/data/xlab", guest);
    if (!make_dir)
        return 0;
    if (!xs_mkdir(xs, XBT_NULL, base) ||
        !xs_set_permissions(xs, XBT_NULL, base, &perm, 1))
        return -errno;
    return 0;
}

int xlab_xs_write(const char *key, const char *fmt, ...)
{
    char path[128], val[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return -E2BIG;
    snprintf(path, sizeof(path), "%s/%s", base, key);
    return xs_write(xs, XBT_NULL, path, val, (unsigned)n) ? 0 : -errno;
}

int xlab_xs_wait(const char *key, char *buf, unsigned len)
{
    time_t end = time(NULL) + XLAB_WAIT_S;
    char path[128], *v;
    unsigned got;

    snprintf(path, sizeof(path), "%s/%s", base, key);
    while (!peer_gone && time(NULL) < end) {
        v = xs_read(xs, XBT_NULL, path, &got);
        if (v) {
            snprintf(buf, len, "%.*s", (int)got, v);
            free(v);
            return 0;
        }
        usleep(200 * 1000);
    }
    peer_gone = 1;
    return -ETIMEDOUT;
}

int xlab_xs_wait_u32(const char *key, uint32_t *v)
{
    char buf[32], *end;
    int rc = xlab_xs_wait(key, buf, sizeof(buf));

    if (rc < 0)
        return rc;
    errno = 0;
    if (!strncmp(buf, "ERR", 3)) { /* the peer's step failed: its error */
        rc = (int)strtol(buf + 3, &end, 10);
        return rc < 0 && !*end ? rc : -EINVAL;
    }
    *v = (uint32_t)strtoul(buf, &end, 0);
    return errno || *end || end == buf ? -EINVAL : 0;
}

void xlab_xs_close(void)
{
    if (xs)
        xs_close(xs);
    xs = NULL;
}
