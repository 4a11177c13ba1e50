/* SPDX-License-Identifier: MIT */
/*
 * handle.c: opening and closing handles, and choosing the transport.
 *
 * A transport is a struct grant_ops (private.h).  The table below names
 * each; XGRANT_TRANSPORT picks one, default "sim".  "xen" is the real-Xen
 * transport (xen.c: lg_xen_ops over the guest module's /dev/xgrant).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define TRANSPORT_ENV "XGRANT_TRANSPORT"

static const struct {
    const char *name;
    const struct grant_ops *ops; /* NULL: known but not built */
} transports[] = {
    {"sim", &lg_sim_ops},
    {"xen", &lg_xen_ops},
};

int lg_fail(const grant_handle_t *h, const char *what, int err)
{
    int saved = errno;

    if (err < 0 && h && (h->flags & GRANT_OPEN_VERBOSE)) {
        fprintf(stderr, "libgrant: %s: %s (%s)\n", what, grant_strerror(err),
                strerrordesc_np(-err) ? strerrordesc_np(-err) : "?");
        errno = saved;
    }
    return err;
}

int lg_forked(const grant_handle_t *h)
{
    return lg_self_pid() != h->pid;
}

const char *lg_transport_name(void)
{
    const char *name = getenv(TRANSPORT_ENV);

    return name && *name ? name : "sim";
}

static int pick_transport(const struct grant_ops **ops)
{
    const char *name = lg_transport_name();
    size_t i;

    for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++) {
        if (strcmp(name, transports[i].name) != 0)
            continue;
        *ops = transports[i].ops;
        return *ops ? 0 : -ENOSYS;
    }
    return -EINVAL;
}

int grant_open(grant_handle_t **out, unsigned flags)
{
    grant_handle_t *h;
    int rc;

    if (!out || (flags & ~GRANT_OPEN_VERBOSE))
        return -EINVAL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->flags = flags;
    h->pid = lg_self_pid();
    h->evt_epfd = -1;
    pthread_mutex_init(&h->map_lock, NULL);
    h->rev_fd = -1;
    rc = pick_transport(&h->ops);
    if (rc < 0)
        goto free_handle;
    rc = h->ops->open(h);
    if (rc < 0)
        goto free_handle;
    *out = h;
    return 0;
free_handle:
    lg_fail(h, "grant_open", rc);
    pthread_mutex_destroy(&h->map_lock);
    free(h);
    return rc;
}

void *lg_scratch(grant_handle_t *h, enum lg_scratch_slot slot, size_t bytes)
{
    struct lg_scratch *s = &h->scratch[slot];
    size_t cap = s->cap ? s->cap : 256;
    void *p;

    if (bytes <= s->cap && s->p)
        return s->p;
    while (cap < bytes)
        cap = cap > SIZE_MAX / 2 ? bytes : cap * 2;
    p = malloc(cap);
    if (!p)
        return NULL;
    free(s->p);
    s->p = p;
    s->cap = cap;
    return p;
}

static void scratch_release(grant_handle_t *h)
{
    for (unsigned i = 0; i < LG_SCRATCH_MAX; i++)
        free(h->scratch[i].p);
}

void grant_close(grant_handle_t *h)
{
    int forked;

    if (!h)
        return;
    forked = lg_forked(h);
    lg_prot_release(h, forked); /* unbinds its ring: before the ports */
    lg_v1_release(h, forked);   /* under xgrantd: map.c's mappings */
    lg_map_release(h, forked);
    lg_evtchn_release(h, forked);
    h->ops->close(h, forked);
    lg_mem_release(h);
    scratch_release(h);
    if (!forked)
        pthread_mutex_destroy(&h->map_lock);
    free(h);
}

grant_domid_t grant_domid(const grant_handle_t *h)
{
    return h ? h->domid : GNTX_DOMID_INVALID;
}
