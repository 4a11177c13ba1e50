/* SPDX-License-Identifier: MIT */
/*
 * map.c: zero-copy mappings (GNTX_OP_MAP / GNTX_OP_UNMAP) and their
 * teardown when the granter force-revokes.
 *
 * Two ways, by transport.  Sim (no map_window hook): grant_map reserves
 * address space (PROT_NONE), then maps each run of consecutive frames of
 * the fd the hypervisor returned over it.  The transport's notice path
 * calls lg_map_revoked from another thread: it replaces the range with an
 * inaccessible anonymous mapping (same addresses, so nothing else can be
 * mapped there until grant_unmap).  Xen (map_window): the transport makes
 * an empty window, MAP has the hypervisor fill it, and releasing the window
 * is the unmap; a FORCE revoke or a PROTECT is carried out in the window by
 * the hypervisor, so no notice reaches libgrant.
 *
 * The race: a notice may arrive while a MAP reply is still on its way.
 * Notices for unknown handles are recorded (early[]) while a map is in
 * flight; grant_map installs under map_lock and, if its handle was
 * recorded, never maps the pages and returns -ESTALE.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"

#define NO_STATUS 1

static void send_unmap(grant_handle_t *h, uint32_t handle)
{
    struct gntx_unmap v = {.handle = handle, .status = NO_STATUS};
    struct grant_call gc = {
        .op = GNTX_OP_UNMAP, .args = &v, .elem_size = sizeof(v), .count = 1};

    h->ops->hypercall(h, &gc);
}

/* Maps each run of consecutive frames of fd over base. */
static int map_runs(uint8_t *base, const uint64_t *frames, uint64_t nr,
                    int prot, int fd)
{
    uint64_t i, j, fd_frames;
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    fd_frames = (uint64_t)st.st_size / GNTX_PAGE_SIZE;
    for (i = 0; i < nr; i = j) {
        for (j = i + 1; j < nr && frames[j] == frames[j - 1] + 1; j++)
            ;
        if (frames[i] >= fd_frames || frames[j - 1] >= fd_frames)
            return -EPROTO; /* frames outside the memory it sent */
        if (mmap(base + i * GNTX_PAGE_SIZE, (j - i) * GNTX_PAGE_SIZE, prot,
                 MAP_SHARED | MAP_FIXED, fd,
                 (off_t)(frames[i] * GNTX_PAGE_SIZE)) == MAP_FAILED)
            return -errno;
    }
    return 0;
}

static int early_has(const grant_handle_t *h, uint32_t handle)
{
    unsigned i;

    for (i = 0; i < h->nr_early; i++)
        if (h->early[i] == handle)
            return 1;
    return h->early_overflow;
}

static void inflight_set(grant_handle_t *h, int on)
{
    pthread_mutex_lock(&h->map_lock);
    h->map_inflight = on;
    h->nr_early = 0;
    h->early_overflow = 0;
    pthread_mutex_unlock(&h->map_lock);
}

/* Maps the frames and records m; under map_lock against notices. */
static int install(grant_handle_t *h, struct grant_mapping *m,
                   const uint64_t *frames, unsigned flags, int fd)
{
    int prot = PROT_READ | ((flags & GRANT_MAP_RDONLY) ? 0 : PROT_WRITE);
    void *p;
    int rc;

    pthread_mutex_lock(&h->map_lock);
    rc = early_has(h, m->handle) ? -ESTALE : 0;
    if (rc < 0)
        goto unlock;
    p = mmap(NULL, m->len, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    rc = p == MAP_FAILED ? -errno : 0;
    if (rc < 0)
        goto unlock;
    m->addr = p;
    rc = map_runs(m->addr, frames, m->len / GNTX_PAGE_SIZE, prot, fd);
    /* A child must not keep the granter's pages past a revoke. */
    if (rc == 0 && madvise(m->addr, m->len, MADV_DONTFORK) < 0)
        rc = -errno;
    if (rc < 0) {
        munmap(m->addr, m->len);
        goto unlock;
    }
    m->next = h->maps;
    h->maps = m;
unlock:
    h->map_inflight = 0;
    h->nr_early = 0;
    h->early_overflow = 0;
    pthread_mutex_unlock(&h->map_lock);
    return rc;
}

/*
 * The MAP hypercall: 0 or -errno.  On success v's handle/root_dom are set
 * and the frames are in frames[].  With fd (sim) the owner's memory comes back
 * as *fd. Without (a window) frames[] carries the window's aux in; a failure
 * after MAP succeeded is undone by the caller's release of the window.
 */
static int map_call(grant_handle_t *h, struct gntx_map *v, uint64_t *frames,
                    uint64_t nr, int *fd)
{
    struct grant_call gc = {.op = GNTX_OP_MAP,
                            .args = v,
                            .elem_size = sizeof(*v),
                            .count = 1,
                            .aux_in = fd ? NULL : frames,
                            .aux_in_count = fd ? 0 : nr,
                            .aux_out = frames,
                            .aux_out_cap = nr,
                            .aux_elem_size = sizeof(uint64_t),
                            .fds = fd,
                            .max_fds = fd ? 1 : 0};
    int rc;

    rc = (int)h->ops->hypercall(h, &gc);
    if (rc < 0)
        return rc;
    if (v->status == NO_STATUS || v->status > 0)
        rc = -EPROTO;
    else if (v->status < 0)
        rc = v->status;
    else if (gc.nr_fds != (fd ? 1u : 0u) || gc.aux_out_count < nr)
        rc = -EPROTO;
    if (rc < 0 && gc.nr_fds)
        close(*fd);
    if (rc < 0 && v->status == 0 && fd)
        send_unmap(h, v->handle); /* it was mapped: undo */
    return rc < 0 ? rc : 0;       /* not the count: one element */
}

/* Records a mapping made in a transport's window. */
static void record_window(grant_handle_t *h, struct grant_mapping *m)
{
    pthread_mutex_lock(&h->map_lock);
    m->next = h->maps;
    h->maps = m;
    pthread_mutex_unlock(&h->map_lock);
}

/* grant_map through the transport's window (map_window). */
static int do_map_window(grant_handle_t *h, struct gntx_map *v, unsigned flags,
                         void **addr)
{
    uint64_t nr = v->length / GNTX_PAGE_SIZE, *aux;
    struct grant_mapping *m;
    void *win = NULL;
    int rc = -ENOMEM;

    aux = calloc(nr, sizeof(*aux));
    m = calloc(1, sizeof(*m));
    if (!aux || !m)
        goto free_all;
    rc = h->ops->map_window(h, (size_t)v->length, flags, &win, aux);
    if (rc < 0)
        goto free_all;
    rc = map_call(h, v, aux, nr, NULL);
    if (rc < 0) {
        h->ops->unmap_window(h, win, (size_t)v->length);
        goto free_all;
    }
    *m = (struct grant_mapping){.addr = win,
                                .len = (size_t)v->length,
                                .handle = v->handle,
                                .granter = v->dom,
                                .owner = v->root_dom};
    record_window(h, m);
    *addr = win;
    m = NULL;
free_all:
    free(m);
    free(aux);
    return rc;
}

static int do_map(grant_handle_t *h, struct gntx_map *v, unsigned flags,
                  void **addr)
{
    uint64_t nr = v->length / GNTX_PAGE_SIZE, *frames;
    struct grant_mapping *m;
    int fd = -1, rc = -ENOMEM;

    if (h->ops->map_window)
        return do_map_window(h, v, flags, addr);
    frames = calloc(nr, sizeof(*frames));
    m = calloc(1, sizeof(*m));
    if (!frames || !m)
        goto free_all;
    inflight_set(h, 1);
    rc = map_call(h, v, frames, nr, &fd);
    if (rc < 0) {
        inflight_set(h, 0);
        goto free_all;
    }
    *m = (struct grant_mapping){.len = (size_t)v->length,
                                .handle = v->handle,
                                .granter = v->dom,
                                .owner = v->root_dom};
    rc = install(h, m, frames, flags, fd);
    close(fd);
    if (rc == 0) {
        *addr = m->addr;
        m = NULL;
    } else if (rc != -ESTALE) {
        send_unmap(h, v->handle); /* -ESTALE: already gone by revoke */
    }
free_all:
    free(m);
    free(frames);
    return rc;
}

int grant_map(grant_handle_t *h, grant_domid_t granter, grant_ref_t ref,
              uint64_t offset, uint64_t len, unsigned flags, void **addr)
{
    struct gntx_map v = {.dom = granter,
                         .flags = (uint16_t)flags,
                         .ref = ref,
                         .offset = offset,
                         .length = len,
                         .status = NO_STATUS};

    if (!h || !addr || (flags & ~GRANT_MAP_RDONLY) || len == 0 ||
        offset % GNTX_PAGE_SIZE || len % GNTX_PAGE_SIZE)
        return lg_fail(h, "grant_map", -EINVAL);
    if (len > SIZE_MAX ||
        len / GNTX_PAGE_SIZE >
            (h->ops->max_payload - sizeof(v)) / sizeof(uint64_t))
        return lg_fail(h, "grant_map", -E2BIG);
    return lg_fail(h, "grant_map", do_map(h, &v, flags, addr));
}

/* Drops m's pages: 0 or -errno.  A window takes the mapping with it. */
static int drop_pages(grant_handle_t *h, struct grant_mapping *m)
{
    if (h->ops->unmap_window)
        return h->ops->unmap_window(h, m->addr, m->len);
    if (m->state != GRANT_MAPPING_GONE)
        munmap(m->addr, m->len);
    return 0;
}

/* Unlinks the mapping at addr and drops its pages (*drop_rc says how that
 * went); its state, or -1. */
static int take_mapping(grant_handle_t *h, void *addr, uint32_t *handle,
                        int *drop_rc)
{
    struct grant_mapping **pp, *m;
    int state = -1;

    pthread_mutex_lock(&h->map_lock);
    for (pp = &h->maps; *pp && (*pp)->addr != addr; pp = &(*pp)->next)
        ;
    m = *pp;
    if (m) {
        *pp = m->next;
        state = m->state;
        *handle = m->handle;
        *drop_rc = drop_pages(h, m);
        free(m);
    }
    pthread_mutex_unlock(&h->map_lock);
    return state;
}

int grant_unmap(grant_handle_t *h, void *addr)
{
    struct gntx_unmap v = {.status = NO_STATUS};
    struct grant_call gc = {
        .op = GNTX_OP_UNMAP, .args = &v, .elem_size = sizeof(v), .count = 1};
    int state, rc = 0;

    if (!h || !addr)
        return lg_fail(h, "grant_unmap", -EINVAL);
    state = take_mapping(h, addr, &v.handle, &rc);
    if (state < 0)
        return lg_fail(h, "grant_unmap", -EINVAL);
    if (h->ops->unmap_window)
        return lg_fail(h, "grant_unmap", rc); /* the window was the mapping */
    if (state != GRANT_MAPPING_LIVE)
        return 0; /* force-revoked: the hypervisor already dropped it */
    rc = (int)h->ops->hypercall(h, &gc);
    if (rc >= 0)
        rc = v.status == NO_STATUS || v.status > 0 ? -EPROTO : v.status;
    if (rc == -ESTALE)
        rc = 0; /* force-revoked while we unmapped: the notice is late */
    return lg_fail(h, "grant_unmap", rc);
}

/* Replaces a live mapping by an inaccessible one, or drops it. */
static int make_unreachable(struct grant_mapping *m)
{
    if (mmap(m->addr, m->len, PROT_NONE,
             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
             0) != MAP_FAILED) {
        m->state = GRANT_MAPPING_REVOKED;
        return 0;
    }
    if (munmap(m->addr, m->len) == 0) {
        m->state = GRANT_MAPPING_GONE;
        return 0;
    }
    return -errno;
}

int lg_map_revoked(grant_handle_t *h, uint32_t handle, grant_domid_t owner)
{
    struct grant_mapping *m;
    int rc = 0;

    (void)owner; /* handles name mappings uniquely (they carry a generation) */
    pthread_mutex_lock(&h->map_lock);
    for (m = h->maps; m && m->handle != handle; m = m->next)
        ;
    if (m && m->state == GRANT_MAPPING_LIVE)
        rc = make_unreachable(m);
    else if (!m && h->map_inflight && h->nr_early < GRANT_EARLY_MAX)
        h->early[h->nr_early++] = handle;
    else if (!m && h->map_inflight)
        h->early_overflow = 1;
    pthread_mutex_unlock(&h->map_lock);
    return rc;
}

/* grant_close: drops every mapping, and tells the hypervisor (a window's
 * release does).  A forked child never had them (MADV_DONTFORK, or a
 * window the kernel does not copy): it only frees the records. */
void lg_map_release(grant_handle_t *h, int forked)
{
    struct grant_mapping *m;

    if (!forked)
        pthread_mutex_lock(&h->map_lock);
    while ((m = h->maps)) {
        h->maps = m->next;
        if (!forked)
            drop_pages(h, m);
        if (!forked && !h->ops->unmap_window &&
            m->state == GRANT_MAPPING_LIVE) {
            pthread_mutex_unlock(&h->map_lock);
            send_unmap(h, m->handle);
            pthread_mutex_lock(&h->map_lock);
        }
        free(m);
    }
    if (!forked)
        pthread_mutex_unlock(&h->map_lock);
}
