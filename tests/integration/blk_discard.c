/* SPDX-License-Identifier: MIT */
/*
 * blk_discard: a discard on a block device must not stall its ring.
 * xgrant-blkback serves a loop device whose every discard takes 2 s (the
 * loop file is nbdfuse's view of nbdkit's memory plugin under the delay
 * filter, delay-trim=2).  The guest sends a DISCARD, then requests the
 * backend answers without touching the disk (an unknown operation, a read
 * past the end): they must be answered at once, while the discard is
 * still running, and the discard must succeed later.  (BLKDISCARD used to
 * run in the queue's thread: nothing on that ring was answered for 2 s.)
 * Needs root, /dev/fuse, losetup, nbdfuse and nbdkit's delay filter: it
 * skips, saying which is missing, otherwise.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "blk/rawfront.h"
#include "common/itest.h"

#define DISCARD_S 2 /* the delay filter's delay-trim */

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

/* ---- The guest ---------------------------------------------------------- */

static void push_op(struct rf *f, uint8_t op, uint64_t id, uint64_t sector,
                    uint64_t nr)
{
    struct blkif_request *req = rf_slot(f);
    struct blkif_request_discard *d = (void *)req;

    req->operation = op;
    req->id = id;
    if (op == BLKIF_OP_DISCARD) {
        d->sector_number = sector;
        d->nr_sectors = nr;
    } else {
        req->sector_number = sector; /* READ with no segment: never valid */
    }
    rf_push(f);
}

static int role(unsigned devid)
{
    struct blkif_response rsp;
    struct rf f = {0};
    long long t0, at[4] = {0};
    int st[4] = {0}, n, rc;
    char line[32];

    if (grant_open(&f.h, 0) || grant_xenbus_open(&f.xb, 0))
        return 1;
    rc = rf_attach(&f, devid, RF_V1, 0);
    if (rc) {
        printf("err attach %d\n", rc);
        return 1;
    }
    t0 = now_ms();
    push_op(&f, BLKIF_OP_DISCARD, 1, 0, 2048);
    usleep(100000); /* the backend has started it */
    push_op(&f, 99, 2, 0, 0);
    push_op(&f, BLKIF_OP_READ, 3, 1u << 30, 0);
    for (n = 0; n < 3 && rf_wait(&f, &rsp, 10000) == 1; n++)
        if (rsp.id >= 1 && rsp.id <= 3) {
            at[rsp.id] = now_ms() - t0;
            st[rsp.id] = rsp.status;
        }
    if (n < 3)
        printf("err %d of 3 answers within 10 s\n", n);
    else
        printf("ok discard %lld ms %d, unknown op %lld ms %d, bad read %lld "
               "ms %d\n",
               at[1], st[1], at[2], st[2], at[3], st[3]);
    fflush(stdout);
    if (fgets(line, sizeof(line), stdin))
        rf_detach(&f);
    printf("ok detached\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin))
        ;
    return 0;
}

/* ---- Domain 0 ----------------------------------------------------------- */

static int have(const char *cmd)
{
    char sh[256];

    snprintf(sh, sizeof(sh), "command -v %s >/dev/null 2>&1", cmd);
    return system(sh) == 0;
}

static const char *missing(void)
{
    struct stat s;

    if (geteuid() != 0)
        return "not root (a loop device)";
    if (stat("/dev/fuse", &s) < 0)
        return "no /dev/fuse";
    if (!have("losetup") || !have("nbdfuse") || !have("nbdkit"))
        return "losetup, nbdfuse or nbdkit missing";
    if (system("nbdkit --filter=delay null --dump-plugin >/dev/null 2>&1"))
        return "nbdkit has no delay filter";
    return NULL;
}

/* nbdfuse serving <dir>/fuse/disk: its pid, or -1. */
static pid_t slow_disk(const char *dir, char *file, size_t len)
{
    char mnt[600], delay[32];
    pid_t pid;
    int i;

    snprintf(mnt, sizeof(mnt), "%s/fuse", dir);
    snprintf(file, len, "%s/disk", mnt);
    snprintf(delay, sizeof(delay), "delay-trim=%d", DISCARD_S);
    if (mkdir(mnt, 0700) < 0)
        return -1;
    pid = fork();
    if (pid == 0) {
        execlp("nbdfuse", "nbdfuse", file, "[", "nbdkit", "--filter=delay",
               "memory", "64M", delay, "]", (char *)NULL);
        _exit(127);
    }
    for (i = 0; pid > 0 && i < 100 && access(file, R_OK) < 0; i++)
        usleep(50000);
    return pid > 0 && access(file, R_OK) == 0 ? pid : -1;
}

static int loop_attach(const char *file, char *dev, size_t len)
{
    char cmd[800];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "losetup -f --show %s", file);
    p = popen(cmd, "r");
    if (!p)
        return -1;
    dev[0] = '\0';
    if (!fgets(dev, (int)len, p))
        dev[0] = '\0';
    dev[strcspn(dev, "\n")] = '\0';
    return pclose(p) == 0 && dev[0] ? 0 : -1;
}

static void slow_disk_end(const char *dir, const char *dev, pid_t pid)
{
    char cmd[700];

    if (dev[0]) {
        snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
        if (system(cmd) != 0)
            printf("# could not detach %s\n", dev);
    }
    if (pid > 0) { /* nbdfuse unmounts on SIGTERM */
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "umount %s/fuse 2>/dev/null", dir);
    if (system(cmd) == 0)
        printf("# %s/fuse was still mounted\n", dir);
}

static void run(struct rf_run *r)
{
    unsigned devid = 51712;
    char id[16], file[700], dev[64] = "", line[256];
    char *argv[] = {itest_self(), "--role", "g", id, NULL};
    long long d_ms = 0, u_ms = 0, b_ms = 0;
    int d_st = 9, u_st = 9, b_st = 9;
    struct itest_agent a;
    pid_t nbd = slow_disk(r->dir, file, sizeof(file));

    ICHECK(nbd > 0, "nbdfuse serves %s", file);
    ICHECK(nbd > 0 && loop_attach(file, dev, sizeof(dev)) == 0,
           "a loop device over it (%s)", dev);
    if (!dev[0]) {
        slow_disk_end(r->dir, dev, nbd);
        return;
    }
    snprintf(id, sizeof(id), "%u", devid);
    itest_spawn_argv(r->dom0, &a, "discard", 512, argv);
    ICHECK(rf_toolstack_add(r->xb, a.domid, devid, dev, "w") == 0,
           "toolstack wrote vbd %u/%u on %s", a.domid, devid, dev);
    rf_read_line(&a, line, sizeof(line));
    ICHECK(sscanf(line,
                  "ok discard %lld ms %d, unknown op %lld ms %d, bad "
                  "read %lld ms %d",
                  &d_ms, &d_st, &u_ms, &u_st, &b_ms, &b_st) == 6,
           "the guest got its three answers: %s", line[0] ? line : "(none)");
    ICHECK(d_st == BLKIF_RSP_OKAY && d_ms >= DISCARD_S * 1000 - 200,
           "the discard succeeded, after %lld ms (the disk's %d s)", d_ms,
           DISCARD_S);
    ICHECK(u_st == BLKIF_RSP_EOPNOTSUPP && b_st == BLKIF_RSP_ERROR,
           "the unknown operation got EOPNOTSUPP (%d), the bad read ERROR "
           "(%d)",
           u_st, b_st);
    ICHECK(u_ms < 1000 && b_ms < 1000 && u_ms < d_ms && b_ms < d_ms,
           "both answered while the discard ran (%lld and %lld ms, the "
           "discard %lld ms): the ring was not stalled",
           u_ms, b_ms, d_ms);
    dprintf(a.to, "detach\n");
    rf_read_line(&a, line, sizeof(line));
    rf_wait_be_state(r->xb, a.domid, devid, XenbusStateClosed, 5000);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(r->dom0, a.domid);
    rf_toolstack_rm(r->xb, a.domid, devid);
    usleep(200000); /* blkback closes the device */
    slow_disk_end(r->dir, dev, nbd);
}

int main(int argc, char **argv)
{
    static const char *const args[] = {"--max-queues", "1", NULL};
    struct rf_run r = {0};
    const char *why;

    if (argc >= 4 && !strcmp(argv[1], "--role"))
        return role((unsigned)atoi(argv[3]));
    why = missing();
    if (why) {
        printf("skip: %s\n", why);
        return ITEST_SKIP;
    }
    if (rf_run_begin(&r, "blk_discard", args) == 0)
        run(&r);
    return rf_run_end(&r);
}
