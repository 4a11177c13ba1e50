/* SPDX-License-Identifier: MIT */
/*
 * nbdkit-xgrant-plugin: exports this domain's vbd over NBD, through
 * libxgblkfront, so that real clients (qemu-img, nbdcopy, nbdinfo, fio's
 * nbd engine) read and write the guest's disk through xgrant:
 *
 *   nbdkit -U /path/sock nbdkit-xgrant-plugin.so vdev=xvda
 *   nbdkit -U /path/sock nbdkit-xgrant-plugin.so devid=51712 timeout=30
 *
 * Parameters: `vdev` (xvda, sdb, hda, or a decimal devid; also the magic
 * first parameter) or `devid`; `timeout` (seconds to wait for the device
 * and each handshake step; 30).  Parallel thread model: each nbdkit
 * thread's request goes to the shared rings at once, as many in flight as
 * the rings hold.  Every connection sees the one device (can_multi_conn);
 * writes are FUA by flush.  Requests not aligned to the sector size are
 * read (and for writes read-modified-written under one lock) a sector
 * around.  The device opens after nbdkit forks (libgrant handles do not
 * survive a fork).
 */
#define NBDKIT_API_VERSION 2
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nbdkit-plugin.h>

#include "xgblkfront.h"

#define THREAD_MODEL NBDKIT_THREAD_MODEL_PARALLEL

static unsigned devid;
static int have_devid;
static unsigned timeout_s = 30;
static struct xgbf *dev;
static struct xgbf_info info;

static int xg_config(const char *key, const char *value)
{
    int rc;

    if (!strcmp(key, "vdev") || !strcmp(key, "devid")) {
        rc = xgbf_vdev_devid(value, &devid);
        if (rc < 0) {
            nbdkit_error("xgrant: %s=%s: not a vdev name (xvda, sdb, hda) "
                         "nor a devid",
                         key, value);
            return -1;
        }
        have_devid = 1;
        return 0;
    }
    if (!strcmp(key, "timeout"))
        return nbdkit_parse_unsigned("timeout", value, &timeout_s);
    nbdkit_error("xgrant: unknown parameter '%s'", key);
    return -1;
}

static int xg_config_complete(void)
{
    if (!have_devid) {
        nbdkit_error("xgrant: say which disk: vdev=xvda (or devid=N)");
        return -1;
    }
    return 0;
}

/* The toolstack may still be writing the device: wait for it. */
static int xg_after_fork(void)
{
    struct xgbf_opts o = {.timeout_ms = (int)timeout_s * 1000};
    struct timespec start, now;
    int rc;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        rc = xgbf_open(&dev, devid, &o);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (rc != -ENOENT || now.tv_sec - start.tv_sec >= (time_t)timeout_s)
            break;
        usleep(20000);
    }
    if (rc < 0) {
        nbdkit_error("xgrant: vbd %u: attach failed: %s", devid, strerror(-rc));
        return -1;
    }
    xgbf_get_info(dev, &info);
    nbdkit_debug("xgrant: vbd %u: %llu bytes, %u queue(s) of %u, max_io %u, "
                 "%s grants",
                 devid, (unsigned long long)info.size, info.nr_queues,
                 info.ring_size, info.max_io,
                 info.grant_ext ? "byte-exact" : "standard");
    return 0;
}

static void xg_unload(void)
{
    xgbf_close(dev);
    dev = NULL;
}

static void *xg_open(int readonly)
{
    (void)readonly;
    return dev;
}

static int64_t xg_get_size(void *h)
{
    struct xgbf_info in;

    xgbf_get_info(h, &in);
    return (int64_t)in.size;
}

static int xg_block_size(void *h, uint32_t *minimum, uint32_t *preferred,
                         uint32_t *maximum)
{
    (void)h;
    *minimum = info.sector_size;
    *preferred = info.sector_size > 4096 ? info.sector_size : 4096;
    *maximum = 0xffffffffu;
    return 0;
}

static int xg_can_write(void *h)
{
    (void)h;
    return !info.readonly;
}

static int xg_can_flush(void *h)
{
    (void)h;
    return info.flush;
}

static int xg_can_trim(void *h)
{
    (void)h;
    return info.discard && !info.readonly;
}

static int xg_can_fua(void *h)
{
    (void)h;
    return info.flush ? NBDKIT_FUA_EMULATE : NBDKIT_FUA_NONE;
}

static int xg_can_multi_conn(void *h)
{
    (void)h;
    return 1; /* one device, one cache: a flush covers every connection */
}

static int fail(const char *what, int rc)
{
    nbdkit_error("xgrant: %s: %s", what, strerror(-rc));
    nbdkit_set_error(-rc);
    return -1;
}

/* Clients honour the advertised minimum block size (libnbd checks it,
 * qemu aligns): anything else is refused, naming the rule. */
static int misaligned(uint64_t off, uint32_t count)
{
    if (off % info.sector_size == 0 && count % info.sector_size == 0)
        return 0;
    nbdkit_error("xgrant: %u bytes at %llu: not aligned to the %u-byte "
                 "sector (the advertised minimum block size)",
                 count, (unsigned long long)off, info.sector_size);
    nbdkit_set_error(EINVAL);
    return 1;
}

static int xg_pread(void *h, void *buf, uint32_t count, uint64_t offset,
                    uint32_t flags)
{
    int rc;

    (void)flags;
    if (misaligned(offset, count))
        return -1;
    rc = xgbf_pread(h, buf, count, offset);
    return rc < 0 ? fail("read", rc) : 0;
}

static int xg_flush(void *h, uint32_t flags)
{
    int rc;

    (void)flags;
    rc = xgbf_flush(h);
    return rc < 0 ? fail("flush", rc) : 0;
}

static int xg_pwrite(void *h, const void *buf, uint32_t count, uint64_t offset,
                     uint32_t flags)
{
    int rc;

    if (misaligned(offset, count))
        return -1;
    rc = xgbf_pwrite(h, buf, count, offset);
    if (rc < 0)
        return fail("write", rc);
    return flags & NBDKIT_FLAG_FUA ? xg_flush(h, 0) : 0;
}

/* Trim is advisory: only the whole sectors inside the range go. */
static int xg_trim(void *h, uint32_t count, uint64_t offset, uint32_t flags)
{
    uint64_t ss = info.sector_size;
    uint64_t start = (offset + ss - 1) / ss * ss,
             end = (offset + count) / ss * ss;
    int rc = 0;

    if (end > start)
        rc = xgbf_discard(h, start, end - start);
    if (rc < 0 && rc != -EOPNOTSUPP)
        return fail("trim", rc);
    return flags & NBDKIT_FLAG_FUA ? xg_flush(h, 0) : 0;
}

static struct nbdkit_plugin plugin = {
    .name = "xgrant",
    .longname = "xgrant blkfront: this domain's vbd through xgrant grants",
    .version = "1.0",
    .description = "Exports this domain's Xen-style vbd (blkif over xgrant)",
    .config = xg_config,
    .config_complete = xg_config_complete,
    .config_help = "vdev=<NAME|DEVID>  (required) the disk: xvda, sdb, hda, "
                   "or a devid\n"
                   "timeout=<SECS>     wait for the device and its backend "
                   "(30)",
    .magic_config_key = "vdev",
    .after_fork = xg_after_fork,
    .unload = xg_unload,
    .open = xg_open,
    .get_size = xg_get_size,
    .block_size = xg_block_size,
    .can_write = xg_can_write,
    .can_flush = xg_can_flush,
    .can_trim = xg_can_trim,
    .can_fua = xg_can_fua,
    .can_multi_conn = xg_can_multi_conn,
    .pread = xg_pread,
    .pwrite = xg_pwrite,
    .flush = xg_flush,
    .trim = xg_trim,
    .errno_is_preserved = 0,
};

NBDKIT_REGISTER_PLUGIN(plugin)
