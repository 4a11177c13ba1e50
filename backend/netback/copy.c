/* SPDX-License-Identifier: MIT */
/*
 * copy.c: one batch of grant copies between the daemon's staging memory
 * and a frontend's buffers, in whichever grant kind the vif negotiated:
 * extension grants (grant_copy, byte-exact windows) or Xen's standard
 * page grants (grant_v1_copy).  A pass of a queue adds its segments, runs
 * them in one call (the library splits it into hypercalls), then reads
 * each segment's status.  The arrays grow once and are kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

void nb_copy_reset(struct nb_copy *c, int v1)
{
    c->v1 = v1;
    c->n = 0;
}

static int grow(struct nb_copy *c)
{
    unsigned cap = c->cap ? c->cap * 2 : 256;
    struct grant_copy_seg *e = realloc(c->ext, cap * sizeof(*e));
    struct grant_v1_copy_seg *v;

    if (!e)
        return -ENOMEM;
    c->ext = e;
    v = realloc(c->v1s, cap * sizeof(*v));
    if (!v)
        return -ENOMEM;
    c->v1s = v;
    c->cap = cap;
    return 0;
}

int nb_copy_add(struct nb_copy *c, int to_fe, void *local, grant_domid_t fe,
                uint32_t ref, unsigned off, unsigned len)
{
    if (c->n == c->cap && grow(c) < 0)
        return -ENOMEM;
    if (c->v1) {
        struct grant_v1_copy_seg *s = &c->v1s[c->n];
        struct grant_v1_ptr *mine = to_fe ? &s->src : &s->dst;
        struct grant_v1_ptr *theirs = to_fe ? &s->dst : &s->src;

        memset(s, 0, sizeof(*s));
        mine->local = 1;
        mine->ptr = local;
        theirs->granter = fe;
        theirs->ref = ref;
        theirs->offset = (uint16_t)off;
        s->len = (uint16_t)len;
    } else {
        struct grant_copy_seg *s = &c->ext[c->n];
        struct grant_ptr *mine = to_fe ? &s->src : &s->dst;
        struct grant_ptr *theirs = to_fe ? &s->dst : &s->src;

        memset(s, 0, sizeof(*s));
        mine->local = 1;
        mine->ptr = local;
        theirs->granter = fe;
        theirs->ref = ref;
        theirs->offset = off;
        s->len = len;
    }
    return (int)c->n++;
}

void nb_copy_run(struct nb_copy *c, grant_handle_t *h)
{
    unsigned i;
    int rc;

    if (c->n == 0)
        return;
    rc = c->v1 ? grant_v1_copy(h, c->v1s, c->n) : grant_copy(h, c->ext, c->n);
    /* A call refused as a whole copied nothing: every segment failed. */
    for (i = 0; rc < 0 && i < c->n; i++) {
        if (c->v1)
            c->v1s[i].status = rc;
        else
            c->ext[i].status = rc;
    }
}

int nb_copy_status(const struct nb_copy *c, unsigned i)
{
    return c->v1 ? c->v1s[i].status : c->ext[i].status;
}

void nb_copy_free(struct nb_copy *c)
{
    free(c->ext);
    free(c->v1s);
    memset(c, 0, sizeof(*c));
}
