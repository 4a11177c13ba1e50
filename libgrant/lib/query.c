/* SPDX-License-Identifier: MIT */
/*
 * query.c: inspection (GNTX_OP_QUERY_TABLE, GNTX_OP_QUERY_TREE,
 * GNTX_OP_USAGE), translated from the ABI's structs to libgrant.h's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define QUERY_CHUNK 256u
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

/* Copies the chunk's `n` entries out while there is room; counts all. */
static void chunk_out(const struct gntx_entry_info *buf, uint64_t n,
                      struct grant_entry_info *out, unsigned cap,
                      unsigned *total)
{
    for (uint64_t i = 0; i < n; i++, (*total)++)
        if (*total < cap)
            info_from_abi(&out[*total], &buf[i]);
}

/* Counts (and copies out) one chunk of the table; 0 or -errno. */
static int table_chunk(grant_handle_t *h, struct gntx_query *q,
                       struct gntx_entry_info *buf,
                       struct grant_entry_info *out, unsigned cap,
                       unsigned *total)
{
    uint32_t before = q->cursor;
    uint64_t got;
    int rc;

    q->count = 0;
    rc = query_call(h, GNTX_OP_QUERY_TABLE, q, buf, QUERY_CHUNK, &got);
    if (rc < 0)
        return rc;
    if (q->count > got || (q->cursor && q->cursor <= before))
        return -EPROTO; /* no progress would loop forever */
    chunk_out(buf, q->count, out, cap, total);
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
    buf = calloc(QUERY_CHUNK, sizeof(*buf));
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

/* Nodes one tree walk may list before we call it a tree that grows faster
 * than we read it (every table of every domain, full, is less). */
#define TREE_MAX_NODES (1u << 26)

/* One walk of the tree, call after call from cursor to cursor: the node
 * count, or -EAGAIN when the hypervisor says the cursor left the tree. */
static int tree_walk(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                     struct gntx_entry_info *buf, struct grant_entry_info *out,
                     unsigned cap)
{
    struct gntx_query q = {.dom = dom, .ref = ref};
    unsigned total = 0;
    uint64_t got;
    int rc;

    do {
        q.count = 0;
        rc = query_call(h, GNTX_OP_QUERY_TREE, &q, buf, QUERY_CHUNK, &got);
        if (rc < 0)
            return rc;
        if (q.count > got || (q.cursor && !q.count))
            return -EPROTO; /* no progress would loop forever */
        chunk_out(buf, q.count, out, cap, &total);
        if (total > TREE_MAX_NODES)
            return -EAGAIN;
    } while (q.cursor != 0);
    return (int)total;
}

int grant_query_tree(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                     struct grant_entry_info *out, unsigned cap)
{
    struct gntx_entry_info *buf;
    int rc = -EAGAIN;

    if (!h || (!out && cap))
        return lg_fail(h, "grant_query_tree", -EINVAL);
    buf = calloc(QUERY_CHUNK, sizeof(*buf));
    if (!buf)
        return lg_fail(h, "grant_query_tree", -ENOMEM);
    /* The cursor's node revoked under us: walk again, a few times. */
    for (int tries = 0; tries < 8 && rc == -EAGAIN; tries++)
        rc = tree_walk(h, dom, ref, buf, out, cap);
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
