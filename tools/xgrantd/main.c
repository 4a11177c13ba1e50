/* SPDX-License-Identifier: MIT */
/*
 * main.c: xgrantd, the embedded hypervisor: options, the listening socket,
 * daemonizing, the event loop, shutdown.
 *
 * The socket is bound and listening BEFORE the daemon detaches, and the
 * parent exits 0 only when the child is ready, so `xgrant hv start` can
 * connect as soon as it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "private.h"
#include "store/private.h"
#include "tools/common/xgt.h"

struct xd xd;

struct opts {
    const char *sock;
    const char *store_sock;
    const char *log;
    uint64_t dom0_mem;
    bool foreground;
};

#define DEFAULT_POLL_US  50u
#define MAX_POLL_US      1000000u
#define MAX_DOMAIN_CONNS 3840u /* conn.c: MAX_CONNS less domain 0's slots */

/* ---- epoll helpers
 * ----------------------------------------------------------- */

int xd_epoll_add(int fd, uint32_t events, struct xd_ev *ev)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};

    return epoll_ctl(xd.epfd, EPOLL_CTL_ADD, fd, &e) < 0 ? -errno : 0;
}

int xd_epoll_mod(int fd, uint32_t events, struct xd_ev *ev)
{
    struct epoll_event e = {.events = events, .data.ptr = ev};

    return epoll_ctl(xd.epfd, EPOLL_CTL_MOD, fd, &e) < 0 ? -errno : 0;
}

void xd_epoll_del(int fd)
{
    epoll_ctl(xd.epfd, EPOLL_CTL_DEL, fd, NULL);
}

uint64_t xd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- options
 * ------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: xgrantd [--socket PATH] [--foreground] "
        "[--dom0-memory SIZE]\n"
        "               [--poll-us N] [--log FILE] [--max-domain-conns N]\n"
        "               [--domain-uid-base UID] [--no-confine] "
        "[--verbose]\n"
        "  --socket PATH       listen here (default: $XGRANT_SOCK, "
        "else the runtime dir)\n"
        "  --store-socket PATH the xenstore-protocol socket (default: "
        "$XENSTORED_PATH,\n"
        "                      else xenstored next to xgrantd.sock)\n"
        "  --foreground, -f    do not detach; log to stderr\n"
        "  --dom0-memory SIZE  control domain memory (default 64M)\n"
        "  --poll-us N         after serving a call-area request, keep "
        "polling\n"
        "                      the call areas for up to N us (adaptive) "
        "before sleeping (default 50;\n"
        "                      0: never poll, every call rings the "
        "doorbell)\n"
        "  --log FILE          log file (default: xgrantd.log next to "
        "the socket)\n"
        "  --max-domain-conns N  connections one domU may hold "
        "(default 64)\n"
        "  --domain-uid-base UID  run as root, each confined domain "
        "runs as a uid of its\n"
        "                      own in UID to UID + 2^20 - 1 (default "
        "%u)\n"
        "  --no-confine        run as root, leave domains root with "
        "the host's /proc\n"
        "                      (also XGRANTD_CONFINE=0 in the environment)\n"
        "  --verbose, -v       log every connection and notice\n",
        xd_confine_uid_base());
}

static int check_opts(const struct opts *o)
{
    char why[200];

    if (xd_confine_on() && xd_confine_check_uid_base(xd_confine_uid_base(), why,
                                                     sizeof(why)) < 0) {
        fprintf(stderr,
                "xgrantd: --domain-uid-base %u: uids %u-%u are not free for "
                "domains: %s\n",
                xd_confine_uid_base(), xd_confine_uid_base(),
                xd_confine_uid_base() + XD_UID_RANGE - 1, why);
        return -1;
    }
    if (o->dom0_mem < GNTX_PAGE_SIZE || o->dom0_mem % GNTX_PAGE_SIZE ||
        o->dom0_mem > XD_MAX_MEM_BYTES) {
        fprintf(stderr, "xgrantd: --dom0-memory: want a multiple of 4K "
                        "between 4K and 64G\n");
        return -1;
    }
    return 0;
}

/* A decimal option value in [min, max] into *out; -1 with a message. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option lo[] = {
        {"socket", required_argument, NULL, 's'},
        {"store-socket", required_argument, NULL, 'S'},
        {"foreground", no_argument, NULL, 'f'},
        {"dom0-memory", required_argument, NULL, 'm'},
        {"log", required_argument, NULL, 'l'},
        {"poll-us", required_argument, NULL, 'p'},
        {"max-domain-conns", required_argument, NULL, 'c'},
        {"domain-uid-base", required_argument, NULL, 'u'},
        {"no-confine", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char err[160];
    unsigned uid;
    int ch;

    const char *env = getenv("XGRANTD_CONFINE");

    /* For scripts that start xgrantd indirectly (xgrant hv start). */
    if (env && strcmp(env, "0") == 0)
        xd_confine_disable();
    o->dom0_mem = 64ull << 20;
    xd.poll_us = DEFAULT_POLL_US;
    xd.max_dom_conns = XD_MAX_DOM_CONNS;
    while ((ch = getopt_long(argc, argv, "s:fm:l:vh", lo, NULL)) != -1) {
        switch (ch) {
        case 's':
            o->sock = optarg;
            break;
        case 'S':
            o->store_sock = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'm':
            if (xgt_parse_size(optarg, &o->dom0_mem, err, sizeof(err)) < 0) {
                fprintf(stderr, "xgrantd: --dom0-memory: %s\n", err);
                return -1;
            }
            break;
        case 'l':
            o->log = optarg;
            break;
        case 'p':
            if (xgt_opt_uint("xgrantd", "--poll-us (microseconds)", optarg, 0,
                             MAX_POLL_US, &xd.poll_us) < 0)
                return -1;
            break;
        case 'c':
            if (xgt_opt_uint("xgrantd", "--max-domain-conns", optarg, 1,
                             MAX_DOMAIN_CONNS, &xd.max_dom_conns) < 0)
                return -1;
            break;
        case 'u':
            if (xgt_opt_uint("xgrantd", "--domain-uid-base", optarg, 1,
                             0xfffffffeu - XD_UID_RANGE, &uid) < 0)
                return -1;
            xd_confine_set_uid_base(uid);
            break;
        case 'n':
            xd_confine_disable();
            break;
        case 'v':
            xd.verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "xgrantd: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }
    return check_opts(o);
}

/* ---- the socket
 * ----------------------------------------------------------------- */

/* An absolute form of path into out (cwd prepended when relative). */
static int absolute(const char *path, char *out, size_t len)
{
    char cwd[PATH_MAX];
    int n;

    if (path[0] == '/')
        n = snprintf(out, len, "%s", path);
    else if (!getcwd(cwd, sizeof(cwd)))
        return -errno;
    else
        n = snprintf(out, len, "%s/%s", cwd, path);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p, new components 0700; the last one must be ours (or root's). */
static int make_dir(const char *dir)
{
    char buf[PATH_MAX];
    struct stat st;

    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
    if (stat(buf, &st) < 0)
        return -errno;
    if (!S_ISDIR(st.st_mode))
        return -ENOTDIR;
    if (st.st_uid != geteuid() && st.st_uid != 0)
        return -EPERM;
    return 0;
}

static void sun_of(struct sockaddr_un *sa, const char *path)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, path, strlen(path) + 1);
}

/* 0: nothing there (a stale socket was removed); -EADDRINUSE: a daemon
 * answers; other -errno. */
int xd_sock_clear(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, r;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode))
        return -EEXIST;
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sun_of(&sa, path);
    r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
    close(fd);
    if (r == 0)
        return -EADDRINUSE;
    if (errno != ECONNREFUSED && errno != ENOENT)
        return -errno;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

/* A non-blocking socket listening at path (mode 0700); fd or -errno. */
int xd_sock_listen(const char *path)
{
    struct sockaddr_un sa;
    mode_t old;
    int fd, r;

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sun_of(&sa, path);
    old = umask(xd_confine_umask());
    r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || listen(fd, 128) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

static const char *sock_error(int r)
{
    switch (r) {
    case -EADDRINUSE:
        return "another xgrantd is already running there";
    case -EEXIST:
        return "exists and is not a socket";
    case -ENAMETOOLONG:
        return "path too long for a Unix socket";
    case -EPERM:
        return "its directory belongs to another user";
    default:
        return strerror(-r);
    }
}

/* Resolves, creates the directory, refuses a running daemon, listens. */
static int setup_socket(const struct opts *o, char *dir, size_t dirlen)
{
    char raw[PATH_MAX];
    int r;

    if (o->sock)
        r = snprintf(raw, sizeof(raw), "%s", o->sock) >= (int)sizeof(raw)
                ? -ENAMETOOLONG
                : 0;
    else
        r = xgt_sock_path(raw, sizeof(raw));
    if (r == 0)
        r = absolute(raw, xd.sock, sizeof(xd.sock));
    if (r == 0 && strlen(xd.sock) > XGT_SOCK_PATH_MAX)
        r = -ENAMETOOLONG;
    if (r == 0)
        r = xgt_sock_dir(xd.sock, dir, dirlen);
    if (r == 0)
        r = make_dir(dir);
    if (r == 0)
        r = xd_sock_clear(xd.sock);
    if (r == 0 && (r = xd_sock_listen(xd.sock)) >= 0) {
        xd.lfd = r;
        return 0;
    }
    fprintf(stderr, "xgrantd: socket %s: %s\n", raw, sock_error(r));
    return -1;
}

/* ---- the loop
 * ---------------------------------------------------------------------- */

static void on_signal(void)
{
    struct signalfd_siginfo si;

    while (read(xd.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            xd_log_reopen();
            continue;
        }
        if (si.ssi_signo == SIGCHLD) {
            xd_spawn_reap();
            xd_dom_sigchld();
            continue;
        }
        xd_log("signal %u: shutting down", si.ssi_signo);
        xd.quit = true;
    }
}

static void on_event(struct epoll_event *e)
{
    struct xd_ev *ev = e->data.ptr;

    switch (ev->kind) {
    case XD_EV_LISTEN:
        xd_accept();
        break;
    case XD_EV_SIGNAL:
        on_signal();
        break;
    case XD_EV_CONN:
        xd_conn_event(ev->obj, e->events);
        break;
    case XD_EV_NOTICE:
        xd_notice_event(ev->obj, e->events);
        break;
    case XD_EV_PIDFD:
        xd_dom_event(ev->obj);
        break;
    case XD_EV_BELL:
        xd_ca_bell(ev->obj);
        break;
    case XD_EV_PROC:
        xd_conn_proc_event(ev->obj);
        break;
    case XD_EV_STORE_LISTEN:
        xst_accept();
        break;
    case XD_EV_STORE_CONN:
        xst_conn_event(ev->obj, e->events);
        break;
    case XD_EV_SPAWN:
        xd_dom_started(ev->obj, false);
        break;
    }
}

/*
 * One epoll loop.  With call areas (callarea.c), the daemon keeps polling
 * them for --poll-us after the last work (epoll_wait then only peeks), and
 * publishes that it sleeps before it really blocks.
 */
static void loop(void)
{
    struct epoll_event evs[64];

    while (!xd.quit) {
        int n =
            epoll_wait(xd.epfd, evs, 64, xd_ca_timeout(xd_acks_timeout_ms()));

        xd_ca_awake();
        if (n < 0 && errno != EINTR) {
            xd_log("epoll_wait: %s", strerror(errno));
            xd.exit_code = 1;
            break;
        }
        /* Stop at quit: shutdown reaps domains that later events name. */
        for (int i = 0; i < n && !xd.quit; i++)
            on_event(&evs[i]);
        xd_ca_run(n > 0);
        xd_acks_expire();
        xd_reap_graveyard();
        xst_reap_graveyard();
    }
}

/* ---- start and stop
 * ----------------------------------------------------------------- */

static int setup_loop(void)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGPIPE); /* a port's reader gone: EPIPE (evtchn.c) */
    sigaddset(&set, SIGXFSZ); /* a grant I/O past RLIMIT_FSIZE: EFBIG */
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -errno;
    sigdelset(&set, SIGPIPE); /* blocked, never read */
    sigdelset(&set, SIGXFSZ);
    xd.sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    xd.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (xd.sfd < 0 || xd.epfd < 0)
        return -errno;
    xd.lev = (struct xd_ev){XD_EV_LISTEN, NULL};
    xd.sev = (struct xd_ev){XD_EV_SIGNAL, NULL};
    if (xd_epoll_add(xd.lfd, EPOLLIN, &xd.lev) < 0 ||
        xd_epoll_add(xd.sfd, EPOLLIN, &xd.sev) < 0 || xst_store_start() < 0)
        return -errno;
    xd.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    xd.fd_limit = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        xd.fd_limit = rl.rlim_cur > INT_MAX ? INT_MAX : (int)rl.rlim_cur;
    else if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        xd.fd_limit = INT_MAX;
}

static int write_pidfile(const char *dir)
{
    FILE *f;

    if (snprintf(xd.pidfile, sizeof(xd.pidfile), "%s/xgrantd.pid", dir) >=
        (int)sizeof(xd.pidfile))
        return -ENAMETOOLONG;
    f = fopen(xd.pidfile, "we");
    if (!f)
        return -errno;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f) == 0 ? 0 : -EIO;
}

/* Forks; the parent waits for the child's "ready" byte and exits. */
static int daemonize(int *ready_fd)
{
    int p[2];
    pid_t pid;
    char c;

    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        ssize_t n;

        close(p[1]);
        do
            n = read(p[0], &c, 1);
        while (n < 0 && errno == EINTR);
        /* No byte: the child failed and said why in the log. */
        _exit(n == 1 && c == 'R' ? 0 : 1);
    }
    close(p[0]);
    setsid();
    *ready_fd = p[1];
    return 0;
}

static int redirect_stdio(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0) {
        close(fd);
        return -errno;
    }
    close(fd);
    return 0;
}

static void shutdown_all(void)
{
    xd_dom_destroy_all();
    xd_flush_all(1000);
    xd_conn_close_all();
    xd_reap_graveyard();
    xst_store_close();
    if (xd.sock[0])
        unlink(xd.sock);
    if (xd.pidfile[0])
        unlink(xd.pidfile);
    gcore_destroy(xd.core);
    xd_dom_free(xd.doms[GNTX_DOMID_CONTROL]);
    close(xd.lfd);
    close(xd.sfd);
    close(xd.epfd);
    if (xd.reserve_fd >= 0)
        close(xd.reserve_fd);
    xd_log("stopped");
}

/* Can the log be written?  Checked before detaching, to say so on the
 * terminal. */
static int log_path(const struct opts *o, const char *dir, char *out,
                    size_t len)
{
    int fd, r;

    if (o->log)
        r = absolute(o->log, out, len);
    else
        r = snprintf(out, len, "%s/xgrantd.log", dir) >= (int)len
                ? -ENAMETOOLONG
                : 0;
    if (r < 0)
        return r;
    fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    close(fd);
    return 0;
}

/* Everything that can fail with the terminal still there. */
static int prepare(const struct opts *o, char *dir, size_t dirlen, char *logp,
                   size_t loglen)
{
    int r;

    if (setup_socket(o, dir, dirlen) < 0 || xst_store_listen(o->store_sock) < 0)
        return -1;
    if ((o->log || !o->foreground) &&
        (r = log_path(o, dir, logp, loglen)) < 0) {
        fprintf(stderr, "xgrantd: log %s: %s\n", logp, strerror(-r));
        return -1;
    }
    if ((r = gcore_create(&xd.core)) < 0) {
        fprintf(stderr, "xgrantd: cannot create the grant core: %s\n",
                strerror(-r));
        return -1;
    }
    if ((r = xd_dom0_create(o->dom0_mem)) < 0) {
        fprintf(stderr, "xgrantd: control domain memory: %s\n", strerror(-r));
        return -1;
    }
    return 0;
}

/* After detaching: log, event loop, pid file. */
static int start(const struct opts *o, const char *dir, const char *logp)
{
    int r = 0;

    if ((o->log || !o->foreground) && (r = xd_log_open(logp)) < 0)
        fprintf(stderr, "xgrantd: log %s: %s\n", logp, strerror(-r));
    if (r == 0 && !o->foreground && (r = redirect_stdio()) < 0)
        xd_log("/dev/null: %s", strerror(-r));
    if (r == 0 && (r = setup_loop()) < 0)
        xd_log("event loop: %s", strerror(-r));
    if (r == 0 && (r = write_pidfile(dir)) < 0)
        xd_log("pid file %s: %s", xd.pidfile, strerror(-r));
    return r;
}

/*
 * Descriptors inherited from whoever started us must not reach domains (and,
 * once detached, must not keep the starter's pipes open): closed when
 * detaching, close-on-exec in the foreground.
 */
static void fence_inherited_fds(bool detach)
{
    long max = sysconf(_SC_OPEN_MAX);

    if (close_range(3, ~0u, detach ? 0 : CLOSE_RANGE_CLOEXEC) == 0)
        return;
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++) {
        if (detach)
            close(fd);
        else
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    char dir[PATH_MAX], logp[PATH_MAX] = "";
    int ready = -1, r;

    if (argc > 0 && strcmp(argv[0], XD_INIT_ARGV0) == 0)
        return xd_init_main(argc, argv);
    xd.lfd = xd.sfd = xd.epfd = xd.reserve_fd = -1;
    if (parse_opts(argc, argv, &o) < 0)
        return 1;
    fence_inherited_fds(!o.foreground);
    if (prepare(&o, dir, sizeof(dir), logp, sizeof(logp)) < 0) {
        if (xd.lfd >= 0)
            unlink(xd.sock);
        xst_store_close();
        return 1;
    }
    if (!o.foreground && (r = daemonize(&ready)) < 0) {
        fprintf(stderr, "xgrantd: fork: %s\n", strerror(-r));
        unlink(xd.sock);
        return 1;
    }
    if (start(&o, dir, logp) < 0) {
        unlink(xd.sock);
        return 1;
    }
    raise_nofile();
    if (chdir("/") < 0)
        xd_log("chdir /: %s", strerror(errno));
    xd_log("listening on %s, pid %d, control domain %llu frames", xd.sock,
           (int)getpid(), (unsigned long long)xd.doms[0]->nr_frames);
    if (ready >= 0) {
        (void)!write(ready, "R", 1);
        close(ready);
    }
    loop();
    shutdown_all();
    return xd.exit_code;
}
