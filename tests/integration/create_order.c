/* SPDX-License-Identifier: MIT */
/*
 * create_order: `xgrant destroy` of a guest with a disk tears down in Xen's
 * order while a backend driver is attached.  This test plays that backend
 * (through libgrant_xenbus.h): it moves the backend to InitWait, then
 * checks that destroy sets the backend offline and the frontend Closing,
 * and WAITS for the backend: the nodes and the domain are still there
 * until the backend writes Closed; then the nodes are removed and the
 * domain destroyed.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"
#include "libgrant_xenbus.h"

static char xgrant[PATH_MAX], dir[PATH_MAX];

static void find_xgrant(void)
{
    char self[PATH_MAX], *d;

    snprintf(self, sizeof(self), "%s", itest_self());
    d = dirname(self);
    snprintf(xgrant, sizeof(xgrant), "%s/../../bin/xgrant", d);
}

/* `xgrant create` on a one-disk config; the new domain's id or -1. */
static int create_guest(void)
{
    char cmd[PATH_MAX * 2 + 64], path[PATH_MAX + 32];
    FILE *f;
    int id = -1;

    snprintf(path, sizeof(path), "%s/disk.img", dir);
    f = fopen(path, "w");
    if (f)
        fclose(f);
    if (truncate(path, 1 << 20) < 0)
        return -1;
    snprintf(path, sizeof(path), "%s/order.cfg", dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "name = \"order\"\nmemory = 8\nprogram = [ \"sleep\", \"600\" ]\n"
            "disk = [ 'vdev=xvda, access=rw, target=%s/disk.img' ]\n",
            dir);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "%s create %s", xgrant, path);
    f = popen(cmd, "r");
    if (!f || fscanf(f, "%d", &id) != 1)
        id = -1;
    if (f)
        pclose(f);
    return id;
}

static pid_t start_destroy(int id)
{
    char arg[16];
    pid_t pid = fork();

    if (pid == 0) {
        snprintf(arg, sizeof(arg), "%d", id);
        execl(xgrant, "xgrant", "destroy", arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int exists(grant_xenbus_t *xb, const char *path)
{
    char *v = NULL;
    int rc = grant_xenbus_read(xb, XBT_NULL, path, NULL, &v, NULL);

    free(v);
    return rc == 0;
}

static void play_backend(grant_handle_t *dom0, grant_xenbus_t *xb, int id)
{
    char fe[GRANT_XENBUS_PATH_MAX], be[GRANT_XENBUS_PATH_MAX], *online = NULL;
    grant_domid_t d;
    int st = -1, status = -1, rc;
    pid_t pid;

    grant_xenbus_frontend_dir((unsigned)id, "vbd", 51712, fe, sizeof(fe));
    grant_xenbus_backend_dir(0, "vbd", (unsigned)id, 51712, be, sizeof(be));
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, XenbusStateInitWait) ==
               0,
           "the backend driver attaches (InitWait)");
    pid = start_destroy(id);
    rc = grant_xenbus_wait_state(xb, fe, XenbusStateClosing, 30000, &st);
    ICHECK(rc == 0, "destroy moves the frontend to Closing first (%d, %s)", rc,
           grant_xenbus_state_name(st));
    grant_xenbus_read(xb, XBT_NULL, be, "online", &online, NULL);
    ICHECK(online && !strcmp(online, "0"), "the backend is set offline (%s)",
           online ? online : "missing");
    free(online);
    usleep(300 * 1000); /* destroy must be waiting for us, not done */
    ICHECK(waitpid(pid, &status, WNOHANG) == 0,
           "destroy waits for the backend to close");
    ICHECK(exists(xb, fe) && exists(xb, be) &&
               grant_ctl_domain_lookup(dom0, "order", &d) == 0,
           "nodes and domain stay until the backend is Closed");
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, XenbusStateClosed) == 0,
           "the backend closes");
    rc = waitpid(pid, &status, 0) == pid;
    ICHECK(rc && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "destroy then finishes (status %#x)", status);
    ICHECK(!exists(xb, fe) && !exists(xb, be), "frontend and backend removed");
    ICHECK(grant_ctl_domain_lookup(dom0, "order", &d) == -ESRCH,
           "the domain is gone");
}

int main(void)
{
    grant_handle_t *dom0;
    grant_xenbus_t *xb;
    int rc, id;

    itest_setup(&dom0);
    find_xgrant();
    snprintf(dir, sizeof(dir), "%s", itest_sock());
    snprintf(dir, sizeof(dir), "%s", dirname(dir));
    rc = grant_xenbus_open(&xb, 0);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        itest_teardown(dom0);
        printf("SKIP: this xgrantd serves no store (%s)\n", strerror(-rc));
        return ITEST_SKIP;
    }
    id = create_guest();
    ICHECK(rc == 0 && id > 0, "xgrant create made domain %d", id);
    if (rc == 0 && id > 0)
        play_backend(dom0, xb, id);
    grant_xenbus_close(xb);
    itest_teardown(dom0);
    return itest_done();
}
