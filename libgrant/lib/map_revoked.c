/* SPDX-License-Identifier: MIT */
/*
 * map_revoked.c: what a mapper sees when the granter force-revokes (or
 * dies): the pages become private scratch pages of its own, as under Xen,
 * and the mapping is queued as an event the program reads on an fd
 * (grant_map_revoked_fd, grant_map_revoked_next).
 *
 * Sim: the notice path (sim_notice.c, the service thread) calls
 * lg_map_revoked, which maps private anonymous memory over the mapping
 * (MAP_FIXED: same addresses, with the mapping's protection), so reads
 * and writes go on working and never reach the granter, and only then
 * lets the notice be acked.  Xen (map windows): the hypervisor puts its
 * scratch page in the window by itself and tells the guest nothing, so no
 * event is queued there (yet).
 *
 * The queue holds mapping records (intrusive, oldest first); unmapping a
 * mapping takes its event off, so an event always names a mapping that is
 * still there.  The eventfd counts 1 while the queue is not empty, 0 when
 * it is.  map_lock guards all of it.
 */
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "private.h"

static void ev_signal(grant_handle_t *h)
{
    uint64_t one = 1;

    if (h->rev_fd >= 0)
        (void)!write(h->rev_fd, &one, sizeof(one));
}

/* The queue is empty: the fd stops polling readable. */
static void ev_drain(grant_handle_t *h)
{
    uint64_t v;

    if (h->rev_fd >= 0)
        (void)!read(h->rev_fd, &v, sizeof(v));
}

static void ev_push(grant_handle_t *h, struct grant_mapping *m)
{
    m->ev_next = NULL;
    if (h->rev_tail)
        h->rev_tail->ev_next = m;
    else
        h->rev_head = m;
    h->rev_tail = m;
    m->queued = 1;
    if (h->rev_head == m)
        ev_signal(h);
}

void lg_map_ev_cancel(grant_handle_t *h, struct grant_mapping *m)
{
    struct grant_mapping **pp, *prev = NULL;

    if (!m->queued)
        return;
    for (pp = &h->rev_head; *pp != m; pp = &(*pp)->ev_next)
        prev = *pp;
    *pp = m->ev_next;
    if (h->rev_tail == m)
        h->rev_tail = prev;
    m->queued = 0;
    if (!h->rev_head)
        ev_drain(h);
}

void lg_map_ev_release(grant_handle_t *h)
{
    h->rev_head = h->rev_tail = NULL;
    if (h->rev_fd >= 0)
        close(h->rev_fd);
    h->rev_fd = -1;
}

/* Replaces a live mapping by private scratch pages (or drops it). */
static int make_scratch(struct grant_mapping *m)
{
    if (mmap(m->addr, m->len, m->prot,
             MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
             0) != MAP_FAILED) {
        (void)madvise(m->addr, m->len, MADV_DONTFORK);
        m->state = GRANT_MAPPING_REVOKED;
        return 0;
    }
    /* In a batch's range a hole could be taken by another mapping before
     * the range goes: no ack then (the daemon's timeout wins). */
    if (!m->range && munmap(m->addr, m->len) == 0) {
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
    if (m && m->state == GRANT_MAPPING_LIVE) {
        rc = make_scratch(m);
        if (rc == 0)
            ev_push(h, m);
    } else if (!m && h->map_inflight && h->nr_early < GRANT_EARLY_MAX) {
        h->early[h->nr_early++] = handle;
    } else if (!m && h->map_inflight) {
        h->early_overflow = 1;
    }
    pthread_mutex_unlock(&h->map_lock);
    return rc;
}

int grant_map_revoked_fd(grant_handle_t *h)
{
    int fd;

    if (!h)
        return -EINVAL;
    if (lg_forked(h))
        return lg_fail(h, "grant_map_revoked_fd", -EBADF);
    pthread_mutex_lock(&h->map_lock);
    if (h->rev_fd < 0)
        h->rev_fd = eventfd(h->rev_head ? 1 : 0, EFD_CLOEXEC | EFD_NONBLOCK);
    fd = h->rev_fd < 0 ? -errno : h->rev_fd;
    pthread_mutex_unlock(&h->map_lock);
    return lg_fail(h, "grant_map_revoked_fd", fd);
}

int grant_map_revoked_next(grant_handle_t *h, struct grant_map_event *ev)
{
    struct grant_mapping *m;

    if (!h || !ev)
        return lg_fail(h, "grant_map_revoked_next", -EINVAL);
    if (lg_forked(h))
        return lg_fail(h, "grant_map_revoked_next", -EBADF);
    pthread_mutex_lock(&h->map_lock);
    m = h->rev_head;
    if (m) {
        *ev = (struct grant_map_event){.addr = m->addr,
                                       .len = m->len,
                                       .granter = m->granter,
                                       .ref = m->ref,
                                       .offset = m->offset};
        lg_map_ev_cancel(h, m);
    }
    pthread_mutex_unlock(&h->map_lock);
    return m ? 1 : 0;
}
