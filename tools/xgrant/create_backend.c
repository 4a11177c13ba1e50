/* SPDX-License-Identifier: MIT */
/*
 * create_backend.c: the backend drivers of a guest's devices, started on
 * demand and stopped when idle.
 *
 * One daemon per kind per backend domain serves every device of that kind
 * (DRIVERS.md): xgrant-blkback for vbd, xgrant-netback for vif.
 *
 *  - Domain 0: `xgrant create` starts the daemon if it does not run yet:
 *    the binary next to this one (XGRANT_BLKBACK / XGRANT_NETBACK override
 *    the path) with --foreground, detached by us (own session), stdin
 *    /dev/null, stdout and stderr appended to <rundir>/xgrant-<kind>back.log,
 *    its pid in <rundir>/xgrant-<kind>back.pid.  <rundir> is the directory of
 *    xgrantd's socket.  It runs until no device of its kind is left in
 *    domain 0 (`xgrant destroy`, or the watcher of a guest that died by
 *    itself, stops it with SIGTERM, SIGKILL after XG_STOP_MS) or until
 *    `xgrant hv stop`.
 *  - A driver domain (`backend=NAME` in a disk or vif spec): the backend
 *    is the domain NAME (or a decimal id).  If it exists, it serves (its
 *    program is the daemon, or starts it); if not, create starts it: a
 *    domain NAME running the daemon(s) of the kinds the config gives it.
 *    A driver domain is a domain like any other: xgrant destroy of a guest
 *    leaves it, `xgrant destroy NAME` stops it.
 *
 * Then create waits, for each device, for its backend to leave
 * Initialising (InitWait: probed) within libxl's LIBXL_INIT_TIMEOUT, 10 s
 * (XGRANT_INIT_TIMEOUT_MS overrides it); a device whose backend does not,
 * or goes Closing/Closed instead (its `error` node is quoted), or whose
 * daemon or driver domain is gone, fails the create with the device named.
 *
 * XGRANT_BACKENDS=none writes the nodes only (no daemon started, nothing
 * waited for): for a host where something else runs the backends.
 *
 * The daemons are started and stopped under an flock of
 * <rundir>/xgrant-backends.lock, held while create writes the nodes and
 * starts what they need and while destroy checks for idle daemons, so a
 * daemon is never stopped under a device just added.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "private.h"

#define XG_INIT_TIMEOUT_MS 10000 /* libxl's LIBXL_INIT_TIMEOUT */
#define XG_STOP_MS         3000
#define XG_SLICE_MS        200 /* how often a wait checks the daemon lives */
/* Both daemons take it (DRIVERS.md: their --help): the pid is theirs. */
#define XG_DAEMON_ARGS "--foreground"

struct driver {
    const char *kind; /* store name: vbd, vif */
    const char *bin;  /* xgrant-blkback */
    const char *env;  /* XGRANT_BLKBACK */
};

static const struct driver drivers[] = {
    {"vbd", "xgrant-blkback", "XGRANT_BLKBACK"},
    {"vif", "xgrant-netback", "XGRANT_NETBACK"},
};
#define NR_DRIVERS (sizeof(drivers) / sizeof(drivers[0]))

static const struct driver *driver_of(const struct xg_cfg *cfg, unsigned i)
{
    return &drivers[i < cfg->nr_disks ? 0 : 1];
}

int xg_backends_none(void)
{
    const char *e = getenv("XGRANT_BACKENDS");

    return e && !strcmp(e, "none");
}

/* ---- Files: the daemon's binary, pid file, log -------------------------- */

int xg_driver_bin(const char *name, const char *env, char *buf, size_t len)
{
    const char *e = getenv(env);

    if (e && *e) {
        snprintf(buf, len, "%s", e);
        return access(buf, X_OK) < 0 ? -errno : 0;
    }
    return xg_sibling(name, buf, len);
}

void xg_run_file(const char *name, const char *suffix, char *buf, size_t len)
{
    char sock[PATH_MAX];

    snprintf(sock, sizeof(sock), "%s", xg_sock());
    snprintf(buf, len, "%s/%s%s", dirname(sock), name, suffix);
}

/* 1 if process pid runs `bin`: its argv[0] (a binary) or argv[1] (a
 * script, through its interpreter) is that path. */
static int runs(pid_t pid, const char *bin)
{
    char path[64], args[2 * PATH_MAX + 2];
    size_t n;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    n = fread(args, 1, sizeof(args) - 1, f);
    fclose(f);
    args[n] = '\0';
    return n && (!strcmp(args, bin) || (strlen(args) + 1 < n &&
                                        !strcmp(args + strlen(args) + 1, bin)));
}

/* The pid of the running daemon of dr in domain 0, or 0: the pid file's,
 * if that process lives and runs the binary the file names (else it is
 * gone, and the pid may be another's now). */
static pid_t daemon_pid(const struct driver *dr)
{
    char path[PATH_MAX], bin[PATH_MAX];
    FILE *f;
    int pid = 0;

    xg_run_file(dr->bin, ".pid", path, sizeof(path));
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%d ", &pid) != 1 || pid <= 1 || !fgets(bin, sizeof(bin), f))
        pid = 0;
    fclose(f);
    bin[strcspn(bin, "\n")] = '\0';
    return pid && runs(pid, bin) ? pid : 0;
}

/* ---- Starting ----------------------------------------------------------- */

/* The grandchild: the daemon, detached, its pid and then (if exec fails)
 * errno sent down `report` (closed on exec). */
static void daemon_exec(const char *bin, int report, int log)
{
    char *argv[] = {(char *)bin, XG_DAEMON_ARGS, NULL};
    int null, err;
    pid_t me = getpid();

    xg_close_others(report, log);
    null = open("/dev/null", O_RDONLY);

    if (write(report, &me, sizeof(me)) < 0)
        _exit(127);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
        _exit(127);
    execv(bin, argv);
    err = errno;
    if (write(report, &err, sizeof(err)) < 0)
        _exit(127);
    _exit(127);
}

/* Forks the daemon off (double fork, own session); its pid or -errno. */
static pid_t daemon_spawn(const char *bin, int log)
{
    int p[2], err = 0;
    pid_t pid, got = -1;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid == 0) {
        close(p[0]);
        setsid();
        if (fork() == 0)
            daemon_exec(bin, p[1], log);
        _exit(0);
    }
    close(p[1]);
    if (pid > 0 && read(p[0], &got, sizeof(got)) == sizeof(got) &&
        read(p[0], &err, sizeof(err)) == sizeof(err))
        got = -err; /* exec failed */
    close(p[0]);
    if (pid < 0)
        return -errno;
    waitpid(pid, NULL, 0);
    return got > 0 ? got : got < 0 ? got : -ECHILD;
}

/* Starts dr's daemon in domain 0 unless it runs; 0 or -1 (printed). */
static int daemon_start(const struct driver *dr)
{
    char bin[PATH_MAX], path[PATH_MAX], logp[PATH_MAX];
    int rc, log;
    pid_t pid;
    FILE *f;

    if (daemon_pid(dr))
        return 0;
    rc = xg_driver_bin(dr->bin, dr->env, bin, sizeof(bin));
    if (rc < 0) {
        xg_err("create",
               "%s devices need the %s backend driver: %s %s: %s (build it, "
               "set %s, or XGRANT_BACKENDS=none to write the nodes only)",
               dr->kind, dr->bin, getenv(dr->env) ? dr->env : "binary", bin,
               strerror(-rc), dr->env);
        return -1;
    }
    /* Absolute, but not resolved: a daemon may tell its kind by name. */
    if (bin[0] == '/')
        snprintf(path, sizeof(path), "%s", bin);
    else if (!getcwd(path, sizeof(path)) ||
             strlen(path) + strlen(bin) + 2 > sizeof(path)) {
        xg_err("create", "%s: %s", bin, strerror(errno));
        return -1;
    } else
        strcat(strcat(path, "/"), bin);
    xg_run_file(dr->bin, ".log", logp, sizeof(logp));
    log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0) {
        xg_err("create", "cannot open %s's log %s: %s", dr->bin, logp,
               strerror(errno));
        return -1;
    }
    pid = daemon_spawn(path, log);
    close(log);
    if (pid < 0) {
        xg_err("create", "cannot start %s (%s): %s", dr->bin, path,
               strerror((int)-pid));
        return -1;
    }
    xg_run_file(dr->bin, ".pid", logp, sizeof(logp));
    f = fopen(logp, "w");
    if (f) {
        fprintf(f, "%d %s\n", (int)pid, path);
        fclose(f);
    }
    fprintf(stderr, "xgrant: started %s (pid %d) in domain 0; log: ", dr->bin,
            (int)pid);
    xg_run_file(dr->bin, ".log", logp, sizeof(logp));
    fprintf(stderr, "%s\n", logp);
    return 0;
}

/* ---- Stopping ----------------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

static void pid_file_remove(const struct driver *dr)
{
    char path[PATH_MAX];

    xg_run_file(dr->bin, ".pid", path, sizeof(path));
    unlink(path);
}

static void daemon_stop(const struct driver *dr, pid_t pid)
{
    int waited;

    kill(pid, SIGTERM);
    for (waited = 0; waited < XG_STOP_MS && daemon_pid(dr); waited += 20)
        sleep_ms(20);
    if (daemon_pid(dr)) {
        xg_err(NULL, "%s (pid %d) did not stop within %d s: killed", dr->bin,
               (int)pid, XG_STOP_MS / 1000);
        kill(pid, SIGKILL);
    }
    pid_file_remove(dr);
}

/* 1 when domain 0 still has a device of this kind. */
static int kind_busy(grant_xenbus_t *xb, const char *kind)
{
    char dir[96], sub[GRANT_XENBUS_PATH_MAX], **fes, **devs;
    unsigned n, m, i;
    int busy = 0;

    snprintf(dir, sizeof(dir), "/local/domain/0/backend/%s", kind);
    fes = xs_directory(grant_xenbus_xs(xb), XBT_NULL, dir, &n);
    for (i = 0; fes && i < n && !busy; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, fes[i]);
        devs = xs_directory(grant_xenbus_xs(xb), XBT_NULL, sub, &m);
        busy = devs && m > 0;
        free(devs);
    }
    free(fes);
    return busy;
}

/* The toolstack's lock (see the top); an fd to close, or -1. */
static int backends_lock(void)
{
    char path[PATH_MAX];
    int fd;

    xg_run_file("xgrant-backends", ".lock", path, sizeof(path));
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

void xg_backends_stop_idle(grant_xenbus_t *xb, int all)
{
    int lock = backends_lock();
    unsigned i;
    pid_t pid;

    for (i = 0; i < NR_DRIVERS; i++) {
        pid = daemon_pid(&drivers[i]);
        if (!pid) /* none, or one that died: no stale pid file */
            pid_file_remove(&drivers[i]);
        else if (all || !kind_busy(xb, drivers[i].kind))
            daemon_stop(&drivers[i], pid);
    }
    if (lock >= 0)
        close(lock);
}

/* ---- Driver domains ----------------------------------------------------- */

/* Starts driver domain `name` running the daemons of the kinds the config
 * gives it; its id in *be, or -1 (printed). */
static int driver_domain_start(grant_handle_t *h, const struct xg_cfg *cfg,
                               const char *name, grant_domid_t *be)
{
    char bins[NR_DRIVERS][PATH_MAX];
    char *argv[8] = {0};
    const char *b;
    unsigned i, need = 0, n = 0;
    struct grant_domain_config dc = {
        .name = name, .memory_bytes = 64ull << 20, .stdio = {-1, -1, -1}};
    int rc;

    for (i = 0; i < cfg->nr_disks + cfg->nr_vifs; i++) {
        xg_dev_backend(cfg, i, &b, &(unsigned){0});
        if (b && !strcmp(b, name))
            need |= 1u << (driver_of(cfg, i) - drivers);
    }
    for (i = 0; i < NR_DRIVERS; i++) {
        if (!(need & (1u << i)))
            continue;
        rc = xg_driver_bin(drivers[i].bin, drivers[i].env, bins[n],
                           sizeof(bins[n]));
        if (rc < 0) {
            xg_err("create", "driver domain '%s' needs %s: %s: %s", name,
                   drivers[i].bin, bins[n], strerror(-rc));
            return -1;
        }
        n++;
    }
    if (n == 1) {
        argv[0] = bins[0];
        argv[1] = XG_DAEMON_ARGS;
    } else { /* both kinds: one shell runs the two daemons */
        argv[0] = "/bin/sh";
        argv[1] = "-c";
        argv[2] = "\"$0\" " XG_DAEMON_ARGS " & exec \"$1\" " XG_DAEMON_ARGS;
        argv[3] = bins[0];
        argv[4] = bins[1];
    }
    dc.argv = argv;
    rc = grant_ctl_domain_create(h, &dc, be);
    if (rc < 0) {
        xg_err("create", "cannot start driver domain '%s' (%s): %s", name,
               argv[0], strerror(-rc));
        return -1;
    }
    fprintf(stderr, "xgrant: started driver domain %u (%s) running %s%s%s\n",
            *be, name, bins[0], n > 1 ? " and " : "", n > 1 ? bins[1] : "");
    return 0;
}

/* Fills in the backend domain id of every device; 0 or -1 (printed). */
int xg_backends_resolve(grant_handle_t *h, struct xg_cfg *cfg)
{
    unsigned i, *be;
    const char *name;
    grant_domid_t id;
    int rc;

    for (i = 0; i < cfg->nr_disks + cfg->nr_vifs; i++) {
        be = i < cfg->nr_disks ? &cfg->disks[i].be
                               : &cfg->vifs[i - cfg->nr_disks].be;
        xg_dev_backend(cfg, i, &name, &(unsigned){0});
        *be = 0;
        if (!name)
            continue;
        rc = grant_ctl_domain_lookup(h, name, &id);
        if (rc == -ESRCH && strspn(name, "0123456789") == strlen(name)) {
            xg_err("create", "%s: backend domain %s does not exist", cfg->file,
                   name);
            return -1;
        }
        if (rc == -ESRCH && !xg_backends_none())
            rc = driver_domain_start(h, cfg, name, &id) < 0 ? -ESRCH : 0;
        else if (rc == -ESRCH)
            xg_err("create",
                   "%s: backend domain '%s' does not exist (XGRANT_BACKENDS="
                   "none: not started)",
                   cfg->file, name);
        else if (rc < 0)
            xg_err("create", "%s: cannot look up backend domain '%s': %s",
                   cfg->file, name, strerror(-rc));
        if (rc < 0)
            return -1;
        *be = id;
    }
    return 0;
}

/* ---- create: add, start, wait ------------------------------------------- */

int xg_backends_add(grant_xenbus_t *xb, const struct xg_cfg *cfg,
                    unsigned domid)
{
    int lock = xg_backends_none() ? -1 : backends_lock(), rc;
    unsigned i, started = 0;
    const char *name;
    unsigned be;

    rc = xg_devices_add(xb, cfg, domid);
    for (i = 0;
         rc == 0 && !xg_backends_none() && i < cfg->nr_disks + cfg->nr_vifs;
         i++) {
        const struct driver *dr = driver_of(cfg, i);
        unsigned bit = 1u << (dr - drivers);

        xg_dev_backend(cfg, i, &name, &be);
        if (be == 0 && !(started & bit)) {
            rc = daemon_start(dr);
            started |= bit;
        }
    }
    if (lock >= 0)
        close(lock);
    return rc < 0 ? -1 : 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What serves device i: "" while it lives, else why not. */
static const char *server_gone(grant_handle_t *h, const struct xg_cfg *cfg,
                               unsigned i)
{
    const char *name;
    grant_domid_t id;
    unsigned be;

    xg_dev_backend(cfg, i, &name, &be);
    if (be == 0)
        return daemon_pid(driver_of(cfg, i)) ? "" : "its daemon exited";
    if (grant_ctl_domain_lookup(h, name, &id) < 0 || id != be)
        return "its driver domain is gone";
    return "";
}

/* Says why device i (backend dir `dir`) did not come up. */
static void report(grant_xenbus_t *xb, const struct xg_cfg *cfg, unsigned i,
                   const char *dir, int state, const char *why)
{
    const struct driver *dr = driver_of(cfg, i);
    char logp[PATH_MAX], dev[64], *error = NULL;
    const char *name;
    unsigned be;

    xg_dev_backend(cfg, i, &name, &be);
    grant_xenbus_read(xb, XBT_NULL, dir, "error", &error, NULL);
    if (be == 0)
        xg_run_file(dr->bin, ".log", logp, sizeof(logp));
    else
        snprintf(logp, sizeof(logp), "the log of driver domain '%s'", name);
    if (i < cfg->nr_disks)
        snprintf(dev, sizeof(dev), "disk %s (vbd %u)", cfg->disks[i].vdev,
                 cfg->disks[i].devid);
    else
        snprintf(dev, sizeof(dev), "interface %u (vif)", i - cfg->nr_disks);
    xg_err("create", "%s: backend %s %s (state %s)%s%s; %s: see %s", dev, dir,
           why, grant_xenbus_state_name(state), error ? ": " : "",
           error ? error : "", dr->bin, logp);
    free(error);
}

/* Waits for device i's backend to leave Initialising; 0 or -1 (printed). */
static int wait_one(grant_handle_t *h, grant_xenbus_t *xb,
                    const struct xg_cfg *cfg, unsigned i, unsigned domid,
                    int64_t end, int timeout_ms)
{
    const unsigned down = GRANT_XENBUS_MASK(XenbusStateClosing) |
                          GRANT_XENBUS_MASK(XenbusStateClosed);
    const unsigned up = ((GRANT_XENBUS_MASK(XenbusStateReconfigured) << 1) -
                         GRANT_XENBUS_MASK(XenbusStateInitWait)) &
                        ~down;
    char dir[GRANT_XENBUS_PATH_MAX], why[96];
    const char *name, *gone;
    unsigned be, devid;
    int state = XenbusStateUnknown, rc;
    int64_t left;

    xg_dev_backend(cfg, i, &name, &be);
    devid = i < cfg->nr_disks ? cfg->disks[i].devid : i - cfg->nr_disks;
    snprintf(dir, sizeof(dir), "/local/domain/%u/backend/%s/%u/%u", be,
             driver_of(cfg, i)->kind, domid, devid);
    for (;;) {
        left = end - now_ms();
        rc = grant_xenbus_wait_states(
            xb, dir, up | down,
            left < XG_SLICE_MS ? (int)(left > 0 ? left : 0) : XG_SLICE_MS,
            &state);
        if (rc == 0 && (up & GRANT_XENBUS_MASK(state)))
            return 0;
        if (rc == 0 || rc != -ETIMEDOUT) {
            report(xb, cfg, i, dir, state,
                   rc == 0 ? "closed instead of probing" : strerror(-rc));
            return -1;
        }
        gone = server_gone(h, cfg, i);
        if (*gone || end - now_ms() <= 0) {
            if (*gone)
                snprintf(why, sizeof(why), "did not reach InitWait: %s", gone);
            else
                snprintf(why, sizeof(why),
                         "did not reach InitWait within %d.%d s",
                         timeout_ms / 1000, timeout_ms % 1000 / 100);
            report(xb, cfg, i, dir, state, why);
            return -1;
        }
    }
}

/* 1 if the guest is gone (its program ended): its devices close with it. */
static int guest_gone(grant_handle_t *h, unsigned domid)
{
    struct grant_domain_info *all;
    int n, i, gone = 1;

    n = xg_list_domains("create", h, &all);
    for (i = 0; i < n; i++)
        if (all[i].domid == domid && !all[i].dying)
            gone = 0;
    if (n >= 0)
        free(all);
    return n >= 0 && gone;
}

int xg_backends_wait(grant_handle_t *h, grant_xenbus_t *xb,
                     const struct xg_cfg *cfg, unsigned domid)
{
    int timeout =
        xg_env_ms("create", "XGRANT_INIT_TIMEOUT_MS", XG_INIT_TIMEOUT_MS);
    int64_t end = now_ms() + timeout;
    unsigned i;

    if (xg_backends_none())
        return 0;
    for (i = 0; i < cfg->nr_disks + cfg->nr_vifs; i++)
        if (wait_one(h, xb, cfg, i, domid, end, timeout) < 0) {
            if (!guest_gone(h, domid))
                return -1;
            fprintf(stderr,
                    "xgrant: create: domain %u ended before its "
                    "devices came up (the message above is why "
                    "they did not)\n",
                    domid);
            return 0;
        }
    return 0;
}
