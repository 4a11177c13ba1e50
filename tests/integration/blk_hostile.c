/* SPDX-License-Identifier: MIT */
/*
 * blk_hostile: requests a hostile frontend can build to wedge a queue of
 * xgrant-blkback, each of which must be answered (not left pending) while
 * the device goes on serving.
 *
 *  - a request needing a copy buffer larger than blkback's whole budget
 *    (--bounce-mb 1, grant-ext without the grant-I/O call: an indirect
 *    request of 256 segments of 8 KiB = 2 MiB): answered ERROR, where it
 *    used to wait forever for completions that could never free enough
 *    (the queue thread spinning, the device dead);
 *  - the same after a smaller request left its copy buffer behind.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk/rawfront.h"
#include "common/itest.h"

#define IMG_BYTES (4u << 20)
#define BIG_SECTS 4096u /* 2 MiB */

static char buf[BIG_SECTS * 512], back[BIG_SECTS * 512];

static void report(const char *name, int got, int want)
{
    printf("%s %s: status %d (want %d)\n", got == want ? "ok" : "err", name,
           got, want);
}

static int good_io(struct rf *f, uint64_t sector, unsigned nsect, uint32_t seed)
{
    int rc;

    rf_fill(buf, (size_t)nsect * 512, seed);
    rc = rf_io(f, 1, sector, nsect, 16, buf);
    if (rc == 0)
        rc = rf_io(f, 0, sector, nsect, 16, back);
    if (rc == 0 && memcmp(buf, back, (size_t)nsect * 512))
        rc = -EIO;
    return rc;
}

static int role(unsigned devid)
{
    struct rf f = {0};
    char line[32];
    int rc;

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    f.pool_pages = BIG_SECTS / 8 + 8;
    rc = rf_attach(&f, devid, RF_EXT, 0);
    printf("%s attached (%d)\n", rc ? "err" : "ok", rc);
    fflush(stdout);
    while (rc == 0 && fgets(line, sizeof(line), stdin)) {
        if (!strncmp(line, "big", 3)) {
            report("read over the copy budget",
                   rf_io(&f, 0, 0, BIG_SECTS, 16, buf), BLKIF_RSP_ERROR);
            report("good I/O after it", good_io(&f, 64, 512, 1),
                   BLKIF_RSP_OKAY);
            report("write over the copy budget",
                   rf_io(&f, 1, 0, BIG_SECTS, 16, buf), BLKIF_RSP_ERROR);
            report("good I/O after that", good_io(&f, 1024, 1024, 2),
                   BLKIF_RSP_OKAY);
            printf("end\n");
        }
        fflush(stdout);
    }
    rf_detach(&f);
    return 0;
}

/* ---- Domain 0 ----------------------------------------------------------- */

static void run(struct rf_run *r)
{
    char img[600], id[16], line[128];
    char *argv[] = {itest_self(), "--role", id, NULL};
    struct itest_agent g;
    unsigned devid = 51712;

    snprintf(img, sizeof(img), "%s/disk.img", r->dir);
    snprintf(id, sizeof(id), "%u", devid);
    ICHECK(rf_image_create(img, IMG_BYTES) == 0, "an image");
    itest_spawn_argv(r->dom0, &g, "hostile", 2048, argv);
    ICHECK(rf_toolstack_add(r->xb, g.domid, devid, img, "w") == 0,
           "toolstack wrote vbd %u/%u", g.domid, devid);
    rf_read_line(&g, line, sizeof(line));
    ICHECK(!strncmp(line, "ok attached", 11), "guest: %s", line);
    if (strncmp(line, "ok attached", 11))
        return;
    dprintf(g.to, "big\n");
    rf_results(&g, "copy budget");
    itest_agent_close(&g);
    grant_ctl_domain_destroy(r->dom0, g.domid);
    rf_toolstack_rm(r->xb, g.domid, devid);
}

int main(int argc, char **argv)
{
    static const char *const args[] = {"--bounce-mb", "1", "--no-grant-io",
                                       NULL};
    struct rf_run r = {0};

    if (argc >= 3 && !strcmp(argv[1], "--role"))
        return role((unsigned)atoi(argv[2]));
    if (rf_run_begin(&r, "blk_hostile", args) == 0)
        run(&r);
    return rf_run_end(&r);
}
