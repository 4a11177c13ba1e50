/* SPDX-License-Identifier: MIT */
/* sockpath.c: where xgrantd listens, for the CLI and the daemon. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "xgt.h"

/* libgrant/lib/sockpath.c (linked in): the rule itself. */
int lg_sim_sock_path(char *buf, size_t len);
int lg_store_sock_path_of(const char *xgrantd_sock, char *buf, size_t len);

int xgt_sock_path(char *buf, size_t len)
{
    int rc = lg_sim_sock_path(buf, len);

    if (rc == 0 && strlen(buf) > XGT_SOCK_PATH_MAX)
        rc = -ENAMETOOLONG;
    return rc;
}

int xgt_store_sock_path(const char *sock, char *buf, size_t len)
{
    int rc = lg_store_sock_path_of(sock, buf, len);

    if (rc == 0 && strlen(buf) > XGT_SOCK_PATH_MAX)
        rc = -ENAMETOOLONG;
    return rc;
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
