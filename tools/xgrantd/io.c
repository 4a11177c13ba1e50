/* SPDX-License-Identifier: MIT */
/*
 * io.c: GNTX_OP_IO, grant I/O, as xgrantd serves it.  The caller sends
 * the files with the request (SCM_RIGHTS: an element's `file` is an index
 * into them); the core validates each element and hands over pieces of
 * the granter's memory as the daemon maps it (its memfd), and
 * preadv/pwritev move the bytes between the file and those pieces: the
 * caller's memory is never involved.
 *
 * All of it on the main thread, under the core's lock, as a COPY: a
 * revoke is served before or after a call, never during one, so once a
 * revoke returns no byte moves through the grant.  A call moves at most
 * the core's IO budget (GNTX_DEFAULT_IO_BYTES), so a long I/O holds the
 * other domains up for one budget's worth at a time, not for its whole
 * length (libgrant resumes it).  What a budget costs is the file's
 * speed: a page-cache read of 1 MiB takes a fraction of a millisecond, a
 * slow disk or a network file system longer (see docs/xgrantd.8).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "private.h"

_Static_assert(sizeof(struct gcore_iov) == sizeof(struct iovec) &&
                   offsetof(struct gcore_iov, base) ==
                       offsetof(struct iovec, iov_base) &&
                   offsetof(struct gcore_iov, len) ==
                       offsetof(struct iovec, iov_len),
               "gcore_iov is struct iovec");
_Static_assert(XD_RX_FDS == XGW_MAX_IO_FDS, "a request carries every file");

/* The files of one call, each checked once per direction on first use. */
struct io_files {
    const struct xd_conn *c;
    const int *fd;
    unsigned n;
    int checked[XD_RX_FDS][2]; /* 1 + the check's result (0: not yet) */
};

/* May fd be used for dir?  0, or the -errno the element gets and the
 * problem in *why. */
static int file_check(int fd, unsigned dir, const char **why)
{
    int fl = fcntl(fd, F_GETFL);
    struct stat st;

    *why = "not an open file";
    if (fl < 0 || fstat(fd, &st) < 0)
        return -EBADF;
    *why = "an O_PATH descriptor (opened for neither reading nor writing)";
    if (fl & O_PATH)
        return -EBADF;
    *why = "not open for reading";
    if (dir == GNTX_IO_READ && (fl & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    *why = "not open for writing";
    if (dir == GNTX_IO_WRITE && (fl & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    *why = "open with O_APPEND (a write would ignore its offset)";
    if (dir == GNTX_IO_WRITE && (fl & O_APPEND))
        return -EINVAL;
    *why = "a pipe or socket (no file offsets)";
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return -ESPIPE;
    *why = "a directory";
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    *why = "neither a regular file nor a block device";
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return -EINVAL;
    return 0;
}

static int files_check(struct io_files *f, uint32_t file, unsigned dir)
{
    const char *why = "no such file sent with the call";
    int rc;

    if (file >= f->n) {
        rc = -EBADF;
    } else if (f->checked[file][dir]) {
        return f->checked[file][dir] - 1;
    } else {
        rc = file_check(f->fd[file], dir, &why);
        f->checked[file][dir] = rc + 1;
    }
    if (rc < 0)
        xd_log_domid(f->c->dom->id, "dom %u: grant I/O %s file %u: %s",
                     f->c->dom->id, dir == GNTX_IO_READ ? "READ" : "WRITE",
                     file, why);
    return rc;
}

/* preadv/pwritev until all of iov moved, the end of the file, or an
 * error: the bytes moved (an error after some did: those), or -errno. */
static long move(int fd, unsigned dir, uint64_t off, struct iovec *iov,
                 unsigned n)
{
    long done = 0;

    while (n) {
        ssize_t r = dir == GNTX_IO_READ
                        ? preadv(fd, iov, (int)n, (off_t)(off + done))
                        : pwritev(fd, iov, (int)n, (off_t)(off + done));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 && !done ? -errno : done;
        done += r;
        while (n && (size_t)r >= iov->iov_len) {
            r -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n) {
            iov->iov_base = (char *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
    return done;
}

/* The core's file hook (gcore.h's gcore_io_fn). */
static long io_fn(void *ctx, uint32_t file, unsigned dir, uint64_t file_off,
                  const struct gcore_iov *iov, unsigned n)
{
    struct io_files *f = ctx;
    struct iovec v[GCORE_IO_IOV];
    int rc = files_check(f, file, dir);

    if (rc < 0 || !iov)
        return rc;
    if (n > GCORE_IO_IOV)
        return -EINVAL;
    memcpy(v, iov, n * sizeof(*v)); /* move() advances its own copy */
    return move(f->fd[file], dir, file_off, v, n);
}

long xd_io_run(struct xd_conn *c, const struct xd_rx *rx, struct gntx_io *v,
               unsigned n)
{
    struct io_files f = {.c = c, .fd = rx->fds, .n = (unsigned)rx->nfds};

    return gcore_io(xd.core, c->dom->id, v, n, io_fn, &f);
}
