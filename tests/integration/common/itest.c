/* SPDX-License-Identifier: MIT */
/* itest.c: the driver side of the integration harness (see itest.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

static char tmpdir[] = "/tmp/xgrant-itest-XXXXXX";
static char sockpath[PATH_MAX];
static char selfpath[PATH_MAX];
static char guestpath[PATH_MAX];
static pid_t daemon_pid = -1;
static int nr_ok, nr_bad;

void itest_check(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    printf("%s ", ok ? "ok" : "not ok");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    if (!ok)
        printf("   (%s:%d)", file, line);
    printf("\n");
    fflush(stdout);
    if (ok)
        nr_ok++;
    else
        nr_bad++;
}

int itest_done(void)
{
    printf("# %d checks passed, %d failed\n", nr_ok, nr_bad);
    return nr_bad ? 1 : 0;
}

const char *itest_sock(void)
{
    return sockpath;
}

pid_t itest_daemon_pid(void)
{
    return daemon_pid;
}

FILE *itest_log_open(void)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/xgrantd.log", tmpdir);
    return fopen(path, "r");
}

int itest_domain_listed(grant_handle_t *dom0, grant_domid_t id)
{
    struct grant_domain_info info[64];
    int i, n = grant_ctl_domain_list(dom0, info, 64);

    for (i = 0; i < n && i < 64; i++)
        if (info[i].domid == id)
            return 1;
    return 0;
}

static void fatal(const char *what, int err)
{
    fprintf(stderr, "itest: %s: %s\n", what, strerror(err < 0 ? -err : err));
    if (daemon_pid > 0)
        kill(daemon_pid, SIGKILL);
    exit(1);
}

/* build/tests/integration/<test> -> build/bin/<prog>, or $XGRANT_BINDIR. */
static void find_bin(const char *prog, char *out, size_t len)
{
    char dir[PATH_MAX];
    const char *env = getenv("XGRANT_BINDIR");

    if (env) {
        snprintf(out, len, "%s/%s", env, prog);
        return;
    }
    snprintf(dir, sizeof(dir), "%s", selfpath);
    snprintf(out, len, "%s/../../bin/%s", dirname(dir), prog);
}

static void start_daemon(void)
{
    char xgrantd[PATH_MAX], logpath[PATH_MAX];
    int fd;

    find_bin("xgrantd", xgrantd, sizeof(xgrantd));
    snprintf(logpath, sizeof(logpath), "%s/xgrantd.log", tmpdir);
    daemon_pid = fork();
    if (daemon_pid < 0)
        fatal("fork", errno);
    if (daemon_pid == 0) {
        fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(xgrantd, "xgrantd", "--foreground", "--socket", sockpath,
              (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", xgrantd, strerror(errno));
        _exit(127);
    }
}

void itest_setup(grant_handle_t **dom0)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    ssize_t n;
    int rc = -1, i;

    signal(SIGPIPE, SIG_IGN);
    n = readlink("/proc/self/exe", selfpath, sizeof(selfpath) - 1);
    if (n < 0)
        fatal("readlink /proc/self/exe", errno);
    selfpath[n] = '\0';
    find_bin("xgrant-guest", guestpath, sizeof(guestpath));
    if (!mkdtemp(tmpdir))
        fatal("mkdtemp", errno);
    snprintf(sockpath, sizeof(sockpath), "%s/xgrantd.sock", tmpdir);
    setenv("XGRANT_SOCK", sockpath, 1);
    start_daemon();
    for (i = 0; i < 250; i++) { /* up to 5 s */
        rc = grant_open(dom0, 0);
        if (rc == 0)
            break;
        nanosleep(&ts, NULL);
    }
    if (rc < 0)
        fatal("grant_open (xgrantd did not come up)", rc);
    ICHECK(grant_domid(*dom0) == 0, "the test driver is domain 0");
}

static int daemon_alive(void)
{
    return daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0;
}

void itest_teardown(grant_handle_t *dom0)
{
    char cmd[PATH_MAX + 64];
    int status = -1, i;

    ICHECK(daemon_alive(), "xgrantd still running at the end of the test");
    if (dom0) {
        grant_ctl_shutdown(dom0);
        grant_close(dom0);
    }
    for (i = 0; i < 100 && daemon_pid > 0; i++) {
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid)
            break;
        usleep(50 * 1000);
    }
    if (i == 100) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, &status, 0);
    }
    ICHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "xgrantd exited cleanly on shutdown (status 0x%x)", status);
    if (nr_bad) {
        snprintf(cmd, sizeof(cmd),
                 "echo '--- xgrantd log:'; tail -n 40 %s/xgrantd.log", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "itest: could not show the log\n");
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "itest: could not remove %s\n", tmpdir);
}

void itest_spawn_argv(grant_handle_t *dom0, struct itest_agent *a,
                      const char *name, unsigned mem_pages, char **argv)
{
    itest_spawn_quota(dom0, a, name, mem_pages, argv, 0);
}

void itest_spawn_quota(grant_handle_t *dom0, struct itest_agent *a,
                       const char *name, unsigned mem_pages, char **argv,
                       unsigned max_entries)
{
    struct grant_domain_config cfg = {0};
    int to[2], from[2], rc;

    if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
        fatal("pipe", errno);
    cfg.name = name;
    cfg.memory_bytes = (uint64_t)mem_pages * GRANT_PAGE_SIZE;
    cfg.max_entries = max_entries;
    cfg.argv = argv;
    cfg.stdio[0] = to[0];
    cfg.stdio[1] = from[1];
    cfg.stdio[2] = 2;
    rc = grant_ctl_domain_create(dom0, &cfg, &a->domid);
    close(to[0]);
    close(from[1]);
    if (rc < 0)
        fatal("grant_ctl_domain_create", rc);
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->to = to[1];
    a->from = from[0];
    a->in = fdopen(from[0], "r");
    if (!a->in)
        fatal("fdopen", errno);
}

void itest_spawn(grant_handle_t *dom0, struct itest_agent *a, const char *name,
                 unsigned mem_pages)
{
    char *argv[] = {guestpath, NULL};

    itest_spawn_argv(dom0, a, name, mem_pages, argv);
    /* The guest answers "ok <domid>" to "domid" once its handle is open. */
    ICHECK(itest_ok(a, "domid") == a->domid, "guest %s runs as domain %u", name,
           a->domid);
}

char *itest_self(void)
{
    return selfpath;
}

int itest_confine_skip(void)
{
    const char *v = getenv("XGRANTD_CONFINE");

    if (geteuid() != 0) {
        printf("skip: needs root (domains are confined by a root xgrantd)\n");
        return 1;
    }
    if (!v || strcmp(v, "0") != 0)
        return 0;
    printf("skip: confinement is off for this run (XGRANTD_CONFINE=0: the "
           "tree is out of a confined domain's reach; clone it outside /tmp "
           "into a searchable path to run this test)\n");
    return 1;
}

int itest_mkdtemp(char *out, size_t len, const char *name)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int w;

    if (n < 0)
        return -errno;
    self[n] = '\0';
    w = snprintf(out, len, "%s/%s-XXXXXX", dirname(self), name);
    if (w < 0 || (size_t)w >= len)
        return -ENAMETOOLONG;
    if (mkdtemp(out))
        return 0;
    /* Not ours to write (a test run as another user): not confined either,
     * so /tmp is shared with its domains. */
    w = snprintf(out, len, "/tmp/%s-XXXXXX", name);
    if (w < 0 || (size_t)w >= len)
        return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno;
}

static int vcmd(struct itest_agent *a, char *buf, size_t len, const char *fmt,
                va_list ap)
{
    char line[512];
    int n;

    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    if (n < 0 || (size_t)n >= sizeof(line) - 1)
        fatal("command too long", EINVAL);
    line[n++] = '\n';
    if (write(a->to, line, n) != n)
        return -EPIPE;
    if (!fgets(buf, (int)len, a->in))
        return -EPIPE;
    buf[strcspn(buf, "\n")] = '\0';
    if (strncmp(buf, "ok", 2) == 0)
        return 0;
    if (strncmp(buf, "err ", 4) == 0)
        return (int)strtol(buf + 4, NULL, 10);
    return -EBADMSG;
}

int itest_cmd(struct itest_agent *a, char *buf, size_t len, const char *fmt,
              ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vcmd(a, buf, len, fmt, ap);
    va_end(ap);
    return rc;
}

/* Formats the command into what[], runs it; the reply lands in buf. */
static int vrun(struct itest_agent *a, char *buf, size_t blen, char *what,
                size_t wlen, const char *fmt, va_list ap)
{
    vsnprintf(what, wlen, fmt, ap);
    return itest_cmd(a, buf, blen, "%s", what);
}

uint64_t itest_ok(struct itest_agent *a, const char *fmt, ...)
{
    char buf[512], what[512];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vrun(a, buf, sizeof(buf), what, sizeof(what), fmt, ap);
    va_end(ap);
    ICHECK(rc == 0, "%s: %s -> %s", a->name, what,
           rc == -EPIPE ? "(agent gone)" : buf);
    return rc == 0 ? strtoull(buf + 2, NULL, 0) : 0;
}

void itest_err(struct itest_agent *a, int err, const char *fmt, ...)
{
    char buf[512], what[512];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vrun(a, buf, sizeof(buf), what, sizeof(what), fmt, ap);
    va_end(ap);
    ICHECK(rc == err, "%s: %s fails with %s (got: %s)", a->name, what,
           grant_strerror(err), rc == -EPIPE ? "(agent gone)" : buf);
}

void itest_agent_close(struct itest_agent *a)
{
    if (a->in)
        fclose(a->in);
    if (a->to >= 0)
        close(a->to);
    a->in = NULL;
    a->to = -1;
}

/* The init's pid of domain dom (host view), 0 if not found. */
static long init_pid(grant_handle_t *dom0, grant_domid_t dom)
{
    struct grant_domain_info info[64];
    int n = grant_ctl_domain_list(dom0, info, 64);

    for (int i = 0; i < n && i < 64; i++)
        if (info[i].domid == dom)
            return info[i].pid;
    return 0;
}

static int pidns_of(long pid, struct stat *st)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
    return stat(path, st);
}

/* The last number of /proc/<pid>/status's NSpid line (its own view). */
static long inner_pid(long pid)
{
    char path[64], line[256];
    long v = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f)) {
        char *p = line + 6, *end;

        if (strncmp(line, "NSpid:", 6))
            continue;
        for (long x; (x = strtol(p, &end, 10)), end != p; p = end)
            v = x;
        break;
    }
    if (f)
        fclose(f);
    return v;
}

long itest_host_pid(grant_handle_t *dom0, grant_domid_t dom, long pid)
{
    struct stat want, self, st;
    long init = init_pid(dom0, dom), found = -1;
    struct dirent *e;
    DIR *d;

    if (init <= 0 || pidns_of(init, &want) < 0 || pidns_of(getpid(), &self))
        return -1;
    if (want.st_ino == self.st_ino && want.st_dev == self.st_dev)
        return pid; /* no PID namespace of its own: the same numbers */
    d = opendir("/proc");
    while (d && found < 0 && (e = readdir(d))) {
        long p = strtol(e->d_name, NULL, 10);

        if (p > 0 && pidns_of(p, &st) == 0 && st.st_ino == want.st_ino &&
            st.st_dev == want.st_dev && inner_pid(p) == pid)
            found = p;
    }
    if (d)
        closedir(d);
    return found;
}
