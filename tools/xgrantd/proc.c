/* SPDX-License-Identifier: MIT */
/*
 * proc.c: what /proc says about a process: its parent and session, the
 * domain token in its environment, its PID namespace; and, for domains
 * without a PID namespace, finding and killing every process of a domain
 * (in a child of the daemon: the scans may take long).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "private.h"

#define ENVIRON_MAX  (4u << 20) /* larger environments are not read */
#define NS_DEPTH_MAX 32         /* the kernel nests at most 32 */
#define KILL_PASSES  100

/* Parent, session and state of pid from /proc/<pid>/stat; 0 or -errno. */
int xd_proc_stat(pid_t pid, pid_t *ppid, pid_t *sid, char *state)
{
    char path[64], buf[1024];
    const char *p;
    ssize_t n;
    int fd, pp, pg, ss;
    char st;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    /* comm may hold anything, ')' included: parse after the last one. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c %d %d %d", &st, &pp, &pg, &ss) != 4)
        return -EIO;
    *ppid = pp;
    *sid = ss;
    if (state)
        *state = st;
    return 0;
}

/* The whole of /proc/<pid>/environ (NUL-terminated strings); -errno. */
static ssize_t read_environ(pid_t pid, char **out)
{
    char path[64];
    size_t cap = 16384, len = 0;
    char *buf = NULL, *nb;
    ssize_t n = 0, r = -ENOMEM;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    for (;;) {
        if (len + 1 >= cap || !buf) {
            if (buf)
                cap *= 2;
            if (cap > ENVIRON_MAX || !(nb = realloc(buf, cap)))
                break;
            buf = nb;
        }
        n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = n < 0 ? -errno : (ssize_t)len;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    buf[len] = '\0';
    *out = buf;
    return r;
}

/* 1 and the value of XGRANT_DOMTOKEN in tok, 0 none, -errno unreadable. */
int xd_proc_token(pid_t pid, char *tok, size_t len)
{
    static const char key[] = XD_TOKEN_ENV "=";
    char *env = NULL;
    ssize_t n = read_environ(pid, &env);
    int found = 0;

    if (n < 0)
        return (int)n;
    for (size_t off = 0; off < (size_t)n; off += strlen(env + off) + 1) {
        if (strncmp(env + off, key, sizeof(key) - 1) == 0) {
            snprintf(tok, len, "%s", env + off + sizeof(key) - 1);
            found = 1;
            break;
        }
    }
    free(env);
    return found;
}

int xd_proc_pidns(pid_t pid, dev_t *dev, ino_t *ino)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
    if (stat(path, &st) < 0)
        return -errno;
    *dev = st.st_dev;
    *ino = st.st_ino;
    return 0;
}

static struct xd_dom *dom_of_ns(const struct stat *st)
{
    for (unsigned i = 1; i <= xd_dom_id_top(); i++) {
        struct xd_dom *d = xd.doms[i];

        if (d && d->has_ns && d->ns_dev == st->st_dev &&
            d->ns_ino == st->st_ino)
            return d;
    }
    return NULL;
}

/* Does any live domain have a PID namespace of its own? */
static bool any_ns(void)
{
    for (unsigned i = 1; i <= xd_dom_id_top(); i++)
        if (xd.doms[i] && xd.doms[i]->has_ns)
            return true;
    return false;
}

/*
 * The domain whose PID namespace holds pid (directly or in a namespace
 * nested in it), NULL none.  *err: 0, or -errno when it cannot be told.
 * With no domain in a namespace of its own there is nothing to find, so
 * /proc/<pid>/ns (which needs ptrace access: a non-root daemon cannot
 * read root's) is not even asked.
 */
struct xd_dom *xd_dom_of_pidns(pid_t pid, int *err)
{
    struct xd_dom *d = NULL;
    char path[64];
    struct stat st;
    int fd, up;

    *err = 0;
    if (!any_ns())
        return NULL;
    snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    *err = fd < 0 ? -errno : 0;
    for (int i = 0; fd >= 0 && i < NS_DEPTH_MAX; i++) {
        if (fstat(fd, &st) < 0) {
            *err = -errno;
            break;
        }
        if ((d = dom_of_ns(&st)))
            break;
        up = ioctl(fd, NS_GET_PARENT);
        close(fd);
        fd = up; /* EPERM at the daemon's own namespace: the end */
    }
    if (fd >= 0)
        close(fd);
    return d;
}

/* Is pid a live (not zombie) process of d by session or token? */
static bool of_domain(const struct xd_dom *d, pid_t pid)
{
    char tok[XD_TOKEN_LEN + 8], st = 0;
    pid_t ppid, sid;

    if (xd_proc_stat(pid, &ppid, &sid, &st) < 0 || st == 'Z' || st == 'X')
        return false;
    if (sid == d->pid)
        return true;
    return d->token[0] && xd_proc_token(pid, tok, sizeof(tok)) == 1 &&
           strcmp(tok, d->token) == 0;
}

/* One pass over /proc: SIGKILLs d's processes; how many were found. */
static int kill_pass(const struct xd_dom *d)
{
    DIR *dir = opendir("/proc");
    struct dirent *e;
    pid_t self = getpid();
    int found = 0;

    if (!dir)
        return -errno;
    while ((e = readdir(dir))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);

        if (*end || pid <= 1 || pid == self || pid == getppid() ||
            !of_domain(d, (pid_t)pid))
            continue;
        kill((pid_t)pid, SIGKILL);
        found++;
    }
    closedir(dir);
    return found;
}

/* SIGKILLs every process of d until none is left alive (bounded).  The
 * number still found alive at the end, or -errno. */
static int kill_strays(const struct xd_dom *d)
{
    int n = 0;

    for (int i = 0; i < KILL_PASSES; i++) {
        n = kill_pass(d);
        if (n <= 0)
            return n;
        usleep(1000);
    }
    return n;
}

/*
 * Domains without a PID namespace: a child of the daemon SIGKILLs every
 * process of d (its session, or its token) until none is left alive, so
 * the scans of /proc (up to KILL_PASSES of them) never hold the event
 * loop.  It exits 0 when it found none left, 1 some still alive, 2 /proc
 * unreadable.  Its pid (the caller reaps it), 0 nothing to do, or -errno.
 */
pid_t xd_proc_kill_strays(const struct xd_dom *d)
{
    pid_t pid;
    int n;

    if (d->pid <= 1 || d->has_ns)
        return 0;
    pid = fork();
    if (pid != 0)
        return pid < 0 ? -errno : pid;
    /* It needs nothing but /proc (and the log): no one waits on its fds. */
    close_range(3, ~0u, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    n = kill_strays(d);
    _exit(n == 0 ? 0 : n > 0 ? 1 : 2);
}

static int any_mapping(void *arg, uint64_t first, uint64_t nr)
{
    (void)arg, (void)first, (void)nr;
    return 1;
}

/* Does one of pid's descriptors refer to (dev, ino)? -errno if unreadable. */
static int fds_have(pid_t pid, dev_t dev, ino_t ino)
{
    char path[64], fpath[64 + sizeof(((struct dirent *)0)->d_name)];
    struct dirent *e;
    struct stat st;
    int found = 0;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
    dir = opendir(path);
    if (!dir)
        return -errno;
    while (!found && (e = readdir(dir))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(fpath, sizeof(fpath), "%s/%s", path, e->d_name);
        found = stat(fpath, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
    }
    closedir(dir);
    return found;
}

/*
 * Can process pid still reach owner's memory: a mapping of its memfd, or a
 * descriptor for it?  true when /proc cannot tell (the safe answer): a
 * process that exec'd or unmapped and closed everything is let go.
 */
bool xd_proc_reaches(pid_t pid, const struct xd_dom *owner)
{
    struct stat st;
    int m, f;

    if (!owner || owner->memfd < 0 || fstat(owner->memfd, &st) < 0)
        return false; /* its memory is gone: nothing left to reach */
    m = xd_proc_maps_each(pid, st.st_dev, st.st_ino, any_mapping, NULL);
    if (m != 0)
        return true;
    f = fds_have(pid, st.st_dev, st.st_ino);
    return f != 0;
}
