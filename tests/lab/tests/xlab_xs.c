/* SPDX-License-Identifier: MIT */
/*
 * xlab_xs.c: the handshake between dom0 and the guest, in xenstore under
 * /local/domain/<guest>/data/xlab.  dom0 makes the folder and gives it to
 * the guest (owner), so both sides read and write every key there, through
 * libgrant's xenbus helpers (the real xenstored here: XGRANT_TRANSPORT=xen).
 * Waits poll (under TCG a watch buys nothing) with a generous bound.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "libgrant_xenbus.h"
#include "xlab.h"

static grant_xenbus_t *xb;
static char base[64];
static int peer_gone; /* a wait timed out: later ones fail at once */

int xlab_xs_open(unsigned guest, int make_dir)
{
    int rc = grant_xenbus_open(&xb, 0);

    if (rc < 0)
        return rc;
    if (!guest) { /* the guest: its own id from its home folder */
        rc = grant_xenbus_scanf(xb, XBT_NULL, "domid", NULL, "%u", &guest);
        if (rc != 1)
            return rc < 0 ? rc : -EINVAL;
    }
    return xlab_xs_folder(guest, make_dir);
}

int xlab_xs_folder(unsigned guest, int make_dir)
{
    char perms[16];
    int rc;

    snprintf(base, sizeof(base), "/local/domain/%u/data/xlab", guest);
    if (!make_dir)
        return 0;
    snprintf(perms, sizeof(perms), "n%u", guest); /* the guest owns it */
    rc = grant_xenbus_mkdir(xb, XBT_NULL, base, NULL);
    return rc < 0 ? rc
                  : grant_xenbus_set_perms(xb, XBT_NULL, base, NULL, perms);
}

int xlab_xs_write(const char *key, const char *fmt, ...)
{
    char val[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(val))
        return -E2BIG;
    return grant_xenbus_write(xb, XBT_NULL, base, key, val);
}

int xlab_xs_wait(const char *key, char *buf, unsigned len)
{
    return xlab_xs_wait_s(key, buf, len, XLAB_WAIT_S);
}

int xlab_xs_wait_s(const char *key, char *buf, unsigned len, unsigned seconds)
{
    time_t end = time(NULL) + seconds;
    char *v;

    while (!peer_gone && time(NULL) < end) {
        if (grant_xenbus_read(xb, XBT_NULL, base, key, &v, NULL) == 0) {
            snprintf(buf, len, "%s", v);
            free(v);
            return 0;
        }
        usleep(200 * 1000);
    }
    peer_gone = 1;
    return -ETIMEDOUT;
}

int xlab_xs_read(const char *key, char *buf, unsigned len)
{
    char *v;

    if (grant_xenbus_read(xb, XBT_NULL, base, key, &v, NULL) != 0)
        return -ENOENT;
    snprintf(buf, len, "%s", v);
    free(v);
    return 0;
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

/*
 * `xlab xs get KEY [SECONDS]` (waits for KEY, default XLAB_WAIT_S, prints
 * its value; exit 1 on timeout) and `xlab xs put KEY VALUE`: the guest's end
 * of drv-dom0.sh's command channel (dom0 has xenstore-read/-write).
 */
int xlab_xs_main(int argc, char **argv)
{
    char *v;
    time_t end;
    int rc, get = argc >= 4 && argc <= 5 && !strcmp(argv[2], "get"),
            put = argc == 5 && !strcmp(argv[2], "put");

    if (!get && !put) {
        fprintf(stderr, "usage: xlab xs get KEY [SECONDS] | xlab xs put KEY "
                        "VALUE\n");
        return 2;
    }
    setenv("XGRANT_TRANSPORT", "xen", 1);
    rc = xlab_xs_open(0, 0);
    if (rc == 0 && put)
        rc = grant_xenbus_write(xb, XBT_NULL, base, argv[3], argv[4]);
    end = time(NULL) + (get && argc == 5 ? atoi(argv[4]) : XLAB_WAIT_S);
    while (rc == 0 && get) {
        if (grant_xenbus_read(xb, XBT_NULL, base, argv[3], &v, NULL) == 0) {
            printf("%s", v);
            free(v);
            break;
        }
        if (time(NULL) >= end)
            rc = -ETIMEDOUT;
        else
            usleep(200 * 1000);
    }
    if (rc < 0)
        fprintf(stderr, "xlab xs %s %s: %s\n", argv[2], argv[3],
                grant_strerror(rc));
    xlab_xs_close();
    return rc < 0;
}

void xlab_xs_close(void)
{
    grant_xenbus_close(xb);
    xb = NULL;
}
