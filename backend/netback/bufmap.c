/* SPDX-License-Identifier: MIT */
/*
 * bufmap.c: the frontend's data buffers mapped.  Two tables per vif:
 *   rx (feature-grant-ext-rx-map): the long-lived rx buffers, granted
 *      WRITE|MAP, mapped writable, rx_buf bytes each; a packet from the
 *      TAP reaches the frontend by one write of ours instead of a grant
 *      copy through the hypervisor (rx.c);
 *   tx (feature-grant-ext-tx-map): the long-lived tx buffers, granted
 *      READ|MAP, mapped read-only, tx_buf bytes each; a packet of the
 *      frontend goes onto the TAP by one writev from them (tx.c).
 * Each gref is mapped once (grant_map, the whole buffer) on first use and
 * kept in the vif's table.
 *
 * The accesses are system calls (readv from the TAP and process_vm_writev
 * into rx buffers, writev to the TAP from tx buffers), never memcpy: a
 * frontend that protects (grant_protect) pages we map makes the kernel
 * answer EFAULT instead of a SIGSEGV killing every vif; what we read of
 * them ourselves goes through nb_peek (guard.c), which catches the fault.
 * Such a packet is answered with an error and its refs go back to grant
 * copy.
 *
 * A ref that does not map (not granted with MAP, smaller than the buffer,
 * the map quota) is remembered as not mapped and copied as before; so is
 * every ref once a table holds NB_RXMAP_MAX.  A force-revoked mapping
 * (the frontend revoked or died) turns into scratch pages: the revoke
 * event (grant_map_revoked_fd, drained before a table is used: each rx
 * pass, each tx packet once its requests are taken, and when the
 * descriptor polls) unmaps it and the ref is copied from then on, so a
 * ref revoked and granted again is never served from the old mapping.
 * Every mapping is unmapped at disconnect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "private.h"

#define MAP_SLOTS (2u * NB_RXMAP_MAX) /* open addressing, half full */

static struct nb_mapent *slot(struct nb_bufmap *t, grant_ref_t ref)
{
    unsigned i = (ref * 2654435761u) & (MAP_SLOTS - 1);

    while (t->maps[i].used && t->maps[i].ref != ref)
        i = (i + 1) & (MAP_SLOTS - 1);
    return &t->maps[i];
}

void *nb_map_get(struct nb_vif *v, struct nb_bufmap *t, grant_ref_t ref)
{
    struct nb_mapent *m;
    void *addr = NULL;
    int rc;

    if (!t->on)
        return NULL;
    if (!t->maps && !(t->maps = calloc(MAP_SLOTS, sizeof(*t->maps))))
        return NULL;
    m = slot(t, ref);
    if (m->used)
        return m->addr;
    if (t->n >= NB_RXMAP_MAX)
        return NULL; /* full: copied */
    rc = grant_map(v->nb->h, (grant_domid_t)xbe_dev_fe_id(v->d), ref, 0, t->len,
                   t->flags, &addr);
    if (rc < 0) {
        addr = NULL;
        nb_vif_log(v, "%s: %s buffer (gref %u) not mapped (%s): copied",
                   v->ifname, t == &v->txm ? "tx" : "rx", ref,
                   grant_strerror(rc));
    }
    *m = (struct nb_mapent){.ref = ref, .addr = addr, .used = 1};
    t->n++;
    return addr;
}

/* The ref's mapping gone: it stays in the table, copied from now on. */
static void forget(struct nb_vif *v, struct nb_mapent *m)
{
    if (m->addr) {
        grant_unmap(v->nb->h, m->addr);
        m->addr = NULL;
    }
}

void nb_map_forget(struct nb_vif *v, struct nb_bufmap *t,
                   const grant_ref_t *refs, unsigned n)
{
    unsigned i;

    for (i = 0; t->maps && i < n; i++)
        forget(v, slot(t, refs[i]));
}

int nb_rxmap_write(struct nb_vif *v, const uint8_t *data, size_t len,
                   const grant_ref_t *refs, void *const *addrs, unsigned n)
{
    static pid_t self; /* getpid is a system call each time */
    struct iovec local = {(void *)data, len}, remote[NB_SLOTS_MAX];
    size_t off = 0;
    unsigned i;
    ssize_t got;
    int rc;

    for (i = 0; i < n; i++) {
        remote[i].iov_base = addrs[i];
        remote[i].iov_len = len - off < v->rx_buf ? len - off : v->rx_buf;
        off += remote[i].iov_len;
    }
    if (!self)
        self = getpid();
    got = process_vm_writev(self, &local, 1, remote, n, 0);
    if (got == (ssize_t)len)
        return 0;
    rc = got < 0 ? -errno : -EFAULT;
    if (rc == -ENOSYS || rc == -EPERM) {
        /* No process_vm_writev here (seccomp): copy everything. */
        nb_log("%s: process_vm_writev: %s: rx buffers copied, not mapped",
               v->ifname, strerror(-rc));
        nb_map_clear(v, &v->rxm);
        v->rxm.on = 0;
        return rc;
    }
    /* Protected under us: these refs are copied from now on. */
    nb_map_forget(v, &v->rxm, refs, n);
    return rc;
}

/* The mapping at addr of ref in t, if t holds it: forgotten. */
static int revoked_in(struct nb_vif *v, struct nb_bufmap *t,
                      const struct grant_map_event *ev)
{
    struct nb_mapent *m;

    if (!t->maps)
        return 0;
    m = slot(t, ev->ref);
    if (!m->used || m->addr != ev->addr)
        return 0;
    nb_vif_log(v, "%s: %s buffer (gref %u) revoked while mapped", v->ifname,
               t == &v->txm ? "tx" : "rx", ev->ref);
    forget(v, m);
    return 1;
}

void nb_map_revoked(struct nb *nb)
{
    struct grant_map_event ev;
    unsigned i;

    while (grant_map_revoked_next(nb->h, &ev) == 1) {
        for (i = 0; i < nb->nr_vifs; i++) {
            struct nb_vif *v = nb->vifs[i];

            if (xbe_dev_fe_id(v->d) == ev.granter &&
                (revoked_in(v, &v->rxm, &ev) || revoked_in(v, &v->txm, &ev)))
                break;
        }
    }
}

void nb_map_clear(struct nb_vif *v, struct nb_bufmap *t)
{
    unsigned i;

    for (i = 0; t->maps && i < MAP_SLOTS; i++)
        if (t->maps[i].used)
            forget(v, &t->maps[i]);
    free(t->maps);
    t->maps = NULL;
    t->n = 0;
}
