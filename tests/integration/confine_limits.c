/* SPDX-License-Identifier: MIT */
/*
 * confine_limits: what a confined domain leaves behind and what it can
 * reach beyond /proc (see confine.c for the other half).
 *
 * Round 1: a domain (domain 1 of a fresh xgrantd) puts a key in its user
 * keyring and files in /tmp and /dev/shm, and exits with the daemon.
 * Round 2: a new xgrantd's domain 1 must find none of them (a uid per
 * incarnation, private temporary directories), must not see the host's
 * files there, and must not reach an abstract unix socket or a TCP port
 * on loopback that the host listens on (its own network namespace, its
 * loopback up); it may not create a user namespace (clone, unshare),
 * clone3 says ENOSYS, its processes are bounded (RLIMIT_NPROC it cannot
 * raise), its temporary directories are small, and its init cannot be
 * ptraced nor its descriptors opened.  Last, xgrantd refuses a uid base
 * whose range meets real users or systemd-nspawn's range.  Skips (77)
 * when not root or without namespaces.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

#define TMP_MAX_BYTES (64ull << 20) /* a private /tmp is smaller */
#define NPROC_MAX     65536         /* a domain's process bound is lower */

static void say(int refused, const char *what, int err)
{
    printf("%s %s (%s)\n", refused ? "refused" : "ALLOWED", what,
           err ? strerror(err) : "no error");
}

/* ---- round 1: leave things behind ---------------------------------------- */

/* argv: tag.  Plants a key (expiring in 20 s) and files named by tag. */
static int role_plant(const char *tag)
{
    char path[128];
    long k = syscall(SYS_add_key, "user", tag, "left by round 1", 15,
                     KEY_SPEC_USER_KEYRING);

    if (k > 0)
        syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, k, 20);
    snprintf(path, sizeof(path), "/tmp/%s", tag);
    close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    snprintf(path, sizeof(path), "/dev/shm/%s", tag);
    close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    printf("uid %u key %ld\n", (unsigned)getuid(), k);
    fflush(stdout);
    return 0;
}

/* ---- round 2: probe ------------------------------------------------------ */

static void try_leftovers(const char *tag, const char *host_tag)
{
    const char *dirs[] = {"/tmp", "/var/tmp", "/dev/shm"};
    char path[128], what[200];
    long k = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user",
                     tag, 0);

    say(k < 0, "find the key an earlier domain 1 left", k < 0 ? errno : 0);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dirs[i], tag);
        snprintf(what, sizeof(what), "see %s left by an earlier domain", path);
        k = access(path, F_OK);
        say(k < 0, what, k < 0 ? errno : 0);
        snprintf(path, sizeof(path), "%s/%s", dirs[i], host_tag);
        snprintf(what, sizeof(what), "see the host's %s", path);
        k = access(path, F_OK);
        say(k < 0, what, k < 0 ? errno : 0);
    }
}

static void try_tmp_size(void)
{
    const char *dirs[] = {"/tmp", "/var/tmp", "/dev/shm"};
    struct statvfs st;
    char what[128];

    for (int i = 0; i < 3; i++) {
        unsigned long long size = 0;

        if (statvfs(dirs[i], &st) == 0)
            size = (unsigned long long)st.f_blocks * st.f_frsize;
        snprintf(what, sizeof(what), "fill a %s of more than 64 MiB (%llu MiB)",
                 dirs[i], size >> 20);
        say(size > 0 && size <= TMP_MAX_BYTES, what, 0);
    }
}

/* Connects to addr: 0, or the errno. */
static int try_connect(int family, const void *addr, socklen_t len)
{
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

    if (s < 0)
        return errno;
    r = connect(s, addr, len) < 0 ? errno : 0;
    close(s);
    return r;
}

static void try_network(const char *abstract, int port)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(in);
    int r, l;

    snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "%s", abstract);
    r = try_connect(AF_UNIX, &un,
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(abstract)));
    say(r != 0, "connect to the host's abstract unix socket", r);
    in.sin_port = htons((uint16_t)port);
    r = try_connect(AF_INET, &in, sizeof(in));
    say(r != 0, "connect to the host's TCP port on 127.0.0.1", r);
    /* Its own loopback works. */
    in.sin_port = 0;
    l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    r = l < 0 || bind(l, (void *)&in, sizeof(in)) < 0 || listen(l, 1) < 0 ||
                getsockname(l, (void *)&in, &len) < 0
            ? errno
            : try_connect(AF_INET, &in, sizeof(in));
    printf("%s its own loopback (%s)\n", r == 0 ? "works" : "BROKEN",
           strerror(r));
    if (l >= 0)
        close(l);
}

static void try_userns(void)
{
    struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
    long r;

    r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
    if (r == 0)
        _exit(0);
    say(r < 0, "clone(CLONE_NEWUSER)", r < 0 ? errno : 0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    r = syscall(SYS_clone3, &ca, sizeof(ca));
    if (r == 0)
        _exit(0);
    /* ENOSYS: libc falls back to clone, whose flags the filter reads. */
    say(r < 0 && errno == ENOSYS, "clone3(CLONE_NEWUSER) other than by ENOSYS",
        r < 0 ? errno : 0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    r = fork();
    if (r == 0)
        _exit(0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    printf("%s fork\n", r > 0 ? "works" : "BROKEN");
    /* Last: once in a user namespace of its own, it is a new ball game. */
    r = unshare(CLONE_NEWUSER);
    say(r < 0, "unshare(CLONE_NEWUSER)", r < 0 ? errno : 0);
}

static void try_limits(void)
{
    struct rlimit rl = {0, 0};
    char what[128];
    int r;

    getrlimit(RLIMIT_NPROC, &rl);
    snprintf(what, sizeof(what), "fork without bound (RLIMIT_NPROC %llu/%llu)",
             (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
    say(rl.rlim_max != RLIM_INFINITY && rl.rlim_max <= NPROC_MAX, what, 0);
    rl.rlim_max =
        rl.rlim_max == RLIM_INFINITY ? RLIM_INFINITY : rl.rlim_max + 1;
    rl.rlim_cur = rl.rlim_max;
    r = setrlimit(RLIMIT_NPROC, &rl);
    say(r < 0, "raise RLIMIT_NPROC", r < 0 ? errno : 0);
}

static void try_init(void)
{
    long r = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
    int fd;

    say(r < 0, "PTRACE_ATTACH its init", r < 0 ? errno : 0);
    if (r == 0)
        ptrace(PTRACE_DETACH, 1, NULL, NULL);
    /* its status pipe to xgrantd is there */
    fd = open("/proc/1/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    say(fd < 0, "open its init's /proc/1/fd", fd < 0 ? errno : 0);
    if (fd >= 0)
        close(fd);
    printf("%s the program is dumpable\n",
           prctl(PR_GET_DUMPABLE) == 1 ? "works" : "BROKEN");
}

/* argv: tag, host_tag, abstract socket name, TCP port. */
static int role_probe(char **argv)
{
    printf("uid %u\n", (unsigned)getuid());
    try_leftovers(argv[0], argv[1]);
    try_tmp_size();
    try_network(argv[2], atoi(argv[3]));
    try_init();
    try_limits();
    try_userns();
    printf("done\n");
    fflush(stdout);
    return 0;
}

/* ---- the test ------------------------------------------------------------ */

static char tag[64], host_tag[64];

/* One xgrantd, one domain running this binary in role with args; its
 * output lines to judge (NULL: none).  Runs in a child: a fresh itest. */
static unsigned round_run(char **argv, void (*judge)(struct itest_agent *))
{
    struct itest_agent a;
    grant_handle_t *dom0;
    char line[256];
    unsigned uid = 0;

    itest_setup(&dom0);
    itest_spawn_argv(dom0, &a, "limits", 16, argv);
    if (fgets(line, sizeof(line), a.in) && sscanf(line, "uid %u", &uid) == 1)
        printf("# %s", line);
    /* uid 0: not confined here (the caller skips) */
    ICHECK(uid == 0 || itest_host_pid(dom0, a.domid, 1) != 1,
           "the domain is in a PID namespace of its own");
    if (judge && uid != 0)
        judge(&a);
    itest_agent_close(&a);
    grant_ctl_domain_wait(dom0, a.domid);
    itest_teardown(dom0);
    return uid;
}

static void judge_probe(struct itest_agent *a)
{
    char line[256];
    int lines = 0, done = 0;

    while (fgets(line, sizeof(line), a->in)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strcmp(line, "done")) {
            done = 1;
            break;
        }
        lines++;
        ICHECK(!strncmp(line, "refused ", 8) || !strncmp(line, "works ", 6),
               "%s", line);
    }
    ICHECK(done && lines > 20, "the probe tried %d things", lines);
}

/* Runs round(arg) in a child; its exit code.  *uid from a pipe. */
static int in_child(unsigned (*round)(void *), void *arg, unsigned *uid)
{
    int p[2], status = -1;
    pid_t pid;

    if (pipe(p) < 0 || (pid = fork()) < 0)
        return 1;
    if (pid == 0) {
        unsigned u = round(arg);

        close(p[0]);
        if (write(p[1], &u, sizeof(u)) < 0)
            _exit(1);
        _exit(itest_done());
    }
    close(p[1]);
    if (read(p[0], uid, sizeof(*uid)) != sizeof(*uid))
        *uid = 0;
    close(p[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static unsigned round_plant(void *arg)
{
    char *argv[] = {itest_self(), "--role", "plant", tag, NULL};

    (void)arg;
    return round_run(argv, NULL);
}

static unsigned round_probe(void *port)
{
    char portstr[16];
    char *argv[] = {itest_self(), "--role", "probe", tag,
                    host_tag,     tag,      portstr, NULL};

    snprintf(portstr, sizeof(portstr), "%d", *(int *)port);
    return round_run(argv, judge_probe);
}

/* Host listeners: an abstract unix socket named tag, TCP on 127.0.0.1
 * (its port in *port); the host's files named host_tag. */
static void host_side(int *un_fd, int *in_fd, int *port)
{
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    struct sockaddr_in in = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(in);
    char path[128];

    snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "%s", tag);
    *un_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ICHECK(*un_fd >= 0 &&
               bind(*un_fd, (void *)&un,
                    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                                strlen(tag))) == 0 &&
               listen(*un_fd, 4) == 0,
           "the host listens on an abstract unix socket");
    *in_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ICHECK(*in_fd >= 0 && bind(*in_fd, (void *)&in, sizeof(in)) == 0 &&
               listen(*in_fd, 4) == 0 &&
               getsockname(*in_fd, (void *)&in, &len) == 0,
           "the host listens on 127.0.0.1");
    *port = ntohs(in.sin_port);
    snprintf(path, sizeof(path), "/tmp/%s", host_tag);
    close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    snprintf(path, sizeof(path), "/dev/shm/%s", host_tag);
    close(open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

static void cleanup_files(void)
{
    const char *names[] = {"/tmp/%s", "/dev/shm/%s", "/var/tmp/%s"};
    char path[128];

    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), names[i], tag);
        unlink(path);
        snprintf(path, sizeof(path), names[i], host_tag);
        unlink(path);
    }
}

/* xgrantd --domain-uid-base base must exit at once, saying why. */
static void refuses_base(const char *base)
{
    char self[PATH_MAX], bin[PATH_MAX + 32], sock[PATH_MAX + 32], dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int status = -1, i;
    pid_t pid;

    self[n > 0 ? n : 0] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(bin, sizeof(bin), "%s/../../bin/xgrantd", self);
    if (itest_mkdtemp(dir, sizeof(dir), "xgrant-uidbase") < 0)
        return;
    snprintf(sock, sizeof(sock), "%s/x.sock", dir);
    pid = fork();
    if (pid == 0) {
        close(1);
        execl(bin, "xgrantd", "--foreground", "--socket", sock,
              "--domain-uid-base", base, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 60 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(50 * 1000);
    if (i == 60) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    ICHECK(i < 60 && WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
               WEXITSTATUS(status) != 127,
           "xgrantd refuses --domain-uid-base %s (%s)", base,
           i < 60 ? "exited" : "still running after 3 s");
    unlink(sock);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    unsigned uid1 = 0, uid2 = 0;
    int un_fd, in_fd, port, r1, r2;

    if (argc > 3 && !strcmp(argv[1], "--role") && !strcmp(argv[2], "plant"))
        return role_plant(argv[3]);
    if (argc > 6 && !strcmp(argv[1], "--role") && !strcmp(argv[2], "probe"))
        return role_probe(argv + 3);
    if (itest_confine_skip())
        return ITEST_SKIP;
    signal(SIGPIPE, SIG_IGN);
    snprintf(tag, sizeof(tag), "xgrant-limits-%ld", (long)getpid());
    snprintf(host_tag, sizeof(host_tag), "xgrant-limits-host-%ld",
             (long)getpid());
    host_side(&un_fd, &in_fd, &port);
    r1 = in_child(round_plant, NULL, &uid1);
    r2 = r1 == 0 ? in_child(round_probe, &port, &uid2) : 1;
    cleanup_files();
    close(un_fd);
    close(in_fd);
    if (r1 == 0 && uid1 == 0) { /* the domain's uid: 0 when not confined */
        printf("skip: domains are not confined here\n");
        return ITEST_SKIP;
    }
    ICHECK(r1 == 0 && r2 == 0, "both rounds pass (%d, %d)", r1, r2);
    ICHECK(uid1 != uid2,
           "domain 1 of a restarted xgrantd gets another uid "
           "(%u, then %u)",
           uid1, uid2);
    refuses_base("999");
    refuses_base("524288");
    return itest_done();
}
