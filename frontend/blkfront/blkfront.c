/* SPDX-License-Identifier: MIT */
/*
 * blkfront.c: attaching to a vbd (xfe's handshake with blkif's keys, as
 * Linux's talk_to_blkback and blkfront_connect), what the backend offers,
 * and detaching.  The I/O path is io.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <xen/io/protocols.h>

#include "private.h"

void xgbf_log(struct xgbf *d, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xgblkfront: vbd %u: ", d->devid);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int xgbf_vdev_devid(const char *vdev, unsigned *devid)
{
    unsigned long v;
    char *end;
    int major, letter;

    if (!vdev || !*vdev)
        return -EINVAL;
    v = strtoul(vdev, &end, 10);
    if (*end == '\0' && vdev[0] >= '0' && vdev[0] <= '9') {
        if (v > 0xfffffffful)
            return -EINVAL;
        *devid = (unsigned)v;
        return 0;
    }
    /* xvdX: Xen's major 202, 16 minors a disk; hdX/sdX as libxl. */
    if (!strncmp(vdev, "xvd", 3))
        major = 202, vdev += 3;
    else if (!strncmp(vdev, "sd", 2))
        major = 8, vdev += 2;
    else if (!strncmp(vdev, "hd", 2))
        major = 3, vdev += 2;
    else
        return -EINVAL;
    if (vdev[0] < 'a' || vdev[0] > 'p' || vdev[1] != '\0')
        return -EINVAL;
    letter = vdev[0] - 'a';
    if (major == 3 && letter > 3)
        return -EINVAL;
    if (major == 3)
        *devid = (unsigned)((letter < 2 ? 3 : 22) << 8 | (letter & 1) << 6);
    else
        *devid = (unsigned)(major << 8 | letter << 4);
    return 0;
}

/* A backend key as a decimal number (digits only: "12abc" is malformed);
 * `def` when absent; -EPROTO, naming the key in err, when malformed. */
static int be_uint(struct xgbf *d, const char *key, unsigned long def,
                   unsigned long *out, char *err, size_t errlen)
{
    int rc = xfe_be_uint(d->fe, XBT_NULL, key, ULONG_MAX, out);

    if (rc == 0)
        *out = def;
    if (rc < 0 && !*err)
        snprintf(err, errlen, "backend key %s is not a decimal number", key);
    return rc < 0 ? rc : 0;
}

static int fe_publish(struct xfe_dev *fe, xs_transaction_t t)
{
    struct xgbf *d = xfe_priv(fe);
    unsigned long dlg = 0;
    int rc = grant_xenbus_write(xfe_xb(fe), t, xfe_dir(fe), "protocol",
                                XEN_IO_PROTO_ABI_NATIVE);

    /* Persistent grants only with standard grants (DRIVERS.md). */
    if (rc == 0)
        rc =
            grant_xenbus_write(xfe_xb(fe), t, xfe_dir(fe), "feature-persistent",
                               xfe_grant_ext(fe) ? "0" : "1");
    /* A backend with an I/O helper (xgrant-blkback --io-helper) delegates
     * each segment grant on: agreed, they carry DELEGATE too. */
    d->delegate = 0;
    if (rc == 0 && xfe_grant_ext(fe) &&
        xfe_be_uint(fe, t, "feature-grant-delegate", 1, &dlg) == 1 &&
        dlg == 1) {
        rc = grant_xenbus_write(xfe_xb(fe), t, xfe_dir(fe),
                                "feature-grant-delegate", "1");
        d->delegate = rc == 0;
    }
    return rc;
}

/* The backend's keys into *in: 0, or -EPROTO with the reason in err (for
 * the log and the frontend's `error` node). */
static int read_keys(struct xgbf *d, struct xgbf_info *in, char *err,
                     size_t errlen)
{
    unsigned long sectors, info, ssz, pssz, flush, barrier, disc, gran, align,
        secure, pers, ind;
    int rc = 0;

    err[0] = 0;
    /* sectors, info, sector-size: mandatory, as Linux's blkfront. */
    rc |= be_uint(d, "sectors", ULONG_MAX, &sectors, err, errlen);
    rc |= be_uint(d, "info", ULONG_MAX, &info, err, errlen);
    rc |= be_uint(d, "sector-size", ULONG_MAX, &ssz, err, errlen);
    if (rc == 0 &&
        (sectors == ULONG_MAX || info == ULONG_MAX || ssz == ULONG_MAX)) {
        snprintf(err, errlen,
                 "backend keys sectors, info and sector-size "
                 "are mandatory");
        return -EPROTO;
    }
    rc |= be_uint(d, "physical-sector-size", ssz, &pssz, err, errlen);
    rc |= be_uint(d, "feature-flush-cache", 0, &flush, err, errlen);
    rc |= be_uint(d, "feature-barrier", 0, &barrier, err, errlen);
    rc |= be_uint(d, "feature-discard", 0, &disc, err, errlen);
    rc |= be_uint(d, "discard-granularity", ssz, &gran, err, errlen);
    rc |= be_uint(d, "discard-alignment", 0, &align, err, errlen);
    rc |= be_uint(d, "discard-secure", 0, &secure, err, errlen);
    rc |= be_uint(d, "feature-persistent", 0, &pers, err, errlen);
    rc |= be_uint(d, "feature-max-indirect-segments", 0, &ind, err, errlen);
    if (rc)
        return -EPROTO;
    if (ssz < XGBF_SECT || ssz > 65536 || (ssz & (ssz - 1)) ||
        sectors > (UINT64_MAX >> 9) || gran > 0xffffffffull ||
        align > 0xffffffffull || pssz > 0xffffffffull || info > 0xffffffffull) {
        snprintf(err, errlen,
                 "backend keys out of range (sector-size %lu: a power of two "
                 "512..65536; sectors %lu; info %lu, 32 bits)",
                 ssz, sectors, info);
        return -EPROTO;
    }
    memset(in, 0, sizeof(*in));
    in->size = sectors * XGBF_SECT;
    in->sector_size = (unsigned)ssz;
    in->physical_sector_size = (unsigned)pssz;
    in->info = (unsigned)info;
    in->readonly = !!(info & VDISK_READONLY);
    in->flush = flush || barrier;
    /* FLUSH_DISKCACHE wins over WRITE_BARRIER, as in Linux's blkfront. */
    d->flush_op = flush ? BLKIF_OP_FLUSH_DISKCACHE : BLKIF_OP_WRITE_BARRIER;
    in->discard = !!disc;
    in->discard_granularity = (unsigned)gran;
    in->discard_alignment = (unsigned)align;
    in->discard_secure = !!secure;
    in->grant_ext = xfe_grant_ext(d->fe);
    in->persistent = !in->grant_ext && pers;
    in->nr_queues = xfe_nr_queues(d->fe);
    in->ring_size = xfe_queue(d->fe, 0)->ring[0].nr_ents;
    /* Indirect when it carries more than a direct request (Linux: > 11). */
    in->indirect = ind > BLKIF_MAX_SEGMENTS_PER_REQUEST;
    if (in->grant_ext) {
        in->max_segments = in->indirect
                               ? (unsigned)(ind < XGBF_MAX_IO / XGBF_EXT_SEG
                                                ? ind
                                                : XGBF_MAX_IO / XGBF_EXT_SEG)
                               : BLKIF_MAX_SEGMENTS_PER_REQUEST;
        in->max_io = in->max_segments * XGBF_EXT_SEG;
    } else {
        in->max_segments =
            in->indirect ? (unsigned)(ind < XGBF_MAX_SEGS ? ind : XGBF_MAX_SEGS)
                         : BLKIF_MAX_SEGMENTS_PER_REQUEST;
        in->max_io = in->max_segments * GRANT_PAGE_SIZE;
    }
    if (in->max_io > XGBF_MAX_IO)
        in->max_io = XGBF_MAX_IO;
    /* A request carries whole sectors: a sector larger than the biggest
     * request (65536 over 11 standard segments, 45056 bytes, without
     * indirect ones) could never be read or written. */
    if (in->max_io < in->sector_size) {
        snprintf(err, errlen,
                 "sector-size %u exceeds the largest request, %u bytes (%u "
                 "segments of %u; the backend offers %lu indirect segments)",
                 in->sector_size, in->max_io, in->max_segments,
                 in->grant_ext ? XGBF_EXT_SEG : GRANT_PAGE_SIZE, ind);
        return -EPROTO;
    }
    in->max_io -= in->max_io % in->sector_size;
    return 0;
}

static int fe_connect(struct xfe_dev *fe)
{
    struct xgbf *d = xfe_priv(fe);
    unsigned reconnects = d->info.reconnects;
    char err[160];
    int rc;

    d->fe = fe; /* set before xfe_attach returns */
    rc = read_keys(d, &d->info, err + 3, sizeof(err) - 3);
    d->info.reconnects = reconnects;
    if (rc < 0) {
        xgbf_log(d, "%s", err + 3);
        memcpy(err, "71 ", 3); /* EPROTO, as xenbus_dev_fatal writes it */
        grant_xenbus_write(d->xb, XBT_NULL, xfe_dir(fe), "error", err);
        return rc;
    }
    rc = xgbf_io_connect(d);
    if (rc == 0)
        d->connected = 1;
    return rc;
}

static void fe_disconnect(struct xfe_dev *fe)
{
    struct xgbf *d = xfe_priv(fe);

    xgbf_io_disconnect(d);
    d->connected = 0;
}

static int epoll_add(int epfd, int fd)
{
    struct epoll_event ev = {.events = EPOLLIN};

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void set_ops(struct xgbf *d, const struct xgbf_opts *o)
{
    if (o)
        d->opts = *o;
    if (!d->opts.max_queues || d->opts.max_queues > XFE_MAX_QUEUES)
        d->opts.max_queues = d->opts.max_queues ? XFE_MAX_QUEUES : 4;
    if (!d->opts.max_ring_order || d->opts.max_ring_order > XFE_MAX_RING_ORDER)
        d->opts.max_ring_order = XFE_MAX_RING_ORDER;
    if (d->opts.timeout_ms <= 0)
        d->opts.timeout_ms = 10000;
    d->ops.kind = "vbd";
    d->ops.nr_rings = 1;
    d->ops.ring[0].ref_key = "ring-ref";
    d->ops.ring[0].ent_size = sizeof(union blkif_sring_entry);
    d->ops.ring[0].multi_page = 1;
    d->ops.max_ring_order = d->opts.max_ring_order;
    d->ops.max_queues = d->opts.max_queues;
    d->ops.grant_ext = !d->opts.no_grant_ext;
    d->ops.publish = fe_publish;
    d->ops.connect = fe_connect;
    d->ops.disconnect = fe_disconnect;
}

int xgbf_open(struct xgbf **out, unsigned devid, const struct xgbf_opts *opts)
{
    struct xgbf *d = calloc(1, sizeof(*d));
    unsigned q;
    int rc;

    *out = NULL;
    if (!d)
        return -ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    d->devid = devid;
    d->epfd = -1;
    d->recover_tail = &d->recover;
    d->done_tail = &d->done;
    for (q = 0; q < XFE_MAX_QUEUES; q++)
        d->pool_v1[q].kind = XGBF_POOL_V1;
    d->pool_v1_ro.kind = XGBF_POOL_V1_RO;
    d->pool_v1_ind.kind = XGBF_POOL_V1;
    d->pool_ext_ro.kind = XGBF_POOL_EXT_RO;
    set_ops(d, opts);
    rc = grant_open(&d->h, 0);
    if (rc == 0)
        rc = grant_xenbus_open(&d->xb, 0);
    if (rc == 0) {
        rc = xfe_attach(&d->fe, &d->ops, d->h, d->xb, devid, d->opts.timeout_ms,
                        d);
        if (rc < 0)
            d->fe = NULL; /* fe_connect may have set it: freed now */
    }
    if (rc == 0) {
        d->epfd = epoll_create1(EPOLL_CLOEXEC);
        rc = d->epfd < 0 ? -errno : 0;
    }
    if (rc == 0)
        rc = grant_xenbus_watch(d->xb, xfe_be_dir(d->fe), "xgbf");
    if (rc == 0)
        rc = epoll_add(d->epfd, grant_xenbus_fd(d->xb));
    if (rc == 0) {
        int efd = grant_evtchn_pending_fd(d->h);

        rc = efd < 0 ? efd : epoll_add(d->epfd, efd);
    }
    if (rc < 0) {
        xgbf_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

void xgbf_close(struct xgbf *d)
{
    unsigned q;

    if (!d)
        return;
    if (d->fe)
        xfe_detach(d->fe, d->opts.timeout_ms);
    xgbf_io_fail_all(d, -ECANCELED);
    xgbf_io_destroy(d);
    for (q = 0; q < XFE_MAX_QUEUES; q++)
        xgbf_pool_destroy(d, &d->pool_v1[q]);
    xgbf_pool_destroy(d, &d->pool_v1_ro);
    xgbf_pool_destroy(d, &d->pool_v1_ind);
    xgbf_pool_destroy(d, &d->pool_ext_ro);
    if (d->epfd >= 0)
        close(d->epfd);
    grant_xenbus_close(d->xb);
    grant_close(d->h);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

int xgbf_get_info(struct xgbf *d, struct xgbf_info *info)
{
    pthread_mutex_lock(&d->lock);
    *info = d->info;
    pthread_mutex_unlock(&d->lock);
    return d->broken;
}

int xgbf_fd(struct xgbf *d)
{
    return d->epfd;
}

int xgbf_buf_alloc(struct xgbf *d, size_t len, void **buf)
{
    int rc;

    if (!len)
        return -EINVAL;
    pthread_mutex_lock(&d->lock);
    rc = grant_mem_alloc(d->h, (len + GRANT_PAGE_SIZE - 1) / GRANT_PAGE_SIZE,
                         buf);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int xgbf_buf_free(struct xgbf *d, void *buf)
{
    int rc;

    pthread_mutex_lock(&d->lock);
    rc = grant_mem_free(d->h, buf);
    pthread_mutex_unlock(&d->lock);
    return rc;
}
