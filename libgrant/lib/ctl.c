/* SPDX-License-Identifier: MIT */
/*
 * ctl.c: domain control (libgrant_ctl.h).  Validates, then hands over to
 * the transport, which does the work (xgrantd's DOMAIN_* requests; on Xen
 * this is xl's job and the transport has no such ops).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

static int name_ok(const char *name)
{
    size_t i, n;

    if (!name)
        return 0;
    n = strlen(name);
    if (n == 0 || n >= GRANT_NAME_MAX)
        return 0;
    for (i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789_.-",
                    name[i]))
            return 0;
    return 1;
}

static int config_ok(const struct grant_domain_config *cfg)
{
    int i;

    if (!name_ok(cfg->name) || cfg->memory_bytes == 0 ||
        cfg->memory_bytes % GRANT_PAGE_SIZE || !cfg->argv || !cfg->argv[0] ||
        !cfg->argv[0][0])
        return 0;
    for (i = 0; i < 3; i++)
        if (cfg->stdio[i] < -1)
            return 0;
    return 1;
}

int grant_ctl_domain_create(grant_handle_t *h,
                            const struct grant_domain_config *cfg,
                            grant_domid_t *domid)
{
    if (!h || !cfg || !domid || !config_ok(cfg))
        return lg_fail(h, "grant_ctl_domain_create", -EINVAL);
    if (!h->ops->domain_create)
        return lg_fail(h, "grant_ctl_domain_create", -ENOSYS);
    return lg_fail(h, "grant_ctl_domain_create",
                   h->ops->domain_create(h, cfg, domid));
}

int grant_ctl_domain_destroy(grant_handle_t *h, grant_domid_t domid)
{
    if (!h)
        return -EINVAL;
    if (!h->ops->domain_destroy)
        return lg_fail(h, "grant_ctl_domain_destroy", -ENOSYS);
    return lg_fail(h, "grant_ctl_domain_destroy",
                   h->ops->domain_destroy(h, domid));
}

int grant_ctl_domain_list(grant_handle_t *h, struct grant_domain_info *out,
                          unsigned cap)
{
    if (!h || (!out && cap))
        return lg_fail(h, "grant_ctl_domain_list", -EINVAL);
    if (!h->ops->domain_list)
        return lg_fail(h, "grant_ctl_domain_list", -ENOSYS);
    return lg_fail(h, "grant_ctl_domain_list",
                   h->ops->domain_list(h, out, cap));
}

int grant_ctl_domain_wait(grant_handle_t *h, grant_domid_t domid)
{
    if (!h)
        return -EINVAL;
    if (!h->ops->domain_wait)
        return lg_fail(h, "grant_ctl_domain_wait", -ENOSYS);
    return lg_fail(h, "grant_ctl_domain_wait", h->ops->domain_wait(h, domid));
}

int grant_ctl_shutdown(grant_handle_t *h)
{
    if (!h)
        return -EINVAL;
    if (!h->ops->shutdown)
        return lg_fail(h, "grant_ctl_shutdown", -ENOSYS);
    return lg_fail(h, "grant_ctl_shutdown", h->ops->shutdown(h));
}

/* Every domain, in a buffer the caller frees; the count or -errno. */
static int list_all(grant_handle_t *h, struct grant_domain_info **out)
{
    unsigned cap = 64;
    int n, tries;

    for (tries = 0; tries < 4; tries++) {
        *out = calloc(cap, sizeof(**out));
        if (!*out)
            return -ENOMEM;
        n = h->ops->domain_list(h, *out, cap);
        if (n >= 0 && (unsigned)n <= cap)
            return n;
        free(*out);
        *out = NULL;
        if (n < 0)
            return n;
        cap = (unsigned)n + 16; /* more than we thought: again */
    }
    return -EAGAIN;
}

/* A decimal domain id, strictly: digits only, in range. */
static int parse_id(const char *s, grant_domid_t *id)
{
    unsigned long v = 0;

    if (!*s || strlen(s) > 5)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    if (v > GNTX_DOMID_MAX)
        return -EINVAL;
    *id = (grant_domid_t)v;
    return 0;
}

static int lookup(grant_handle_t *h, const char *name_or_id,
                  grant_domid_t *domid)
{
    struct grant_domain_info *all;
    grant_domid_t id;
    int n, i, by_id, rc = -ESRCH;

    n = list_all(h, &all);
    if (n < 0)
        return n;
    by_id = parse_id(name_or_id, &id) == 0;
    for (i = 0; by_id && i < n && rc < 0; i++)
        if (all[i].domid == id)
            rc = 0;
    for (i = 0; i < n && rc < 0; i++)
        if (strcmp(all[i].name, name_or_id) == 0) {
            id = all[i].domid;
            rc = 0;
        }
    free(all);
    if (rc == 0)
        *domid = id;
    return rc;
}

int grant_ctl_domain_lookup(grant_handle_t *h, const char *name_or_id,
                            grant_domid_t *domid)
{
    if (!h || !name_or_id || !*name_or_id || !domid)
        return lg_fail(h, "grant_ctl_domain_lookup", -EINVAL);
    if (!h->ops->domain_list)
        return lg_fail(h, "grant_ctl_domain_lookup", -ENOSYS);
    return lg_fail(h, "grant_ctl_domain_lookup", lookup(h, name_or_id, domid));
}
