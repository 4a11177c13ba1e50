/* SPDX-License-Identifier: MIT */
/*
 * io.c: GNTX_OP_IO, grant I/O, as xgrantd serves it.  The caller sends
 * the files with the request (SCM_RIGHTS: an element's `file` is an index
 * into them); the core validates each element and hands over pieces of
 * the granter's memory as the daemon maps it (its memfd), and
 * preadv/pwritev move the bytes between the file and those pieces: the
 * caller's memory is never involved.
 *
 * A connection may also register files (XGW_OP_IO_FILE_REGISTER, as
 * io_uring's fixed files): kept until it unregisters them or closes, named
 * by calls that then carry no descriptor and may use the call area.
 *
 * A file opened O_DIRECT goes with a buffered twin of itself (opened
 * again through /proc/self/fd, the same access mode): I/O that O_DIRECT
 * cannot do (a byte-exact window, an odd offset) takes the twin, the rest
 * goes straight to the device, as blkback's pick_fd does.
 *
 * A call of several elements naming a file opened O_DIRECT goes through
 * the core's two phases (gcore_io_batch): the wave's pieces on such files
 * go into the daemon's io_uring in one submission (an element's pieces
 * linked) and the main thread waits for them all; the rest (page-cache
 * I/O, as fast one preadv at a time) the core hands to io_fn after them.
 * Where io_uring is refused, everything one at a time.
 *
 * All of it on the main thread, under the core's lock, as a COPY: a
 * revoke is served before or after a call, never during one, so once a
 * revoke returns no byte moves through the grant.  A call moves at most
 * the core's IO budget (GNTX_DEFAULT_IO_BYTES) and, once it moved
 * something, stops between pieces (256 KiB at most; between waves for a
 * wave's) after IO_CALL_NS, so
 * a long I/O holds the other domains up one budget at a time, not for its
 * whole length (libgrant resumes it), and a slow file for about one piece
 * past IO_CALL_NS.  What a budget costs is the file's
 * speed: a page-cache read of 1 MiB takes a fraction of a millisecond, a
 * slow disk or a network file system longer (see docs/xgrantd.8).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

_Static_assert(sizeof(struct gcore_iov) == sizeof(struct iovec) &&
                   offsetof(struct gcore_iov, base) ==
                       offsetof(struct iovec, iov_base) &&
                   offsetof(struct gcore_iov, len) ==
                       offsetof(struct iovec, iov_len),
               "gcore_iov is struct iovec");
_Static_assert(XD_RX_FDS == XGW_MAX_IO_FDS, "a request carries every file");

/* The files of one call: those it carries, each checked once per
 * direction on first use; the connection's registered ones were checked
 * when they came. */
struct io_files {
    struct xd_conn *c;
    const int *fd;
    unsigned n;
    int checked[XD_RX_FDS][2]; /* 1 + the check's result (0: not yet) */
    int twin[XD_RX_FDS]; /* 1 + its buffered twin (0: not asked, -1: none) */
    uint64_t start_ns;   /* when the call began */
    bool moved;          /* it moved bytes already */
    bool batch;          /* gcore_io_batch's: time is asked per wave */
};

/* One call's time: past it, once bytes moved, the call ends between
 * pieces (gcore.h: -GNTX_EAGAIN) and libgrant resumes it. */
#define IO_CALL_NS 2000000u

static uint64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What an element's I/O goes through: the file as it came, and for one
 * opened O_DIRECT a buffered descriptor of the same file (or -1) for what
 * O_DIRECT cannot do (a window or offset not aligned for it). */
struct io_fd {
    int fd;
    int twin;
};

/* fd's buffered twin when fd is O_DIRECT: the same file opened again
 * (through /proc/self/fd) with the same access mode and no O_DIRECT; -1
 * when fd is not O_DIRECT or the file does not open again. */
static int twin_open(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    char path[64];

    if (fl < 0 || !(fl & O_DIRECT))
        return -1;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return open(path, (fl & O_ACCMODE) | O_CLOEXEC | O_NOCTTY);
}

/* May fd be used for dir?  0, or the -errno the element gets and the
 * problem in *why.  The kind of file and O_PATH are checked for both. */
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
    *why = "a pipe or socket (no file offsets)";
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return -ESPIPE;
    *why = "a directory";
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    *why = "neither a regular file nor a block device";
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return -EINVAL;
    *why = "not open for reading";
    if (dir == GNTX_IO_READ && (fl & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    *why = "not open for writing";
    if (dir == GNTX_IO_WRITE && (fl & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    *why = "open with O_APPEND (a write would ignore its offset)";
    if (dir == GNTX_IO_WRITE && (fl & O_APPEND))
        return -EINVAL;
    return 0;
}

static void file_refused(const struct xd_conn *c, const char *what,
                         uint32_t file, const char *why)
{
    xd_log_domid(c->dom->id, "dom %u: grant I/O %s file 0x%x: %s", c->dom->id,
                 what, file, why);
}

/* A call's file: its twin, opened on first use. */
static int files_twin(struct io_files *f, uint32_t file)
{
    int t;

    if (!f->twin[file]) {
        t = twin_open(f->fd[file]);
        f->twin[file] = t < 0 ? -1 : t + 1;
    }
    return f->twin[file] < 0 ? -1 : f->twin[file] - 1;
}

/* The descriptors `file` names for dir into *out: 0, or -errno (logged). */
static int files_get(struct io_files *f, uint32_t file, unsigned dir,
                     struct io_fd *out)
{
    const char *why = "no such file sent with the call";
    const char *what = dir == GNTX_IO_READ ? "READ" : "WRITE";
    uint32_t slot = file & ~XGW_IO_FILE_REG;
    int rc;

    if (file & XGW_IO_FILE_REG) {
        if (slot >= XGW_MAX_IO_FILES || !f->c->io_file[slot]) {
            file_refused(f->c, what, file, "no such registered file");
            return -EBADF;
        }
        rc = f->c->io_file_ok[slot][dir] - 1;
        if (rc < 0)
            file_refused(f->c, what, file, "refused at registration");
        *out = (struct io_fd){f->c->io_file[slot] - 1,
                              f->c->io_file_twin[slot] - 1};
        return rc;
    }
    if (file >= f->n) {
        rc = -EBADF;
    } else if (f->checked[file][dir]) {
        rc = f->checked[file][dir] - 1;
    } else {
        rc = file_check(f->fd[file], dir, &why);
        f->checked[file][dir] = rc + 1;
        if (rc < 0)
            file_refused(f->c, what, file, why);
    }
    if (file >= f->n)
        file_refused(f->c, what, file, why);
    if (rc == 0)
        *out = (struct io_fd){f->fd[file], files_twin(f, file)};
    return rc;
}

/* Can O_DIRECT take this I/O (512-byte alignment: a device with larger
 * sectors answers EINVAL, and the twin takes over then)? */
static bool direct_ok(uint64_t off, const struct iovec *iov, unsigned n)
{
    uint64_t bits = off;

    for (unsigned i = 0; i < n; i++)
        bits |= (uintptr_t)iov[i].iov_base | iov[i].iov_len;
    return (bits & 511) == 0;
}

/* The descriptor an I/O starts on: the twin for what O_DIRECT cannot
 * align, else the file itself. */
static int fd_pick(struct io_fd f, uint64_t off, const struct iovec *iov,
                   unsigned n)
{
    return f.twin >= 0 && !direct_ok(off, iov, n) ? f.twin : f.fd;
}

/* preadv/pwritev until all of iov moved, the end of the file, or an
 * error: the bytes moved (an error after some did: those), or -errno.
 * What O_DIRECT refuses goes through the buffered twin. */
static long move(struct io_fd f, unsigned dir, uint64_t off, struct iovec *iov,
                 unsigned n)
{
    int fd = fd_pick(f, off, iov, n);
    long done = 0;

    while (n) {
        ssize_t r = dir == GNTX_IO_READ
                        ? preadv(fd, iov, (int)n, (off_t)(off + done))
                        : pwritev(fd, iov, (int)n, (off_t)(off + done));

        if (r < 0 && errno == EINVAL && f.twin >= 0 && fd != f.twin) {
            fd = f.twin;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            errno = EIO; /* a file that would block: -EAGAIN means time */
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
    struct io_fd fd = {-1, -1};
    int rc = files_get(f, file, dir, &fd);
    long ret;

    if (rc < 0 || !iov)
        return rc;
    if (n > GCORE_IO_IOV)
        return -EINVAL;
    if (!f->batch && f->moved && mono_ns() - f->start_ns > IO_CALL_NS)
        return -EAGAIN; /* this call's time is up: resumed in the next */
    memcpy(v, iov, n * sizeof(*v)); /* move() advances its own copy */
    ret = move(fd, dir, file_off, v, n);
    f->moved |= ret > 0;
    return ret;
}

/* ---- a call's pieces at once: io_uring --------------------------------- */

/* The daemon's one ring (the main thread's), made on first use: 1 made,
 * -1 refused or turned off (XGRANTD_IO_URING=0: the calls then go one
 * piece at a time), 0 not tried. */
static struct io_uring ring;
static int ring_state;

static bool ring_ready(void)
{
    const char *env = getenv("XGRANTD_IO_URING");
    bool off = env && !strcmp(env, "0");
    int r = 0;

    if (ring_state)
        return ring_state > 0;
    if (off)
        xd_log("grant I/O: XGRANTD_IO_URING=0: one I/O at a time");
    else if ((r = io_uring_queue_init(GCORE_IO_WAVE, &ring,
                                      IORING_SETUP_SUBMIT_ALL)) < 0 &&
             (r = io_uring_queue_init(GCORE_IO_WAVE, &ring, 0)) < 0)
        xd_log("grant I/O: no io_uring (%s): one I/O at a time", strerror(-r));
    ring_state = off || r < 0 ? -1 : 1;
    return ring_state > 0;
}

/* Piece i into the ring, linked to the next when that is its element's;
 * false when it does not go: not a file opened O_DIRECT (page-cache I/O
 * is as fast one preadv at a time, and a tmpfs file's would go through
 * io_uring's worker threads), or no room (never: the ring holds a wave). */
static bool piece_queue(struct io_files *f, struct gcore_io_piece *p,
                        unsigned i, bool link_next)
{
    const struct iovec *iov = (const struct iovec *)p->iov;
    struct io_fd fd = {-1, -1};
    struct io_uring_sqe *sqe;

    if (files_get(f, p->file, p->dir, &fd) < 0 || fd.twin < 0 ||
        !(sqe = io_uring_get_sqe(&ring)))
        return false;
    fd.fd = fd_pick(fd, p->file_off, iov, p->niov);
    if (p->dir == GNTX_IO_READ)
        io_uring_prep_readv(sqe, fd.fd, iov, p->niov, p->file_off);
    else
        io_uring_prep_writev(sqe, fd.fd, iov, p->niov, p->file_off);
    io_uring_sqe_set_data64(sqe, i);
    if (link_next)
        sqe->flags |= IOSQE_IO_LINK;
    return true;
}

/* Waits for `n` completions, each into its piece's result. */
static void ring_reap(struct io_files *f, struct gcore_io_piece *p, unsigned n)
{
    while (n) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&ring, &cqe);

        if (r == -EINTR || r == -EAGAIN)
            continue;
        if (r < 0) { /* never with completions owed; returning now would */
            xd_log("grant I/O: io_uring wait: %s", strerror(-r));
            abort(); /* let bytes land after the call (a revoke) */
        }
        p[io_uring_cqe_get_data64(cqe)].res = cqe->res;
        f->moved |= cqe->res > 0;
        io_uring_cqe_seen(&ring, cqe);
        n--;
    }
}

/* The ring cannot be trusted any more: dropped (with every request that
 * did not go), the calls go one piece at a time from now on. */
static void ring_drop(int err)
{
    xd_log("grant I/O: io_uring submit: %s: one I/O at a time from now on",
           strerror(err));
    io_uring_queue_exit(&ring);
    ring_state = -1;
}

/* The core's submit hook (gcore.h's gcore_io_submit_fn): every piece of
 * the wave on an O_DIRECT file in one io_uring_submit, an element's
 * pieces linked (a short one cancels the rest).  What does not go, fails
 * or is cancelled the core asks io_fn for, in order, after the wave. */
static int io_submit(void *ctx, struct gcore_io_piece *p, unsigned n)
{
    struct io_files *f = ctx;
    unsigned queued = 0;
    bool gone = true; /* the piece before went into the ring */
    int r;

    if (f->moved && mono_ns() - f->start_ns > IO_CALL_NS)
        return -EAGAIN; /* this call's time is up: resumed in the next */
    for (unsigned i = 0; i < n; i++) {
        p[i].res = -ECANCELED; /* unless the ring moves it */
        if (p[i].link && !gone)
            continue; /* its element's piece before did not go */
        gone = piece_queue(f, &p[i], i, i + 1 < n && p[i + 1].link);
        queued += gone;
    }
    do
        r = io_uring_submit(&ring);
    while (r == -EINTR || r == -EAGAIN);
    ring_reap(f, p, r < 0 ? 0 : (unsigned)r);
    if (r < 0 || (unsigned)r < queued)
        ring_drop(r < 0 ? -r : EIO); /* what did not go must never go */
    return 0;
}

/* Does an element name a file opened O_DIRECT (one with a buffered
 * twin), whose I/O waits for the device?  Only then do the call's pieces
 * go to the ring together. */
static bool io_any_direct(struct io_files *f, const struct gntx_io *v,
                          unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint32_t file = v[i].file, slot = file & ~XGW_IO_FILE_REG;
        struct io_fd fd = {-1, -1};

        if (file & XGW_IO_FILE_REG) { /* checked when registered */
            if (slot < XGW_MAX_IO_FILES && f->c->io_file_twin[slot] > 0)
                return true;
        } else if (file < f->n && v[i].dir <= GNTX_IO_WRITE &&
                   files_get(f, file, v[i].dir, &fd) == 0 && fd.twin >= 0) {
            return true; /* checked now, as the core would (logged once) */
        }
    }
    return false;
}

long xd_io_run(struct xd_conn *c, const struct xd_rx *rx, struct gntx_io *v,
               unsigned n)
{
    struct io_files f = {
        .c = c, .fd = rx->fds, .n = (unsigned)rx->nfds, .start_ns = mono_ns()};
    long ret;

    f.batch = n > 1 && io_any_direct(&f, v, n) && ring_ready();
    ret = f.batch
              ? gcore_io_batch(xd.core, c->dom->id, v, n, io_fn, io_submit, &f)
              : gcore_io(xd.core, c->dom->id, v, n, io_fn, &f);

    for (unsigned i = 0; i < f.n; i++)
        if (f.twin[i] > 0)
            close(f.twin[i] - 1);
    return ret;
}

/* ---- registered files --------------------------------------------------- */

static void file_reply(struct xd_conn *c, const struct xgw_msg *h,
                       uint32_t file)
{
    struct xd_out *m = xd_out_new(h->op, h->seq, 0, sizeof(struct xgw_io_file));

    if (!m) {
        xd_reply_err(c, h, -ENOMEM);
        return;
    }
    *(struct xgw_io_file *)xd_out_payload(m) = (struct xgw_io_file){file, 0};
    xd_reply(c, m);
}

/* A free slot for fd, or -errno. */
static int file_slot(const struct xd_conn *c, int fd)
{
    if (c->dom->id != GNTX_DOMID_CONTROL && xd_fd_scarce(fd))
        return -ENOSPC; /* the last descriptors are domain 0's */
    for (unsigned i = 0; i < XGW_MAX_IO_FILES; i++)
        if (!c->io_file[i])
            return (int)i;
    return -ENOSPC;
}

void xd_io_file_register(struct xd_conn *c, struct xd_rx *rx)
{
    const char *why = NULL, *why_w = NULL;
    int slot, rc, r, w;

    if (rx->hdr.len != 0 || rx->nfds != 1) {
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    r = file_check(rx->fds[0], GNTX_IO_READ, &why);
    w = file_check(rx->fds[0], GNTX_IO_WRITE, &why_w);
    /* Refused for both: a file grant I/O cannot use at all. */
    rc = r < 0 && w < 0 ? r : file_slot(c, rx->fds[0]);
    if (rc < 0) {
        file_refused(c, "register", 0,
                     why && r < 0 && w < 0 ? why : "no room for another file");
        xd_reply_err(c, &rx->hdr, rc);
        return;
    }
    slot = rc;
    c->io_file[slot] = rx->fds[0] + 1; /* taken: rx_reset will not close it */
    c->io_file_twin[slot] = twin_open(rx->fds[0]) + 1;
    c->io_file_ok[slot][GNTX_IO_READ] = r + 1;
    c->io_file_ok[slot][GNTX_IO_WRITE] = w + 1;
    rx->nfds = 0;
    file_reply(c, &rx->hdr, XGW_IO_FILE_REG | (uint32_t)slot);
}

/* Drops registered slot `slot` (NULL-safe for a free one). */
static void file_close(struct xd_conn *c, unsigned slot)
{
    if (c->io_file[slot])
        close(c->io_file[slot] - 1);
    if (c->io_file_twin[slot])
        close(c->io_file_twin[slot] - 1);
    c->io_file[slot] = c->io_file_twin[slot] = 0;
}

void xd_io_file_unregister(struct xd_conn *c, struct xd_rx *rx)
{
    struct xgw_io_file req;
    uint32_t slot;

    if (rx->hdr.len != sizeof(req)) {
        xd_reply_err(c, &rx->hdr, -EINVAL);
        return;
    }
    memcpy(&req, rx->pay, sizeof(req));
    slot = req.file & ~XGW_IO_FILE_REG;
    if (!(req.file & XGW_IO_FILE_REG) || slot >= XGW_MAX_IO_FILES ||
        !c->io_file[slot]) {
        xd_reply_err(c, &rx->hdr, -EBADF);
        return;
    }
    file_close(c, slot);
    xd_reply_err(c, &rx->hdr, 0);
}

void xd_io_files_release(struct xd_conn *c)
{
    for (unsigned i = 0; i < XGW_MAX_IO_FILES; i++)
        file_close(c, i);
}
