/* SPDX-License-Identifier: MIT */
/*
 * blk_restart: xgrant-blkback SIGKILLed with writes in flight, then
 * started again.  The guest (a raw frontend, persistent grants) writes
 * and flushes, then leaves more writes in flight; domain 0 kills the
 * daemon and starts a new one, which finds the device Connected (its
 * predecessor's) and closes it; the guest closes, comes back from
 * Initialising and connects to the new daemon, and everything it wrote
 * before the completed flush reads back intact (through the new daemon,
 * and in the image).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk/rawfront.h"
#include "common/itest.h"

#define IMG_BYTES (4u << 20)
#define DEVID     51712
#define CHUNKS    10
#define CHUNK     40 /* sectors */

static char buf[CHUNK * 512], back[CHUNK * 512];

static int flushed_part(struct rf *f)
{
    unsigned i;
    int rc = 0;

    for (i = 0; rc == 0 && i < CHUNKS; i++) {
        rf_fill(buf, sizeof(buf), 1000 + i);
        rc = rf_io(f, 1, (uint64_t)i * CHUNK, CHUNK, 8, buf);
    }
    return rc ? rc : rf_simple(f, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
}

/* Writes pushed, not waited for (they hit the same pool pages). */
static void in_flight(struct rf *f)
{
    unsigned i, s;

    for (i = 0; i < 8; i++) {
        struct blkif_request *req = rf_slot(f);

        req->operation = BLKIF_OP_WRITE;
        req->id = ++f->next_id;
        req->nr_segments = 8;
        req->sector_number = 2000 + i * 64;
        for (s = 0; s < 8; s++) {
            req->seg[s].gref = f->pref[s];
            req->seg[s].last_sect = 7;
        }
        rf_push(f);
    }
}

/* The backend went away: close, come back from Initialising, attach. */
static int reconnect(struct rf *f, unsigned devid)
{
    int rc = grant_xenbus_wait_states(f->xb, f->be,
                                      GRANT_XENBUS_MASK(XenbusStateClosing) |
                                          GRANT_XENBUS_MASK(XenbusStateClosed),
                                      10000, NULL);

    if (rc < 0)
        return rc;
    rf_detach(f);
    /* Linux's order: back to Initialising once the backend is Closed (or
     * a new one is there).  Not sooner: a backend still Closing that reads
     * our state only then sees Initialising, never our Closed, so it never
     * closes nor probes again (grant_xenbus_wait_state(Closed) returned at
     * once on Closing).  As xfe_reconnect. */
    rc = grant_xenbus_wait_states(
        f->xb, f->be,
        GRANT_XENBUS_MASK(XenbusStateClosed) |
            GRANT_XENBUS_MASK(XenbusStateInitialising) |
            GRANT_XENBUS_MASK(XenbusStateInitWait),
        10000, NULL);
    if (rc < 0)
        return rc;
    free(f->be);
    f->be = NULL;
    grant_xenbus_switch_state(f->xb, XBT_NULL, f->dir, XenbusStateInitialising);
    return rf_attach(f, devid, RF_V1P, 0);
}

static int role(unsigned devid)
{
    struct rf f = {0};
    char line[32];
    unsigned i;
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    rc = rf_attach(&f, devid, RF_V1P, 0);
    rc = rc ? rc : flushed_part(&f);
    printf("%s flushed (%d)\n", rc ? "err" : "ok", rc);
    fflush(stdout);
    if (rc)
        return 0;
    in_flight(&f);
    printf("ok in flight\n");
    fflush(stdout);
    rc = reconnect(&f, devid);
    for (i = 0; rc == 0 && i < CHUNKS; i++) {
        rf_fill(buf, sizeof(buf), 1000 + i);
        rc = rf_io(&f, 0, (uint64_t)i * CHUNK, CHUNK, 8, back);
        if (rc == 0 && memcmp(buf, back, sizeof(buf)))
            rc = -EIO;
    }
    printf("%s reconnected, flushed writes intact (%d)\n", rc ? "err" : "ok",
           rc);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}

static int image_intact(const char *img)
{
    int fd = open(img, O_RDONLY), ok = fd >= 0;
    unsigned i;

    for (i = 0; ok && i < CHUNKS; i++) {
        rf_fill(buf, sizeof(buf), 1000 + i);
        ok = pread(fd, back, sizeof(back), (off_t)i * CHUNK * 512) ==
                 (ssize_t)sizeof(back) &&
             !memcmp(buf, back, sizeof(buf));
    }
    if (fd >= 0)
        close(fd);
    return ok;
}

static void run(struct rf_run *r)
{
    char img[600], line[256], id[16];
    char *argv[] = {itest_self(), "--role", "restart", id, "0", NULL};
    struct itest_agent a;
    int st = 0;

    snprintf(img, sizeof(img), "%s/disk.img", r->dir);
    snprintf(id, sizeof(id), "%u", DEVID);
    ICHECK(rf_image_create(img, IMG_BYTES) == 0, "an image");
    itest_spawn_argv(r->dom0, &a, "restart", 512, argv);
    ICHECK(rf_toolstack_add(r->xb, a.domid, DEVID, img, "w") == 0,
           "toolstack wrote the vbd");
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok flushed", 10), "written and flushed: %s", line);
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok in flight", 12), "more writes in flight: %s",
           line);
    kill(r->bb, SIGKILL);
    waitpid(r->bb, &st, 0);
    ICHECK(WIFSIGNALED(st), "xgrant-blkback SIGKILLed mid-write");
    r->bb = rf_blkback_start(r->log, NULL);
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok reconnected", 14),
           "the restarted blkback closed the device, the frontend "
           "reconnected: %s",
           line[0] ? line : "(nothing)");
    ICHECK(rf_wait_be_state(r->xb, a.domid, DEVID, XenbusStateConnected, 10000),
           "the device is Connected again");
    ICHECK(image_intact(img), "the image holds every flushed write");
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    ICHECK(rf_wait_be_state(r->xb, a.domid, DEVID, XenbusStateClosed, 5000),
           "the dead guest's device is Closed");
    rf_toolstack_rm(r->xb, a.domid, DEVID);
}

int main(int argc, char **argv)
{
    struct rf_run r = {0};

    if (argc >= 5 && !strcmp(argv[1], "--role"))
        return role((unsigned)atoi(argv[3]));
    if (rf_run_begin(&r, "blk_restart", NULL) == 0)
        run(&r);
    return rf_run_end(&r);
}
