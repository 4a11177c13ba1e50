/* SPDX-License-Identifier: MIT */
/*
 * rxmap.c: the frontend's rx buffers mapped (feature-grant-ext-rx-map).
 * A frontend that says so grants its long-lived rx buffers with MAP too;
 * each posted gref is mapped once (grant_map, the whole rx buffer) and
 * kept in a per-vif table, so a packet from the TAP reaches the frontend
 * by one write of ours instead of a grant copy through the hypervisor.
 *
 * The write is readv from the TAP (rx.c direct_frame) or process_vm_writev
 * into our own mappings, never memcpy: a frontend that protects
 * (grant_protect) pages we map makes the kernel answer EFAULT instead of
 * a SIGSEGV killing every vif; what we read of them goes through
 * nb_peek (guard.c), which catches the fault.  Such a packet is
 * answered with an error and its refs go back to grant copy.
 *
 * A ref that does not map (not granted with MAP, smaller than the buffer,
 * the map quota) is remembered as not mapped and copied as before; so is
 * every ref once the table holds NB_RXMAP_MAX.  A force-revoked mapping
 * (the frontend revoked or died) turns into scratch pages: the revoke
 * event (grant_map_revoked_fd, drained before each rx pass and when the
 * descriptor polls) unmaps it and the ref is copied from then on.  Every
 * mapping is unmapped at disconnect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "private.h"

#define RXMAP_SLOTS (2u * NB_RXMAP_MAX) /* open addressing, half full */

static struct nb_rxmap *slot(struct nb_vif *v, grant_ref_t ref)
{
    unsigned i = (ref * 2654435761u) & (RXMAP_SLOTS - 1);

    while (v->maps[i].used && v->maps[i].ref != ref)
        i = (i + 1) & (RXMAP_SLOTS - 1);
    return &v->maps[i];
}

void *nb_rxmap_get(struct nb_vif *v, grant_ref_t ref)
{
    struct nb_rxmap *m;
    void *addr = NULL;
    int rc;

    if (!v->rx_map)
        return NULL;
    if (!v->maps && !(v->maps = calloc(RXMAP_SLOTS, sizeof(*v->maps))))
        return NULL;
    m = slot(v, ref);
    if (m->used)
        return m->addr;
    if (v->nmaps >= NB_RXMAP_MAX)
        return NULL; /* full: copied */
    rc = grant_map(v->nb->h, (grant_domid_t)xbe_dev_fe_id(v->d), ref, 0,
                   v->rx_buf, 0, &addr);
    if (rc < 0) {
        addr = NULL;
        nb_vif_log(v, "%s: rx buffer (gref %u) not mapped (%s): copied",
                   v->ifname, ref, grant_strerror(rc));
    }
    *m = (struct nb_rxmap){.ref = ref, .addr = addr, .used = 1};
    v->nmaps++;
    return addr;
}

/* The ref's mapping gone: it stays in the table, copied from now on. */
static void forget(struct nb_vif *v, struct nb_rxmap *m)
{
    if (m->addr) {
        grant_unmap(v->nb->h, m->addr);
        m->addr = NULL;
    }
}

void nb_rxmap_forget(struct nb_vif *v, const grant_ref_t *refs, unsigned n)
{
    unsigned i;

    for (i = 0; v->maps && i < n; i++)
        forget(v, slot(v, refs[i]));
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
        nb_rxmap_clear(v);
        v->rx_map = 0;
        return rc;
    }
    /* Protected under us: these refs are copied from now on. */
    nb_rxmap_forget(v, refs, n);
    return rc;
}

void nb_rxmap_revoked(struct nb *nb)
{
    struct grant_map_event ev;
    unsigned i;

    while (grant_map_revoked_next(nb->h, &ev) == 1) {
        for (i = 0; i < nb->nr_vifs; i++) {
            struct nb_vif *v = nb->vifs[i];
            struct nb_rxmap *m;

            if (!v->maps || xbe_dev_fe_id(v->d) != ev.granter)
                continue;
            m = slot(v, ev.ref);
            if (m->used && m->addr == ev.addr) {
                nb_vif_log(v, "%s: rx buffer (gref %u) revoked while mapped",
                           v->ifname, ev.ref);
                forget(v, m);
                break;
            }
        }
    }
}

void nb_rxmap_clear(struct nb_vif *v)
{
    unsigned i;

    for (i = 0; v->maps && i < RXMAP_SLOTS; i++)
        if (v->maps[i].used)
            forget(v, &v->maps[i]);
    free(v->maps);
    v->maps = NULL;
    v->nmaps = 0;
}
