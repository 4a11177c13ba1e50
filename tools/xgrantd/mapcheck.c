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
 * of the same process, less those being unmapped by the same call) name
 * that frame, must be zero wherever the mapping had a frame.  Counting per
 * frame keeps honest cases working (the same grant mapped twice, one
 * unmapped) while a copy the mapper kept anywhere (mremap, a second mmap)
 * still shows.
 *
 * Cost: one read of the process's maps per UNMAP call (for every owner
 * its elements name) and per batch of acks (hostif.c), through a descriptor the
 * connection keeps open (it names the process's memory, never a later process
 * with a recycled pid; after an exec it reads empty, which is right: nothing is
 * mapped any more).  A read stops past XD_MAPS_LINES_MAX lines (-E2BIG:
 * the claim is not believed), which bounds it to about 8 ms.
 *
 * Not covered: a descriptor of the memfd the mapper kept (it can map again
 * later: the MAP concession, README), and other processes it gave the
 * pages to (a fork without MADV_DONTFORK, a passed descriptor).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "private.h"

#define LINE_MAX_PARSED 256 /* the fields come first; a long path is cut */

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

/* ---- reading /proc/<pid>/maps ---------------------------------------- */

/* "lo-hi perms offset maj:min inode ...": the fields we need. */
static bool parse_line(const char *s, uint64_t *lo, uint64_t *hi, uint64_t *off,
                       dev_t *dev, uint64_t *ino)
{
    unsigned long maj, min;
    char *e;

    *lo = strtoull(s, &e, 16);
    if (*e != '-')
        return false;
    *hi = strtoull(e + 1, &e, 16);
    e = strchr(e, ' ');                /* perms */
    e = e ? strchr(e + 1, ' ') : NULL; /* offset */
    if (!e)
        return false;
    *off = strtoull(e + 1, &e, 16);
    maj = strtoul(e, &e, 16);
    if (*e != ':')
        return false;
    min = strtoul(e + 1, &e, 16);
    *ino = strtoull(e, &e, 10);
    *dev = makedev(maj, min);
    return *hi > *lo;
}

/* A scan of a maps file: the mappings of files on dev (of ino only, unless
 * 0) go to fn (with their inode); more than max_lines lines: -E2BIG. */
struct scan {
    dev_t dev;
    ino_t ino;
    size_t max_lines;
    int (*fn)(void *arg, uint64_t ino, uint64_t first, uint64_t nr);
    void *arg;
};

static int scan_line(const struct scan *s, char *line, size_t *lines)
{
    uint64_t lo, hi, off, i;
    dev_t d;

    if (++*lines > s->max_lines)
        return -E2BIG;
    if (!parse_line(line, &lo, &hi, &off, &d, &i) || d != s->dev ||
        (s->ino && (ino_t)i != s->ino))
        return 0;
    return s->fn(s->arg, i, off / GNTX_PAGE_SIZE,
                 (hi - lo + GNTX_PAGE_SIZE - 1) / GNTX_PAGE_SIZE);
}

/* Runs s over the maps file fd (read from its start). */
static int maps_scan(int fd, const struct scan *s)
{
    char buf[16384 + LINE_MAX_PARSED];
    size_t have = 0, used, lines = 0;
    int r = 0;
    ssize_t n;

    if (lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    while (r == 0 && (n = read(fd, buf + have, sizeof(buf) - have - 1)) > 0) {
        char *p = buf, *nl;

        have += (size_t)n;
        buf[have] = '\0';
        while (r == 0 && (nl = memchr(p, '\n', have - (size_t)(p - buf)))) {
            *nl = '\0';
            r = scan_line(s, p, &lines);
            p = nl + 1;
        }
        /* The rest of a line waits for its end; of a long one (a long
         * path) only the head is kept, which holds the fields. */
        used = (size_t)(p - buf);
        memmove(buf, p, have - used);
        have -= used;
        if (have >= LINE_MAX_PARSED)
            have = LINE_MAX_PARSED - 1;
    }
    return n < 0 ? -errno : r;
}

struct each {
    xd_maps_fn *fn;
    void *arg;
};

static int each_fn(void *arg, uint64_t ino, uint64_t first, uint64_t nr)
{
    struct each *e = arg;

    (void)ino;
    return e->fn(e->arg, first, nr);
}

int xd_proc_maps_each(pid_t pid, dev_t dev, ino_t ino, xd_maps_fn *fn,
                      void *arg)
{
    struct each e = {fn, arg};
    struct scan s = {dev, ino, SIZE_MAX, each_fn, &e};
    char path[64];
    int fd, r;

    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = maps_scan(fd, &s);
    close(fd);
    return r;
}

static int vma_add(void *arg, uint64_t ino, uint64_t first, uint64_t nr)
{
    struct xd_procmaps *pm = arg;

    struct xd_vma *v = xd_grow(pm->v, &pm->cap, pm->n + 1, sizeof(*v), 16);

    if (!v)
        return -ENOMEM;
    pm->v = v;
    pm->v[pm->n++] = (struct xd_vma){ino, first, nr};
    return 0;
}

/* Opened at the connection's first mapping, while the process is what it
 * was at HELLO (a process that later makes itself undumpable cannot hide
 * from a daemon that is not root). */
int xd_maps_fd_open(struct xd_conn *c)
{
    char path[64];

    if (c->maps_fd >= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)c->pid);
    c->maps_fd = open(path, O_RDONLY | O_CLOEXEC);
    return c->maps_fd < 0 ? -errno : 0;
}

static int vma_cmp(const void *a, const void *b)
{
    const struct xd_vma *x = a, *y = b;

    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* The memfd of owner: 0, or -ENOENT when its memory is gone. */
static int memfd_id(const struct xd_dom *owner, struct stat *st)
{
    if (!owner || owner->memfd < 0 || fstat(owner->memfd, st) < 0)
        return -ENOENT;
    return 0;
}

int xd_procmaps_read(struct xd_conn *c, const struct xd_dom *owner,
                     struct xd_procmaps *pm)
{
    struct scan s = {0, 0, XD_MAPS_LINES_MAX, vma_add, pm};
    struct stat st;
    int r;

    pm->n = 0;
    pm->rc = 0;
    if (memfd_id(owner, &st) < 0)
        return 0; /* its memory is gone: nothing can be mapped */
    pm->dev = s.dev = st.st_dev;
    pm->read = true;
    r = xd_maps_fd_open(c);
    if (r < 0)
        return pm->rc = (r == -ENOENT || r == -ESRCH ? 0 : r);
    pm->rc = maps_scan(c->maps_fd, &s);
    if (pm->rc == 0)
        qsort(pm->v, pm->n, sizeof(*pm->v), vma_cmp);
    return pm->rc;
}

int xd_procmaps_owner(const struct xd_procmaps *pm, const struct xd_dom *owner,
                      struct xd_vmas *vm)
{
    struct stat st;
    size_t lo = 0, hi = pm->n;

    vm->n = 0;
    if (memfd_id(owner, &st) < 0)
        return 0; /* its memory is gone: nothing can be mapped */
    if (!pm->read || st.st_dev != pm->dev)
        return -EXDEV; /* read for memfds elsewhere (never: one tmpfs) */
    while (lo < hi) {  /* the first of st_ino */
        size_t mid = lo + (hi - lo) / 2;

        if (pm->v[mid].ino < (uint64_t)st.st_ino)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < pm->n && pm->v[lo].ino == (uint64_t)st.st_ino; lo++) {
        if (xd_vmas_add(vm, pm->v[lo].first, pm->v[lo].nr) < 0)
            return -ENOMEM;
    }
    return 0;
}

void xd_procmaps_free(struct xd_procmaps *pm)
{
    free(pm->v);
    *pm = (struct xd_procmaps){0};
}

int xd_vmas_add(struct xd_vmas *vm, uint64_t first, uint64_t nr)
{
    struct xd_run *v = xd_grow(vm->v, &vm->cap, vm->n + 1, sizeof(*v), 16);

    if (!v)
        return -ENOMEM;
    vm->v = v;
    vm->v[vm->n++] = (struct xd_run){first, nr};
    return 0;
}

void xd_vmas_free(struct xd_vmas *vm)
{
    free(vm->v);
    *vm = (struct xd_vmas){0};
}

/* ---- the per-frame count --------------------------------------------- */

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
    struct ev *v = xd_grow(e->v, &e->cap, e->n + 2, sizeof(*v), 64);

    if (!v)
        return -ENOMEM;
    e->v = v;
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

/* The events: the process's pages, the frames its other mappings account
 * for (not those being unmapped: `checking`; those in legit, whose unmap
 * notices still wait for their acks), and rec's own frames.
 * 0 when none of its pages meet rec's frames, 1 with events, -ENOMEM. */
static int events(const struct xd_vmas *vm, const struct xd_dom *d,
                  const struct xd_map *rec, const struct xd_vmas *legit,
                  struct evs *e)
{
    bool meet = false;

    for (size_t i = 0; i < vm->n; i++) {
        if (!runs_meet(rec->runs, rec->nruns, vm->v[i].first, vm->v[i].nr))
            continue;
        meet = true;
        if (ev_add(e, vm->v[i].first, vm->v[i].nr, 1, 0) < 0)
            return -ENOMEM;
    }
    if (!meet)
        return 0;
    for (uint32_t j = 0; j < rec->nruns; j++)
        if (ev_add(e, rec->runs[j].first, rec->runs[j].nr, 0, 1) < 0)
            return -ENOMEM;
    for (size_t i = 0; i < d->nmaps; i++) {
        const struct xd_map *m = &d->maps[i];

        if (m == rec || m->checking || m->owner != rec->owner || !m->conn ||
            m->conn->pid != rec->conn->pid)
            continue;
        for (uint32_t j = 0; j < m->nruns; j++)
            if (ev_add(e, m->runs[j].first, m->runs[j].nr, -1, 0) < 0)
                return -ENOMEM;
    }
    for (size_t i = 0; legit && i < legit->n; i++)
        if (ev_add(e, legit->v[i].first, legit->v[i].nr, -1, 0) < 0)
            return -ENOMEM;
    return 1;
}

static int ev_cmp(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;

    return x->at < y->at ? -1 : x->at > y->at;
}

/* Is some frame of the mapping covered more often than the legitimate
 * mappings explain? */
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

bool xd_map_lingers(const struct xd_vmas *vm, const struct xd_dom *d,
                    const struct xd_map *rec, const struct xd_vmas *legit)
{
    struct evs e = {0};
    bool lingers = true; /* out of memory: the safe answer */
    int r;

    if (rec->owner == d->id)
        return false; /* the mapper's own memory: nothing to keep from it */
    r = events(vm, d, rec, legit, &e);
    if (r >= 0)
        lingers = r > 0 && sweep(&e);
    free(e.v);
    return lingers;
}
