/* SPDX-License-Identifier: MIT */
/*
 * sockpath.c: where xgrantd listens, sim_wire.h's rule.  The one place the
 * rule lives: libgrant uses it, and tools/common links this object too, so
 * the daemon and the CLI agree with the library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
