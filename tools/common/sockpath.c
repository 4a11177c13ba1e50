/* SPDX-License-Identifier: MIT */
/* sockpath.c: where xgrantd listens (sim_wire.h's default path rule). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libgrant/lib/sim_wire.h"
#include "xgt.h"

static int put(size_t len, int n)
{
    if (n < 0 || (size_t)n >= len || (size_t)n > XGT_SOCK_PATH_MAX)
        return -ENAMETOOLONG;
    return 0;
}

int xgt_sock_path(char *buf, size_t len)
{
    const char *env = getenv(XGW_SOCK_ENV);
    const char *xdg = getenv("XDG_RUNTIME_DIR");

    if (env && *env)
        return put(len, snprintf(buf, len, "%s", env));
    if (xdg && *xdg)
        return put(len, snprintf(buf, len, "%s/xgrant/xgrantd.sock", xdg));
    if (getuid() == 0)
        return put(len, snprintf(buf, len, "/run/xgrant/xgrantd.sock"));
    return put(len, snprintf(buf, len, "/tmp/xgrant-%u/xgrantd.sock",
                             (unsigned)getuid()));
}

int xgt_sock_dir(const char *sock, char *buf, size_t len)
{
    const char *slash = strrchr(sock, '/');
    size_t n;

    if (!slash)
        n = (size_t)snprintf(buf, len, ".");
    else if (slash == sock)
        n = (size_t)snprintf(buf, len, "/");
    else
        n = (size_t)snprintf(buf, len, "%.*s", (int)(slash - sock), sock);
    return n >= len ? -ENAMETOOLONG : 0;
}
