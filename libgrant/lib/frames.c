/* SPDX-License-Identifier: MIT */
/*
 * frames.c: the way back from the frames a hypervisor names to pages of the
 * handle's memory.  Under xgrantd they are the same (a gfn is a page of the
 * domain's memory, which the handle maps whole).  On Xen the module
 * rewrites the handle's page indexes into Xen's frames (a PV domain's
 * machine frames), and those are what PROTECT_QUERY ranges and fault
 * records name: the xen transport hands the frames of its pages here at
 * open (lg_frames_set) and this file turns them back into page indexes.
 * Frames of the domain that are not the handle's (another handle's, the
 * kernel's) have no index.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

struct lg_frame_idx {
    uint64_t frame, idx;
};
struct lg_frames {
    uint64_t n;
    struct lg_frame_idx v[]; /* by frame */
};

static int by_frame(const void *a, const void *b)
{
    const struct lg_frame_idx *x = a, *y = b;

    return x->frame < y->frame ? -1 : x->frame > y->frame;
}

int lg_frames_set(grant_handle_t *h, const uint64_t *frames, uint64_t n)
{
    struct lg_frames *t;

    if (n > (SIZE_MAX - sizeof(*t)) / sizeof(t->v[0]))
        return -ENOMEM;
    t = malloc(sizeof(*t) + n * sizeof(t->v[0]));
    if (!t)
        return -ENOMEM;
    t->n = n;
    for (uint64_t i = 0; i < n; i++)
        t->v[i] = (struct lg_frame_idx){frames[i], i};
    qsort(t->v, n, sizeof(t->v[0]), by_frame);
    free(h->frames);
    h->frames = t;
    return 0;
}

void lg_frames_free(grant_handle_t *h)
{
    free(h->frames);
    h->frames = NULL;
}

/* The first entry whose frame is >= frame. */
static uint64_t lower(const struct lg_frames *t, uint64_t frame)
{
    uint64_t lo = 0, hi = t->n;

    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;

        if (t->v[mid].frame < frame)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int lg_frame_index(const grant_handle_t *h, uint64_t frame, uint64_t *idx)
{
    const struct lg_frames *t = h->frames;
    uint64_t k;

    if (!t) {
        *idx = frame;
        return frame < h->mem_frames ? 0 : -ENOENT;
    }
    k = lower(t, frame);
    if (k == t->n || t->v[k].frame != frame)
        return -ENOENT;
    *idx = t->v[k].idx;
    return 0;
}

static int same_class(const struct gntx_prot_range *a,
                      const struct gntx_prot_range *b)
{
    return a->cookie == b->cookie && a->access == b->access &&
           a->action == b->action;
}

static void put_range(struct grant_prot_range *out, unsigned cap,
                      unsigned *total, const struct gntx_prot_range *r,
                      uint64_t first, uint64_t nr)
{
    if (*total < cap)
        out[*total] = (struct grant_prot_range){.gpa = first * GRANT_PAGE_SIZE,
                                                .len = nr * GRANT_PAGE_SIZE,
                                                .cookie = r->cookie,
                                                .access = r->access,
                                                .action = r->action};
    ++*total;
}

/*
 * The handle's own pages that the n ranges (frames, as the hypervisor
 * listed them) cover, as ranges of its memory: ascending, a run of pages
 * of one class one range.  Returns how many there are (up to cap written),
 * or -ENOMEM.
 */
static int own_ranges(const grant_handle_t *h, const struct gntx_prot_range *in,
                      unsigned n, struct grant_prot_range *out, unsigned cap)
{
    const struct lg_frames *t = h->frames;
    uint32_t *at = calloc(h->mem_frames ? h->mem_frames : 1, sizeof(*at));
    uint64_t first = 0;
    unsigned total = 0, cur = 0;

    if (!at)
        return -ENOMEM;
    for (unsigned j = 0; j < n; j++)
        for (uint64_t k = lower(t, in[j].gfn);
             k < t->n && t->v[k].frame - in[j].gfn < in[j].nr; k++)
            if (t->v[k].idx < h->mem_frames)
                at[t->v[k].idx] = j + 1;
    for (uint64_t i = 0; i <= h->mem_frames; i++) {
        unsigned a = i < h->mem_frames ? at[i] : 0;

        if (cur && a && same_class(&in[cur - 1], &in[a - 1]))
            continue;
        if (cur)
            put_range(out, cap, &total, &in[cur - 1], first, i - first);
        cur = a;
        first = i;
    }
    free(at);
    return (int)total;
}

int lg_frames_ranges(const grant_handle_t *h, grant_domid_t dom,
                     const struct gntx_prot_range *in, unsigned n,
                     struct grant_prot_range *out, unsigned cap)
{
    unsigned total = 0;

    if (h->frames && dom == h->domid)
        return own_ranges(h, in, n, out, cap);
    for (unsigned j = 0; j < n; j++)
        put_range(out, cap, &total, &in[j], in[j].gfn, in[j].nr);
    return (int)total;
}
