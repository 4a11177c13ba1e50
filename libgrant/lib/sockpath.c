/* SPDX-License-Identifier: MIT */
/*
 * sockpath.c: where xgrantd listens, sim_wire.h's rule.  The one place the
 * rule lives: libgrant uses it, and tools/common links this object too, so
 * the daemon and the CLI agree with the library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"

int lg_sim_sock_path(char *buf, size_t len)
{
    const char *env = getenv(XGW_SOCK_ENV);
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;

    if (env && *env)
        n = snprintf(buf, len, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(buf, len, "%s/xgrant/xgrantd.sock", xdg);
    else if (getuid() == 0)
        n = snprintf(buf, len, "/run/xgrant/xgrantd.sock");
    else
        n = snprintf(buf, len, "/tmp/xgrant-%u/xgrantd.sock",
                     (unsigned)getuid());
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/*
 * The store socket (the xenstore protocol) of the xgrantd listening at
 * xgrantd_sock: $XENSTORED_PATH if set and non-empty, else
 * "<dir>/xenstored" when the socket's basename is "xgrantd.sock", else
 * "<xgrantd_sock>.xenstored".
 */
int lg_store_sock_path_of(const char *xgrantd_sock, char *buf, size_t len)
{
    const char *env = getenv("XENSTORED_PATH");
    const char *slash = strrchr(xgrantd_sock, '/');
    const char *base = slash ? slash + 1 : xgrantd_sock;
    int n;

    if (env && *env)
        n = snprintf(buf, len, "%s", env);
    else if (strcmp(base, "xgrantd.sock") == 0)
        n = snprintf(buf, len, "%.*sxenstored", (int)(base - xgrantd_sock),
                     xgrantd_sock);
    else
        n = snprintf(buf, len, "%s.xenstored", xgrantd_sock);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The store socket of the default xgrantd (lg_sim_sock_path). */
int lg_store_sock_path(char *buf, size_t len)
{
    char sock[4096];
    int rc = lg_sim_sock_path(sock, sizeof(sock));

    return rc < 0 ? rc : lg_store_sock_path_of(sock, buf, len);
}
