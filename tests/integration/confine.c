/* SPDX-License-Identifier: MIT */
/*
 * confine: under a root xgrantd, a domain reaches another domain's memory
 * and processes only through xgrantd.  A victim domain writes a secret in
 * its memory; an attacker domain, told the host pids of the victim and of
 * xgrantd, tries what a root process with the host's /proc could do:
 * open the memfds listed in /proc/<xgrantd>/fd and /proc/<victim>/fd and
 * map_files, open /proc/<pid>/mem, PTRACE_ATTACH and process_vm_readv,
 * kill() and pidfd_send_signal() through a /proc/<pid> directory.  Every
 * one must be refused, and so must reopening a read-only map's descriptor
 * for writing; the daemon's files beside its socket are out of sight.  The
 * attacker runs with a uid of its own, no capability and no_new_privs, and
 * still grants and copies through xgrantd; a program its uid cannot reach
 * is not run.  Skips (77) when not root or without namespaces.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

static int attacks_allowed;

static void verdict(const char *what, long pid, int allowed, int err)
{
    printf("%s %s %ld (%s)\n", allowed ? "ALLOWED" : "refused", what, pid,
           allowed ? "!" : strerror(err));
    fflush(stdout);
    attacks_allowed += allowed;
}

/* Does the number pid name a process of our own PID namespace?  Then the
 * target (outside it) cannot be named at all: nothing to try. */
static int ours(long pid)
{
    char path[64];
    struct stat a, b;

    snprintf(path, sizeof(path), "/proc/%ld/ns/pid", pid);
    return stat(path, &a) == 0 && stat("/proc/self/ns/pid", &b) == 0 &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* Opens every entry of /proc/<pid>/<dir> read-write; a memfd opened, or
 * the secret found, is a breach. */
static void try_entries(long pid, const char *dir, const char *secret)
{
    char path[128], what[64], buf[1 << 16];
    int opened = 0, found = 0, err;
    struct dirent *e;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%ld/%s", pid, dir);
    snprintf(what, sizeof(what), "open /proc/<pid>/%s/*", dir);
    d = ours(pid) ? NULL : opendir(path);
    err = d ? 0 : ours(pid) ? ESRCH : errno;
    while (d && (e = readdir(d))) {
        char fpath[400], link[256] = "";
        ssize_t n;
        int fd;

        if (e->d_name[0] == '.')
            continue;
        snprintf(fpath, sizeof(fpath), "%s/%s", path, e->d_name);
        n = readlink(fpath, link, sizeof(link) - 1);
        if (n <= 0 || !strstr(link, "memfd:"))
            continue;
        fd = open(fpath, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            err = errno;
            continue;
        }
        opened++;
        for (off_t off = 0; (n = pread(fd, buf, sizeof(buf), off)) > 0;
             off += n)
            found |= memmem(buf, (size_t)n, secret, strlen(secret)) != NULL;
        close(fd);
    }
    if (d)
        closedir(d);
    verdict(what, pid, opened || found, err ? err : ENOENT);
}

static void try_mem(long pid)
{
    char path[64];
    int fd;

    snprintf(path, sizeof(path), "/proc/%ld/mem", pid);
    fd = ours(pid) ? -1 : open(path, O_RDWR | O_CLOEXEC);
    verdict("open /proc/<pid>/mem", pid, fd >= 0, ours(pid) ? ESRCH : errno);
    if (fd >= 0)
        close(fd);
}

static void try_ptrace(long pid)
{
    char byte;
    struct iovec local = {&byte, 1}, remote = {(void *)0x10000, 1};
    long r = -1;
    int err = ESRCH;

    if (!ours(pid)) {
        r = ptrace(PTRACE_ATTACH, (pid_t)pid, NULL, NULL);
        err = errno;
    }
    verdict("PTRACE_ATTACH", pid, r == 0, err);
    if (r == 0)
        ptrace(PTRACE_DETACH, (pid_t)pid, NULL, NULL);
    r = -1;
    err = ESRCH;
    if (!ours(pid)) {
        r = process_vm_readv((pid_t)pid, &local, 1, &remote, 1, 0);
        err = errno;
    }
    /* EFAULT: allowed in, the address just was not mapped. */
    verdict("process_vm_readv", pid, r >= 0 || err == EFAULT, err);
}

static void try_signal(long pid)
{
    char path[64];
    int fd, r = -1, err = ESRCH;

    if (!ours(pid)) {
        r = kill((pid_t)pid, 0);
        err = errno;
    }
    verdict("kill(pid, 0)", pid, r == 0, err);
    snprintf(path, sizeof(path), "/proc/%ld", pid);
    fd = ours(pid) ? -1 : open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    r = fd < 0 ? -1 : (int)syscall(SYS_pidfd_send_signal, fd, 0, NULL, 0);
    err = fd < 0 && ours(pid) ? ESRCH : errno;
    verdict("pidfd_send_signal(/proc/<pid>, 0)", pid, r == 0, err);
    if (fd >= 0)
        close(fd);
}

/* "Name: a b ..." of /proc/self/status: the first value. */
static unsigned long long status_field(const char *name, int base)
{
    char line[256];
    size_t n = strlen(name);
    unsigned long long v = ~0ull;
    FILE *f = fopen("/proc/self/status", "re");

    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, name, n) && line[n] == ':')
            v = strtoull(line + n + 1, NULL, base);
    if (f)
        fclose(f);
    return v;
}

static void own_credentials(void)
{
    printf("%s uid %llu\n",
           status_field("Uid", 10) != 0 ? "refused" : "ALLOWED",
           status_field("Uid", 10));
    printf("%s capabilities CapEff %llx CapBnd %llx CapPrm %llx\n",
           status_field("CapEff", 16) || status_field("CapBnd", 16) ||
                   status_field("CapPrm", 16)
               ? "ALLOWED"
               : "refused",
           status_field("CapEff", 16), status_field("CapBnd", 16),
           status_field("CapPrm", 16));
    printf("%s no_new_privs %llu\n",
           status_field("NoNewPrivs", 10) == 1 ? "refused" : "ALLOWED",
           status_field("NoNewPrivs", 10));
}

/* A hostile grantee keeps the descriptor a map hands it: while keep_fds is
 * set, libgrant's close() leaves descriptors open (this binary's close()
 * interposes on libc's for libgrant.so). */
static int keep_fds;

int close(int fd)
{
    return keep_fds ? 0 : (int)syscall(SYS_close, fd);
}

/* The MAP concession: the descriptor of a read-only map reaches all of the
 * granter's memory, read-only (README); writable it is not. */
static void concede_and_refuse(int fd)
{
    struct stat st;
    void *p = MAP_FAILED;

    if (fstat(fd, &st) == 0)
        p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    printf("concession: its descriptor maps all %lld bytes of the victim's "
           "memory read-only: %s\n",
           (long long)st.st_size, p != MAP_FAILED ? "yes" : "no");
    if (p != MAP_FAILED)
        munmap(p, (size_t)st.st_size);
    p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    verdict("map a read-only map's memfd writable", fd, p != MAP_FAILED, errno);
    if (p != MAP_FAILED)
        munmap(p, 4096);
}

/* Its read-only map of the victim's page: the descriptor it got for it
 * must not reopen for writing through /proc/self/fd (the memfd's mode). */
static void try_reopen(grant_handle_t *h, unsigned vdom, unsigned vref)
{
    char path[64], link[256];
    int fd, tried = 0, err = ENOENT, r;
    void *p;

    keep_fds = 1;
    r = grant_map(h, (grant_domid_t)vdom, vref, 0, 4096, GRANT_MAP_RDONLY, &p);
    keep_fds = 0;
    printf("concession: read-only MAP of the victim's page: %d\n", r);
    for (int i = 3; r == 0 && i < 1024; i++) {
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
        n = readlink(path, link, sizeof(link) - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        if (!strstr(link, "memfd:victim"))
            continue;
        tried++;
        fd = open(path, O_RDWR | O_CLOEXEC);
        err = fd < 0 ? errno : 0;
        verdict("reopen a read-only map's memfd for writing", i, fd >= 0, err);
        if (fd >= 0)
            close(fd);
        concede_and_refuse(i);
    }
    if (!tried)
        verdict("reopen a read-only map's memfd (none found)", 0, 1, err);
}

/* Still a domain: copies dom0's granted page in, grants dom0 one back,
 * maps the victim's page read-only. */
static void grant_and_copy(void)
{
    grant_handle_t *h;
    grant_ref_t ref, mine;
    unsigned r, vdom, vref;
    char *page;

    if (scanf("%u %u %u", &r, &vdom, &vref) != 3 || grant_open(&h, 0) < 0 ||
        grant_mem_alloc(h, 1, (void **)&page) < 0) {
        printf("copy failed (no handle)\n");
        return;
    }
    ref = r;
    if (grant_copy_from(h, page, 0, ref, 0, 32) < 0)
        strcpy(page, "(copy failed)");
    printf("copy %.32s\n", page);
    strcpy(page, "from the confined domain");
    if (grant_create_direct(h, 0, GRANT_R_READ, page, 64, &mine) < 0)
        mine = (grant_ref_t)-1;
    printf("granted %u\n", (unsigned)mine);
    try_reopen(h, vdom, vref);
    fflush(stdout);
}

/* The sockets' directory shows the sockets only: the daemon's log and pid
 * file beside them are out of its sight. */
static void try_socket_dir(void)
{
    const char *sock = getenv("XGRANT_SOCK");
    char dir[256], seen[512] = "", what[600];
    struct dirent *e;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s", sock ? sock : "/");
    *strrchr(dir, '/') = '\0';
    d = opendir(dir);
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strcmp(e->d_name, "xgrantd.sock") && strcmp(e->d_name, "xenstored"))
            snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), " %s",
                     e->d_name);
    if (d)
        closedir(d);
    snprintf(what, sizeof(what), "see the daemon's files beside its socket%s",
             seen);
    verdict(what, 0, seen[0] != 0, ENOENT);
}

/* argv: secret, then host pids to attack (xgrantd first). */
static int role_attack(int argc, char **argv)
{
    grant_and_copy();
    own_credentials();
    try_socket_dir();
    for (int i = 1; i < argc; i++) {
        long pid = strtol(argv[i], NULL, 10);

        try_entries(pid, "fd", argv[0]);
        try_entries(pid, "map_files", argv[0]);
        try_mem(pid);
        try_ptrace(pid);
        try_signal(pid);
    }
    printf("done %d\n", attacks_allowed);
    fflush(stdout);
    while (getchar() != EOF)
        ;
    return 0;
}

/* Holds its memory (and its memfd) with the secret in it. */
static int role_victim(const char *secret)
{
    grant_handle_t *h;
    grant_ref_t ref;
    unsigned dom;
    char *page;

    if (grant_open(&h, 0) < 0 || grant_mem_alloc(h, 1, (void **)&page) < 0)
        return 1;
    strcpy(page, secret);
    printf("ready %ld\n", (long)getpid());
    fflush(stdout);
    if (scanf("%u", &dom) == 1 &&
        grant_create_direct(h, (grant_domid_t)dom, GRANT_R_READ | GRANT_R_MAP,
                            page, 4096, &ref) == 0)
        printf("ref %u\n", (unsigned)ref);
    else
        printf("ref none\n");
    fflush(stdout);
    while (getchar() != EOF)
        ;
    return 0;
}

/* ---- the test ----------------------------------------------------------- */

/* A program its uid cannot reach (in a directory of mode 0700) is not run:
 * the domain's processes are not root. */
static void unreachable_program(grant_handle_t *dom0)
{
    char dir[PATH_MAX], prog[PATH_MAX + 8] = "";
    struct grant_domain_config cfg = {0};
    char *argv[] = {prog, NULL};
    grant_domid_t domid;
    int r = -1;

    /* beside this binary: a confined domain's /tmp is its own */
    if (itest_mkdtemp(dir, sizeof(dir), "xgrant-confine") == 0 &&
        snprintf(prog, sizeof(prog), "%s/true", dir) > 0 &&
        symlink("/bin/true", prog) == 0) {
        cfg.name = "unreachable";
        cfg.memory_bytes = 16 * GRANT_PAGE_SIZE;
        cfg.argv = argv;
        cfg.stdio[0] = cfg.stdio[1] = cfg.stdio[2] = -1;
        r = grant_ctl_domain_create(dom0, &cfg, &domid);
        if (r == 0)
            grant_ctl_domain_wait(dom0, domid);
    }
    ICHECK(r == -EACCES,
           "a program in a directory of mode 0700 is not run (%d, want %d)", r,
           -EACCES);
    unlink(prog);
    rmdir(dir);
}

static long daemon_pid(void)
{
    char path[4200];
    long pid = -1;
    FILE *f;

    snprintf(path, sizeof(path), "%s", itest_sock());
    *strrchr(path, '/') = '\0';
    strcat(path, "/xgrantd.pid");
    f = fopen(path, "re");
    if (f && fscanf(f, "%ld", &pid) != 1)
        pid = -1;
    if (f)
        fclose(f);
    return pid;
}

/* Is domain dom in a PID namespace of its own? */
static int has_pidns(grant_handle_t *dom0, grant_domid_t dom)
{
    return itest_host_pid(dom0, dom, 1) != 1;
}

/* The attacker's report: every line must say refused; the copy works. */
static void judge(grant_handle_t *dom0, struct itest_agent *a, char *got)
{
    char line[512];
    int lines = 0, done = 0;
    unsigned ref;

    while (fgets(line, sizeof(line), a->in)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strncmp(line, "copy ", 5)) {
            ICHECK(!strcmp(line + 5, "granted by domain 0"),
                   "the confined domain copies a granted page (%s)", line);
        } else if (sscanf(line, "granted %u", &ref) == 1) {
            int r = grant_copy_from(dom0, got, a->domid, ref, 0, 24);

            ICHECK(r == 0 && !memcmp(got, "from the confined domain", 24),
                   "it grants a page that domain 0 copies (%d)", r);
        } else if (!strncmp(line, "concession", 10)) {
            printf("# %s\n", line);
        } else if (!strncmp(line, "done ", 5)) {
            done = 1;
            break;
        } else {
            lines++;
            ICHECK(!strncmp(line, "refused ", 8), "%s", line);
        }
    }
    ICHECK(done && lines > 20, "the attacker tried %d things", lines);
}

/* The victim runs, in a PID namespace of its own; its pid there, 0 if
 * not, -1 when it does not run. */
static long spawn_victim(grant_handle_t *dom0, struct itest_agent *v,
                         char *secret)
{
    char *argv[] = {itest_self(), "--role", "victim", secret, NULL};
    char line[64];
    long pid;

    itest_spawn_argv(dom0, v, "victim", 16, argv);
    if (!fgets(line, sizeof(line), v->in) ||
        sscanf(line, "ready %ld", &pid) != 1)
        return -1;
    return has_pidns(dom0, v->domid) ? pid : 0;
}

/* The attacker, told the host pids of xgrantd, the victim and its init. */
static void spawn_attacker(grant_handle_t *dom0, struct itest_agent *a,
                           const struct itest_agent *v, long vpid, char *secret)
{
    static char pids[3][24];
    char *argv[] = {itest_self(), "--role", "attack", secret,
                    pids[0],      pids[1],  pids[2],  NULL};

    snprintf(pids[0], sizeof(pids[0]), "%ld", daemon_pid());
    snprintf(pids[1], sizeof(pids[1]), "%ld",
             itest_host_pid(dom0, v->domid, vpid));
    snprintf(pids[2], sizeof(pids[2]), "%ld",
             itest_host_pid(dom0, v->domid, 1));
    ICHECK(daemon_pid() > 1 && strtol(pids[1], NULL, 10) > 1,
           "targets: xgrantd %s, the victim %s (its init %s)", pids[0], pids[1],
           pids[2]);
    itest_spawn_argv(dom0, a, "attacker", 16, argv);
}

/* Grants: dom0's page (page) to the attacker, the victim's page to the
 * attacker for a read-only map; the attacker learns both refs. */
static void hand_out(grant_handle_t *dom0, struct itest_agent *a,
                     struct itest_agent *v, void *page)
{
    char line[64];
    grant_ref_t ref = 0;
    unsigned vref = 0;

    strcpy(page, "granted by domain 0");
    grant_create_direct(dom0, a->domid, GRANT_R_READ, page, 32, &ref);
    dprintf(v->to, "%u\n", (unsigned)a->domid);
    if (!fgets(line, sizeof(line), v->in) || sscanf(line, "ref %u", &vref) != 1)
        vref = 0;
    ICHECK(vref != 0, "the victim grants the attacker a read-only map");
    dprintf(a->to, "%u %u %u\n", (unsigned)ref, (unsigned)v->domid, vref);
}

static int skip_unconfined(grant_handle_t *dom0, struct itest_agent *v)
{
    itest_agent_close(v);
    grant_ctl_domain_destroy(dom0, v->domid);
    itest_teardown(dom0);
    printf("skip: no PID namespaces here (domains are not confined)\n");
    return ITEST_SKIP;
}

int main(int argc, char **argv)
{
    struct itest_agent victim, attacker;
    grant_handle_t *dom0;
    char secret[64];
    void *page = NULL;
    long vpid;

    if (argc > 3 && !strcmp(argv[1], "--role") && !strcmp(argv[2], "victim"))
        return role_victim(argv[3]);
    if (argc > 3 && !strcmp(argv[1], "--role") && !strcmp(argv[2], "attack"))
        return role_attack(argc - 3, argv + 3);
    if (itest_confine_skip())
        return ITEST_SKIP;
    signal(SIGPIPE, SIG_IGN);
    itest_setup(&dom0);
    snprintf(secret, sizeof(secret), "secret-%ld-%lx", (long)getpid(),
             (unsigned long)random());
    vpid = spawn_victim(dom0, &victim, secret);
    if (vpid == 0)
        return skip_unconfined(dom0, &victim);
    ICHECK(vpid > 0, "the victim domain runs");
    ICHECK(grant_mem_alloc(dom0, 1, &page) == 0, "domain 0 allocates a page");
    if (vpid > 0 && page) {
        spawn_attacker(dom0, &attacker, &victim, vpid, secret);
        hand_out(dom0, &attacker, &victim, page);
        judge(dom0, &attacker, (char *)page + 2048);
        itest_agent_close(&attacker);
        grant_ctl_domain_wait(dom0, attacker.domid);
    }
    itest_agent_close(&victim);
    grant_ctl_domain_wait(dom0, victim.domid);
    unreachable_program(dom0);
    itest_teardown(dom0);
    return itest_done();
}
