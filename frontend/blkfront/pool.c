/* SPDX-License-Identifier: MIT */
/*
 * pool.c: pages granted to the backend once and reused (Linux blkfront's
 * persistent grants): standard grants from grant_v1_share, or one-page
 * extension grants (READ) for indirect pages.  Grown a chunk at a time,
 * ended all at once when the device closes.
 *
 * Reuse is only safe while the backend keeps the grants by agreement
 * (feature-persistent).  A backend without it must unmap each page before
 * answering; one that does not would see (and, read-write, change) what
 * later requests put in the page.  So without feature-persistent each
 * standard-grant page is shared for one request and ended when it
 * completes, never reused, as Linux's blkfront does since XSA-396: on Xen
 * a page the backend still maps stays with gntalloc until it is unmapped
 * (leaked, not reused); under xgrantd the backend's mapping is
 * force-revoked (grant_v1_end).
 */
#include <errno.h>
#include <stdlib.h>

#include "private.h"

static int chunk_grant(struct xgbf *d, struct xgbf_pool *p,
                       struct xgbf_chunk *c)
{
    grant_domid_t be = (grant_domid_t)xfe_be_id(d->fe);
    grant_v1_ref_t refs[XGBF_POOL_CHUNK];
    unsigned i;
    int rc;

    if (p->kind != XGBF_POOL_EXT_RO) {
        rc = grant_v1_share(d->h, be, XGBF_POOL_CHUNK,
                            p->kind == XGBF_POOL_V1_RO ? GRANT_V1_RDONLY : 0,
                            refs, &c->addr);
        for (i = 0; rc == 0 && i < XGBF_POOL_CHUNK; i++)
            c->pages[i].ref = refs[i];
        return rc;
    }
    rc = grant_mem_alloc(d->h, XGBF_POOL_CHUNK, &c->addr);
    for (i = 0; rc == 0 && i < XGBF_POOL_CHUNK; i++) {
        rc = grant_create_direct(d->h, be, GRANT_R_READ,
                                 (char *)c->addr + (size_t)i * GRANT_PAGE_SIZE,
                                 GRANT_PAGE_SIZE, &c->pages[i].ref);
        if (rc < 0) {
            while (i--)
                grant_revoke(d->h, c->pages[i].ref, GRANT_REVOKE_FORCE);
            grant_mem_free(d->h, c->addr);
        }
    }
    return rc;
}

/* A page of its own for one request (no feature-persistent). */
static struct xgbf_page *oneshot_get(struct xgbf *d, struct xgbf_pool *p)
{
    struct xgbf_page *pg = calloc(1, sizeof(*pg));
    grant_v1_ref_t ref;

    if (!pg)
        return NULL;
    if (grant_v1_share(d->h, (grant_domid_t)xfe_be_id(d->fe), 1,
                       p->kind == XGBF_POOL_V1_RO ? GRANT_V1_RDONLY : 0, &ref,
                       &pg->addr) < 0) {
        free(pg);
        return NULL;
    }
    pg->ref = ref;
    pg->oneshot = 1;
    return pg;
}

struct xgbf_page *xgbf_pool_get(struct xgbf *d, struct xgbf_pool *p)
{
    struct xgbf_page *pg;
    struct xgbf_chunk *c;
    unsigned i;

    if (p->kind != XGBF_POOL_EXT_RO && !d->info.persistent)
        return oneshot_get(d, p);
    if (!p->free) {
        if (p->pages + XGBF_POOL_CHUNK > XGBF_POOL_MAX)
            return NULL;
        c = calloc(1, sizeof(*c));
        if (!c)
            return NULL;
        if (chunk_grant(d, p, c) < 0) {
            free(c);
            return NULL;
        }
        for (i = 0; i < XGBF_POOL_CHUNK; i++) {
            c->pages[i].addr = (char *)c->addr + (size_t)i * GRANT_PAGE_SIZE;
            c->pages[i].pool = p;
            xgbf_pool_put(d, &c->pages[i]);
        }
        c->next = p->chunks;
        p->chunks = c;
        p->pages += XGBF_POOL_CHUNK;
    }
    pg = p->free;
    p->free = pg->next;
    pg->next = NULL;
    return pg;
}

struct xgbf_pool *xgbf_pool_ind(struct xgbf *d)
{
    if (d->info.grant_ext)
        return &d->pool_ext_ro;
    return d->info.persistent ? &d->pool_v1_ind : &d->pool_v1_ro;
}

void xgbf_pool_put(struct xgbf *d, struct xgbf_page *pg)
{
    struct xgbf_pool *p = pg->pool;

    if (pg->oneshot) {
        grant_v1_end(d->h, pg->addr);
        free(pg);
        return;
    }
    pg->next = p->free;
    p->free = pg;
}

void xgbf_pool_destroy(struct xgbf *d, struct xgbf_pool *p)
{
    struct xgbf_chunk *c, *next;
    unsigned i;

    for (c = p->chunks; c; c = next) {
        next = c->next;
        if (p->kind != XGBF_POOL_EXT_RO) {
            grant_v1_end(d->h, c->addr);
        } else {
            for (i = 0; i < XGBF_POOL_CHUNK; i++)
                grant_revoke(d->h, c->pages[i].ref, GRANT_REVOKE_FORCE);
            grant_mem_free(d->h, c->addr);
        }
        free(c);
    }
    p->chunks = NULL;
    p->free = NULL;
    p->pages = 0;
}
