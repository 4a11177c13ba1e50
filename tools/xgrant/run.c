/* SPDX-License-Identifier: MIT */
/*
 * run.c: xgrant run: a new domain running a program with this terminal's
 * stdin/stdout/stderr.  Without --detach it waits and exits with the
 * program's status; SIGINT/SIGTERM/SIGHUP destroy the domain first.
 * A detached domain gets /dev/null as stdin, stdout and stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "grant_abi.h"
#include "private.h"

#define CMD "run"
#define NAME_CHARS                                                             \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

struct run_opts {
    const char *name;
    uint64_t memory, max_entries, max_maps, max_frames;
    int detach;
    char **argv;
};

static int parse_num(int ch, const char *arg, struct run_opts *o)
{
    switch (ch) {
    case 'n':
        o->name = arg;
        return 0;
    case 'm':
        return xg_parse_size(CMD, "--memory", arg, &o->memory);
    case 'e': /* the hypervisor's limit on table sizes */
        return xg_parse_uint(CMD, "--max-entries", arg, GNTX_MAX_ENTRIES,
                             &o->max_entries);
    case 'M':
        return xg_parse_uint(CMD, "--max-maps", arg, GNTX_MAX_ENTRIES,
                             &o->max_maps);
    case 'f':
        return xg_parse_uint(CMD, "--max-frames", arg, UINT64_MAX,
                             &o->max_frames);
    }
    return -1;
}

static int parse_run(int argc, char **argv, struct run_opts *o)
{
    static const struct option lo[] = {
        {"name", required_argument, NULL, 'n'},
        {"memory", required_argument, NULL, 'm'},
        {"max-entries", required_argument, NULL, 'e'},
        {"max-maps", required_argument, NULL, 'M'},
        {"max-frames", required_argument, NULL, 'f'},
        {"detach", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    o->memory = 64ull << 20;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+:n:m:d", lo, NULL)) != -1) {
        if (ch == 'd')
            o->detach = 1;
        else if (ch == ':' || ch == '?') {
            xg_bad_option(CMD, ch, argv);
            return -1;
        } else if (parse_num(ch, optarg, o) < 0)
            return -1;
    }
    if (optind == argc) {
        xg_err(CMD, "missing program (xgrant run [OPTIONS] -- PROG [ARGS])");
        return -1;
    }
    if (o->memory == 0 || o->memory % GRANT_PAGE_SIZE) {
        xg_err(CMD, "--memory: want a non-zero multiple of 4K");
        return -1;
    }
    o->argv = argv + optind;
    return 0;
}

/* "<basename>-<pid>", reduced to the name alphabet, within 31 bytes. */
static void default_name(const char *prog, char *buf, size_t len)
{
    char tmp[256], base[20], *b;
    size_t i;

    snprintf(tmp, sizeof(tmp), "%s", prog);
    b = basename(tmp);
    snprintf(base, sizeof(base), "%s", *b ? b : "dom");
    for (i = 0; base[i]; i++)
        if (!strchr(NAME_CHARS, base[i]))
            base[i] = '_';
    snprintf(buf, len, "%s-%d", base, (int)getpid());
}

static int stdio_fd(int fd)
{
    return fcntl(fd, F_GETFD) < 0 ? -1 : fd;
}

static int create(grant_handle_t *h, const struct run_opts *o, const char *name,
                  grant_domid_t *domid)
{
    struct grant_domain_config cfg = {.name = name,
                                      .memory_bytes = o->memory,
                                      .argv = o->argv,
                                      .stdio = {-1, -1, -1},
                                      .max_entries = (unsigned)o->max_entries,
                                      .max_maps = (unsigned)o->max_maps,
                                      .max_frames = o->max_frames};
    int rc, i;

    /* A detached domain must not hold this terminal or our pipes open. */
    for (i = 0; i < 3 && !o->detach; i++)
        cfg.stdio[i] = stdio_fd(i);
    rc = grant_ctl_domain_create(h, &cfg, domid);
    if (rc == 0)
        return 0;
    if (rc == -EEXIST)
        xg_err(CMD, "a domain named '%s' already exists", name);
    else if (rc == -ENOENT)
        xg_err(CMD, "program '%s' not found", o->argv[0]);
    else if (rc == -EINVAL)
        xg_err(CMD,
               "xgrantd refused the configuration of '%s' (memory %llu "
               "bytes, quotas, program): %s",
               name, (unsigned long long)o->memory, strerror(-rc));
    else if (rc == -ENOMEM)
        xg_err(CMD, "not enough memory for a %llu-byte domain",
               (unsigned long long)o->memory);
    else if (rc == -EACCES)
        xg_err(CMD, XG_UNREACHABLE, o->argv[0]);
    else if (rc == -EPERM)
        xg_err(CMD, "only the control domain may create domains");
    else
        xg_err(CMD, "cannot create domain '%s': %s", name, strerror(-rc));
    return -1;
}

struct waiter {
    grant_handle_t *h;
    grant_domid_t domid;
    pthread_t main;
    int status;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;

    w->status = grant_ctl_domain_wait(w->h, w->domid);
    pthread_kill(w->main, SIGUSR1);
    return NULL;
}

/* A signal asked us to stop: destroy the domain over a second handle. */
static void destroy_on_signal(grant_domid_t domid, int sig)
{
    grant_handle_t *h2 = NULL;
    int rc;

    fprintf(stderr, "xgrant: %s: destroying domain %u\n", strsignal(sig),
            domid);
    rc = grant_open(&h2, 0);
    if (rc == 0)
        rc = grant_ctl_domain_destroy(h2, domid);
    if (rc < 0 && rc != -ESRCH)
        xg_err(CMD, "cannot destroy domain %u: %s", domid, strerror(-rc));
    grant_close(h2);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return XG_FAIL;
}

/* Waits for the domain on h while this thread takes the signals. */
static int wait_domain(grant_handle_t *h, grant_domid_t domid,
                       const sigset_t *sigs)
{
    struct waiter w = {h, domid, pthread_self(), 0};
    pthread_t t;
    int sig, rc;

    rc = pthread_create(&t, NULL, wait_main, &w);
    if (rc) {
        xg_err(CMD, "cannot start the waiter thread: %s", strerror(rc));
        return XG_FAIL;
    }
    for (;;) {
        if (sigwait(sigs, &sig) != 0 || sig == SIGUSR1)
            break;
        destroy_on_signal(domid, sig);
    }
    pthread_join(t, NULL);
    if (w.status < 0) {
        xg_err(CMD, "waiting for domain %u: %s", domid, strerror(-w.status));
        return XG_FAIL;
    }
    return exit_code(w.status);
}

/* The domain's name: --name, checked, or the default. */
static int pick_name(const struct run_opts *o, char *name, size_t len)
{
    if (!o->name) {
        default_name(o->argv[0], name, len);
        return 0;
    }
    if (!*o->name || strlen(o->name) >= len ||
        strspn(o->name, NAME_CHARS) != strlen(o->name)) {
        xg_err(CMD, "--name: '%s' is not 1 to %u characters of [A-Za-z0-9_.-]",
               o->name, (unsigned)len - 1);
        return -1;
    }
    snprintf(name, len, "%s", o->name);
    return 0;
}

/* Blocks the stop signals (before any thread exists: all inherit it). */
static void block_signals(sigset_t *sigs)
{
    sigemptyset(sigs);
    sigaddset(sigs, SIGINT);
    sigaddset(sigs, SIGTERM);
    sigaddset(sigs, SIGHUP);
    sigaddset(sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, sigs, NULL);
}

int cmd_run(int argc, char **argv)
{
    struct run_opts o = {0};
    grant_handle_t *h;
    grant_domid_t domid;
    char name[GRANT_NAME_MAX];
    sigset_t sigs;
    int rc;

    if (parse_run(argc, argv, &o) < 0 || pick_name(&o, name, sizeof(name)))
        return XG_USAGE;
    if (!o.detach)
        block_signals(&sigs);
    rc = xg_open(CMD, &h);
    if (rc != XG_OK)
        return rc;
    if (create(h, &o, name, &domid) < 0) {
        grant_close(h);
        return XG_FAIL;
    }
    fprintf(stderr, "xgrant: domain %u (%s) started\n", domid, name);
    if (o.detach) {
        printf("%u\n", domid);
        grant_close(h);
        return XG_OK;
    }
    rc = wait_domain(h, domid, &sigs);
    grant_close(h);
    return rc;
}
