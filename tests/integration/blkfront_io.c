/* SPDX-License-Identifier: MIT */
/*
 * blkfront_io: libxgblkfront against a minimal blkif backend written here
 * (on xbe/xbe_ring, a RAM disk in domain 0, data moved by grant copy).
 *
 *  - io (grant-ext): random sizes up to 1 MiB written synchronously from
 *    grantable memory (no copy) and from malloc'ed memory (bounced), a
 *    queue of asynchronous writes as deep as the rings, read back, flush,
 *    discard; the guest's model and domain 0's disk must agree (crc), and
 *    every segment grant must cover exactly its bytes (the backend tries
 *    the byte after each one: refused).
 *  - io (standard grants): the same with the frontend refusing the
 *    extension (persistent v1 pool): ring pages and data pages
 *    from grant_v1_share, mapped by the backend with grant_v1_map.
 *  - hostile backends: a response id not in flight, an operation that is
 *    not the request's, a response producer index jumping: the request
 *    fails -EIO, the device stays broken, the buffer is untouched; a
 *    garbage status fails that request only.
 *  - keys it must refuse: `sectors` with trailing junk, sector-size
 *    65536 with no indirect segments (no request carries one sector): the
 *    open fails -EPROTO and the frontend's `error` node says why.
 *  - XSA-396: a backend without feature-persistent keeps the first page
 *    it was given mapped: no later write's data may show through it.
 *  - restart: the backend takes a batch of writes, never answers, closes
 *    and comes back as a new bus (or its whole directory vanishes and is
 *    written again); the frontend reconnects and re-issues them; the data
 *    reads back intact.  With standard grants the backend comes back
 *    without feature-persistent: the re-issued requests' pages are
 *    one-shot, and those of the first connection went back to their own
 *    pools.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blkfront/testbe.h"
#include "common/itest.h"
#include "libgrant_xenbus.h"
#include "xbe.h"
#include "xgblkfront.h"

/* ---- Domain 0 ----------------------------------------------------------- */

static void guest(struct itest_agent *a, const char *role, unsigned devid,
                  char *fe_dir, char *be_dir)
{
    char id[16];
    char *argv[] = {itest_self(), "--role", (char *)role, id, NULL};

    snprintf(id, sizeof(id), "%u", devid);
    itest_spawn_argv(h0, a, role, GUEST_MEM, argv);
    disks[devid] = calloc(1, DISK);
    itest_device_add(xb0, KIND, a->domid, devid, fe_dir, be_dir);
}

static int be_closed(void *be_dir)
{
    int st = -1;

    grant_xenbus_read_state(xb0, XBT_NULL, be_dir, &st);
    return st == XenbusStateClosed;
}

/* The guest detaches (the backend follows it to Closed), then the
 * toolstack removes the device. */
static void guest_end(struct xbe *bus, struct itest_agent *a, char *be_dir)
{
    itest_agent_close(a);
    pump(bus, 3000, be_closed, be_dir);
    grant_ctl_domain_destroy(h0, a->domid);
    grant_xenbus_write(xb0, XBT_NULL, be_dir, "online", "0");
    pump(bus, 20, NULL, NULL);
    grant_xenbus_rm(xb0, XBT_NULL, be_dir, NULL);
    pump(bus, 20, NULL, NULL);
}

static void case_io(struct xbe *bus, const char *role, unsigned devid)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256], *err = NULL;
    struct itest_agent a;
    unsigned crc = 0, segs0 = segs_seen, ind0 = ind_seen;

    guest(&a, role, devid, fe_dir, be_dir);
    pump_line(bus, &a, line, sizeof(line), 30000);
    pump(bus, 50, NULL, NULL);
    grant_xenbus_read(xb0, XBT_NULL, be_dir, "error", &err, NULL);
    if (err)
        printf("# %s: backend error node: %s\n", role, err);
    free(err);
    ICHECK(!strncmp(line, "ok", 2), "%s: %s", role,
           line[0] ? line : "(nothing)");
    sscanf(line, "ok crc=%x", &crc);
    ICHECK(crc == crc32(disks[devid], DISK),
           "%s: the backend's disk is what the guest wrote (crc %08x, disk "
           "%08x)",
           role, crc, crc32(disks[devid], DISK));
    /* Byte-exact segments of 128 KiB carry the 1 MiB requests in 8 (no
     * indirect page to read); page grants need indirect ones. */
    if (!strcmp(role, "io-ext"))
        ICHECK(ind_seen == ind0,
               "%s: no indirect request (1 MiB in 8 segments of 128 KiB, "
               "%u indirect)",
               role, ind_seen - ind0);
    else
        ICHECK(ind_seen > ind0, "%s: indirect requests were used (%u)", role,
               ind_seen - ind0);
    ICHECK(segs_seen > segs0, "%s: %u segments moved", role, segs_seen - segs0);
    guest_end(bus, &a, be_dir);
}

static void case_hostile(struct xbe *bus, enum be_mode m, const char *what,
                         unsigned devid)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256], role[32];
    struct itest_agent a;

    snprintf(role, sizeof(role), "hostile-%s", what);
    modes[devid] = m;
    guest(&a, role, devid, fe_dir, be_dir);
    pump_line(bus, &a, line, sizeof(line), 20000);
    if (strncmp(line, "ok", 2)) {
        char *err = NULL;
        int st = -1;

        grant_xenbus_read(xb0, XBT_NULL, be_dir, "error", &err, NULL);
        grant_xenbus_read_state(xb0, XBT_NULL, be_dir, &st);
        printf("# backend state %d error %s\n", st, err ? err : "(none)");
        free(err);
    }
    ICHECK(!strncmp(line, "ok", 2), "hostile backend (%s): %s", what,
           line[0] ? line : "(nothing)");
    guest_end(bus, &a, be_dir);
}

/* A backend whose keys the frontend must refuse: the open fails, and the
 * frontend's `error` node says why. */
static void case_refused(struct xbe *bus, enum be_mode m, const char *what,
                         const char *want, unsigned devid)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256];
    struct itest_agent a;
    char *err = NULL;

    modes[devid] = m;
    guest(&a, "refused", devid, fe_dir, be_dir);
    pump_line(bus, &a, line, sizeof(line), 20000);
    grant_xenbus_read(xb0, XBT_NULL, fe_dir, "error", &err, NULL);
    ICHECK(!strncmp(line, "ok", 2), "%s: refused: %s", what,
           line[0] ? line : "(nothing)");
    ICHECK(err && strstr(err, want),
           "%s: the frontend's error node says "
           "'%s': %s",
           what, want, err ? err : "(none)");
    free(err);
    guest_end(bus, &a, be_dir);
}

/* XSA-396: a backend without feature-persistent that keeps a page mapped
 * after answering must never see a later request's data through it (the
 * frontend ends each page's grant, never reuses it). */
static void case_keep(struct xbe *bus, unsigned devid)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256];
    struct itest_agent a;

    modes[devid] = BE_KEEP;
    guest(&a, "keep", devid, fe_dir, be_dir);
    pump_line(bus, &a, line, sizeof(line), 20000);
    ICHECK(!strncmp(line, "ok", 2), "no persistent grants: %s",
           line[0] ? line : "(nothing)");
    ICHECK(kept != NULL, "the backend kept the first page mapped");
    ICHECK(kept_saw == 0,
           "the page it kept never showed a later write's data (%u did)",
           kept_saw);
    if (kept)
        grant_v1_unmap(h0, kept);
    guest_end(bus, &a, be_dir);
}

static int reached_connected(void *arg)
{
    int st = -1;

    grant_xenbus_read_state(xb0, XBT_NULL, arg, &st);
    return st == XenbusStateConnected;
}

/* The toolstack writes the backend directory again (it vanished). */
static void backend_dir_again(const char *be_dir, const char *fe_dir,
                              unsigned fe)
{
    char perms[32];

    snprintf(perms, sizeof(perms), "n0,r%u", fe);
    grant_xenbus_mkdir(xb0, XBT_NULL, be_dir, NULL);
    grant_xenbus_set_perms(xb0, XBT_NULL, be_dir, NULL, perms);
    grant_xenbus_write(xb0, XBT_NULL, be_dir, "frontend", fe_dir);
    grant_xenbus_printf(xb0, XBT_NULL, be_dir, "frontend-id", "%u", fe);
    grant_xenbus_write(xb0, XBT_NULL, be_dir, "online", "1");
    grant_xenbus_write(xb0, XBT_NULL, be_dir, "state", "1");
}

/* Requests held unanswered, then the backend goes away: as a daemon that
 * closes and is started again (Closed, then the toolstack's Initialising)
 * or, with vanish, its whole directory removed and written again; the
 * guest must reconnect and complete every request.  The backend comes back
 * in mode `after` (BE_NOPERS: without the feature-persistent it had). */
static struct xbe *case_restart(struct xbe *bus, const char *role,
                                unsigned devid, int vanish, enum be_mode after,
                                const char *want)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX],
        line[256];
    const char *what = vanish ? "vanished backend" : "restarted backend";
    struct itest_agent a;
    unsigned held0 = held;

    modes[devid] = BE_HOLD;
    guest(&a, role, devid, fe_dir, be_dir);
    pump_line(bus, &a, line, sizeof(line), 20000);
    ICHECK(!strncmp(line, "ok submitted", 12), "%s: %s", role,
           line[0] ? line : "(nothing)");
    pump(bus, 200, NULL, NULL);
    ICHECK(held > held0, "the backend holds %u requests unanswered",
           held - held0);
    modes[devid] = after;
    if (vanish) {
        grant_xenbus_rm(xb0, XBT_NULL, be_dir, NULL);
        pump(bus, 100, NULL, NULL);
        backend_dir_again(be_dir, fe_dir, a.domid);
    } else {
        xbe_close(bus);
        ICHECK(xbe_open(&bus, &be_ops, h0, xb0, 0, NULL) == 0,
               "backend reopened");
        usleep(100000);
        grant_xenbus_write(xb0, XBT_NULL, be_dir, "state", "1");
    }
    pump(bus, 10000, reached_connected, be_dir);
    ICHECK(reached_connected(be_dir), "%s: %s: the device is Connected again",
           role, what);
    pump_line(bus, &a, line, sizeof(line), 30000);
    ICHECK(!strncmp(line, "ok recovered", 12) && strstr(line, want),
           "%s: %s: %s (want '%s')", role, what, line[0] ? line : "(nothing)",
           want);
    guest_end(bus, &a, be_dir);
    modes[devid] = BE_OK;
    return bus;
}

/* A frontend directory the toolstack has not linked yet: opening it is
 * -ENOENT and leaves its state alone (closing it would race with the
 * toolstack finishing the device: the backend would see Closed). */
static void case_nolink(struct xbe *bus)
{
    char fe_dir[GRANT_XENBUS_PATH_MAX], perms[32], line[256];
    char *argv[] = {itest_self(), "--role", "nolink", "20", NULL};
    struct itest_agent a;
    int st = -1;

    itest_spawn_argv(h0, &a, "nolink", 64, argv);
    pump_line(bus, &a, line, sizeof(line), 10000); /* it runs */
    grant_xenbus_frontend_dir(a.domid, KIND, 20, fe_dir, sizeof(fe_dir));
    grant_xenbus_write(xb0, XBT_NULL, fe_dir, "state", "1");
    snprintf(perms, sizeof(perms), "n%u,r0", a.domid);
    grant_xenbus_set_perms(xb0, XBT_NULL, fe_dir, NULL, perms);
    grant_xenbus_set_perms(xb0, XBT_NULL, fe_dir, "state", perms);
    dprintf(a.to, "go\n");
    pump_line(bus, &a, line, sizeof(line), 10000);
    grant_xenbus_read_state(xb0, XBT_NULL, fe_dir, &st);
    ICHECK(!strncmp(line, "ok", 2) && st == XenbusStateInitialising,
           "a device with no backend link: %s, its state left at %d",
           line[0] ? line : "(nothing)", st);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(h0, a.domid);
    grant_xenbus_rm(xb0, XBT_NULL, fe_dir, NULL);
}

static void run_backend(void)
{
    struct xbe *bus;
    int rc = be_init();

    ICHECK(rc == 0, "dom0 scratch memory (%d)", rc);
    rc = xbe_open(&bus, &be_ops, h0, xb0, 0, NULL);
    ICHECK(rc == 0, "backend bus opened (%d)", rc);
    if (rc)
        return;
    case_nolink(bus);
    case_io(bus, "io-ext", 1);
    ICHECK(not_exact == 0,
           "every byte-exact segment grant ends at its last byte (%u wider)",
           not_exact);
    case_io(bus, "io-v1", 2);
    case_hostile(bus, BE_BAD_ID, "bad-id", 10);
    case_hostile(bus, BE_BAD_OP, "bad-op", 11);
    case_hostile(bus, BE_JUMP, "jump", 12);
    case_hostile(bus, BE_BAD_STATUS, "bad-status", 13);
    case_refused(bus, BE_JUNK_KEY, "sectors \"8192abc\"",
                 "backend key sectors is not a decimal number", 14);
    case_refused(bus, BE_BIG_SECTOR, "sector-size 65536 without indirect",
                 "sector-size 65536 exceeds the largest request, 45056", 15);
    case_keep(bus, 16);
    case_refused(bus, BE_HUGE_INFO, "info 4294967300",
                 "info 4294967300, 32 bits", 17);
    bus = case_restart(bus, "restart", 3, 0, BE_OK, "persistent 0 -> 0");
    bus = case_restart(bus, "restart", 4, 1, BE_OK, "persistent 0 -> 0");
    /* Standard grants, persistent before and not after: the pages the
     * held requests took go back to the pools they came from. */
    bus = case_restart(bus, "restart-v1", 5, 0, BE_NOPERS, "persistent 1 -> 0");
    xbe_close(bus);
}

int main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "--role"))
        return blkfront_role(argv[2], (unsigned)atoi(argv[3]));
    itest_setup(&h0);
    if (grant_xenbus_open(&xb0, 0) < 0) {
        ICHECK(0, "store reachable");
    } else {
        run_backend();
        grant_xenbus_close(xb0);
    }
    itest_teardown(h0);
    return itest_done();
}
