/* SPDX-License-Identifier: MIT */
/*
 * unmap.c: GNTX_OP_UNMAP: grant_unmap, grant_unmap_batch, and dropping
 * every mapping at grant_close.
 *
 * The pages go first (under map_lock), the UNMAP after: the hypervisor
 * may check that they are gone (xgrantd does).  The record stays until
 * the answer (a notice meanwhile finds it), and for good when the UNMAP
 * is refused (EBUSY) or fails as a whole: the hypervisor still counts the
 * mapping, so its notices must still be handled and acked, and the
 * caller may unmap it again.  A mapping of its own range
 * is unmapped whole; an element of a batch's range leaves a reserved hole
 * and the range is unmapped with its last element.  In a transport's
 * window (xen) releasing the window is the unmap: no UNMAP is sent here.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "private.h"

#define NO_STATUS   1
#define UNMAP_CHUNK 64u /* elements per UNMAP call (on the stack) */

static long unmap_call(grant_handle_t *h, struct gntx_unmap *v, unsigned n)
{
    struct grant_call gc = {
        .op = GNTX_OP_UNMAP, .args = v, .elem_size = sizeof(*v), .count = n};

    return h->ops->hypercall(h, &gc);
}

void lg_unmap_send(grant_handle_t *h, uint32_t handle)
{
    struct gntx_unmap v = {.handle = handle, .status = NO_STATUS};

    (void)unmap_call(h, &v, 1);
}

/* Drops m's pages (map_lock held, or forked: then only the records go):
 * 0 or -errno. */
static int drop_pages(grant_handle_t *h, struct grant_mapping *m, int forked)
{
    struct grant_range *r = m->range;
    int rc = 0;

    if (!r && forked)
        return 0;
    if (!r && h->ops->unmap_window)
        return h->ops->unmap_window(h, m->addr, m->len);
    if (!r) /* GONE: the range was given up already */
        return m->state == GRANT_MAPPING_GONE || munmap(m->addr, m->len) == 0
                   ? 0
                   : -errno;
    if (--r->live == 0) {
        /* The range goes whole, windows in it too. */
        if (!forked && munmap(r->base, r->len) < 0)
            rc = -errno;
        free(r);
        return rc;
    }
    if (forked)
        return 0;
    return lg_map_reserve(m->addr, m->len) ? 0 : -errno;
}

static struct grant_mapping **find(grant_handle_t *h, const void *addr)
{
    struct grant_mapping **pp;

    for (pp = &h->maps; *pp && (*pp)->addr != addr; pp = &(*pp)->next)
        ;
    return pp;
}

/* Forgets m (map_lock held): unlinks it and drops its pages; 0 or how
 * the drop failed. */
static int forget(grant_handle_t *h, struct grant_mapping *m)
{
    struct grant_mapping **pp = find(h, m->addr);
    int rc;

    if (*pp == m)
        *pp = m->next;
    lg_map_ev_cancel(h, m);
    rc = drop_pages(h, m, 0);
    lg_mapping_put(h, m);
    return rc;
}

/* Takes up to UNMAP_CHUNK mappings of addrs: statuses set for all but the
 * live ones the hypervisor must be told of, which go to v (idx: which
 * element, ms: its record); returns how many those are.  Those stay
 * recorded until the answer, their pages replaced by a hole that faults
 * (the hypervisor may check they are gone), so that a notice for one is
 * handled meanwhile and a refused one stays known. */
static unsigned take_chunk(grant_handle_t *h, void *const *addrs, int *status,
                           unsigned n, struct gntx_unmap *v, unsigned *idx,
                           struct grant_mapping **ms)
{
    unsigned i, k = 0;

    pthread_mutex_lock(&h->map_lock);
    for (i = 0; i < n; i++) {
        struct grant_mapping *m = addrs[i] ? *find(h, addrs[i]) : NULL;
        unsigned j;

        for (j = 0; m && j < k; j++)
            if (ms[j] == m) /* named twice */
                m = NULL;
        status[i] = m ? 0 : -EINVAL;
        if (!m)
            continue;
        /* A window was the mapping; a revoked one is gone already. */
        if (h->ops->unmap_window || m->state != GRANT_MAPPING_LIVE) {
            status[i] = forget(h, m);
            continue;
        }
        if (!lg_map_reserve(m->addr, m->len)) {
            status[i] = -errno;
            continue;
        }
        v[k] = (struct gntx_unmap){.handle = m->handle, .status = NO_STATUS};
        ms[k] = m;
        idx[k++] = i;
    }
    pthread_mutex_unlock(&h->map_lock);
    return k;
}

static void unmap_chunk(grant_handle_t *h, void *const *addrs, int *status,
                        unsigned n)
{
    struct gntx_unmap v[UNMAP_CHUNK];
    struct grant_mapping *ms[UNMAP_CHUNK];
    unsigned idx[UNMAP_CHUNK], j, k;
    long rc;

    k = take_chunk(h, addrs, status, n, v, idx, ms);
    rc = k ? unmap_call(h, v, k) : 0;
    pthread_mutex_lock(&h->map_lock);
    for (j = 0; j < k; j++) {
        int st = rc < 0                                        ? (int)rc
                 : v[j].status == NO_STATUS || v[j].status > 0 ? -EPROTO
                                                               : v[j].status;

        /* -ESTALE: force-revoked while we unmapped: the notice is late. */
        if (st == -ESTALE)
            st = 0;
        /* Refused (EBUSY), or the call failed as a whole: the hypervisor
         * still counts the mapping, so it stays known (its pages a hole
         * until a notice makes them scratch pages). */
        if (st == 0 || (rc >= 0 && st != -EBUSY)) {
            int drop = forget(h, ms[j]);

            st = st ? st : drop;
        }
        status[idx[j]] = st;
    }
    pthread_mutex_unlock(&h->map_lock);
}

int grant_unmap_batch(grant_handle_t *h, void *const *addrs, int *status,
                      unsigned n)
{
    unsigned i, done = 0;

    if (!h || !addrs || !status)
        return lg_fail(h, "grant_unmap_batch", -EINVAL);
    if (lg_forked(h)) /* the records are the parent's, not its pages */
        return lg_fail(h, "grant_unmap_batch", -EBADF);
    for (i = 0; i < n; i += UNMAP_CHUNK)
        unmap_chunk(h, addrs + i, status + i,
                    n - i < UNMAP_CHUNK ? n - i : UNMAP_CHUNK);
    for (i = 0; i < n; i++)
        done += status[i] == 0;
    return (int)done;
}

int grant_unmap(grant_handle_t *h, void *addr)
{
    int status = -EINVAL;

    if (!h || !addr)
        return lg_fail(h, "grant_unmap", -EINVAL);
    if (lg_forked(h))
        return lg_fail(h, "grant_unmap", -EBADF);
    unmap_chunk(h, &addr, &status, 1);
    return lg_fail(h, "grant_unmap", status);
}

void lg_mapping_put(grant_handle_t *h, struct grant_mapping *m)
{
    unsigned n = 0;

    for (struct grant_mapping *s = h->spare_maps; s; s = s->next)
        if (++n >= GRANT_SPARE_MAPS) {
            free(m);
            return;
        }
    m->next = h->spare_maps;
    h->spare_maps = m;
}

/* grant_close: drops every mapping, and tells the hypervisor (a window's
 * release does).  A forked child never had them (MADV_DONTFORK, or a
 * window the kernel does not copy): it only frees the records. */
void lg_map_release(grant_handle_t *h, int forked)
{
    struct grant_mapping *m;

    if (!forked)
        pthread_mutex_lock(&h->map_lock);
    lg_map_ev_release(h);
    while ((m = h->maps)) {
        h->maps = m->next;
        drop_pages(h, m, forked);
        if (!forked && !h->ops->unmap_window &&
            m->state == GRANT_MAPPING_LIVE) {
            pthread_mutex_unlock(&h->map_lock);
            lg_unmap_send(h, m->handle);
            pthread_mutex_lock(&h->map_lock);
        }
        free(m);
    }
    while ((m = h->spare_maps)) {
        h->spare_maps = m->next;
        free(m);
    }
    if (!forked)
        pthread_mutex_unlock(&h->map_lock);
}
