/* SPDX-License-Identifier: MIT */
/*
 * containment: a domain's processes stay its own.  A setsid + double-forked
 * grandchild is still its domain (never domain 0); a FORCE revoke or a
 * destroy returns only once a mapper in another process group is dead; a
 * process that closed its socket while mapping keeps the grant busy until
 * it is gone; a domU opening thousands of connections does not lock out
 * domain 0.  Roles run this binary inside domains.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"

#define FLOOD_CONNS 5000

static void say(const char *fmt, long v)
{
    printf(fmt, v);
    fflush(stdout);
}

/* The domain's identity as a setsid + double-forked grandchild sees it. */
static int role_escape(void)
{
    pid_t c = fork();
    char line[16];

    if (c == 0) {
        setsid();
        if (fork() == 0) {
            grant_handle_t *h;
            int r;

            usleep(100000); /* its parent is gone: reparented */
            r = grant_open(&h, 0);
            if (r < 0)
                say("refused %ld\n", r);
            else
                say("domid %ld\n", grant_domid(h));
            _exit(0);
        }
        _exit(0);
    }
    waitpid(c, NULL, 0);
    while (fgets(line, sizeof(line), stdin)) /* until the test closes */
        ;
    return 0;
}

/* In a forked child: opens a handle and maps dom0's page `ref` read-only
 * (the mapping and handle live until the process dies); exits 1 if not. */
static const char *map_granted_page(unsigned ref)
{
    grant_handle_t *h;
    void *p;

    if (grant_open(&h, 0) < 0 ||
        grant_map(h, 0, ref, 0, 4096, GRANT_MAP_RDONLY, &p) < 0)
        _exit(1);
    return p;
}

/* A child in its own process group maps the ref read from stdin, reports
 * its pid, and stops itself (so it can never acknowledge an unmap). */
static int role_mapper(void)
{
    unsigned ref;
    pid_t c;

    if (scanf("%u", &ref) != 1)
        return 1;
    c = fork();
    if (c == 0) {
        setpgid(0, 0);
        map_granted_page(ref);
        say("mapped %ld\n", (long)getpid()); /* the test finds its host pid */
        raise(SIGSTOP);
        _exit(0);
    }
    for (;;)
        pause();
}

/* A child maps, closes every fd above 2, waits for a line, exits; the
 * domain stays up. */
static int role_closer(void)
{
    unsigned ref;
    char line[16];
    pid_t c;

    if (scanf("%u", &ref) != 1)
        return 1;
    c = fork();
    if (c == 0) {
        const char *p = map_granted_page(ref);

        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        say("mapped %ld\n", (long)getpid()); /* the test finds its host pid */
        /* Raw: stdin's buffer, copied from the parent, may hold a '\n'. */
        if (read(0, line, 1) != 1)
            _exit(1);
        _exit(p[0] == 'g' ? 0 : 2);
    }
    waitpid(c, NULL, 0);
    say("child gone %ld\n", 0);
    for (;;)
        pause();
}

/* Maps, then execs: the new image holds neither the mapping nor the
 * socket (both close on exec), so nothing is left to wait for. */
static int role_execer(void)
{
    unsigned ref;

    if (scanf("%u", &ref) != 1)
        return 1;
    map_granted_page(ref);
    say("mapped %ld\n", (long)getpid()); /* the test finds its host pid */
    execlp("sleep", "sleep", "30", (char *)NULL);
    return 1;
}

/* Opens as many idle connections as it can. */
/* Opens as many idle connections as it can, then reports how many the
 * daemon kept (the others it closed at once: over the domain's limit). */
static int role_flood(void)
{
    const char *path = getenv("XGRANT_SOCK");
    static int fds[FLOOD_CONNS];
    struct rlimit rl;
    long n = 0, kept = 0;

    if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return 1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (int i = 0; i < FLOOD_CONNS; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        strcpy(sa.sun_path, path);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            break;
        fds[n++] = fd;
    }
    usleep(500000); /* the daemon has accepted (and refused) them all */
    for (long i = 0; i < n; i++) {
        struct pollfd p = {.fd = fds[i], .events = POLLIN};

        kept += poll(&p, 1, 0) == 0; /* no EOF, no hangup: still held */
    }
    say("opened %ld\n", n);
    say("kept %ld\n", kept);
    for (;;)
        pause();
}

static int role(const char *r)
{
    if (!strcmp(r, "escape"))
        return role_escape();
    if (!strcmp(r, "mapper"))
        return role_mapper();
    if (!strcmp(r, "closer"))
        return role_closer();
    if (!strcmp(r, "flood"))
        return role_flood();
    if (!strcmp(r, "execer"))
        return role_execer();
    return 1;
}

/* ---- the test -------------------------------------------------------- */

static void spawn_role(grant_handle_t *dom0, struct itest_agent *a,
                       const char *name, char *what)
{
    char *argv[] = {itest_self(), "--role", what, NULL};

    itest_spawn_argv(dom0, a, name, 64, argv);
}

static long read_num(struct itest_agent *a, const char *prefix)
{
    char line[128];
    size_t n = strlen(prefix);

    if (!fgets(line, sizeof(line), a->in) || strncmp(line, prefix, n))
        return -1;
    return strtol(line + n, NULL, 10);
}

/* Gone, or a zombie waiting for whoever reaps it (without a PID
 * namespace the killed process is reparented to pid 1, which may reap
 * lazily): either way it runs no more code. */
static int dead(long pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    int n;

    if (pid <= 1)
        return 0;
    if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
        return 1;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return 1;
    n = (int)fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n > 0 ? n : 0] = '\0';
    p = strrchr(buf, ')');
    return p && (p[2] == 'Z' || p[2] == 'X');
}

static void test_escape(grant_handle_t *dom0)
{
    struct itest_agent a;
    char line[128] = "";

    spawn_role(dom0, &a, "escaper", "escape");
    if (!fgets(line, sizeof(line), a.in))
        strcpy(line, "(nothing)\n");
    line[strcspn(line, "\n")] = '\0';
    ICHECK(strtol(line + 6, NULL, 10) == a.domid && !strncmp(line, "domid ", 6),
           "a setsid + double-forked grandchild is its domain %u (%s)", a.domid,
           line);
    ICHECK(strcmp(line, "domid 0") != 0, "never domain 0 (%s)", line);
    itest_agent_close(&a);
    grant_ctl_domain_wait(dom0, a.domid);
}

/* Grants a page of dom0's to a new mapper-role domain, which maps it. */
static long mapped(grant_handle_t *dom0, struct itest_agent *a,
                   const char *name, char *what, grant_ref_t *ref)
{
    static void *page;
    int r;

    if (!page && grant_mem_alloc(dom0, 1, &page) < 0)
        return -1;
    strcpy(page, "granted");
    spawn_role(dom0, a, name, what);
    r = grant_create_direct(dom0, a->domid, GRANT_R_READ | GRANT_R_MAP, page,
                            4096, ref);
    if (r < 0)
        return -1;
    dprintf(a->to, "%u\n", (unsigned)*ref);
    return itest_host_pid(dom0, a->domid, read_num(a, "mapped "));
}

/* Waits until pid is stopped (it stops itself: it cannot ack anymore). */
static int stopped(long pid)
{
    char path[64], buf[256], *p;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

        if (f)
            fclose(f);
        buf[n] = '\0';
        p = strrchr(buf, ')');
        if (p && p[1] == ' ' && p[2] == 'T')
            return 1;
        usleep(10000);
    }
    return 0;
}

static void test_force(grant_handle_t *dom0)
{
    struct itest_agent a, b;
    grant_ref_t ref;
    long pid;
    int r;

    pid = mapped(dom0, &a, "forced", "mapper", &ref);
    ICHECK(pid > 1 && stopped(pid),
           "mapper in another process group maps, stops (pid %ld)", pid);
    r = grant_revoke(dom0, ref, GRANT_REVOKE_FORCE);
    ICHECK(r == 0 && dead(pid),
           "FORCE revoke (%d) returns only once the mapper is dead (%s)", r,
           dead(pid) ? "dead" : "ALIVE");
    if (!dead(pid))
        kill((pid_t)pid, SIGKILL);
    itest_agent_close(&a);

    pid = mapped(dom0, &b, "destroyed", "mapper", &ref);
    ICHECK(pid > 1 && stopped(pid), "second mapper maps, stops (pid %ld)", pid);
    r = grant_ctl_domain_destroy(dom0, b.domid);
    ICHECK(r == 0 && dead(pid),
           "DOMAIN_DESTROY (%d) returns only once the mapper is dead (%s)", r,
           dead(pid) ? "dead" : "ALIVE");
    if (!dead(pid))
        kill((pid_t)pid, SIGKILL);
    grant_revoke(dom0, ref, GRANT_REVOKE_FORCE);
    itest_agent_close(&b);
}

static void test_closer(grant_handle_t *dom0)
{
    struct itest_agent a;
    grant_ref_t ref;
    long pid;
    int r = -1;

    pid = mapped(dom0, &a, "closer", "closer", &ref);
    ICHECK(pid > 1, "closer maps, then closes its fds (pid %ld)", pid);
    usleep(200000); /* the daemon has seen the close */
    r = grant_revoke(dom0, ref, 0);
    ICHECK(r == -EBUSY, "plain revoke while it still maps: %d (want -EBUSY)",
           r);
    dprintf(a.to, "exit\n");
    ICHECK(read_num(&a, "child gone ") == 0, "the mapper exited");
    for (int i = 0; i < 200 && (r = grant_revoke(dom0, ref, 0)) == -EBUSY; i++)
        usleep(10000);
    ICHECK(r == 0, "plain revoke once it is gone: %d", r);
    ICHECK(grant_ctl_domain_list(dom0, NULL, 0) >= 2,
           "its domain is still running");
    grant_ctl_domain_destroy(dom0, a.domid);
    itest_agent_close(&a);
}

/* (e) A mapper that execs lets go of everything: a plain revoke goes
 * through and its domain lives on (no punishment for a mapping it no
 * longer has). */
static void test_execer(grant_handle_t *dom0)
{
    struct grant_domain_info info[8];
    struct itest_agent a;
    grant_ref_t ref;
    long pid;
    int r = -1, n, alive = 0;

    pid = mapped(dom0, &a, "execer", "execer", &ref);
    ICHECK(pid > 1, "execer maps, then execs sleep (pid %ld)", pid);
    for (int i = 0; i < 200 && (r = grant_revoke(dom0, ref, 0)) == -EBUSY; i++)
        usleep(10000);
    ICHECK(r == 0, "plain revoke after the mapper exec'd: %d (want 0)", r);
    n = grant_ctl_domain_list(dom0, info, 8);
    for (int i = 0; i < n && i < 8; i++)
        alive |= info[i].domid == a.domid && !info[i].dying;
    ICHECK(alive, "the exec'd domain was not punished");
    grant_ctl_domain_destroy(dom0, a.domid);
    itest_agent_close(&a);
}

static void test_flood(grant_handle_t *dom0)
{
    struct itest_agent a;
    grant_handle_t *h = NULL;
    long n;
    int r;

    spawn_role(dom0, &a, "flood", "flood");
    n = read_num(&a, "opened ");
    ICHECK(n > 64, "the domU opened %ld connections", n);
    n = read_num(&a, "kept ");
    ICHECK(n >= 1 && n <= 64, "xgrantd kept %ld of them (a domU's limit: 64)",
           n);
    r = grant_open(&h, 0);
    ICHECK(r == 0 && grant_domid(h) == 0,
           "domain 0 still connects after the flood (%d)", r);
    if (r == 0)
        grant_close(h);
    ICHECK(grant_ctl_domain_destroy(dom0, a.domid) == 0,
           "the flooding domain is destroyed");
    itest_agent_close(&a);
}

int main(int argc, char **argv)
{
    grant_handle_t *dom0;

    if (argc > 2 && !strcmp(argv[1], "--role"))
        return role(argv[2]);
    signal(SIGPIPE, SIG_IGN);
    itest_setup(&dom0);
    test_escape(dom0);
    test_force(dom0);
    test_closer(dom0);
    test_execer(dom0);
    test_flood(dom0);
    itest_teardown(dom0);
    return itest_done();
}
