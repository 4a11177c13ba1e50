/* SPDX-License-Identifier: MIT */
/*
 * hv.c: xgrant hv start|stop|status: the xgrantd daemon's lifecycle.
 * xgrantd is the binary next to this one (dirname of /proc/self/exe).
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "private.h"
#include "tools/common/xgt.h"

#define STOP_WAIT_MS 5000
#define POLL_MS      50

struct start_opts {
    int foreground;
    const char *socket, *dom0_memory, *log;
    const char *poll_us, *max_domain_conns; /* passed on; xgrantd checks */
};

/* The store (xenstore protocol) socket next to xgrantd's. */
static const char *store_sock(void)
{
    static char buf[PATH_MAX];

    if (xgt_store_sock_path(xg_sock(), buf, sizeof(buf)) < 0)
        snprintf(buf, sizeof(buf), "(path too long)");
    return buf;
}

/* 1 when something accepts connections at the socket path. */
static int sock_alive(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd, alive;

    if (strlen(path) >= sizeof(sa.sun_path))
        return 0;
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return alive;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* 1 if already running (message printed), 0 if not, -1 on error. */
static int already_running(void)
{
    grant_handle_t *h;
    int rc = grant_open(&h, 0);

    if (rc == 0) {
        grant_close(h);
        fprintf(stderr, "xgrant: hv start: xgrantd is already running\n");
        printf("%s\nstore: %s\n", xg_sock(), store_sock());
        return 1;
    }
    if (xg_no_daemon(rc))
        return 0;
    xg_err("hv start", "something answers at %s but not as xgrantd: %s",
           xg_sock(), strerror(-rc));
    return -1;
}

static void build_argv(const struct start_opts *o, char *prog, char **av)
{
    int n = 0;

    av[n++] = prog;
    if (o->foreground)
        av[n++] = "--foreground";
    av[n++] = "--socket";
    av[n++] = (char *)xg_sock();
    if (o->dom0_memory) {
        av[n++] = "--dom0-memory";
        av[n++] = (char *)o->dom0_memory;
    }
    if (o->log) {
        av[n++] = "--log";
        av[n++] = (char *)o->log;
    }
    if (o->poll_us) {
        av[n++] = "--poll-us";
        av[n++] = (char *)o->poll_us;
    }
    if (o->max_domain_conns) {
        av[n++] = "--max-domain-conns";
        av[n++] = (char *)o->max_domain_conns;
    }
    av[n] = NULL;
}

/* Runs xgrantd, which detaches and exits 0 once its socket listens. */
static int start_background(char *const *av)
{
    int status;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        xg_err("hv start", "fork: %s", strerror(errno));
        return XG_FAIL;
    }
    if (pid == 0) {
        execv(av[0], av);
        xg_err("hv start", "cannot run %s: %s", av[0], strerror(errno));
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            xg_err("hv start", "waitpid: %s", strerror(errno));
            return XG_FAIL;
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        xg_err("hv start", "xgrantd did not start (%s %d); see its log",
               WIFEXITED(status) ? "exit status" : "signal",
               WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return XG_FAIL;
    }
    printf("%s\nstore: %s\n", xg_sock(), store_sock());
    return XG_OK;
}

static int parse_start(int argc, char **argv, struct start_opts *o)
{
    static const struct option lo[] = {
        {"foreground", no_argument, NULL, 'f'},
        {"socket", required_argument, NULL, 's'},
        {"dom0-memory", required_argument, NULL, 'm'},
        {"log", required_argument, NULL, 'l'},
        {"poll-us", required_argument, NULL, 'p'},
        {"max-domain-conns", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    uint64_t size;
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "+:fs:m:l:p:c:", lo, NULL)) != -1) {
        if (ch == 'f')
            o->foreground = 1;
        else if (ch == 's')
            o->socket = optarg;
        else if (ch == 'm')
            o->dom0_memory = optarg;
        else if (ch == 'l')
            o->log = optarg;
        else if (ch == 'p')
            o->poll_us = optarg;
        else if (ch == 'c')
            o->max_domain_conns = optarg;
        else {
            xg_bad_option("hv start", ch, argv);
            return -1;
        }
    }
    if (optind != argc) {
        xg_err("hv start", "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (o->dom0_memory &&
        xg_parse_size("hv start", "--dom0-memory", o->dom0_memory, &size) < 0)
        return -1;
    if (o->socket && (!*o->socket || strlen(o->socket) > 107)) {
        xg_err("hv start", "--socket: want a path of 1 to 107 bytes");
        return -1;
    }
    return 0;
}

static int hv_start(int argc, char **argv)
{
    struct start_opts o = {0};
    char prog[PATH_MAX], *av[16];
    int rc;

    if (parse_start(argc, argv, &o) < 0)
        return XG_USAGE;
    if (o.socket)
        setenv("XGRANT_SOCK", o.socket, 1);
    rc = already_running();
    if (rc != 0)
        return rc > 0 ? XG_OK : XG_FAIL;
    rc = xg_sibling("xgrantd", prog, sizeof(prog));
    if (rc < 0) {
        xg_err("hv start", "cannot find xgrantd next to this program: %s",
               strerror(-rc));
        return XG_FAIL;
    }
    build_argv(&o, prog, av);
    if (!o.foreground)
        return start_background(av);
    fflush(NULL);
    execv(prog, av);
    xg_err("hv start", "cannot run %s: %s", prog, strerror(errno));
    return XG_FAIL;
}

static int hv_stop(void)
{
    grant_handle_t *h;
    int rc, waited;

    rc = xg_open("hv stop", &h);
    if (rc != XG_OK)
        return rc;
    xg_backends_stop_idle(NULL, 1); /* the daemons create started */
    rc = grant_ctl_shutdown(h);
    grant_close(h);
    if (rc < 0 && rc != -ECONNRESET) {
        xg_err("hv stop", "xgrantd refused to shut down: %s", strerror(-rc));
        return XG_FAIL;
    }
    for (waited = 0; waited < STOP_WAIT_MS; waited += POLL_MS) {
        if (!sock_alive(xg_sock())) {
            fprintf(stderr, "xgrant: xgrantd stopped\n");
            return XG_OK;
        }
        sleep_ms(POLL_MS);
    }
    xg_err("hv stop", "xgrantd still answers at %s after %d s", xg_sock(),
           STOP_WAIT_MS / 1000);
    return XG_FAIL;
}

static int hv_status(void)
{
    struct grant_domain_info *all;
    grant_handle_t *h;
    int rc = grant_open(&h, 0), n;

    if (rc < 0 && xg_no_daemon(rc)) {
        printf("xgrantd: not running\nsocket: %s\nstore: %s\n", xg_sock(),
               store_sock());
        return XG_NODAEMON;
    }
    if (rc < 0)
        return xg_open_error("hv status", rc);
    n = xg_list_domains("hv status", h, &all);
    grant_close(h);
    if (n < 0)
        return XG_FAIL;
    free(all);
    printf("xgrantd: running\nsocket: %s\nstore: %s\ndomains: %d\n", xg_sock(),
           store_sock(), n);
    return XG_OK;
}

int cmd_hv(int argc, char **argv)
{
    if (argc < 2) {
        xg_err("hv", "missing subcommand: start, stop or status");
        return XG_USAGE;
    }
    if (!strcmp(argv[1], "start"))
        return hv_start(argc - 1, argv + 1);
    if (argc > 2) {
        xg_err("hv", "%s: unexpected argument '%s'", argv[1], argv[2]);
        return XG_USAGE;
    }
    if (!strcmp(argv[1], "stop"))
        return hv_stop();
    if (!strcmp(argv[1], "status"))
        return hv_status();
    xg_err("hv", "unknown subcommand '%s' (start, stop or status)", argv[1]);
    return XG_USAGE;
}
