/* SPDX-License-Identifier: MIT */
/*
 * devlist.c: xgrant block-list DOM [--json] and xgrant network-list DOM
 * [--json], as xl block-list / xl network-list print them (xl_block.c,
 * xl_nic.c over libxl_device_{disk,nic}_getinfo), plus the backend's
 * I/O counters.
 *
 * The devices are those libxl knows: /libxl/<domid>/device/<kind>/<devid>
 * with its frontend and backend links.  As libxl's getinfo does, the state,
 * event channel and ring references are the frontend's (state, and
 * event-channel, ring-ref / tx-ring-ref, rx-ring-ref; a multi-queue
 * frontend publishes them under queue-0/, read from there); a node that is
 * missing shows as -1.  The counters are the backend's statistics/
 * directory (DRIVERS.md: the drivers rewrite it at most once a second and
 * at disconnect); each counter there is shown, in the order of the
 * directory, on a line below the device's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "libgrant_xenbus.h"
#include "private.h"

/* One device kind: its store name and how xl prints it. */
struct kind {
    const char *cmd;   /* "block-list" */
    const char *store; /* "vbd" */
    int net;
};

/* What xl shows of one device, read from the store. */
struct devinfo {
    long devid, backend_id, frontend_id, state, evtch, rref[2];
    char fe[GRANT_XENBUS_PATH_MAX], be[GRANT_XENBUS_PATH_MAX];
    char *name; /* vbd: the backend's "dev" (xvda); vif: its "mac" */
    char **stat_names;
    long long *stat_vals;
    unsigned nr_stats;
};

static char *read_node(grant_xenbus_t *xb, const char *dir, const char *node)
{
    char *v = NULL;

    if (!dir[0] || grant_xenbus_read(xb, XBT_NULL, dir, node, &v, NULL) < 0)
        return NULL;
    return v;
}

/* A decimal node as libxl's getinfo reads it: -1 when absent or not a
 * number. */
static long read_long(grant_xenbus_t *xb, const char *dir, const char *node)
{
    char *v = read_node(xb, dir, node), *end;
    long n = -1;

    if (v && *v) {
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || *end)
            n = -1;
    }
    free(v);
    return n;
}

/* The frontend's node, or queue-0's (multi-queue frontends). */
static long read_fe(grant_xenbus_t *xb, const struct devinfo *d,
                    const char *node)
{
    char q0[GRANT_XENBUS_PATH_MAX + 16];
    long n = read_long(xb, d->fe, node);

    if (n >= 0 || !d->fe[0])
        return n;
    snprintf(q0, sizeof(q0), "%s/queue-0", d->fe);
    return read_long(xb, q0, node);
}

static void read_link(grant_xenbus_t *xb, const char *dir, const char *node,
                      char *buf, size_t len)
{
    char *v = read_node(xb, dir, node);

    snprintf(buf, len, "%s", v && v[0] == '/' ? v : "");
    free(v);
}

/* The backend's statistics/ directory: every entry that is a number. */
static void read_stats(grant_xenbus_t *xb, struct devinfo *d)
{
    char dir[GRANT_XENBUS_PATH_MAX + 16], **ents;
    unsigned n, i;

    if (!d->be[0])
        return;
    snprintf(dir, sizeof(dir), "%s/statistics", d->be);
    ents = xs_directory(grant_xenbus_xs(xb), XBT_NULL, dir, &n);
    d->stat_names = ents ? calloc(n, sizeof(char *)) : NULL;
    d->stat_vals = ents ? calloc(n, sizeof(long long)) : NULL;
    for (i = 0; d->stat_names && d->stat_vals && i < n; i++) {
        char *v = read_node(xb, dir, ents[i]), *end;
        long long x;

        errno = 0;
        x = v && *v ? strtoll(v, &end, 10) : -1;
        if (v && *v && !errno && !*end && x >= 0 &&
            (d->stat_names[d->nr_stats] = strdup(ents[i]))) {
            d->stat_vals[d->nr_stats++] = x;
        }
        free(v);
    }
    free(ents);
}

static void devinfo_read(grant_xenbus_t *xb, const struct kind *k,
                         const char *libxl_dir, long devid, struct devinfo *d)
{
    memset(d, 0, sizeof(*d));
    d->devid = devid;
    read_link(xb, libxl_dir, "frontend", d->fe, sizeof(d->fe));
    read_link(xb, libxl_dir, "backend", d->be, sizeof(d->be));
    d->backend_id = read_long(xb, d->fe, "backend-id");
    d->frontend_id = read_long(xb, d->be, "frontend-id");
    d->state = read_long(xb, d->fe, "state");
    if (k->net) {
        d->evtch = read_fe(xb, d, "event-channel");
        if (d->evtch < 0) /* split event channels: the tx one */
            d->evtch = read_fe(xb, d, "event-channel-tx");
        d->rref[0] = read_fe(xb, d, "tx-ring-ref");
        d->rref[1] = read_fe(xb, d, "rx-ring-ref");
        d->name = read_node(xb, d->fe, "mac");
        if (!d->name)
            d->name = read_node(xb, d->be, "mac");
    } else {
        d->evtch = read_fe(xb, d, "event-channel");
        d->rref[0] = read_fe(xb, d, "ring-ref");
        if (d->rref[0] < 0) /* a multi-page ring: its first page */
            d->rref[0] = read_fe(xb, d, "ring-ref0");
        d->name = read_node(xb, d->be, "dev");
    }
    read_stats(xb, d);
}

static void devinfo_free(struct devinfo *d)
{
    unsigned i;

    for (i = 0; i < d->nr_stats; i++)
        free(d->stat_names[i]);
    free(d->stat_names);
    free(d->stat_vals);
    free(d->name);
}

static int by_number(const void *a, const void *b)
{
    long x = strtol(*(char *const *)a, NULL, 10);
    long y = strtol(*(char *const *)b, NULL, 10);

    return (x > y) - (x < y);
}

/* ---- Printing ----------------------------------------------------------- */

static void print_header(const struct kind *k)
{
    if (k->net)
        printf("%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s\n", "Idx", "BE",
               "Mac Addr.", "handle", "state", "evt-ch", "tx-", "rx-ring-ref",
               "BE-path");
    else
        printf("%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle",
               "state", "evt-ch", "ring-ref", "BE-path");
}

static void print_row(const struct kind *k, const struct devinfo *d)
{
    unsigned i;

    if (k->net)
        printf("%-3ld %-2ld %-17s %6ld %5ld %6ld %5ld/%-11ld %-30s\n", d->devid,
               d->backend_id, d->name ? d->name : "-", d->devid, d->state,
               d->evtch, d->rref[0], d->rref[1], d->be);
    else
        printf("%-5ld %-3ld %-6ld %-5ld %-6ld %-8ld %-30s\n", d->devid,
               d->backend_id, d->frontend_id, d->state, d->evtch, d->rref[0],
               d->be);
    if (!d->nr_stats)
        return;
    printf("    statistics:");
    for (i = 0; i < d->nr_stats; i++)
        printf(" %s %lld", d->stat_names[i], d->stat_vals[i]);
    printf("\n");
}

static void print_json(const struct kind *k, const struct devinfo *d, int first)
{
    unsigned i;

    printf("%s\n  {\"devid\": %ld, ", first ? "" : ",", d->devid);
    printf("\"%s\": ", k->net ? "mac" : "vdev");
    if (d->name)
        xg_json_str(stdout, d->name);
    else
        printf("null");
    printf(", \"backend_id\": %ld, \"frontend_id\": %ld, \"state\": %ld, "
           "\"state_name\": \"%s\", \"evtch\": %ld, ",
           d->backend_id, d->frontend_id, d->state,
           grant_xenbus_state_name((int)d->state), d->evtch);
    if (k->net)
        printf("\"tx_ring_ref\": %ld, \"rx_ring_ref\": %ld, ", d->rref[0],
               d->rref[1]);
    else
        printf("\"ring_ref\": %ld, ", d->rref[0]);
    printf("\"frontend\": ");
    xg_json_str(stdout, d->fe);
    printf(", \"backend\": ");
    xg_json_str(stdout, d->be);
    printf(", \"statistics\": {");
    for (i = 0; i < d->nr_stats; i++) {
        printf("%s", i ? ", " : "");
        xg_json_str(stdout, d->stat_names[i]);
        printf(": %lld", d->stat_vals[i]);
    }
    printf("}}");
}

/* ---- The command -------------------------------------------------------- */

static int list_devices(const struct kind *k, grant_xenbus_t *xb,
                        unsigned domid, int json)
{
    char dir[96], sub[GRANT_XENBUS_PATH_MAX];
    struct devinfo d;
    char **devs;
    unsigned n = 0, i;

    snprintf(dir, sizeof(dir), "/libxl/%u/device/%s", domid, k->store);
    devs = xs_directory(grant_xenbus_xs(xb), XBT_NULL, dir, &n);
    if (!devs)
        n = 0;
    else
        qsort(devs, n, sizeof(*devs), by_number);
    if (json)
        printf("[");
    else
        print_header(k);
    for (i = 0; i < n; i++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, devs[i]);
        devinfo_read(xb, k, sub, strtol(devs[i], NULL, 10), &d);
        if (json)
            print_json(k, &d, i == 0);
        else
            print_row(k, &d);
        devinfo_free(&d);
    }
    if (json)
        printf("%s]\n", n ? "\n" : "");
    free(devs);
    return XG_OK;
}

static int parse_args(const struct kind *k, int argc, char **argv,
                      const char **dom, int *json)
{
    int i;

    *dom = NULL;
    *json = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) {
            xg_err(k->cmd, "unknown option '%s' (only --json)", argv[i]);
            return -1;
        } else if (*dom) {
            xg_err(k->cmd, "unexpected argument '%s' (one domain only)",
                   argv[i]);
            return -1;
        } else
            *dom = argv[i];
    }
    if (!*dom) {
        xg_err(k->cmd, "missing domain (xgrant %s DOM [--json])", k->cmd);
        return -1;
    }
    return 0;
}

static int run(const struct kind *k, int argc, char **argv)
{
    grant_xenbus_t *xb;
    grant_handle_t *h;
    grant_domid_t domid;
    const char *dom;
    int json, rc;

    if (parse_args(k, argc, argv, &dom, &json) < 0)
        return XG_USAGE;
    rc = xg_open(k->cmd, &h);
    if (rc != XG_OK)
        return rc;
    rc = xg_lookup(k->cmd, h, dom, &domid);
    grant_close(h);
    if (rc < 0)
        return XG_FAIL;
    rc = grant_xenbus_open(&xb, 0);
    if (rc < 0) {
        xg_err(k->cmd, "cannot open the store: %s", strerror(-rc));
        return XG_FAIL;
    }
    rc = list_devices(k, xb, domid, json);
    grant_xenbus_close(xb);
    return rc;
}

int cmd_block_list(int argc, char **argv)
{
    static const struct kind k = {"block-list", "vbd", 0};

    return run(&k, argc, argv);
}

int cmd_network_list(int argc, char **argv)
{
    static const struct kind k = {"network-list", "vif", 1};

    return run(&k, argc, argv);
}
