/* SPDX-License-Identifier: MIT */
/* rawfront.c: see rawfront.h. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/itest.h"
#include "../common/toolstack.h"
#include "rawfront.h"

#define SECT 512u

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

void rf_fill(void *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    uint8_t *p = buf;
    size_t i;

    for (i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* ---- Frontend ----------------------------------------------------------- */

static int wait_link(struct rf *f, unsigned devid)
{
    int i;

    grant_xenbus_frontend_dir(grant_domid(f->h), "vbd", devid, f->dir,
                              sizeof(f->dir));
    for (i = 0; i < 500; i++) {
        if (grant_xenbus_otherend(f->xb, f->dir, "backend", &f->be, NULL) == 0)
            return 0;
        usleep(10000);
    }
    return -ETIMEDOUT;
}

static int ring_up(struct rf *f, struct rf_queue *q)
{
    unsigned n = 1u << f->order, i;
    int rc;

    if (f->mode == RF_EXT) {
        rc = grant_mem_alloc(f->h, n, &q->ring);
        for (i = 0; rc == 0 && i < n; i++)
            rc = grant_create_direct(
                f->h, 0, GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
                (char *)q->ring + (size_t)i * GRANT_PAGE_SIZE, GRANT_PAGE_SIZE,
                &q->ring_ref[i]);
    } else {
        rc = grant_v1_share(f->h, 0, n, 0, q->ring_ref, &q->ring);
    }
    if (rc == 0)
        rc = xfe_ring_init(&q->r, q->ring, (size_t)n * GRANT_PAGE_SIZE,
                           sizeof(union blkif_sring_entry));
    return rc == 0 ? grant_evtchn_alloc_unbound(f->h, 0, &q->port) : rc;
}

static int pool_up(struct rf *f)
{
    int rc;

    if (!f->pool_pages)
        f->pool_pages = RF_POOL_PAGES;
    if (f->mode == RF_EXT) {
        rc = grant_mem_alloc(f->h, f->pool_pages, &f->pool);
        return rc < 0 ? rc : grant_mem_alloc(f->h, 1, &f->ind);
    }
    f->pref = calloc(f->pool_pages, sizeof(*f->pref));
    rc = f->pref ? grant_v1_share(f->h, 0, f->pool_pages, 0, f->pref, &f->pool)
                 : -ENOMEM;
    return rc < 0 ? rc : grant_v1_share(f->h, 0, 1, 0, &f->ind_ref, &f->ind);
}

static int publish_queue(struct rf *f, struct rf_queue *q, const char *dir)
{
    grant_xenbus_t *xb = f->xb;
    unsigned i;
    int rc = 0;

    for (i = 0; f->order && i < (1u << f->order); i++) {
        char key[24];

        snprintf(key, sizeof(key), "ring-ref%u", i);
        rc |= grant_xenbus_printf(xb, XBT_NULL, dir, key, "%u", q->ring_ref[i]);
    }
    if (!f->order)
        rc |= grant_xenbus_printf(xb, XBT_NULL, dir, "ring-ref", "%u",
                                  q->ring_ref[0]);
    rc |=
        grant_xenbus_printf(xb, XBT_NULL, dir, "event-channel", "%u", q->port);
    return rc;
}

static int publish(struct rf *f)
{
    grant_xenbus_t *xb = f->xb;
    char qdir[GRANT_XENBUS_PATH_MAX + 24];
    unsigned i, offered = 0;
    int rc = 0;

    if (f->order)
        rc |= grant_xenbus_printf(xb, XBT_NULL, f->dir, "ring-page-order", "%u",
                                  f->order);
    if (f->nq > 1)
        rc |= grant_xenbus_printf(xb, XBT_NULL, f->dir,
                                  "multi-queue-num-queues", "%u", f->nq);
    for (i = 0; i < f->nq; i++) {
        if (f->nq > 1)
            snprintf(qdir, sizeof(qdir), "%s/queue-%u", f->dir, i);
        else
            snprintf(qdir, sizeof(qdir), "%s", f->dir);
        rc |= publish_queue(f, &f->q[i], qdir);
    }
    rc |= grant_xenbus_write(xb, XBT_NULL, f->dir, "protocol", "x86_64-abi");
    rc |= grant_xenbus_write(xb, XBT_NULL, f->dir, "feature-persistent",
                             f->mode == RF_V1P ? "1" : "0");
    if (f->mode == RF_EXT)
        rc |=
            grant_xenbus_write(xb, XBT_NULL, f->dir, "feature-grant-ext", "1");
    f->delegating = 0;
    if (f->mode == RF_EXT && f->delegate &&
        grant_xenbus_scanf(xb, XBT_NULL, f->be, "feature-grant-delegate", "%u",
                           &offered) == 1 &&
        offered == 1) {
        rc |= grant_xenbus_write(xb, XBT_NULL, f->dir, "feature-grant-delegate",
                                 "1");
        f->delegating = 1;
    }
    return rc ? -EIO : 0;
}

int rf_attach(struct rf *f, unsigned devid, int mode, unsigned order)
{
    unsigned i;
    int rc;

    f->mode = mode;
    f->order = order;
    rc = wait_link(f, devid);
    /* InitWait, even from a Closed backend (a reconnection). */
    if (rc == 0)
        rc = grant_xenbus_wait_states(
            f->xb, f->be, GRANT_XENBUS_MASK(XenbusStateInitWait), 10000, NULL);
    if (rc == 0 && !f->pool)
        rc = pool_up(f);
    if (rc == 0 &&
        grant_xenbus_scanf(f->xb, XBT_NULL, f->be, "multi-queue-max-queues",
                           "%u", &f->nq) != 1)
        f->nq = 1;
    if (f->nq > f->want_queues)
        f->nq = f->want_queues ? f->want_queues : 1;
    if (f->nq > RF_MAX_QUEUES)
        f->nq = RF_MAX_QUEUES;
    for (i = 0; rc == 0 && i < f->nq; i++)
        rc = ring_up(f, &f->q[i]);
    if (rc == 0)
        rc = publish(f);
    if (rc == 0)
        rc = grant_xenbus_switch_state(f->xb, XBT_NULL, f->dir,
                                       XenbusStateInitialised);
    if (rc == 0)
        rc = grant_xenbus_wait_state(f->xb, f->be, XenbusStateConnected, 10000,
                                     NULL);
    if (rc == 0 && grant_xenbus_scanf(f->xb, XBT_NULL, f->be, "sectors", "%lu",
                                      &f->sectors) != 1)
        rc = -EPROTO;
    if (rc == 0 && grant_xenbus_scanf(f->xb, XBT_NULL, f->be,
                                      "feature-max-indirect-segments", "%u",
                                      &f->max_indirect) != 1)
        f->max_indirect = 0;
    if (rc == 0)
        grant_xenbus_switch_state(f->xb, XBT_NULL, f->dir,
                                  XenbusStateConnected);
    return rc;
}

void rf_detach(struct rf *f)
{
    struct rf_queue *q;
    unsigned i;

    grant_xenbus_switch_state(f->xb, XBT_NULL, f->dir, XenbusStateClosing);
    grant_xenbus_wait_states(f->xb, f->be,
                             GRANT_XENBUS_MASK(XenbusStateClosing) |
                                 GRANT_XENBUS_MASK(XenbusStateClosed),
                             5000, NULL);
    grant_xenbus_switch_state(f->xb, XBT_NULL, f->dir, XenbusStateClosed);
    for (q = f->q; q < f->q + f->nq; q++) {
        for (i = 0; f->mode == RF_EXT && i < (1u << f->order); i++)
            grant_revoke(f->h, q->ring_ref[i], GRANT_REVOKE_FORCE);
        if (f->mode == RF_EXT)
            grant_mem_free(f->h, q->ring);
        else
            grant_v1_end(f->h, q->ring);
        grant_evtchn_close(f->h, q->port);
        memset(q, 0, sizeof(*q));
    }
    f->nq = 0;
}

struct blkif_request *rf_slot(struct rf *f)
{
    struct blkif_request *req = xfe_ring_req_slot(&f->q[f->cur].r);

    if (req)
        memset(req, 0, sizeof(union blkif_sring_entry));
    return req;
}

void rf_push(struct rf *f)
{
    struct rf_queue *q = &f->q[f->cur];

    xfe_ring_req_done(&q->r);
    if (xfe_ring_push(&q->r))
        grant_evtchn_notify(f->h, q->port);
}

int rf_wait(struct rf *f, struct blkif_response *rsp, int ms)
{
    struct rf_queue *q = &f->q[f->cur];
    long long end = ms_now() + ms;
    union blkif_sring_entry e;
    int rc;

    for (;;) {
        rc = xfe_ring_take(&q->r, &e);
        if (rc != 0)
            break;
        if (xfe_ring_final_check(&q->r) == 1)
            continue;
        if (ms_now() >= end)
            return 0;
        grant_evtchn_wait(f->h, q->port, 50);
    }
    if (rc == 1)
        *rsp = e.rsp;
    return rc;
}

/* One segment: v1 pages of the pool (page i), or a byte-exact grant over
 * the bytes (ext), created here and revoked after the answer. */
static int seg_fill(struct rf *f, struct blkif_request_segment *s, unsigned i,
                    unsigned sects, int write, size_t off)
{
    if (f->mode != RF_EXT) {
        s->gref = f->pref[i];
        s->first_sect = 0;
        s->last_sect = (uint8_t)(sects - 1);
        return 0;
    }
    s->first_sect = 0;
    s->last_sect = (uint8_t)(sects - 1);
    return grant_create_direct(f->h, 0,
                               (write ? GRANT_R_READ : GRANT_R_WRITE) |
                                   (f->delegating ? GRANT_R_DELEGATE : 0),
                               (char *)f->pool + off, (uint64_t)sects * SECT,
                               &s->gref);
}

static int rf_wait_id(struct rf *f, uint64_t id, struct blkif_response *rsp)
{
    int rc = rf_wait(f, rsp, 5000);

    if (rc == 0)
        return -ETIMEDOUT;
    if (rc < 0)
        return rc;
    return rsp->id == id ? 0 : -EPROTO;
}

int rf_io(struct rf *f, int write, uint64_t sector, unsigned nsect,
          unsigned seg_sects, void *buf)
{
    struct blkif_request_segment segs[257]; /* + the indirect page (ext) */
    struct blkif_response rsp;
    struct blkif_request *req;
    unsigned nseg = (nsect + seg_sects - 1) / seg_sects, i, done = 0;
    size_t off = 0, bytes = (size_t)nsect * SECT;
    uint64_t id = ++f->next_id;
    int rc = 0;

    if (nseg > 256 || (f->mode != RF_EXT && nseg > f->pool_pages) ||
        (f->mode == RF_EXT && bytes > (size_t)f->pool_pages * GRANT_PAGE_SIZE))
        return -E2BIG;
    for (i = 0; rc == 0 && i < nseg; i++) {
        unsigned n = nsect - done < seg_sects ? nsect - done : seg_sects;

        off = f->mode == RF_EXT ? (size_t)done * SECT
                                : (size_t)i * GRANT_PAGE_SIZE;
        if (write)
            memcpy((char *)f->pool + off, (char *)buf + (size_t)done * SECT,
                   (size_t)n * SECT);
        rc = seg_fill(f, &segs[i], i, n, write, off);
        done += n;
    }
    req = rc == 0 ? rf_slot(f) : NULL;
    if (!req)
        return rc < 0 ? rc : -ENOSPC;
    req->id = id;
    if (nseg <= BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        req->operation = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
        req->nr_segments = (uint8_t)nseg;
        req->sector_number = sector;
        memcpy(req->seg, segs, nseg * sizeof(segs[0]));
    } else {
        struct blkif_request_indirect *in = (void *)req;
        grant_ref_t iref = f->ind_ref;

        memcpy(f->ind, segs, nseg * sizeof(segs[0]));
        if (f->mode == RF_EXT)
            grant_create_direct(f->h, 0, GRANT_R_READ, f->ind, GRANT_PAGE_SIZE,
                                &iref);
        in->operation = BLKIF_OP_INDIRECT;
        in->indirect_op = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
        in->nr_segments = (uint16_t)nseg;
        in->sector_number = sector;
        in->indirect_grefs[0] = iref;
        segs[nseg].gref = iref; /* revoked below with the others */
    }
    rf_push(f);
    rc = rf_wait_id(f, id, &rsp);
    for (i = 0; f->mode == RF_EXT && i < nseg + (nseg > 11); i++)
        grant_revoke(f->h, segs[i].gref, GRANT_REVOKE_FORCE);
    if (rc < 0)
        return rc;
    if (rsp.operation != (write ? BLKIF_OP_WRITE : BLKIF_OP_READ))
        return -EPROTO;
    for (i = 0, done = 0; rsp.status == 0 && !write && i < nseg; i++) {
        unsigned n = nsect - done < seg_sects ? nsect - done : seg_sects;

        off = f->mode == RF_EXT ? (size_t)done * SECT
                                : (size_t)i * GRANT_PAGE_SIZE;
        memcpy((char *)buf + (size_t)done * SECT, (char *)f->pool + off,
               (size_t)n * SECT);
        done += n;
    }
    return rsp.status;
}

int rf_call(struct rf *f, rf_build_fn *fn, const void *arg, uint8_t *op)
{
    struct blkif_request *req = rf_slot(f);
    struct blkif_response rsp;
    uint64_t id = ++f->next_id;
    int rc;

    if (!req)
        return -ENOSPC;
    fn(f, req, arg);
    req->id = id;
    rf_push(f);
    rc = rf_wait_id(f, id, &rsp);
    if (rc < 0)
        return rc;
    *op = rsp.operation;
    return rsp.status;
}

struct simple {
    uint8_t op;
    uint64_t sector, nr;
};

static void mk_simple(struct rf *f, struct blkif_request *req, const void *a)
{
    const struct simple *s = a;
    struct blkif_request_discard *d = (void *)req;

    (void)f;
    req->operation = s->op;
    if (s->op == BLKIF_OP_DISCARD) {
        d->sector_number = s->sector;
        d->nr_sectors = s->nr;
    } else {
        req->sector_number = s->sector;
    }
}

int rf_simple(struct rf *f, uint8_t op, uint64_t sector, uint64_t nr)
{
    struct simple s = {op, sector, nr};
    uint8_t got = 0;
    int rc = rf_call(f, mk_simple, &s, &got);

    return rc < 0 || got == op ? rc : -EPROTO;
}

/* ---- dom0 --------------------------------------------------------------- */

int rf_toolstack_add(grant_xenbus_t *xb, unsigned fe, unsigned devid,
                     const char *params, const char *mode)
{
    const char *const keys[] = {"params", params,        "mode", mode, "type",
                                "phy",    "device-type", "disk", NULL};

    return itest_toolstack_add(xb, "vbd", fe, devid, keys, NULL, NULL);
}

void rf_toolstack_rm(grant_xenbus_t *xb, unsigned fe, unsigned devid)
{
    char be[GRANT_XENBUS_PATH_MAX], fed[GRANT_XENBUS_PATH_MAX];

    grant_xenbus_backend_dir(0, "vbd", fe, devid, be, sizeof(be));
    grant_xenbus_frontend_dir(fe, "vbd", devid, fed, sizeof(fed));
    grant_xenbus_write(xb, XBT_NULL, be, "online", "0");
    grant_xenbus_rm(xb, XBT_NULL, be, NULL);
    grant_xenbus_rm(xb, XBT_NULL, fed, NULL);
}

pid_t rf_blkback_start(const char *logpath, const char *const *args)
{
    char dir[PATH_MAX], bin[PATH_MAX + 32];
    const char *argv[16];
    const char *env = getenv("XGRANT_BINDIR");
    unsigned n = 0;
    pid_t pid;

    snprintf(dir, sizeof(dir), "%s", itest_self());
    if (env)
        snprintf(bin, sizeof(bin), "%s/xgrant-blkback", env);
    else
        snprintf(bin, sizeof(bin), "%s/../../bin/xgrant-blkback", dirname(dir));
    argv[n++] = "xgrant-blkback";
    argv[n++] = "--log";
    argv[n++] = logpath;
    while (args && *args && n < 15)
        argv[n++] = *args++;
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        sigset_t ss;

        /* Blocked across exec: a SIGTERM sent before blkback's main blocks
         * it (ASan's start-up is slow) stays pending for its signalfd, so
         * the daemon still exits 0 (it was killed by it: status 0xf). */
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int rf_image_create(const char *path, uint64_t bytes)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)bytes) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

int rf_wait_be_state(grant_xenbus_t *xb, unsigned fe, unsigned devid, int state,
                     int ms)
{
    char be[GRANT_XENBUS_PATH_MAX];
    long long end = ms_now() + ms;
    int st = -1;

    grant_xenbus_backend_dir(0, "vbd", fe, devid, be, sizeof(be));
    while (ms_now() < end) {
        if (grant_xenbus_read_state(xb, XBT_NULL, be, &st) == 0 && st == state)
            return 1;
        usleep(10000);
    }
    return 0;
}

int rf_run_begin(struct rf_run *r, const char *name, const char *const *args)
{
    itest_setup(&r->dom0);
    r->bb = -1;
    if (grant_xenbus_open(&r->xb, 0) < 0 ||
        itest_mkdtemp(r->dir, sizeof(r->dir), name) < 0) {
        ICHECK(0, "store and a temp dir");
        return -1;
    }
    snprintf(r->log, sizeof(r->log), "%s/blkback.log", r->dir);
    r->bb = rf_blkback_start(r->log, args);
    return 0;
}

int rf_run_end(struct rf_run *r)
{
    char cmd[700];
    int st = 0;

    if (r->bb > 0) {
        ICHECK(kill(r->bb, 0) == 0, "xgrant-blkback lived through it all");
        kill(r->bb, SIGTERM);
        waitpid(r->bb, &st, 0);
        ICHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
               "xgrant-blkback exits 0 on SIGTERM (0x%x)", st);
        snprintf(cmd, sizeof(cmd), "sed 's/^/# /' %s | tail -n 60", r->log);
        if (!r->quiet && system(cmd) != 0)
            printf("# no log\n");
    }
    if (r->dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", r->dir);
    }
    grant_xenbus_close(r->xb);
    itest_teardown(r->dom0);
    return itest_done();
}

void rf_read_line(struct itest_agent *a, char *line, size_t len)
{
    struct pollfd p = {.fd = a->from, .events = POLLIN};

    line[0] = '\0';
    setvbuf(a->in, NULL, _IONBF, 0); /* poll sees every byte not read */
    if (poll(&p, 1, 20000) == 1 && fgets(line, (int)len, a->in))
        line[strcspn(line, "\n")] = '\0';
}

void rf_results(struct itest_agent *a, const char *who)
{
    char line[256];
    int n = 0;

    for (;;) {
        rf_read_line(a, line, sizeof(line));
        if (!line[0] || !strcmp(line, "end"))
            break;
        ICHECK(!strncmp(line, "ok", 2), "%s: %s", who, line);
        n++;
    }
    ICHECK(n > 0 && !strcmp(line, "end"), "%s: every case answered (%d)", who,
           n);
}

unsigned rf_dom0_maps(grant_handle_t *dom0)
{
    struct grant_usage u = {0};

    grant_usage(dom0, 0, &u);
    return u.maps;
}

char *rf_be_key(grant_xenbus_t *xb, unsigned fe, unsigned devid,
                const char *key)
{
    char be[GRANT_XENBUS_PATH_MAX];
    char *v = NULL;

    grant_xenbus_backend_dir(0, "vbd", fe, devid, be, sizeof(be));
    grant_xenbus_read(xb, XBT_NULL, be, key, &v, NULL);
    return v;
}

int rf_nbdkit_guest(struct rf_run *r, struct itest_agent *a, unsigned devid,
                    const char *img, char *sock)
{
    char self[PATH_MAX], plugin[PATH_MAX + 32], dev[32], cmd[2 * PATH_MAX];
    /* nbdkit's default thread count, as blk-bench's file plugin (b) */
    char *argv[] = {"/usr/sbin/nbdkit", "-f", "-U", sock, plugin, dev,
                    "timeout=20",       NULL};
    struct stat st;
    int i;

    if (!realpath("/proc/self/exe", self))
        return -ENOENT;
    snprintf(plugin, sizeof(plugin), "%s/../../lib/nbdkit-xgrant-plugin.so",
             dirname(self));
    if (access(argv[0], X_OK))
        argv[0] = "/usr/bin/nbdkit";
    if (access(argv[0], X_OK) || access(plugin, R_OK))
        return -ENOENT;
    snprintf(cmd, sizeof(cmd), "%s %s --dump-plugin >/dev/null 2>&1", argv[0],
             plugin);
    if (system(cmd) != 0)
        return -ENOEXEC; /* a SANITIZE=1 plugin: nbdkit has no ASan */
    snprintf(sock, 600, "%s/nbd.sock", r->dir);
    snprintf(dev, sizeof(dev), "devid=%u", devid);
    chmod(r->dir, 01777); /* the confined guest makes its socket there */
    itest_spawn_argv(r->dom0, a, "nbdkit", 8192, argv);
    if (rf_toolstack_add(r->xb, a->domid, devid, img, "w") < 0)
        return -EIO;
    for (i = 0; i < 2000 && stat(sock, &st) != 0; i++)
        usleep(10000);
    return stat(sock, &st) == 0 ? 0 : -ETIMEDOUT;
}
