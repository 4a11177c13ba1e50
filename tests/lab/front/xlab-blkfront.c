/* SPDX-License-Identifier: MIT */
/*
 * xlab-blkfront: xgrant's blkfront library (libxgblkfront) in the lab's PV
 * guest, for drv-dom0.sh's xgrant-frontend cases.
 *   xlab-blkfront [--no-grant-ext] VDEV WFILE ROFF RLEN RFILE
 * attaches to the guest's vbd VDEV (the kernel's xen-blkfront kept off it),
 * prints one line of what was negotiated, writes WFILE at offset 0 (whole
 * sectors), flushes, reads RLEN bytes at ROFF into RFILE, detaches.
 * Exit 0 when every step worked; 1 with the failing step on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xgblkfront.h"

#define CHUNK (1u << 20)

static int fail(const char *what, int rc)
{
    fprintf(stderr, "xlab-blkfront: %s: %s\n", what, strerror(-rc));
    return 1;
}

/* Copies the file to the disk at 0, CHUNK at a time; -errno. */
static int put(struct xgbf *d, void *buf, const char *path)
{
    int fd = open(path, O_RDONLY), rc = fd < 0 ? -errno : 0;
    uint64_t off = 0;
    ssize_t n;

    while (rc == 0 && (n = read(fd, buf, CHUNK)) > 0) {
        rc = xgbf_pwrite(d, buf, (size_t)n, off);
        off += (uint64_t)n;
    }
    if (rc == 0 && n < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    return rc == 0 ? xgbf_flush(d) : rc;
}

/* Reads len bytes at off into the file; -errno. */
static int get(struct xgbf *d, void *buf, uint64_t off, uint64_t len,
               const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644),
        rc = fd < 0 ? -errno : 0;
    size_t n;

    while (rc == 0 && len) {
        n = len < CHUNK ? (size_t)len : CHUNK;
        rc = xgbf_pread(d, buf, n, off);
        if (rc == 0 && write(fd, buf, n) != (ssize_t)n)
            rc = -EIO;
        off += n;
        len -= n;
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

int main(int argc, char **argv)
{
    struct xgbf_opts o = {0};
    struct xgbf_info i;
    struct xgbf *d = NULL;
    unsigned devid;
    void *buf = NULL;
    int a = 1, rc;

    if (argc > 1 && !strcmp(argv[1], "--no-grant-ext")) {
        o.no_grant_ext = 1;
        a++;
    }
    if (argc - a != 5) {
        fprintf(stderr, "usage: xlab-blkfront [--no-grant-ext] VDEV WFILE "
                        "ROFF RLEN RFILE\n");
        return 2;
    }
    rc = xgbf_vdev_devid(argv[a], &devid);
    if (rc < 0)
        return fail(argv[a], rc);
    setenv("XGRANT_TRANSPORT", "xen", 1);
    rc = xgbf_open(&d, devid, &o);
    if (rc < 0)
        return fail("xgbf_open", rc);
    rc = xgbf_get_info(d, &i);
    if (rc == 0)
        printf("grant_ext %d persistent %d indirect %d max_segments %u "
               "queues %u ring %u size %llu flush %d\n",
               i.grant_ext, i.persistent, i.indirect, i.max_segments,
               i.nr_queues, i.ring_size, (unsigned long long)i.size, i.flush);
    fflush(stdout);
    if (rc == 0)
        rc = xgbf_buf_alloc(d, CHUNK, &buf);
    if (rc == 0 && (rc = put(d, buf, argv[a + 1])) < 0)
        fail("write", rc);
    else if (rc == 0 &&
             (rc = get(d, buf, strtoull(argv[a + 2], NULL, 0),
                       strtoull(argv[a + 3], NULL, 0), argv[a + 4])) < 0)
        fail("read", rc);
    else if (rc < 0)
        fail("xgbf_get_info/buf_alloc", rc);
    if (buf)
        xgbf_buf_free(d, buf);
    xgbf_close(d);
    return rc < 0;
}
