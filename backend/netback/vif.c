/* SPDX-License-Identifier: MIT */
/*
 * vif.c: a vif's life on the bus (xbe), in Linux netback's order.
 *
 *  probe (before InitWait): the TAP `vif<domid>.<devid>` (or the
 *      toolstack's `vifname`) is made with its first queue, given the
 *      backend's `mtu`, put on the backend's `bridge` when there is one and
 *      brought up with no carrier; the features are written: feature-sg,
 *      -gso-tcpv4, -gso-tcpv6, -ipv6-csum-offload, -rx-copy, -rx-flip = 0,
 *      -split-event-channels (multi-queue-max-queues and feature-grant-ext
 *      are the framework's).  Under xgrantd, where no hotplug script runs,
 *      hotplug-status = connected too.
 *  connect (frontend Connected, rings mapped): the frontend's keys:
 *      request-rx-copy must be 1; feature-rx-notify, -sg, -gso-tcpv4/v6,
 *      -no-csum-offload, -ipv6-csum-offload; `mac` if present must be one;
 *      the backend's `rate` ("bytes,microseconds" as libxl writes xl's
 *      rate=); a TAP queue per ring queue, the TAP's offloads set to what
 *      the frontend takes, carrier on.
 *  disconnect: counters written, the extra TAP queues closed, no carrier.
 *  remove: the TAP goes (its last descriptor closed).
 * Counters go to statistics/ in the backend directory, at most once a
 * second when they changed, and at disconnect.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"
#include "tools/common/xgt.h"

const char *const nb_stat_name[NB_STAT_MAX] = {
    [NB_RX_PACKETS] = "rx_packets",
    [NB_RX_BYTES] = "rx_bytes",
    [NB_TX_PACKETS] = "tx_packets",
    [NB_TX_BYTES] = "tx_bytes",
    [NB_DROP_RX_RUNT] = "drop_rx_runt",
    [NB_DROP_RX_OVERSIZE] = "drop_rx_oversize",
    [NB_DROP_RX_SLOTS] = "drop_rx_slots",
    [NB_DROP_RX_BAD_SLOT] = "drop_rx_bad_slot",
    [NB_DROP_RX_ZERO_FRAG] = "drop_rx_zero_frag",
    [NB_DROP_RX_BAD_EXTRA] = "drop_rx_bad_extra",
    [NB_DROP_RX_COPY] = "drop_rx_copy",
    [NB_DROP_RX_CSUM] = "drop_rx_csum",
    [NB_DROP_RX_TAP] = "drop_rx_tap",
    [NB_DROP_TX_NO_BUFFER] = "drop_tx_no_buffer",
    [NB_DROP_TX_TOO_BIG] = "drop_tx_too_big",
    [NB_DROP_TX_COPY] = "drop_tx_copy",
    [NB_DROP_TX_BAD_VNET] = "drop_tx_bad_vnet",
};

static struct nb *bus_nb(struct xbe_dev *d)
{
    return xbe_priv(xbe_dev_bus(d));
}

/* ---- Counters and the log ------------------------------------------------ */

void nb_vif_flush_stats(struct nb_vif *v, int force)
{
    grant_xenbus_t *xb = v->nb->xb;
    uint64_t now = nb_now_ms();
    unsigned i;

    if (!force && now - v->st_flush_ms < v->nb->opt.stats_ms)
        return;
    v->st_flush_ms = now;
    for (i = 0; i < NB_STAT_MAX && v->st_ever; i++)
        if (v->st[i] != v->st_written[i])
            break;
    if (i == NB_STAT_MAX)
        return; /* nothing changed */
    /* A directory the toolstack removed is not written back into being
     * (the check and the writes are one transaction). */
    if (xbe_stats_write(xb, xbe_dev_dir(v->d), nb_stat_name, v->st,
                        v->st_written, NB_STAT_MAX, !v->st_ever) < 0)
        return;
    for (i = 0; i < NB_STAT_MAX; i++)
        v->st_written[i] = v->st[i];
    v->st_ever = 1;
}

void nb_vif_drop(struct nb_vif *v, enum nb_stat why, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    v->st[why]++;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    nb_vif_log(v, "%s: %s", nb_stat_name[why], msg);
}

/* ---- Reading keys -------------------------------------------------------- */

/* A frontend feature flag: absent is 0, anything but 0/1 an error. */
static int fe_flag(struct xbe_dev *d, const char *key, int *out)
{
    unsigned long v = 0;
    int rc = xbe_read_uint(bus_nb(d)->xb, xbe_dev_fe_dir(d), key, 1, &v);

    if (rc < 0)
        return xbe_fatal(d, -EINVAL, "%s/%s: not 0 or 1", xbe_dev_fe_dir(d),
                         key);
    *out = (int)v;
    return 0;
}

/* rate = "bytes,microseconds" (libxl's form of xl's rate=), both decimal
 * digits only (xgt_parse_uint), neither 0. */
static int parse_rate(char *s, unsigned long *b, unsigned long *us)
{
    char *comma = strchr(s, ',');
    int rc;

    if (!comma)
        return -EINVAL;
    *comma = '\0';
    rc = xgt_parse_uint(s, 1, ULONG_MAX / 1000, b, NULL, 0) < 0 ||
                 xgt_parse_uint(comma + 1, 1, ULONG_MAX, us, NULL, 0) < 0
             ? -EINVAL
             : 0;
    *comma = ',';
    return rc;
}

static void read_rate(struct nb_vif *v)
{
    char *s = NULL;
    unsigned long b, us;

    v->credit_bytes = v->credit_us = 0;
    if (grant_xenbus_read(v->nb->xb, XBT_NULL, xbe_dev_dir(v->d), "rate", &s,
                          NULL) < 0)
        return;
    if (parse_rate(s, &b, &us) < 0) {
        nb_log("%s: rate '%s' is not \"bytes,microseconds\": no limit",
               v->ifname, s);
    } else if (us < 1000) { /* periods of a millisecond at least */
        v->credit_bytes = b * 1000u / us;
        v->credit_us = 1000;
    } else {
        v->credit_bytes = b;
        v->credit_us = us;
    }
    v->remaining = v->credit_bytes;
    v->next_credit_ms = 0;
    free(s);
}

/* ---- Probe --------------------------------------------------------------- */

static int name_ok(const char *s)
{
    size_t i, n = strlen(s);

    for (i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    "0123456789._-",
                    s[i]))
            return 0;
    return n > 0 && n < IFNAMSIZ;
}

static struct nb_vif *vif_new(struct nb *nb, struct xbe_dev *d)
{
    struct nb_vif *v = calloc(1, sizeof(*v)), **vs;
    char *name = NULL;
    unsigned i;

    if (!v)
        return NULL;
    if (nb->nr_vifs == nb->cap_vifs) {
        vs = reallocarray(nb->vifs, nb->cap_vifs * 2 + 8, sizeof(*vs));
        if (!vs) {
            free(v);
            return NULL;
        }
        nb->vifs = vs;
        nb->cap_vifs = nb->cap_vifs * 2 + 8;
    }
    v->nb = nb;
    v->d = d;
    for (i = 0; i < XBE_MAX_QUEUES; i++) {
        v->tap[i] = -1;
        v->q[i].vif = v;
        v->q[i].idx = i;
        v->q[i].src_tap.kind = NB_SRC_TAP;
        v->q[i].src_tap.obj = &v->q[i];
    }
    grant_xenbus_read(nb->xb, XBT_NULL, xbe_dev_dir(d), "vifname", &name, NULL);
    if (name && name_ok(name))
        snprintf(v->ifname, sizeof(v->ifname), "%s", name);
    else
        snprintf(v->ifname, sizeof(v->ifname), "vif%u.%u", xbe_dev_fe_id(d),
                 xbe_dev_devid(d));
    free(name);
    nb->vifs[nb->nr_vifs++] = v;
    xbe_dev_set_priv(d, v);
    return v;
}

/* The TAP, once per vif (probe may run again: a transaction retried, a
 * frontend back from Closed). */
static int tap_up(struct nb_vif *v)
{
    char *bridge = NULL, err[64];
    unsigned long mtu = 0;
    int rc;

    if (v->tap[0] >= 0)
        return 0;
    /* A fresh device only: opening a queue on an existing multi-queue TAP
     * (another vif's, a vifname given twice) would join the two. */
    if (if_nametoindex(v->ifname))
        return xbe_fatal(v->d, -EEXIST,
                         "creating the TAP: an interface %s exists already",
                         v->ifname);
    rc = nb_tap_open(v->ifname, &v->tap[0]);
    if (rc < 0)
        return xbe_fatal(v->d, rc, "creating the TAP %s: %s", v->ifname,
                         strerror(-rc));
    v->nr_q = 1;
    nb_tap_carrier(v->tap[0], 0);
    grant_xenbus_read(v->nb->xb, XBT_NULL, xbe_dev_dir(v->d), "bridge", &bridge,
                      NULL);
    if (xbe_read_uint(v->nb->xb, xbe_dev_dir(v->d), "mtu", 65535, &mtu) < 0)
        nb_log("%s: mtu is not a number: left as it is", v->ifname);
    rc = nb_tap_setup(v->ifname, bridge, (unsigned)mtu, err, sizeof(err));
    if (rc < 0)
        nb_log("%s: %s: %s (the vif stays up without it)", v->ifname,
               err[0] ? err : "setup", strerror(-rc));
    else
        nb_log("%s: up%s%s", v->ifname, bridge && *bridge ? " on bridge " : "",
               bridge && *bridge ? bridge : "");
    free(bridge);
    return 0;
}

static int nb_probe(struct xbe_dev *d, xs_transaction_t t)
{
    static const char *const on[] = {
        "feature-sg",        "feature-gso-tcpv4",
        "feature-gso-tcpv6", "feature-ipv6-csum-offload",
        "feature-rx-copy",   "feature-split-event-channels",
    };
    struct nb *nb = bus_nb(d);
    struct nb_vif *v = xbe_dev_priv(d);
    const char *dir = xbe_dev_dir(d);
    unsigned i;
    int rc;

    if (!v && !(v = vif_new(nb, d)))
        return -ENOMEM;
    rc = tap_up(v);
    if (rc < 0)
        return rc;
    for (i = 0; rc == 0 && i < sizeof(on) / sizeof(on[0]); i++)
        rc = grant_xenbus_write(nb->xb, t, dir, on[i], "1");
    if (rc == 0)
        rc = grant_xenbus_write(nb->xb, t, dir, "feature-rx-flip", "0");
    if (rc == 0)
        rc = grant_xenbus_write(nb->xb, t, dir, "feature-grant-ext-rx-map",
                                nb->opt.no_rx_map ? "0" : "1");
    if (rc == 0)
        rc = grant_xenbus_write(nb->xb, t, dir, "feature-grant-ext-tx-map",
                                nb->opt.no_tx_map ? "0" : "1");
    if (rc == 0 && !nb->xen)
        rc = grant_xenbus_write(nb->xb, t, dir, "hotplug-status", "connected");
    return rc;
}

/* ---- Connect and disconnect ---------------------------------------------- */

/* grant-ext-<dir>-buffer-size: *len, a page unless said; 0 or the
 * device's fatal error. */
static int buf_size(struct xbe_dev *d, const char *key, unsigned *len)
{
    unsigned long b = NB_PAGE;
    int rc =
        xbe_read_uint(bus_nb(d)->xb, xbe_dev_fe_dir(d), key, NB_RX_BUF_MAX, &b);

    if (rc < 0 || b < NB_PAGE || b % NB_PAGE)
        return xbe_fatal(d, -EINVAL, "%s/%s: not a multiple of %u up to %u",
                         xbe_dev_fe_dir(d), key, NB_PAGE, NB_RX_BUF_MAX);
    *len = (unsigned)b;
    return 0;
}

/* The mapped buffers with extension grants: rx
 * (feature-grant-ext-rx-map, the posted rx buffers granted WRITE|MAP) and
 * tx (feature-grant-ext-tx-map: the tx buffers, grant-ext-tx-buffer-size
 * bytes each, granted READ|MAP for good; a request names one at offset
 * 0). */
static int read_maps(struct xbe_dev *d, struct nb_vif *v)
{
    if (fe_flag(d, "feature-grant-ext-rx-map", &v->rxm.on) < 0 ||
        fe_flag(d, "feature-grant-ext-tx-map", &v->txm.on) < 0)
        return -EINVAL;
    v->rxm.on = v->rxm.on && !v->nb->opt.no_rx_map;
    v->rxm.len = v->rx_buf;
    v->rxm.flags = 0;
    v->txm.on = v->txm.on && !v->nb->opt.no_tx_map;
    v->txm.flags = GRANT_MAP_RDONLY;
    return v->txm.on ? buf_size(d, "grant-ext-tx-buffer-size", &v->txm.len) : 0;
}

static int read_features(struct xbe_dev *d, struct nb_vif *v)
{
    int copy = 0, nocsum = 0;
    char *mac = NULL;
    uint8_t m[6];

    if (fe_flag(d, "request-rx-copy", &copy) < 0 ||
        fe_flag(d, "feature-rx-notify", &v->rx_notify) < 0 ||
        fe_flag(d, "feature-sg", &v->sg) < 0 ||
        fe_flag(d, "feature-gso-tcpv4", &v->gso4) < 0 ||
        fe_flag(d, "feature-gso-tcpv6", &v->gso6) < 0 ||
        fe_flag(d, "feature-no-csum-offload", &nocsum) < 0 ||
        fe_flag(d, "feature-ipv6-csum-offload", &v->csum6) < 0)
        return -EINVAL;
    if (!copy)
        return xbe_fatal(d, -EOPNOTSUPP,
                         "%s/request-rx-copy: must be 1 (receive-copy is "
                         "the only receive path)",
                         xbe_dev_fe_dir(d));
    /* With extension grants the frontend may post rx buffers larger than
     * a page: a 64 KiB packet then takes 5 slots, not 17. */
    v->rx_buf = NB_PAGE;
    if (xbe_dev_grant_ext(d) &&
        (buf_size(d, "grant-ext-rx-buffer-size", &v->rx_buf) < 0 ||
         read_maps(d, v) < 0))
        return -EINVAL;
    v->csum = !nocsum;
    v->csum6 = v->csum6 && v->csum;
    /* GSO needs scatter-gather (a packet of many pages) and checksums. */
    v->gso4 = v->gso4 && v->sg && v->csum;
    v->gso6 = v->gso6 && v->sg && v->csum6;
    if (grant_xenbus_read(v->nb->xb, XBT_NULL, xbe_dev_fe_dir(d), "mac", &mac,
                          NULL) == 0 &&
        xgt_parse_mac(mac, m) < 0) {
        free(mac);
        return xbe_fatal(d, -EINVAL, "%s/mac: not a MAC address",
                         xbe_dev_fe_dir(d));
    }
    free(mac);
    return 0;
}

static int queue_up(struct nb_vif *v, unsigned i)
{
    struct xbe_queue *xq = xbe_dev_queue(v->d, i);
    struct nb_queue *q = &v->q[i];
    int rc;

    if (!xq)
        return -ENOTCONN;
    if (v->tap[i] < 0) {
        rc = nb_tap_open(v->ifname, &v->tap[i]);
        if (rc < 0)
            return xbe_fatal(v->d, rc, "TAP queue %u of %s: %s", i, v->ifname,
                             strerror(-rc));
        v->nr_q = i + 1;
    }
    q->tx = &xq->ring[0];
    q->rx = &xq->ring[1];
    q->port_tx = xq->port[0];
    q->port_rx = xq->port[xq->nr_ports > 1 ? 1 : 0];
    q->rxq_size = q->rx->nr_ents;
    q->rxq = calloc(q->rxq_size, sizeof(*q->rxq));
    if (!q->rxq)
        return -ENOMEM;
    memset(&q->cur, 0, sizeof(q->cur));
    q->work = 1; /* the frontend may have posted already */
    /* (A queue left holding stays in the set, disarmed: re-armed.) */
    rc = nb_epoll_set(v->nb, v->tap[i], &q->src_tap, 1, q->tap_reg ? 0 : 1);
    q->tap_reg = q->tap_armed = rc == 0;
    return rc;
}

static int nb_connect(struct xbe_dev *d, xs_transaction_t t)
{
    struct nb_vif *v = xbe_dev_priv(d);
    unsigned i, nq = xbe_dev_nr_queues(d), off;
    int rc;

    (void)t;
    if (!v)
        return -ENODEV;
    if (v->connected)
        return 0; /* the transaction is being retried */
    rc = read_features(d, v);
    if (rc < 0)
        return rc;
    read_rate(v);
    for (i = 0; i < nq; i++) {
        rc = queue_up(v, i);
        if (rc < 0)
            return rc;
    }
    off = TUN_F_CSUM | (v->gso4 ? TUN_F_TSO4 : 0) | (v->gso6 ? TUN_F_TSO6 : 0);
    rc = nb_tap_offload(v->tap[0], off);
    if (rc < 0)
        nb_log("%s: TAP offloads: %s", v->ifname, strerror(-rc));
    nb_tap_carrier(v->tap[0], 1);
    v->connected = 1;
    v->dead = 0;
    v->nb->served++;
    memset(v->st, 0, sizeof(v->st));
    v->st_ever = 0;
    nb_vif_flush_stats(v, 1);
    nb_log("%s: connected to domain %u, %u queue(s), %s grants%s%s%s%s%s",
           v->ifname, xbe_dev_fe_id(d), nq,
           xbe_dev_grant_ext(d) ? "byte" : "standard", v->sg ? ", sg" : "",
           v->gso4 || v->gso6 ? ", gso" : "",
           v->credit_bytes ? ", rate-limited" : "",
           v->rxm.on ? ", rx mapped" : "", v->txm.on ? ", tx mapped" : "");
    return 0;
}

static void nb_disconnect(struct xbe_dev *d)
{
    struct nb_vif *v = xbe_dev_priv(d);
    unsigned i;

    if (!v)
        return;
    if (v->connected)
        nb_vif_flush_stats(v, 1);
    v->connected = 0;
    nb_map_clear(v, &v->rxm);
    nb_map_clear(v, &v->txm);
    v->rxm.on = v->txm.on = 0;
    v->rx_direct = v->tx_direct = 0;
    for (i = 0; i < XBE_MAX_QUEUES; i++) {
        struct nb_queue *q = &v->q[i];

        if (v->tap[i] >= 0 && q->tap_reg)
            nb_epoll_set(v->nb, v->tap[i], &q->src_tap, 0, -1);
        q->tap_reg = q->tap_armed = 0;
        q->work = 0;
        q->tx = q->rx = NULL;
        nb_rx_reset(q);
        if (i > 0 && v->tap[i] >= 0) {
            close(v->tap[i]);
            v->tap[i] = -1;
        }
    }
    if (v->tap[0] >= 0) {
        nb_tap_carrier(v->tap[0], 0);
        v->nr_q = 1;
    }
}

static void nb_remove(struct xbe_dev *d)
{
    struct nb_vif *v = xbe_dev_priv(d);
    struct nb *nb;
    unsigned i;

    if (!v)
        return;
    nb = v->nb;
    nb_map_clear(v, &v->rxm);
    nb_map_clear(v, &v->txm);
    for (i = 0; i < XBE_MAX_QUEUES; i++) {
        if (v->q[i].hold)
            grant_mem_free(nb->h, v->q[i].hold);
        if (v->tap[i] >= 0)
            close(v->tap[i]);
    }
    for (i = 0; i < nb->nr_vifs; i++)
        if (nb->vifs[i] == v)
            nb->vifs[i] = nb->vifs[--nb->nr_vifs];
    nb_log("%s: removed", v->ifname);
    xbe_dev_set_priv(d, NULL);
    free(v);
}

struct nb_queue *nb_port_queue(struct nb *nb, uint32_t port, int *is_rx)
{
    unsigned i, q;

    for (i = 0; i < nb->nr_vifs; i++) {
        struct nb_vif *v = nb->vifs[i];

        for (q = 0; v->connected && q < xbe_dev_nr_queues(v->d); q++) {
            if (v->q[q].port_tx == port || v->q[q].port_rx == port) {
                *is_rx = v->q[q].port_rx == port;
                return &v->q[q];
            }
        }
    }
    return NULL;
}

struct xbe_ops nb_xbe_ops = {
    .kind = "vif",
    .nr_rings = 2,
    .ring = {{"tx-ring-ref", sizeof(union netif_tx_sring_entry), 0},
             {"rx-ring-ref", sizeof(union netif_rx_sring_entry), 0}},
    .max_queues = 4,
    .split_evtchn = 1,
    .grant_ext = 1,
    .hotplug = XBE_HOTPLUG_XEN, /* libxl's vif-* script on Xen */
    .probe = nb_probe,
    .connect = nb_connect,
    .disconnect = nb_disconnect,
    .remove = nb_remove,
};
