/* SPDX-License-Identifier: MIT */
/*
 * mapcheck.c: is a mapping really gone from its mapper?
 *
 * Under xgrantd a mapper maps the owner's frames itself, from a descriptor
 * of the owner's memfd, so its UNMAP (or its ack of an unmap notice) is a
 * claim.  It is believed only once /proc/<pid>/maps shows no more of the
 * mapping's frames than the mapper's other live mappings of the same
 * owner account for: per frame, the pages of the memfd the process maps
 * at that file offset, minus the times its other mappings (xd_map records
 * of the same process) name that frame, must be zero wherever the mapping
 * had a frame.  Counting per frame keeps honest cases working (the same
 * grant mapped twice, one unmapped) while a copy the mapper kept anywhere
 * (mremap, a second mmap) still shows.
 *
 * Not covered: a descriptor of the memfd the mapper kept (it can map again
 * later: the MAP concession, README), and other processes it gave the
 * pages to (a fork without MADV_DONTFORK, a passed descriptor).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "private.h"

static int run_cmp(const void *a, const void *b)
{
    const struct xd_run *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

int xd_runs_make(const uint64_t *frames, uint64_t n, struct xd_run **runs,
                 uint32_t *nruns)
{
    struct xd_run *r;
    uint64_t i, k = 0;

    *runs = NULL;
    *nruns = 0;
    if (n == 0)
        return 0;
    r = calloc(n, sizeof(*r)); /* at most one run per frame */
    if (!r)
        return -ENOMEM;
    for (i = 0; i < n; i++) {
        if (k && frames[i] == r[k - 1].first + r[k - 1].nr)
            r[k - 1].nr++;
        else
            r[k++] = (struct xd_run){frames[i], 1};
    }
    qsort(r, k, sizeof(*r), run_cmp);
    *runs = reallocarray(r, k, sizeof(*r)) ?: r;
    *nruns = (uint32_t)k;
    return 0;
}

/* A change of the counts at frame `at`. */
struct ev {
    uint64_t at;
    int cov; /* +1/-1: a page of the process starts/ends; legit: reversed */
    int in;  /* +1/-1: the mapping's own frames start/end */
};

struct evs {
    struct ev *v;
    size_t n, cap;
};

static int ev_add(struct evs *e, uint64_t first, uint64_t nr, int cov, int in)
{
    if (e->n + 2 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        struct ev *v = reallocarray(e->v, cap, sizeof(*v));

        if (!v)
            return -ENOMEM;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n++] = (struct ev){first, cov, in};
    e->v[e->n++] = (struct ev){first + nr, -cov, -in};
    return 0;
}

static bool runs_meet(const struct xd_run *r, uint32_t n, uint64_t first,
                      uint64_t nr)
{
    for (uint32_t i = 0; i < n && r[i].first < first + nr; i++)
        if (first < r[i].first + r[i].nr)
            return true;
    return false;
}

int xd_proc_maps_each(pid_t pid, dev_t dev, ino_t ino, xd_maps_fn *fn,
                      void *arg)
{
    unsigned long long lo, hi, off, i;
    unsigned maj, min;
    char path[64], *line = NULL;
    size_t cap = 0;
    int r = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (r == 0 && getline(&line, &cap, f) > 0) {
        if (sscanf(line, "%llx-%llx %*s %llx %x:%x %llu", &lo, &hi, &off, &maj,
                   &min, &i) != 6 ||
            (ino_t)i != ino || makedev(maj, min) != dev || hi <= lo)
            continue;
        r = fn(arg, off / GNTX_PAGE_SIZE,
               (hi - lo + GNTX_PAGE_SIZE - 1) / GNTX_PAGE_SIZE);
    }
    free(line);
    fclose(f);
    return r;
}

struct meet {
    const struct xd_run *runs;
    uint32_t nruns;
    struct evs *e;
    bool found;
};

/* A page run of the process: an event if it meets the mapping's frames. */
static int meet_one(void *arg, uint64_t first, uint64_t nr)
{
    struct meet *m = arg;

    if (!runs_meet(m->runs, m->nruns, first, nr))
        return 0;
    m->found = true;
    return ev_add(m->e, first, nr, 1, 0);
}

/* The frames pid's other mappings of owner (d's records) account for. */
static int legit_events(pid_t pid, const struct xd_dom *d, uint16_t owner,
                        uint32_t handle, struct evs *e)
{
    for (size_t i = 0; i < d->nmaps; i++) {
        const struct xd_map *m = &d->maps[i];

        if (m->handle == handle || m->owner != owner || !m->conn ||
            m->conn->pid != pid)
            continue;
        for (uint32_t j = 0; j < m->nruns; j++)
            if (ev_add(e, m->runs[j].first, m->runs[j].nr, -1, 0) < 0)
                return -ENOMEM;
    }
    return 0;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;

    return x->at < y->at ? -1 : x->at > y->at;
}

/* Sweeps the events: is some frame of the mapping covered more often than
 * the legitimate mappings explain? */
static bool sweep(struct evs *e)
{
    int cov = 0, in = 0;
    size_t i = 0;

    qsort(e->v, e->n, sizeof(*e->v), ev_cmp);
    while (i < e->n) {
        uint64_t at = e->v[i].at;

        for (; i < e->n && e->v[i].at == at; i++) {
            cov += e->v[i].cov;
            in += e->v[i].in;
        }
        if (i < e->n && cov > 0 && in > 0)
            return true; /* [at, next) is such a stretch */
    }
    return false;
}

bool xd_map_lingers(pid_t pid, const struct xd_dom *d, uint16_t owner,
                    uint32_t handle, const struct xd_run *runs, uint32_t nruns)
{
    const struct xd_dom *o = xd_dom_get(owner);
    struct evs e = {0};
    struct meet mt = {runs, nruns, &e, false};
    struct stat st;
    bool lingers = true;
    int r;

    /* Its memory gone, or the mapper's own: nothing to keep from it. */
    if (!o || o->memfd < 0 || owner == d->id || fstat(o->memfd, &st) < 0)
        return false;
    r = xd_proc_maps_each(pid, st.st_dev, st.st_ino, meet_one, &mt);
    if ((r == 0 && !mt.found) || r == -ENOENT || r == -ESRCH) {
        lingers = false; /* nothing of it mapped, or the process is gone */
        goto out;
    }
    if (r < 0)
        goto out; /* cannot tell: the safe answer */
    for (uint32_t j = 0; j < nruns; j++)
        if (ev_add(&e, runs[j].first, runs[j].nr, 0, 1) < 0)
            goto out;
    if (legit_events(pid, d, owner, handle, &e) < 0)
        goto out;
    lingers = sweep(&e);
out:
    free(e.v);
    return lingers;
}
