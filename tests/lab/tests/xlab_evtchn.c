/* SPDX-License-Identifier: MIT */
/*
 * xlab_evtchn.c: event channels through libgrant's xen transport
 * (libxenevtchn underneath, one handle per port), with the contract of
 * libgrant.h's "Event channels".  dom0 allocates a port the guest may
 * bind, the guest binds it and signals, dom0 waits for the signal and
 * signals back; each side checks that the handle's pending fd and the
 * port's own fd poll readable, that grant_evtchn_pending hands out that
 * port, and that nothing is left after it (-EAGAIN, never blocking).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "xlab.h"

#define EV_WAIT_MS 30000

/* Waits for a signal on the pending fd; takes it; none must be left. */
static void wait_once(grant_handle_t *h, uint32_t port, const char *name,
                      const char *from)
{
    struct pollfd all = {.fd = grant_evtchn_pending_fd(h), .events = POLLIN};
    struct pollfd one = {.fd = grant_evtchn_fd(h, port), .events = POLLIN};
    int polled = all.fd >= 0 ? poll(&all, 1, EV_WAIT_MS) : -1;
    int own = one.fd >= 0 ? poll(&one, 1, 0) : -1;
    uint32_t which = 0, none;
    int got = grant_evtchn_pending(h, &which);
    int again = grant_evtchn_consume(h, port);
    int left = grant_evtchn_pending(h, &none);

    xlab_report(name,
                polled == 1 && own == 1 && got >= 1 && which == port &&
                    again == -EAGAIN && left == -EAGAIN,
                "signal from %s on port %u: pending fd polled %d, port fd "
                "%d, pending %d (port %u), then consume %d, pending %d "
                "(want 1, 1, >= 1 (%u), EAGAIN, EAGAIN)",
                from, port, polled, own, got, which, again, left, port);
}

void xlab_evtchn_dom0(grant_handle_t *h, unsigned guest)
{
    uint32_t port = 0;
    char done[16];
    int rc;

    rc = grant_evtchn_alloc_unbound(h, (grant_domid_t)guest, &port);
    xlab_report("evtchn_alloc", rc == 0, "port for guest %u: %s", guest,
                grant_strerror(rc));
    xlab_xs_write("evport", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? port : (unsigned)rc);
    if (rc < 0)
        return;
    if (xlab_xs_wait("evbound", done, sizeof(done)) == 0)
        wait_once(h, port, "evtchn_from_guest", "the guest");
    rc = grant_evtchn_notify(h, port);
    xlab_report("evtchn_notify", rc == 0, "to the guest: %s",
                grant_strerror(rc));
    xlab_xs_wait("evdone", done, sizeof(done));
    rc = grant_evtchn_close(h, port);
    xlab_report("evtchn_close", rc == 0 && grant_evtchn_fd(h, port) < 0,
                "%s, then the port is unknown", grant_strerror(rc));
}

void xlab_evtchn_guest(grant_handle_t *h)
{
    uint32_t remote = 0, port = 0;
    int rc;

    rc = xlab_xs_wait_u32("evport", &remote);
    if (rc == 0)
        rc = grant_evtchn_bind(h, 0, remote, &port);
    xlab_report("evtchn_bind", rc == 0, "dom0's port %u -> local %u: %s",
                remote, port, grant_strerror(rc));
    if (rc == 0)
        rc = grant_evtchn_notify(h, port);
    xlab_report("evtchn_notify", rc == 0, "to dom0: %s", grant_strerror(rc));
    xlab_xs_write("evbound", "1");
    if (rc == 0)
        wait_once(h, port, "evtchn_from_dom0", "dom0");
    xlab_xs_write("evdone", "1");
    if (port)
        grant_evtchn_close(h, port);
}
