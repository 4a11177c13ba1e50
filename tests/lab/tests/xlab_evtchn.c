/* SPDX-License-Identifier: MIT */
/*
 * xlab_evtchn.c: event channels through libgrant's xen transport
 * (libxenevtchn underneath, one handle per port).  dom0 allocates a port
 * the guest may bind, the guest binds it and signals, dom0 waits for the
 * signal and signals back; each side checks its fd polls readable and that
 * grant_evtchn_wait consumes what is pending (a second wait times out).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "xlab.h"

#define EV_WAIT_MS 30000

/* Waits for a signal; then a short second wait must find none left. */
static void wait_once(grant_handle_t *h, uint32_t port, const char *name,
                      const char *from)
{
    struct pollfd pfd = {.fd = grant_evtchn_fd(h, port), .events = POLLIN};
    int polled = pfd.fd >= 0 ? poll(&pfd, 1, EV_WAIT_MS) : -1;
    int got = grant_evtchn_wait(h, port, EV_WAIT_MS);
    int again = got > 0 ? grant_evtchn_wait(h, port, 100) : -1;

    xlab_report(name, polled == 1 && got >= 1 && again == 0,
                "signal from %s on port %u: fd polled %d, wait %d, then %d "
                "(want 1, >= 1, 0)",
                from, port, polled, got, again);
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
