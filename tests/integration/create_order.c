/* SPDX-License-Identifier: MIT */
/*
 * create_order: `xgrant destroy` of a guest with a disk tears down in Xen's
 * order while a backend driver is attached.  This test plays that backend
 * (through libgrant_xenbus.h): it moves the backend to InitWait, then
 * checks that destroy sets the backend offline and the frontend Closing,
 * and WAITS for the backend: the nodes and the domain are still there
 * until the backend writes Closed; then the nodes are removed and the
 * domain destroyed.  A backend still Initialising gets the probe grace
 * period: one that probes during it is waited for like any other (it is
 * not closed under the driver), one that never probes is closed by the CLI
 * once the grace (XGRANT_PROBE_GRACE_MS) is over, and not before.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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

/* `xgrant destroy <id>` in the background, XGRANT_PROBE_GRACE_MS=grace
 * (unset when NULL), its stderr into dir/destroy.err. */
static pid_t start_destroy(int id, const char *grace)
{
    char arg[16], err[PATH_MAX + 16];
    pid_t pid = fork();

    if (pid == 0) {
        snprintf(arg, sizeof(arg), "%d", id);
        snprintf(err, sizeof(err), "%s/destroy.err", dir);
        if (!freopen(err, "w", stderr))
            _exit(127);
        if (grace)
            setenv("XGRANT_PROBE_GRACE_MS", grace, 1);
        else
            unsetenv("XGRANT_PROBE_GRACE_MS");
        execl(xgrant, "xgrant", "destroy", arg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Does dir/destroy.err contain what? */
static bool destroy_said(const char *what)
{
    char path[PATH_MAX + 16], buf[1024] = "";
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "%s/destroy.err", dir);
    f = fopen(path, "r");
    n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, what) != NULL;
}

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
    pid = start_destroy(id, NULL);
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

/* The driver probes late: destroy already runs when the backend is still
 * Initialising.  Inside the grace (here the default, 10 s: a malformed
 * XGRANT_PROBE_GRACE_MS is named and ignored) the CLI must leave the
 * backend alone; once the driver has probed, destroy waits for its Closed. */
static void slow_probe(grant_xenbus_t *xb, int id)
{
    char fe[GRANT_XENBUS_PATH_MAX], be[GRANT_XENBUS_PATH_MAX];
    int st = -1, status = -1, rc;
    pid_t pid;

    grant_xenbus_frontend_dir((unsigned)id, "vbd", 51712, fe, sizeof(fe));
    grant_xenbus_backend_dir(0, "vbd", (unsigned)id, 51712, be, sizeof(be));
    pid = start_destroy(id, "soon");
    rc = grant_xenbus_wait_state(xb, fe, XenbusStateClosing, 30000, &st);
    ICHECK(rc == 0, "slow probe: the frontend goes Closing (%d, %s)", rc,
           grant_xenbus_state_name(st));
    usleep(300 * 1000); /* destroy is in the grace now */
    rc = grant_xenbus_read_state(xb, XBT_NULL, be, &st);
    ICHECK(rc == 0 && st == XenbusStateInitialising,
           "within the grace the CLI leaves an Initialising backend alone "
           "(%s)",
           grant_xenbus_state_name(st));
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, XenbusStateInitWait) ==
               0,
           "the driver probes late (InitWait)");
    usleep(300 * 1000);
    rc = waitpid(pid, &status, WNOHANG);
    if (grant_xenbus_read_state(xb, XBT_NULL, be, &st) < 0)
        st = -1;
    ICHECK(rc == 0 && st == XenbusStateInitWait,
           "destroy waits for the probed backend (%s)",
           grant_xenbus_state_name(st));
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, XenbusStateClosed) == 0,
           "the backend closes");
    rc = waitpid(pid, &status, 0) == pid;
    ICHECK(rc && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "destroy then finishes (status %#x)", status);
    ICHECK(destroy_said("XGRANT_PROBE_GRACE_MS='soon'"),
           "a malformed XGRANT_PROBE_GRACE_MS is named");
    ICHECK(!exists(xb, fe) && !exists(xb, be), "frontend and backend removed");
}

/* No driver ever probes: the CLI closes the backend itself, once the grace
 * (400 ms here) is over and not before. */
static void no_probe(grant_handle_t *dom0, grant_xenbus_t *xb, int id)
{
    char fe[GRANT_XENBUS_PATH_MAX], be[GRANT_XENBUS_PATH_MAX];
    int status = -1, rc;
    long start = now_ms(), took;
    grant_domid_t d;
    pid_t pid;

    grant_xenbus_frontend_dir((unsigned)id, "vbd", 51712, fe, sizeof(fe));
    grant_xenbus_backend_dir(0, "vbd", (unsigned)id, 51712, be, sizeof(be));
    pid = start_destroy(id, "400");
    rc = waitpid(pid, &status, 0) == pid;
    took = now_ms() - start;
    ICHECK(rc && WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "no probe: destroy finishes by itself (status %#x)", status);
    ICHECK(took >= 400 && took < 8000,
           "after the 400 ms grace, not before and not the default (%ld ms)",
           took);
    ICHECK(!exists(xb, fe) && !exists(xb, be) &&
               grant_ctl_domain_lookup(dom0, "order", &d) == -ESRCH,
           "nodes and domain gone");
}

int main(void)
{
    char sock[PATH_MAX];
    grant_handle_t *dom0;
    grant_xenbus_t *xb;
    int rc, id;

    /* This test plays the backend: create starts no daemon, waits for none. */
    setenv("XGRANT_BACKENDS", "none", 1);
    itest_setup(&dom0);
    find_xgrant();
    /* The test's files go beside the daemon's socket, in the test's own
     * directory (dirname works in place: never snprintf dir onto itself,
     * which left dir empty and every run, of every checkout, sharing
     * /destroy.err). */
    snprintf(sock, sizeof(sock), "%s", itest_sock());
    snprintf(dir, sizeof(dir), "%s", dirname(sock));
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
    id = rc == 0 ? create_guest() : -1;
    ICHECK(id > 0, "xgrant create made domain %d (slow probe)", id);
    if (id > 0)
        slow_probe(xb, id);
    id = rc == 0 ? create_guest() : -1;
    ICHECK(id > 0, "xgrant create made domain %d (no probe)", id);
    if (id > 0)
        no_probe(dom0, xb, id);
    grant_xenbus_close(xb);
    itest_teardown(dom0);
    return itest_done();
}
