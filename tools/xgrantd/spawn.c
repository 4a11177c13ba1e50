/* SPDX-License-Identifier: MIT */
/*
 * spawn.c: starting a domain's process tree.
 *
 * The daemon's child is the domain's init, not the program: when the daemon
 * may, it is pid 1 of new PID, mount and IPC namespaces (clone; network
 * too when it is confined), which no process of the domain can ever leave,
 * and whose processes all die with it; under a root daemon the child confines
 * itself there before it runs anything (confine.c).  Without the privilege
 * (EPERM) domains run without namespaces (logged once) and the init is a child
 * subreaper instead; a confining daemon never falls back so: the creation
 * fails.  The init leads a new session, dies with the daemon
 * (PR_SET_PDEATHSIG), re-executes the daemon's binary as XD_INIT_ARGV0 (so it
 * holds none of the daemon's memory), forks the program, reaps every orphan,
 * and when the program exits, writes its wait status to the daemon (statfd) and
 * exits with its code.
 *
 * Every process of the domain carries XGRANT_SOCK and XGRANT_DOMID in its
 * environment; without a PID namespace also XGRANT_DOMTOKEN (a random
 * secret per domain), by which a daemonized process that left the session
 * is still recognized (in a namespace the init drops it: not needed).
 *
 * Nothing here waits: a close-on-exec pipe (d->errfd) tells whether the
 * program could be run, as an event of the loop (xd_spawn_settle), and a
 * child given up on is reaped when SIGCHLD says it ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"

extern char **environ;

#define ENV_LEN 160

static bool ours(const char *var)
{
    static const char *const names[] = {XGW_SOCK_ENV, XGW_DOMID_ENV,
                                        XD_TOKEN_ENV, "XENSTORED_PATH"};

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i]);

        if (strncmp(var, names[i], n) == 0 && var[n] == '=')
            return true;
    }
    return false;
}

/* environ without our variables, plus their values for this domain.
 * One allocation: free() the result. */
static char **build_env(const struct xd_dom *d)
{
    size_t n = 0, i, k = 0;
    char **env;
    char *strs;

    while (environ[n])
        n++;
    env = malloc((n + 5) * sizeof(char *) + 4 * ENV_LEN);
    if (!env)
        return NULL;
    strs = (char *)(env + n + 5);
    for (i = 0; i < n; i++)
        if (!ours(environ[i]))
            env[k++] = environ[i];
    snprintf(strs, ENV_LEN, "%s=%s", XGW_SOCK_ENV, xd.sock);
    snprintf(strs + ENV_LEN, ENV_LEN, "%s=%u", XGW_DOMID_ENV, d->id);
    snprintf(strs + 2 * ENV_LEN, ENV_LEN, "%s=%s", XD_TOKEN_ENV, d->token);
    /* libxenstore in the domain finds the store (store/conn.c) */
    snprintf(strs + 3 * ENV_LEN, ENV_LEN, "XENSTORED_PATH=%s",
             xst_store_path());
    for (i = 0; i < 4; i++)
        env[k++] = strs + i * ENV_LEN;
    env[k] = NULL;
    return env;
}

/* A fresh random token for d (hex). */
static int make_token(struct xd_dom *d)
{
    uint8_t raw[XD_TOKEN_LEN / 2];
    size_t got = 0;

    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(d->token + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

/* In the child: fds[i] (or /dev/null when fds is NULL) onto 0, 1, 2. */
static int child_stdio(const int *fds)
{
    int tmp[3];

    for (int i = 0; i < 3; i++) {
        int src = fds ? fds[i] : open("/dev/null", O_RDWR | O_CLOEXEC);

        /* Above 2 first, so dup2 below never clobbers a source. */
        tmp[i] = src < 0 ? -1 : fcntl(src, F_DUPFD_CLOEXEC, 3);
        if (tmp[i] < 0)
            return -1;
    }
    for (int i = 0; i < 3; i++)
        if (dup2(tmp[i], i) < 0)
            return -1;
    return 0;
}

/* What the init inherits: argv, env, and fds for its start. */
struct spawn_args {
    char **argv; /* XD_INIT_ARGV0 errfd statfd program args... */
    char **env;
    const int *stdio;
    int errw, statw;
    int parent_pidfd; /* the daemon, -1 unknown */
    pid_t parent;
    const struct xd_dom *dom;
    bool confine; /* in namespaces under a root daemon: confine.c */
    uid_t uid;    /* its uid when confined */
};

static bool parent_alive(const struct spawn_args *a)
{
    struct pollfd p = {.fd = a->parent_pidfd, .events = POLLIN};

    if (a->parent_pidfd >= 0)
        return poll(&p, 1, 0) == 0;
    return getppid() == a->parent;
}

static void __attribute__((noreturn)) report(int errw, int err)
{
    if (write(errw, &err, sizeof(err)) < 0)
        _exit(127);
    _exit(127);
}

static void __attribute__((noreturn)) child(const struct spawn_args *a)
{
    int r;

    setsid();
    /* Before PR_SET_PDEATHSIG: a change of uid clears it. */
    if (a->confine && (r = xd_confine_child(a->dom, a->uid)) < 0)
        report(a->errw, -r);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || !parent_alive(a))
        _exit(127);
    if (child_stdio(a->stdio) < 0 || fcntl(a->errw, F_SETFD, 0) < 0 ||
        fcntl(a->statw, F_SETFD, 0) < 0)
        report(a->errw, errno);
    execve("/proc/self/exe", a->argv, a->env);
    report(a->errw, errno);
}

/* A confined domain also gets a network namespace (confine.c). */
#define NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC)

/* The child runs child(a), in new namespaces while the daemon may; *ns
 * tells.  Its pid or -errno. */
static pid_t fork_domain(struct spawn_args *a, bool *ns)
{
    static bool ns_denied;
    pid_t pid;

    *ns = false;
    if (!ns_denied) {
        int r;

        a->confine = xd_confine_on();
        if (a->confine && (r = xd_confine_prepare()) < 0)
            return r;
        if (a->confine)
            a->uid = xd_confine_uid_next();
        pid = (pid_t)syscall(
            SYS_clone, NS_FLAGS | (a->confine ? CLONE_NEWNET : 0) | SIGCHLD,
            NULL, NULL, NULL, NULL);
        if (pid == 0)
            child(a);
        if (pid > 0) {
            *ns = true;
            return pid;
        }
        /* Confining, never fall back to a domain running as root. */
        if (a->confine) {
            r = -errno;
            xd_log("cannot confine a domain (namespaces: %s); "
                   "--no-confine runs domains unconfined, as root",
                   strerror(errno));
            return r;
        }
        if (errno != EPERM && errno != EINVAL && errno != ENOSPC &&
            errno != EUSERS)
            return -errno;
        ns_denied = true;
        xd_log("no namespaces for domains (%s): they are contained by "
               "session and token only, and not confined",
               strerror(errno));
    }
    a->confine = false;
    pid = fork();
    if (pid == 0)
        child(a);
    return pid < 0 ? -errno : pid;
}

/*
 * Has d's program been run?  Reads the exec pipe without waiting: 1 not
 * known yet, 0 it runs, -errno it could not be run (logged), and then the
 * pipe is closed (d->errfd -1).  gone: the init is dead, so no news is bad
 * news.
 */
int xd_spawn_settle(struct xd_dom *d, bool gone)
{
    int err = 0;
    ssize_t n;

    if (d->errfd < 0)
        return 0;
    do
        n = read(d->errfd, &err, sizeof(err));
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN && !gone)
        return 1;
    if (n != 0 && n != (ssize_t)sizeof(err))
        err = n < 0 ? ECHILD : EIO;
    xd_epoll_del(d->errfd);
    close(d->errfd);
    d->errfd = -1;
    if (n == 0)
        return 0;
    xd_log_dom(d, "cannot run its program: %s", strerror(err));
    return -(err > 0 ? err : EIO);
}

/* ---- children given up on ------------------------------------------------ */

static pid_t *orphans;
static size_t norphans;

/* pid (killed) is reaped when SIGCHLD says it ended, not waited for. */
static void reap_later(pid_t pid)
{
    pid_t *n = reallocarray(orphans, norphans + 1, sizeof(*n));

    if (!n) {
        xd_log("pid %d: no memory to remember it: left a zombie", (int)pid);
        return;
    }
    orphans = n;
    orphans[norphans++] = pid;
}

/* SIGCHLD: reaps the children given up on that ended. */
void xd_spawn_reap(void)
{
    for (size_t i = 0; i < norphans;) {
        if (waitpid(orphans[i], NULL, WNOHANG) == 0) {
            i++;
            continue;
        }
        orphans[i] = orphans[--norphans];
    }
}

/* argv of the init: XD_INIT_ARGV0 errfd statfd argv... (one allocation). */
static char **init_argv(char *const argv[], int errw, int statw)
{
    size_t n = 0;
    char **v;
    char *nums;

    while (argv[n])
        n++;
    v = malloc((n + 4) * sizeof(char *) + 32);
    if (!v)
        return NULL;
    nums = (char *)(v + n + 4);
    snprintf(nums, 16, "%d", errw);
    snprintf(nums + 16, 16, "%d", statw);
    v[0] = XD_INIT_ARGV0;
    v[1] = nums;
    v[2] = nums + 16;
    memcpy(v + 3, argv, (n + 1) * sizeof(char *));
    return v;
}

/* The child is running: its pidfd, its namespace.  0 or -errno. */
static int adopt(struct xd_dom *d, pid_t pid, bool ns)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0), r;

    /* Without pidfds (Linux < 5.3, valgrind) SIGCHLD tells of exits. */
    if (pidfd < 0 && errno != ENOSYS) {
        r = -errno;
        xd_log_dom(d, "pidfd_open: %s", strerror(errno));
        return r;
    }
    d->pid = pid;
    d->pidfd = pidfd;
    if (ns && (r = xd_proc_pidns(pid, &d->ns_dev, &d->ns_ino)) < 0) {
        xd_log_dom(d, "its PID namespace: %s", strerror(-r));
        return r;
    }
    d->has_ns = ns;
    /* Its PID namespace tells its processes: no token (the init drops it). */
    if (ns)
        memset(d->token, 0, sizeof(d->token));
    return 0;
}

/* Runs the init; does not wait for it to run the program.  0 or -errno. */
static int run_init(struct xd_dom *d, struct spawn_args *a)
{
    bool ns;
    pid_t pid = fork_domain(a, &ns);
    int err = pid < 0 ? (int)pid : 0;

    close(a->errw);
    close(a->statw);
    if (!err && (err = adopt(d, pid, ns)) < 0) {
        kill(pid, SIGKILL);
        reap_later(pid);
        if (d->pidfd >= 0)
            close(d->pidfd);
        d->pidfd = -1;
        d->pid = 0;
        d->has_ns = false;
    }
    return err;
}

/*
 * Starts argv[0] (looked up in PATH) as domain d.  0 with d->pid,
 * d->pidfd, d->statfd and d->errfd set (xd_spawn_settle says whether the
 * program could be run), or -errno and nothing is left running.
 */
int xd_spawn(struct xd_dom *d, char *const argv[], const int *fds)
{
    struct spawn_args a = {.stdio = fds, .parent = getpid(), .dom = d};
    int ep[2], sp[2], err;

    if ((err = make_token(d)) < 0)
        return err;
    if (pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    if (pipe2(sp, O_CLOEXEC | O_NONBLOCK) < 0) {
        err = -errno;
        close(ep[0]);
        close(ep[1]);
        return err;
    }
    a.errw = ep[1];
    a.statw = sp[1];
    a.env = build_env(d);
    a.argv = init_argv(argv, ep[1], sp[1]);
    a.parent_pidfd = (int)syscall(SYS_pidfd_open, a.parent, 0);
    err = a.env && a.argv ? run_init(d, &a) : -ENOMEM;
    if (!a.env || !a.argv) {
        close(ep[1]);
        close(sp[1]);
    }
    if (a.parent_pidfd >= 0)
        close(a.parent_pidfd);
    free(a.env);
    free(a.argv);
    if (err) {
        close(ep[0]);
        close(sp[0]);
        return err;
    }
    d->errfd = ep[0];
    d->statfd = sp[0];
    return 0;
}

/* ---- the init (after re-executing as XD_INIT_ARGV0) ---------------------- */

static int fd_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    return *s && !*end && v > 2 && v < 1 << 20 ? (int)v : -1;
}

static void __attribute__((noreturn)) run_program(char **argv, int errw)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execvp(argv[0], argv);
    report(errw, errno);
}

/* main() of a domain's init: argv as init_argv() made it. */
int xd_init_main(int argc, char **argv)
{
    int errw, statw, status;
    pid_t prog, r;

    if (argc < 4 || (errw = fd_arg(argv[1])) < 0 ||
        (statw = fd_arg(argv[2])) < 0)
        return 127;
    if (fcntl(errw, F_SETFD, FD_CLOEXEC) < 0 ||
        fcntl(statw, F_SETFD, FD_CLOEXEC) < 0)
        report(errw, errno);
    /* Its own PID namespace tells who it is.  Its program has its uid:
     * not dumpable, the init cannot be ptraced nor its /proc entries
     * (its status pipe) opened by it; the program's exec makes the
     * program dumpable again. */
    if (getpid() == 1) {
        unsetenv(XD_TOKEN_ENV);
        if (prctl(PR_SET_DUMPABLE, 0) < 0)
            report(errw, errno);
    }
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    prog = fork();
    if (prog < 0)
        report(errw, errno);
    if (prog == 0)
        run_program(argv + 3, errw);
    close(errw);
    for (;;) {
        r = waitpid(-1, &status, 0);
        if (r < 0 && errno != EINTR)
            _exit(127);
        if (r != prog)
            continue;
        if (write(statw, &status, sizeof(status)) < 0)
            _exit(127);
        _exit(WIFEXITED(status)     ? WEXITSTATUS(status)
              : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                    : 127);
    }
}
