/* SPDX-License-Identifier: MIT */
/*
 * create_reap.c: the watcher `xgrant create` leaves behind, as xl create
 * leaves its own process per domain: when the guest dies by itself (its
 * program exits), the store nodes of its devices are removed as
 * `xgrant destroy` would (create_destroy.c), so no backend directory or
 * /libxl entry outlives it.
 *
 * The watcher is a detached process (its own session, stdio on /dev/null)
 * holding one domain-0 handle; it exits when the domain is gone or xgrantd
 * stops.  Domain ids are reused: the domain's /vm path (unique per
 * domain) is noted first, and nothing is removed if another domain holds
 * the id by the time this one is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "private.h"

/* /local/domain/<domid>/vm, or NULL. */
static char *vm_of(grant_xenbus_t *xb, unsigned domid)
{
    char dir[64], *vm = NULL;

    snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
    if (grant_xenbus_read(xb, XBT_NULL, dir, "vm", &vm, NULL) < 0)
        return NULL;
    return vm;
}

static void watch_domain(unsigned domid)
{
    grant_handle_t *h;
    grant_xenbus_t *xb;
    char *before, *after;
    int rc;

    if (grant_xenbus_open(&xb, 0) < 0)
        return;
    before = vm_of(xb, domid);
    rc = grant_open(&h, 0);
    if (rc == 0) {
        rc = grant_ctl_domain_wait(h, (grant_domid_t)domid);
        grant_close(h);
    }
    /* Gone (wait answered, or it was gone already), and the id not taken
     * by another domain since; a failed wait proves nothing. */
    after = rc >= 0 || rc == -ESRCH ? vm_of(xb, domid) : NULL;
    if ((rc >= 0 || rc == -ESRCH) &&
        (!after || (before && !strcmp(before, after)))) {
        xg_devices_remove(xb, domid, 0);
        xg_backends_stop_idle(xb, 0);
    }
    free(before);
    free(after);
    grant_xenbus_close(xb);
}

void xg_reap_later(unsigned domid)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return; /* no watcher: `xgrant destroy` still cleans up */
    if (pid > 0) {
        waitpid(pid, NULL, 0);
        return;
    }
    setsid();
    if (fork() != 0) /* the watcher is nobody's child to wait for */
        _exit(0);
    fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    watch_domain(domid);
    _exit(0);
}
