/* SPDX-License-Identifier: MIT */
/*
 * confine.c: what a domain's processes may touch, under a root xgrantd.
 *
 * Firecracker's jailer is the model.  spawn.c clones a domain's init into
 * new PID, mount and IPC namespaces; before it executes anything, still
 * root, the child confines itself here, in this order:
 *   1. mount propagation of its namespace becomes private (nothing it
 *      mounts reaches the host, nothing the host mounts reaches it);
 *   2. the daemon's two sockets (xgrantd's, the store's) stay reachable at
 *      the paths in its environment: where a directory on the way is
 *      closed to others, a small tmpfs covers that directory in the
 *      domain's view, holding only the path down to the sockets, each a
 *      bind mount of the real socket (what else was there is hidden);
 *   3. the host's /proc is detached and a /proc of its own PID namespace
 *      mounted: it sees its own processes only;
 *   4. credentials: a uid and gid of its own (--domain-uid-base plus its
 *      id), no supplementary groups, every capability gone (bounding set,
 *      ambient, inheritable, permitted, effective), securebits locked so
 *      uid 0 would mean nothing, and PR_SET_NO_NEW_PRIVS (no set-uid
 *      binary, no file capability gives anything back).
 * Any step failing fails the domain's creation (fail closed, logged).
 * The sockets are made writable by every uid (xd_confine_umask): the
 * directory holding them keeps host users out, the daemon identifies every
 * peer by its PID namespace, and refuses any other uid but root and its
 * own.  A network namespace (the network driver) belongs in step 1's clone
 * and needs nothing here: the sockets are files, not network addresses.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "private.h"

#define CAP_MAX_TRY 64 /* beyond the kernel's last capability: EINVAL */
#define NSOCKS      2

/* A confined domain's uid and gid: the base plus its id.  The default is
 * near the top of what systemd leaves to containers (524288-1879048191). */
#define UID_BASE_DEFAULT 0x6ff00000u

static unsigned uid_base = UID_BASE_DEFAULT;
static bool disabled;

/* base: 1 to UINT32_MAX - 1 - GNTX_DOMID_MAX (main.c checks). */
void xd_confine_set_uid_base(unsigned base)
{
    uid_base = base;
}

unsigned xd_confine_uid_base(void)
{
    return uid_base;
}

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

/* ---- 2. the sockets ------------------------------------------------------ */

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

static int expose_sockets(const char *const paths[NSOCKS])
{
    size_t len[NSOCKS];
    int fd[NSOCKS], r = 0;
    bool mounted[NSOCKS] = {false};

    /* Every socket is opened before a tmpfs may hide one. */
    for (int i = 0; i < NSOCKS; i++) {
        len[i] = paths[i][0] == '/' ? barrier_len(paths[i]) : 0;
        fd[i] = len[i] ? open(paths[i], O_PATH | O_CLOEXEC) : -1;
        if (len[i] && fd[i] < 0)
            r = -errno;
    }
    /* Shorter first: its tmpfs may hold the other's path. */
    for (int k = 0; r == 0 && k < NSOCKS; k++) {
        int i = (len[0] <= len[1]) == (k == 0) ? 0 : 1;
        bool covered = false;

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
    for (int i = 0; i < NSOCKS; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    return r;
}

/* ---- 3. /proc -------------------------------------------------------------
 */

static int own_proc(void)
{
    umount2("/proc", MNT_DETACH); /* no /proc at all is fine too */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) <
        0)
        return -errno;
    return 0;
}

/* ---- 4. credentials -------------------------------------------------------
 */

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
    int r = drop_bounding();

    if (r < 0)
        return r;
    if (setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 ||
        setresuid(id, id, id) < 0)
        return -errno;
    if ((r = drop_rest()) < 0)
        return r;
    return getuid() == id && geteuid() == id && getegid() == id ? 0 : -EPERM;
}

/*
 * In the child of clone(CLONE_NEWPID | CLONE_NEWNS | ...), before it runs
 * anything: steps 1 to 4 above.  0, or -errno with the failing step logged.
 */
int xd_confine_child(const struct xd_dom *d)
{
    const char *const socks[NSOCKS] = {xd.sock, xs_store_path()};
    const char *step = "private mounts";
    int r = 0;

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        r = -errno;
    if (r == 0 && (step = "the sockets", r = expose_sockets(socks)) == 0 &&
        (step = "its /proc", r = own_proc()) == 0)
        step = "its uid", r = become((uid_t)(uid_base + d->id));
    if (r < 0)
        xd_log_dom(d, "confining it: %s: %s", step, strerror(-r));
    return r;
}
