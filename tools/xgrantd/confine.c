/* SPDX-License-Identifier: MIT */
/*
 * confine.c: what a domain's processes may touch, under a root xgrantd.
 *
 * Firecracker's jailer is the model.  spawn.c clones a domain's init into
 * new PID, mount, IPC and network namespaces; before it executes anything,
 * still root, the child confines itself here, in this order:
 *   1. mount propagation of its namespace becomes private (nothing it
 *      mounts reaches the host, nothing the host mounts reaches it);
 *   2. /tmp, /var/tmp, /dev/shm and /run/lock (those that exist) are each
 *      a tmpfs of its own of at most XD_TMP_SIZE: nothing it writes there
 *      outlives it or reaches another domain, nothing of the host's shows;
 *      /dev/mqueue shows the queues of its own IPC namespace;
 *   3. the daemon's two sockets (xgrantd's, the store's) stay reachable at
 *      the paths in its environment: in a private directory of step 2, or,
 *      where a directory on the way is closed to others, in a small tmpfs
 *      covering that directory in the domain's view, which holds only the
 *      path down to the sockets, each a bind mount of the real socket
 *      (what else was there is hidden);
 *   4. the host's /proc is detached and a /proc of its own PID namespace
 *      mounted: it sees its own processes only;
 *   5. its network namespace has only loopback, up (net_up: the network
 *      driver adds its TAP there);
 *   6. credentials: a uid and gid of its own incarnation (uidrange.c), no
 *      supplementary groups, every capability gone (bounding set, ambient,
 *      inheritable, permitted, effective), securebits locked so uid 0
 *      would mean nothing, PR_SET_NO_NEW_PRIVS (no set-uid binary, no file
 *      capability gives anything back), at most XD_DOM_NPROC processes
 *      (RLIMIT_NPROC: the uid is its alone, so this counts the domain's);
 *   7. a seccomp filter (built once in the daemon by xd_confine_prepare)
 *      refuses every namespace flag of clone and unshare (EPERM: no user
 *      namespace, so no capability in one), and clone3, whose flags it
 *      cannot read, with ENOSYS (libc falls back to clone).
 * Any step failing fails the domain's creation (fail closed, logged).
 * The sockets are made writable by every uid (xd_confine_umask): the
 * directory holding them keeps host users out, the daemon identifies every
 * peer by its PID namespace, and refuses any other uid but root and its
 * own.  The sockets are files, not network addresses: the network
 * namespace does not hide them.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "private.h"

#define CAP_MAX_TRY 64 /* beyond the kernel's last capability: EINVAL */
#define NSOCKS      2

#define XD_TMP_SIZE  "16m" /* each private /tmp, /var/tmp, /dev/shm */
#define XD_DOM_NPROC 1024  /* processes (threads) of a confined domain */

static bool disabled;
static struct sock_fprog filter; /* step 7, built by xd_confine_prepare */

void xd_confine_disable(void)
{
    disabled = true;
}

bool xd_confine_on(void)
{
    return !disabled && geteuid() == 0;
}

mode_t xd_confine_umask(void)
{
    return xd_confine_on() ? 0111 : 077;
}

/*
 * d's memory (memfd_create makes it mode 0777) is its owner's alone: a
 * grantee holding a read-only descriptor of it from a map must not reopen
 * it for writing through /proc/self/fd/N as another uid.  0 or -errno.
 */
int xd_confine_mem(const struct xd_dom *d)
{
    return fchmod(d->memfd, 0600) < 0 ? -errno : 0;
}

/* ---- 2. private temporary directories --------------------------------- */

static const char *const private_dirs[] = {"/tmp", "/var/tmp", "/dev/shm",
                                           "/run/lock"};
#define NPRIVATE (sizeof(private_dirs) / sizeof(private_dirs[0]))

static int private_tmp(void)
{
    struct stat st;

    for (size_t i = 0; i < NPRIVATE; i++) {
        if (lstat(private_dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (mount("xgrant-tmp", private_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV,
                  "mode=1777,size=" XD_TMP_SIZE ",nr_inodes=4096") < 0)
            return -errno;
    }
    /* The host's message queues: those of its own IPC namespace instead. */
    if (lstat("/dev/mqueue", &st) == 0 && S_ISDIR(st.st_mode) &&
        mount("mqueue", "/dev/mqueue", "mqueue",
              MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return -errno;
    return 0;
}

/* Length of the private directory path is in, 0 none. */
static size_t private_len(const char *path)
{
    for (size_t i = 0; i < NPRIVATE; i++) {
        size_t n = strlen(private_dirs[i]);

        if (!strncmp(path, private_dirs[i], n) && path[n] == '/')
            return n;
    }
    return 0;
}

/* ---- 3. the sockets ------------------------------------------------------ */

/* Length of the topmost directory on the way to path that others cannot
 * search (a domain's uid stops there), 0 when there is none. */
static size_t barrier_len(const char *path)
{
    char dir[PATH_MAX];
    const char *last = strrchr(path, '/');
    struct stat st;

    for (const char *p = path + 1; last && p <= last; p++) {
        size_t n = (size_t)(p - path);

        if (*p != '/' || n >= sizeof(dir))
            continue;
        memcpy(dir, path, n);
        dir[n] = '\0';
        if (stat(dir, &st) == 0 && !(st.st_mode & S_IXOTH))
            return n;
    }
    return 0;
}

/* mkdir of every directory of path below its first len bytes. */
static int make_path(const char *path, size_t len)
{
    char dir[PATH_MAX];

    for (const char *p = path + len + 1; *p; p++) {
        size_t n = (size_t)(p - path);

        if (*p != '/')
            continue;
        if (n >= sizeof(dir))
            return -ENAMETOOLONG;
        memcpy(dir, path, n);
        dir[n] = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
            return -errno;
    }
    return 0;
}

/* Is path's directory of length len at or below the one of length mlen
 * of mpath? */
static bool under(const char *path, size_t len, const char *mpath, size_t mlen)
{
    return mlen <= len && !strncmp(path, mpath, mlen) &&
           (path[mlen] == '/' || mlen == len);
}

/* A tmpfs over the directory path[0, len). */
static int cover(const char *path, size_t len)
{
    char dir[PATH_MAX];

    if (len >= sizeof(dir))
        return -ENAMETOOLONG;
    memcpy(dir, path, len);
    dir[len] = '\0';
    if (mount("xgrant", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0755,size=64k,nr_inodes=64") < 0)
        return -errno;
    return 0;
}

/* The socket at fd (O_PATH) shown at path again, inside a tmpfs. */
static int bind_socket(const char *path, int fd)
{
    char src[64];
    int f = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

    if (f < 0)
        return -errno;
    close(f);
    snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
    return mount(src, path, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
}

/* Opens each socket (O_PATH into fd, -1 for a relative path) before
 * step 2 or a tmpfs may hide one; len: its barrier's length. */
static int open_sockets(const char *const paths[NSOCKS], int fd[NSOCKS],
                        size_t len[NSOCKS])
{
    int r = 0;

    for (int i = 0; i < NSOCKS; i++) {
        len[i] = paths[i][0] == '/' ? barrier_len(paths[i]) : 0;
        fd[i] = paths[i][0] == '/' ? open(paths[i], O_PATH | O_CLOEXEC) : -1;
        if (paths[i][0] == '/' && fd[i] < 0)
            r = -errno;
    }
    return r;
}

/* Each socket shown again at its path (see step 3). */
static int expose_sockets(const char *const paths[NSOCKS], const int fd[NSOCKS],
                          size_t len[NSOCKS])
{
    bool mounted[NSOCKS] = {false};
    int r = 0;

    /* In a private directory: that is its tmpfs. */
    for (int i = 0; i < NSOCKS; i++)
        if (fd[i] >= 0 && private_len(paths[i]))
            len[i] = private_len(paths[i]), mounted[i] = true;
    /* Shorter first: its tmpfs may hold the other's path. */
    for (int k = 0; r == 0 && k < NSOCKS; k++) {
        int i = (len[0] <= len[1]) == (k == 0) ? 0 : 1;
        bool covered = mounted[i];

        if (!len[i])
            continue;
        for (int j = 0; j < NSOCKS; j++)
            covered |= mounted[j] && under(paths[i], len[i], paths[j], len[j]);
        if (!covered && (r = cover(paths[i], len[i])) == 0)
            mounted[i] = true;
        if (r == 0)
            r = make_path(paths[i], len[i]);
        if (r == 0)
            r = bind_socket(paths[i], fd[i]);
    }
    return r;
}

/* ---- 4. /proc ----------------------------------------------------------- */

static int own_proc(void)
{
    umount2("/proc", MNT_DETACH); /* no /proc at all is fine too */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
        0)
        return -errno;
    return 0;
}

/* ---- 5. the network ----------------------------------------------------- */

/* Loopback up in the domain's network namespace, and nothing else: the
 * hook where the network driver will add the domain's TAP. */
static int net_up(void)
{
    struct ifreq ifr = {0};
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

    if (s < 0)
        return -errno;
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        r = -errno;
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (r == 0 && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        r = -errno;
    close(s);
    return r;
}

/* ---- 6. credentials ----------------------------------------------------- */

/* While still root: the bounding set (needs CAP_SETPCAP), and securebits
 * SECBIT_NOROOT, SECBIT_NO_SETUID_FIXUP and SECBIT_KEEP_CAPS all off and
 * locked, NOROOT on (linux/securebits.h; glibc's headers clash with it). */
static int drop_bounding(void)
{
    unsigned long bits = (1ul << 0) | (1ul << 1) | (1ul << 3) | (1ul << 5);

    for (int c = 0; c < CAP_MAX_TRY; c++)
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
            return -errno;
    return prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0 ? -errno : 0;
}

/* After the uid change: what survives it (inheritable, ambient). */
static int drop_rest(void)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct none[2] = {{0}};

    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
        errno != EINVAL)
        return -errno;
    if (syscall(SYS_capset, &h, none) < 0)
        return -errno;
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ? -errno : 0;
}

static int become(uid_t id)
{
    struct rlimit nproc = {XD_DOM_NPROC, XD_DOM_NPROC};
    int r = drop_bounding();

    if (r < 0)
        return r;
    if (setrlimit(RLIMIT_NPROC, &nproc) < 0)
        return -errno;
    if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 ||
        setresuid(id, id, id) < 0)
        return -errno;
    if ((r = drop_rest()) < 0)
        return r;
    return getuid() == id && geteuid() == id && getegid() == id ? 0 : -EPERM;
}

/* ---- 7. the seccomp filter ---------------------------------------------- */

#define NS_CLONE_FLAGS                                                         \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |             \
     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | 0x00000080 /* TIME */)

/* clone and unshare with any namespace flag: EPERM; clone3: ENOSYS. */
static int filter_rules(scmp_filter_ctx ctx)
{
    int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);

    for (int bit = 0; r == 0 && bit < 32; bit++) {
        unsigned long flag = 1ul << bit;

        if (!(NS_CLONE_FLAGS & flag))
            continue;
        r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                             SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
        if (r == 0)
            r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare),
                                 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    }
    return r;
}

/* The filter as BPF, through a memfd (libseccomp 2.5 exports to an fd). */
static int filter_export(scmp_filter_ctx ctx)
{
    int fd = memfd_create("xgrant-seccomp", MFD_CLOEXEC), r;
    off_t size;
    void *prog;

    if (fd < 0)
        return -errno;
    r = seccomp_export_bpf(ctx, fd);
    size = r == 0 ? lseek(fd, 0, SEEK_END) : -1;
    if (r == 0 && (size <= 0 || size % sizeof(struct sock_filter)))
        r = -EIO;
    prog = r == 0 ? malloc((size_t)size) : NULL;
    if (r == 0 && !prog)
        r = -ENOMEM;
    if (r == 0 && pread(fd, prog, (size_t)size, 0) != size)
        r = -EIO;
    close(fd);
    if (r < 0) {
        free(prog);
        return r;
    }
    filter.filter = prog;
    filter.len = (unsigned short)(size / sizeof(struct sock_filter));
    return 0;
}

/* In the daemon, before a confined domain is cloned: builds step 7's
 * filter once (the child only loads it).  0 or -errno. */
int xd_confine_prepare(void)
{
    scmp_filter_ctx ctx;
    int r;

    if (filter.filter)
        return 0;
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx)
        return -ENOMEM;
    r = filter_rules(ctx);
    if (r == 0)
        r = filter_export(ctx);
    seccomp_release(ctx);
    if (r < 0)
        xd_log("the domains' seccomp filter: %s", strerror(-r));
    return r;
}

static int load_filter(void)
{
    if (!filter.filter)
        return -EINVAL;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter, 0, 0) < 0
               ? -errno
               : 0;
}

/*
 * In the child of clone(CLONE_NEWPID | CLONE_NEWNS | ...), before it runs
 * anything: steps 1 to 7 above, as uid.  0, or -errno with the failing
 * step logged.
 */
int xd_confine_child(const struct xd_dom *d, uid_t uid)
{
    const char *const socks[NSOCKS] = {xd.sock, xst_store_path()};
    const char *step = "private mounts";
    size_t len[NSOCKS];
    int fd[NSOCKS] = {-1, -1}, r = 0;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        r = -errno;
    if (r == 0 &&
        (step = "the sockets", r = open_sockets(socks, fd, len)) == 0 &&
        (step = "private /tmp", r = private_tmp()) == 0 &&
        (step = "the sockets", r = expose_sockets(socks, fd, len)) == 0 &&
        (step = "its /proc", r = own_proc()) == 0 &&
        (step = "its loopback", r = net_up()) == 0 &&
        (step = "its uid", r = become(uid)) == 0)
        step = "its seccomp filter", r = load_filter();
    for (int i = 0; i < NSOCKS; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    if (r < 0)
        xd_log_dom(d, "confining it: %s: %s", step, strerror(-r));
    return r;
}

/* The first directory on path's way that other uids cannot search (a
 * confined domain's uid is neither its owner nor in its group) into dir:
 * 1, or 0 when every one can be. */
static int closed_dir(const char *path, char *dir, size_t len)
{
    struct stat st;
    size_t n = strlen(path);

    for (size_t i = 0; i < n && i < len; i++) {
        if (path[i] != '/' || (i > 0 && path[i - 1] == '/'))
            continue;
        memcpy(dir, i ? path : "/", i ? i : 1);
        dir[i ? i : 1] = '\0';
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
            !(st.st_mode & S_IXOTH))
            return 1;
    }
    return 0;
}

/* Where execvp will find prog (PATH searched when it has no '/'), made
 * absolute (the daemon's cwd is its domains' too): 0, or -ENOENT. */
static int find_prog(const char *prog, char *out, size_t len)
{
    const char *path = getenv("PATH"), *end;
    char cwd[PATH_MAX];
    int w;

    if (strchr(prog, '/')) {
        w = prog[0] == '/' || !getcwd(cwd, sizeof(cwd))
                ? snprintf(out, len, "%s", prog)
                : snprintf(out, len, "%s/%s", cwd, prog);
        return w > 0 && (size_t)w < len ? 0 : -ENOENT;
    }
    for (path = path ? path : "/bin:/usr/bin"; *path; path = end + !!*end) {
        end = strchrnul(path, ':');
        w = snprintf(out, len, "%.*s/%s", (int)(end - path), path, prog);
        if (w > 0 && (size_t)w < len && access(out, X_OK) == 0)
            return 0;
    }
    return -ENOENT;
}

/* The directory of step 2 that path lies in (the domain sees a tmpfs of
 * its own there), or NULL. */
static const char *private_dir(const char *path)
{
    for (size_t i = 0; i < NPRIVATE; i++) {
        size_t n = strlen(private_dirs[i]);

        if (strncmp(path, private_dirs[i], n) == 0 && path[n] == '/')
            return private_dirs[i];
    }
    return NULL;
}

/* path (what) and its resolved form: reachable by a domain's uid, or
 * -EACCES logged with the directory that hides it from the domain. */
static int reachable(const struct xd_dom *d, const char *what, const char *path)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *priv = private_dir(path);

    if (!priv && realpath(path, real))
        priv = private_dir(real);
    if (priv) {
        xd_log_dom(d,
                   "cannot confine it: %s %s lies in %s, where it sees a "
                   "tmpfs of its own; keep the tree outside %s, or start "
                   "xgrantd with --no-confine (or XGRANTD_CONFINE=0)",
                   what, path, priv, priv);
        return -EACCES;
    }
    if (!closed_dir(path, dir, sizeof(dir)) &&
        (!realpath(path, real) || !closed_dir(real, dir, sizeof(dir))))
        return 0;
    xd_log_dom(d,
               "cannot confine it: %s %s lies below %s, which other users "
               "cannot search, so its uid cannot run it; make the "
               "directories on the way searchable by others (chmod o+x), "
               "or start xgrantd with --no-confine (or XGRANTD_CONFINE=0)",
               what, path, dir);
    return -EACCES;
}

/*
 * Before a confined domain is started: its program (argv0, looked up as its
 * init will) and xgrantd's own binary, which its init re-executes, must be
 * reachable by its uid.  0, or -EACCES (logged, naming the directory).  A
 * program not found at all is left to the init (-ENOENT).
 */
int xd_confine_reach(const struct xd_dom *d, const char *argv0)
{
    char self[PATH_MAX], prog[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    int r = 0;

    if (!xd_confine_on())
        return 0;
    if (n > 0) {
        self[n] = '\0';
        r = reachable(d, "xgrantd's binary", self);
    }
    if (r == 0 && find_prog(argv0, prog, sizeof(prog)) == 0)
        r = reachable(d, "its program", prog);
    return r;
}
