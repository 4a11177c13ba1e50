/* SPDX-License-Identifier: MIT */
/*
 * query.c: inspection (GNTX_OP_QUERY_TABLE, GNTX_OP_QUERY_TREE,
 * GNTX_OP_USAGE), translated from the ABI's structs to libgrant.h's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define TABLE_CHUNK 256u
static void info_from_abi(struct grant_entry_info *o,
                          const struct gntx_entry_info *e)
{
    *o = (struct grant_entry_info){.dom = e->dom,
                                   .grantee = e->grantee,
                                   .ref = e->ref,
                                   .rights = e->rights,
                                   .indirect = e->type == GNTX_CREATE_INDIRECT,
                                   .orphan = e->state == GNTX_STATE_ORPHAN,
                                   .depth = e->depth,
                                   .parent_dom = e->parent_dom,
                                   .parent_ref = e->parent_ref,
                                   .maps = e->maps,
                                   .offset = e->offset,
                                   .length = e->length,
                                   .first_frame = e->first_frame,
                                   .nr_frames = e->nr_frames};
}

static int query_call(grant_handle_t *h, unsigned op, struct gntx_query *q,
                      struct gntx_entry_info *buf, uint64_t cap, uint64_t *got)
{
    struct grant_call gc = {.op = op,
                            .args = q,
                            .elem_size = sizeof(*q),
                            .count = 1,
                            .aux_out = buf,
                            .aux_out_cap = cap,
                            .aux_elem_size = sizeof(*buf)};
    int rc;

    rc = (int)h->ops->hypercall(h, &gc);
    *got = gc.aux_out_count;
    return rc;
}

/* Counts (and copies out) one chunk of the table; 0 or -errno. */
static int table_chunk(grant_handle_t *h, struct gntx_query *q,
                       struct gntx_entry_info *buf,
                       struct grant_entry_info *out, unsigned cap,
                       unsigned *total)
{
    uint32_t before = q->cursor;
    uint64_t got, i;
    int rc;

    q->count = 0;
    rc = query_call(h, GNTX_OP_QUERY_TABLE, q, buf, TABLE_CHUNK, &got);
    if (rc < 0)
        return rc;
    if (q->count > got || (q->cursor && q->cursor <= before))
        return -EPROTO; /* no progress would loop forever */
    for (i = 0; i < q->count; i++, (*total)++)
        if (*total < cap)
            info_from_abi(&out[*total], &buf[i]);
    return 0;
}

int grant_query_table(grant_handle_t *h, grant_domid_t dom,
                      struct grant_entry_info *out, unsigned cap)
{
    struct gntx_query q = {.dom = dom};
    struct gntx_entry_info *buf;
    unsigned total = 0;
    int rc;

    if (!h || (!out && cap))
        return lg_fail(h, "grant_query_table", -EINVAL);
    buf = calloc(TABLE_CHUNK, sizeof(*buf));
    if (!buf)
        return lg_fail(h, "grant_query_table", -ENOMEM);
    do {
        rc = table_chunk(h, &q, buf, out, cap, &total);
    } while (rc == 0 && q.cursor != 0 && total <= GNTX_MAX_ENTRIES);
    free(buf);
    if (rc == 0 && total > GNTX_MAX_ENTRIES)
        rc = -EPROTO;
    return lg_fail(h, "grant_query_table", rc < 0 ? rc : (int)total);
}

/* One QUERY_TREE into a buffer of `cap` nodes: the node count (all of
 * them), or -ENOSPC with *need set when the hypervisor said how many. */
static int tree_call(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                     struct gntx_entry_info *buf, uint64_t cap, uint64_t *got,
                     uint64_t *need)
{
    struct gntx_query q = {.dom = dom, .ref = ref};
    int rc;

    rc = query_call(h, GNTX_OP_QUERY_TREE, &q, buf, cap, got);
    *need = q.count;
    if (rc == -ENOSPC)
        return rc;
    if (rc < 0)
        return rc;
    if (q.count != *got)
        return -EPROTO;
    return (int)q.count;
}

/* Fetches the whole tree, growing the buffer while it does not fit. */
static int tree_fetch(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                      struct gntx_entry_info **bufp, uint64_t cap)
{
    /* The most nodes one response can carry. */
    const uint64_t most = (h->ops->max_payload - sizeof(struct gntx_query)) /
                          sizeof(struct gntx_entry_info);
    uint64_t got, need;
    int rc, tries;

    if (cap > most)
        cap = most;
    for (tries = 0; tries < 8; tries++) {
        free(*bufp);
        *bufp = calloc(cap, sizeof(**bufp));
        if (!*bufp)
            return -ENOMEM;
        rc = tree_call(h, dom, ref, *bufp, cap, &got, &need);
        if (rc != -ENOSPC)
            return rc;
        if (cap >= most)
            return -E2BIG;
        cap = need > cap ? need : cap * 2; /* grew since, or unknown */
        if (cap > most)
            cap = most;
    }
    return -EAGAIN; /* the tree keeps growing faster than we read it */
}

int grant_query_tree(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                     struct grant_entry_info *out, unsigned cap)
{
    struct gntx_entry_info *buf = NULL;
    unsigned i;
    int rc;

    if (!h || (!out && cap))
        return lg_fail(h, "grant_query_tree", -EINVAL);
    rc = tree_fetch(h, dom, ref, &buf, cap ? cap : 16);
    for (i = 0; rc > 0 && i < (unsigned)rc && i < cap; i++)
        info_from_abi(&out[i], &buf[i]);
    free(buf);
    return lg_fail(h, "grant_query_tree", rc);
}

int grant_usage(grant_handle_t *h, grant_domid_t dom, struct grant_usage *u)
{
    struct gntx_usage v = {.dom = dom};
    struct grant_call gc = {
        .op = GNTX_OP_USAGE, .args = &v, .elem_size = sizeof(v), .count = 1};
    int rc;

    if (!h || !u)
        return lg_fail(h, "grant_usage", -EINVAL);
    rc = (int)h->ops->hypercall(h, &gc);
    if (rc < 0)
        return lg_fail(h, "grant_usage", rc);
    *u = (struct grant_usage){.entries = v.entries,
                              .max_entries = v.max_entries,
                              .maps = v.maps,
                              .max_maps = v.max_maps,
                              .frames = v.frames,
                              .max_frames = v.max_frames,
                              .mem_frames = v.mem_frames};
    return 0;
}
