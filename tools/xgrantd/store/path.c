/* SPDX-License-Identifier: MIT */
/*
 * path.c: node names and permission strings, as Xen spells them (one
 * entry of a permission list: libgrant/lib/xsperm.c, shared with libgrant).
 *
 * A node name is '/' followed by components of [A-Za-z0-9_@-] separated by
 * single '/'s, without a trailing '/' ("/" alone is the root).  A relative
 * name is taken below /local/domain/<caller>/.  The length below
 * "/local/domain/<id>/" (or of the whole name elsewhere) is at most
 * XENSTORE_REL_PATH_MAX, the whole at most XENSTORE_ABS_PATH_MAX.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XST_TREE_ONLY
#include "libgrant/lib/xsperm.h"
#include "private.h"

static bool valid_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '@' ||
           ch == '/';
}

static bool valid_name(const char *p)
{
    size_t n = strlen(p);

    if (p[0] != '/' || (n > 1 && p[n - 1] == '/') || strstr(p, "//"))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!valid_char(p[i]))
            return false;
    return true;
}

/* Length of the "/local/domain/<id>/" prefix of p, 0 when none. */
static size_t local_prefix(const char *p)
{
    static const char pre[] = "/local/domain/";
    size_t i = sizeof(pre) - 1;

    if (strncmp(p, pre, i) != 0 || p[i] < '0' || p[i] > '9')
        return 0;
    while (p[i] >= '0' && p[i] <= '9')
        i++;
    return p[i] == '/' ? i + 1 : 0;
}

int xst_path_canon(const char *in, uint16_t dom, bool special, char *out,
                   size_t len, size_t *rel)
{
    size_t n;
    int w;

    *rel = 0;
    if (in[0] == '@') {
        n = strlen(in);
        if (!special || n > XST_PATH_REL_MAX || n >= len)
            return -EINVAL;
        for (size_t i = 1; i < n; i++)
            if (!valid_char(in[i]) || in[i] == '/')
                return -EINVAL;
        memcpy(out, in, n + 1);
        return 0;
    }
    if (in[0] == '/') {
        w = snprintf(out, len, "%s", in);
    } else {
        w = snprintf(out, len, "/local/domain/%u/%s", (unsigned)dom, in);
        *rel = (size_t)w - strlen(in);
    }
    if (w < 0 || (size_t)w >= len || (size_t)w > XST_PATH_ABS_MAX || !in[0] ||
        !valid_name(out))
        return -EINVAL;
    if ((size_t)w - local_prefix(out) > XST_PATH_REL_MAX)
        return -EINVAL;
    return 0;
}

bool xst_path_under(const char *path, const char *base)
{
    size_t n = strlen(base);

    if (strcmp(base, "/") == 0)
        return path[0] == '/';
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

_Static_assert(LG_PERM_READ == (unsigned)XST_P_READ &&
                   LG_PERM_WRITE == (unsigned)XST_P_WRITE &&
                   LG_PERM_DOMID_MAX + 1 == XST_DOMID_COUNT,
               "xsperm.h's modes and ids are the store's");

int xst_perms_parse(const char *strs, size_t len, struct xst_perm *p,
                    unsigned max)
{
    size_t off = 0;
    unsigned n = 0;

    if (len == 0 || strs[len - 1] != '\0')
        return -EINVAL;
    while (off < len) {
        size_t one = strlen(strs + off);
        unsigned mode, dom;

        if (n == max)
            return -ENOSPC;
        if (lg_perm_parse(strs + off, one, &mode, &dom) < 0)
            return -EINVAL;
        p[n].mode = (uint8_t)mode;
        p[n++].dom = (uint16_t)dom;
        off += one + 1;
    }
    return (int)n;
}

int xst_perm_format(const struct xst_perm *p, char *buf, size_t len)
{
    static const char letter[] = "nrwb";

    return snprintf(buf, len, "%c%u", letter[p->mode & 3], (unsigned)p->dom);
}
