/* SPDX-License-Identifier: MIT */
/*
 * pgrant.c: a queue's persistent grants (feature-persistent, standard
 * grants only).  Each v1 ref a request names is mapped once, read-write,
 * on the queue's own handle, and kept until the device disconnects, up to
 * BB_MAX_PGRANTS per queue (beyond, requests use grant copy).  The pool
 * holds the records (their addresses never move, requests point at them);
 * an open-addressed index finds them by ref.
 *
 * A frontend may force-revoke a mapped ref: the page turns into a scratch
 * page and the handle reports it (grant_map_revoked_next).  The record is
 * then marked revoked: every request that used it fails when it
 * completes, and the mapping goes once no request uses it.
 *
 * What a revoked page can carry into the image: only under xgrantd can a
 * v1 mapping be revoked at all, and there each revoked page is a private
 * anonymous page of this mapping alone (libgrant's map_revoked.c), so a
 * WRITE in flight writes zeros, or what a READ of the same ref on this
 * queue put there, to this disk: nothing of another device.  On Xen these
 * mappings are gntdev's (grant_v1_map), Xen's standard grants, which the
 * granter cannot revoke while they are mapped (its end-access fails, as
 * in Linux's blkfront); the shared per-domain scratch page of the
 * extension's FORCE revoke (gntx_xen.h) never stands in for one.  Do not
 * map extension grants here without revisiting that: on Xen a revoked
 * extension mapping is that shared page and raises no revoke event.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define IDX_SIZE (2u * 2048u) /* power of two, > 2 * BB_MAX_PGRANTS */
#define IDX_MASK (IDX_SIZE - 1u)

/* The index lives after the pool in one allocation. */
static uint16_t *index_of(struct bb_queue *q)
{
    return (uint16_t *)(q->pgrants + BB_MAX_PGRANTS);
}

static unsigned hash(grant_v1_ref_t ref)
{
    return (ref * 2654435761u) >> 20 & IDX_MASK;
}

static int alloc_pool(struct bb_queue *q)
{
    if (q->pgrants)
        return 0;
    q->pgrants = calloc(1, BB_MAX_PGRANTS * sizeof(*q->pgrants) +
                               IDX_SIZE * sizeof(uint16_t));
    return q->pgrants ? 0 : -ENOMEM;
}

/* The index slot holding ref, or the empty slot where it would go. */
static unsigned find(struct bb_queue *q, grant_v1_ref_t ref)
{
    uint16_t *idx = index_of(q);
    unsigned i = hash(ref);

    while (idx[i] && q->pgrants[idx[i] - 1].ref != ref)
        i = (i + 1) & IDX_MASK;
    return i;
}

/* Linear probing's deletion: later entries of the cluster move back. */
static void idx_delete(struct bb_queue *q, unsigned i)
{
    uint16_t *idx = index_of(q);
    unsigned j = i, k;

    idx[i] = 0;
    for (;;) {
        j = (j + 1) & IDX_MASK;
        if (!idx[j])
            return;
        k = hash(q->pgrants[idx[j] - 1].ref);
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        idx[i] = idx[j];
        idx[j] = 0;
        i = j;
    }
}

static void drop(struct bb_queue *q, struct bb_pgrant *pg)
{
    idx_delete(q, find(q, pg->ref));
    grant_v1_unmap(q->h, pg->addr);
    memset(pg, 0, sizeof(*pg));
    q->nr_pgrants--;
}

struct bb_pgrant *bb_pgrant_get(struct bb_queue *q, grant_domid_t fe,
                                grant_v1_ref_t ref)
{
    struct bb_pgrant *pg;
    unsigned i, p;

    if (alloc_pool(q) < 0)
        return NULL;
    i = find(q, ref);
    if (index_of(q)[i]) {
        pg = &q->pgrants[index_of(q)[i] - 1];
        if (pg->revoked)
            return NULL; /* dead until its last user is gone */
        pg->users++;
        return pg;
    }
    if (q->nr_pgrants >= BB_MAX_PGRANTS)
        return NULL;
    for (p = 0; p < BB_MAX_PGRANTS && q->pgrants[p].used; p++)
        ;
    pg = &q->pgrants[p];
    if (grant_v1_map(q->h, fe, &ref, 1, 0, &pg->addr) < 0)
        return NULL;
    pg->ref = ref;
    pg->used = 1;
    pg->users = 1;
    index_of(q)[i] = (uint16_t)(p + 1);
    q->nr_pgrants++;
    return pg;
}

void bb_pgrant_put(struct bb_queue *q, struct bb_pgrant *pg)
{
    if (pg->users)
        pg->users--;
    if (pg->revoked && !pg->users)
        drop(q, pg);
}

void bb_pgrant_revoked(struct bb_queue *q)
{
    struct grant_map_event ev;
    unsigned p;

    while (grant_map_revoked_next(q->h, &ev) == 1) {
        for (p = 0; q->pgrants && p < BB_MAX_PGRANTS; p++) {
            struct bb_pgrant *pg = &q->pgrants[p];

            if (!pg->used || pg->addr != ev.addr || pg->revoked)
                continue;
            pg->revoked = 1;
            bb_peer_log(q, "persistent grant %u revoked by the frontend",
                        pg->ref);
            if (!pg->users)
                drop(q, pg);
        }
    }
}

/* Called with no request in flight. */
void bb_pgrant_clear(struct bb_queue *q)
{
    unsigned p;

    for (p = 0; q->pgrants && p < BB_MAX_PGRANTS; p++)
        if (q->pgrants[p].used)
            grant_v1_unmap(q->h, q->pgrants[p].addr);
    free(q->pgrants);
    q->pgrants = NULL;
    q->nr_pgrants = 0;
}
