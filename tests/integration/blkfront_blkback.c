/* SPDX-License-Identifier: MIT */
/*
 * blkfront_blkback: libxgblkfront against the real xgrant-blkback, on a
 * raw image file:
 *  - byte-exact grants (feature-grant-ext) and standard grants (the
 *    persistent v1 pool): random sizes up to 1 MiB, a queue as deep as
 *    the rings, flush, discard; the image holds what the guest's model
 *    holds (crc);
 *  - xgrant-blkback SIGKILLed while the guest keeps 16 writes in flight,
 *    then started again: the guest reconnects, re-issues, every write
 *    completes, everything acknowledged reads back intact, and the image
 *    holds it;
 *  - xgrant-blkback --io-helper: the library answers
 *    feature-grant-delegate, its segment grants carry DELEGATE and the
 *    backend's helper domain moves the bytes.
 * Skips (77) when xgrant-blkback is not built.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blk/rawfront.h"
#include "blkfront/testbe.h"
#include "common/itest.h"

static struct rf_run run;

static uint32_t image_crc(const char *img)
{
    uint8_t *b = calloc(1, DISK);
    int fd = open(img, O_RDONLY);
    uint32_t c =
        fd >= 0 && pread(fd, b, DISK, 0) == (ssize_t)DISK ? crc32(b, DISK) : 0;

    if (fd >= 0)
        close(fd);
    free(b);
    return c;
}

/* A guest running role on a fresh image as vbd devid. */
static void guest(struct itest_agent *a, const char *role, unsigned devid,
                  char *img)
{
    char id[16];
    char *argv[] = {itest_self(), "--role", (char *)role, id, NULL};

    snprintf(id, sizeof(id), "%u", devid);
    snprintf(img, PATH_MAX, "%s/%s.img", run.dir, role);
    ICHECK(rf_image_create(img, DISK) == 0, "image %s", img);
    itest_spawn_argv(run.dom0, a, role, GUEST_MEM, argv);
    ICHECK(rf_toolstack_add(run.xb, a->domid, devid, img, "w") == 0,
           "toolstack wrote vbd %u/%u", a->domid, devid);
}

static void guest_end(struct itest_agent *a, unsigned devid)
{
    itest_agent_close(a);
    grant_ctl_domain_destroy(run.dom0, a->domid);
    rf_toolstack_rm(run.xb, a->domid, devid);
}

static void case_io(const char *role, unsigned devid)
{
    char img[PATH_MAX], line[256];
    struct itest_agent a;
    unsigned crc = 0;

    guest(&a, role, devid, img);
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok", 2), "%s: %s", role,
           line[0] ? line : "(nothing)");
    sscanf(line, "ok crc=%x", &crc);
    ICHECK(crc && crc == image_crc(img),
           "%s: the image holds what the guest wrote (crc %08x, image %08x)",
           role, crc, image_crc(img));
    guest_end(&a, devid);
}

static void case_kill(unsigned devid)
{
    char img[PATH_MAX], line[256];
    struct itest_agent a;
    unsigned crc = 0;
    int st = 0;

    guest(&a, "churn", devid, img);
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok flushed", 10), "churn: %s",
           line[0] ? line : "(nothing)");
    usleep(200000); /* writes in flight, round after round */
    kill(run.bb, SIGKILL);
    waitpid(run.bb, &st, 0);
    usleep(100000);
    run.bb = rf_blkback_start(run.log, NULL);
    ICHECK(run.bb > 0, "xgrant-blkback restarted after SIGKILL");
    rf_read_line(&a, line, sizeof(line));
    ICHECK(!strncmp(line, "ok recovered", 12),
           "SIGKILLed backend: the guest reconnected, re-issued, read back "
           "intact: %s",
           line[0] ? line : "(nothing)");
    sscanf(line, "ok recovered crc=%x", &crc);
    ICHECK(crc && crc == image_crc(img),
           "the image holds every acknowledged write (crc %08x, image %08x)",
           crc, image_crc(img));
    guest_end(&a, devid);
}

/* The same guest against xgrant-blkback --io-helper. */
static void case_helper(unsigned devid)
{
    static const char *const args[] = {"--io-helper", NULL};
    static char text[1 << 16];
    FILE *f;
    size_t n;
    int st = 0;

    kill(run.bb, SIGTERM);
    waitpid(run.bb, &st, 0);
    run.bb = rf_blkback_start(run.log, args);
    case_io("io-ext", devid);
    f = fopen(run.log, "r");
    n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
    text[n] = '\0';
    if (f)
        fclose(f);
    ICHECK(strstr(text, "grant I/O by helper domains"),
           "--io-helper: the library agreed to feature-grant-delegate");
}

int main(int argc, char **argv)
{
    char bin[PATH_MAX + 32], self[PATH_MAX];

    if (argc >= 4 && !strcmp(argv[1], "--role"))
        return blkfront_role(argv[2], (unsigned)atoi(argv[3]));
    if (!realpath("/proc/self/exe", self))
        return 1;
    snprintf(bin, sizeof(bin), "%s/../../bin/xgrant-blkback", dirname(self));
    if (access(bin, X_OK)) {
        printf("skip: xgrant-blkback is not built (%s)\n", bin);
        return ITEST_SKIP;
    }
    if (rf_run_begin(&run, "blkfront-bb", NULL) < 0)
        return rf_run_end(&run);
    case_io("io-ext", 51712);
    case_io("io-v1", 51728);
    case_kill(51744);
    case_helper(51760);
    return rf_run_end(&run);
}
