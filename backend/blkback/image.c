/* SPDX-License-Identifier: MIT */
/*
 * image.c: a vbd's backing store, from the toolstack's `params` (a raw
 * file or a block device, optionally prefixed "aio:", "raw:" or "file:" as
 * libxl writes it for qdisk) and `mode` ("r": read-only).  Two descriptors
 * of it: a buffered one, and an O_DIRECT one when the filesystem allows
 * it (used for requests whose buffers and offsets meet its alignment).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "private.h"

static const char *strip_format(const char *params)
{
    static const char *const fmts[] = {"aio:", "raw:", "file:", "phy:"};
    unsigned i;

    for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
        if (!strncmp(params, fmts[i], strlen(fmts[i])))
            return params + strlen(fmts[i]);
    return params;
}

/* A block device's queue attribute from sysfs; 0 when unreadable. */
static unsigned long bdev_attr(dev_t rdev, const char *attr)
{
    char path[128];
    unsigned long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/%s", major(rdev),
             minor(rdev), attr);
    f = fopen(path, "r");
    if (!f)
        return 0;
    if (fscanf(f, "%lu", &v) != 1)
        v = 0;
    fclose(f);
    return v;
}

static int size_of(struct bb_image *img, const struct stat *st)
{
    uint64_t bytes = (uint64_t)st->st_size;
    int pbs = 0;

    if (img->bdev) {
        if (ioctl(img->fd, BLKGETSIZE64, &bytes) < 0)
            return -errno;
        if (ioctl(img->fd, BLKPBSZGET, &pbs) < 0 || pbs < 512)
            pbs = 512;
        img->phys_sect = (unsigned)pbs;
        img->discard_gran =
            (unsigned)bdev_attr(st->st_rdev, "discard_granularity");
        if (!bdev_attr(st->st_rdev, "discard_max_bytes"))
            img->discard = 0;
    } else {
        img->phys_sect = st->st_blksize >= 512 && st->st_blksize <= 4096
                             ? (unsigned)st->st_blksize
                             : 512;
        img->discard_gran = img->phys_sect;
    }
    if (!img->discard_gran)
        img->discard_gran = 512;
    img->sectors = bytes / BB_SECTOR;
    return 0;
}

/* O_DIRECT's alignment from statx (STATX_DIOALIGN), else 4 KiB to be
 * safe; no O_DIRECT descriptor when the filesystem refuses it. */
static void open_direct(struct bb_image *img, const char *path, int flags)
{
    struct statx sx;

    img->dfd = open(path, flags | O_DIRECT | O_CLOEXEC);
    if (img->dfd < 0)
        return;
    img->dio_mem = 4096;
    img->dio_off = 4096;
    if (statx(img->dfd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
        (sx.stx_mask & STATX_DIOALIGN)) {
        if (!sx.stx_dio_mem_align || !sx.stx_dio_offset_align) {
            close(img->dfd); /* the file does not do O_DIRECT */
            img->dfd = -1;
            return;
        }
        img->dio_mem = sx.stx_dio_mem_align;
        img->dio_off = sx.stx_dio_offset_align;
    }
}

int bb_image_open(struct bb_image *img, const char *params, const char *mode,
                  int direct, int discard, char *err, size_t len)
{
    const char *path = strip_format(params ? params : "");
    int flags, rc;
    struct stat st;

    memset(img, 0, sizeof(*img));
    img->fd = img->dfd = -1;
    if (!*path || strlen(path) >= sizeof(img->path)) {
        snprintf(err, len, "params: no image path");
        return -EINVAL;
    }
    snprintf(img->path, sizeof(img->path), "%s", path);
    img->readonly = mode && mode[0] == 'r';
    flags = img->readonly ? O_RDONLY : O_RDWR;
    img->fd = open(path, flags | O_CLOEXEC);
    if (img->fd < 0) {
        rc = -errno;
        snprintf(err, len, "params: cannot open %s: %s", path, strerror(-rc));
        return rc;
    }
    if (fstat(img->fd, &st) < 0 ||
        (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
        snprintf(err, len, "params: %s is not a file or block device", path);
        bb_image_close(img);
        return -EINVAL;
    }
    img->bdev = S_ISBLK(st.st_mode);
    img->discard = discard && !img->readonly;
    rc = size_of(img, &st);
    if (rc < 0) {
        snprintf(err, len, "params: size of %s: %s", path, strerror(-rc));
        bb_image_close(img);
        return rc;
    }
    if (img->readonly)
        img->info |= VDISK_READONLY;
    if (direct)
        open_direct(img, path, flags);
    return 0;
}

void bb_image_close(struct bb_image *img)
{
    if (!img)
        return;
    if (img->fd >= 0)
        close(img->fd);
    if (img->dfd >= 0)
        close(img->dfd);
    img->fd = img->dfd = -1;
}
