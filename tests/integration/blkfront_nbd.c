/* SPDX-License-Identifier: MIT */
/*
 * blkfront_nbd: real NBD clients through the nbdkit plugin.  A guest
 * domain runs nbdkit with nbdkit-xgrant-plugin.so on its vbd on a Unix
 * socket, served first by the test's blkif backend in domain 0 (testbe.c,
 * a RAM disk), then by xgrant-blkback on an image file (when built);
 * domain 0 then, each time:
 *  - writes random data with qemu-img convert: the backend's disk (or the
 *    image) must hold exactly those bytes;
 *  - writes other random data with nbdcopy over 4 connections (parallel
 *    requests, multi-conn): again on the disk exactly;
 *  - reads the disk back with nbdcopy and with qemu-img convert: the files
 *    must equal the data;
 *  - a write of 1000 bytes is refused, the disk unchanged.
 * Skips (77) when nbdkit, qemu-img or nbdcopy, or the plugin (built only
 * with nbdkit-plugin-dev) is missing: `make deps` installs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "blk/rawfront.h"
#include "blkfront/testbe.h"
#include "common/itest.h"

#define DEVID 5

static char dir[PATH_MAX], sock[PATH_MAX + 16], uri[PATH_MAX + 64];
static char plugin[PATH_MAX];

/* The path of a tool into out (PATH_MAX), or NULL. */
static const char *find_tool(const char *name, char *out)
{
    static const char *paths[] = {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"};
    unsigned i;

    for (i = 0; i < 4; i++) {
        snprintf(out, PATH_MAX, "%s%s", paths[i], name);
        if (access(out, X_OK) == 0)
            return out;
    }
    return NULL;
}

/* The test backend serves for ms (or until done); with xgrant-blkback
 * (bus NULL) there is nothing to serve: just wait. */
static void serve(struct xbe *bus, int ms, int (*done)(void *))
{
    long long end = itest_ms() + ms;

    if (bus) {
        pump(bus, ms, done, NULL);
        return;
    }
    while (itest_ms() < end && !(done && done(NULL)))
        usleep(5000);
}

/* Runs argv to completion while the backend serves: its exit status. */
static int run(struct xbe *bus, char **argv)
{
    long long end = itest_ms() + 60000;
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int null = open("/dev/null", O_RDONLY);

        dup2(null, 0);
        execv(argv[0], argv);
        _exit(127);
    }
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (itest_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -ETIMEDOUT;
        }
        serve(bus, 5, NULL);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int sock_ready(void *arg)
{
    struct stat sb;

    (void)arg;
    return stat(sock, &sb) == 0;
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    ICHECK(f && fwrite(p, 1, n, f) == n, "wrote %s", path);
    if (f)
        fclose(f);
}

static int file_is(const char *path, const uint8_t *p, size_t n)
{
    uint8_t *b = malloc(n + 1);
    FILE *f = fopen(path, "rb");
    size_t got = f && b ? fread(b, 1, n + 1, f) : 0;
    int same = got == n && !memcmp(b, p, n);

    if (f)
        fclose(f);
    free(b);
    return same;
}

static char image[PATH_MAX + 16]; /* xgrant-blkback's image, or "" */

/* The disk as the backend holds it: the test backend's RAM disk, or the
 * image file xgrant-blkback writes. */
static const uint8_t *disk_now(void)
{
    static uint8_t *b;
    int fd;

    if (!image[0])
        return disks[DEVID];
    if (!b)
        b = malloc(DISK);
    fd = open(image, O_RDONLY);
    if (fd < 0 || pread(fd, b, DISK, 0) != (ssize_t)DISK)
        memset(b, 0xee, DISK);
    if (fd >= 0)
        close(fd);
    return b;
}

static void fill_rand(uint8_t *p, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)(rand_r(&seed) >> 7);
}

/* Random data (seed) written into the disk by a client: the backend's
 * disk must then hold exactly it. */
static void write_in(struct xbe *bus, char **argv, const char *what,
                     const char *in, uint8_t *data, unsigned seed)
{
    int rc;

    fill_rand(data, DISK, seed);
    write_file(in, data, DISK);
    rc = run(bus, argv);
    ICHECK(rc == 0, "%s into the guest's disk (exit %d)", what, rc);
    ICHECK(!memcmp(disk_now(), data, DISK),
           "the %s holds what %s wrote (crc %08x vs %08x)",
           image[0] ? "image" : "backend's disk", what, crc32(disk_now(), DISK),
           crc32(data, DISK));
}

static void clients(struct xbe *bus, const char *qemu_img, const char *nbdcopy)
{
    uint8_t *data = malloc(DISK);
    char in[PATH_MAX + 16], out[PATH_MAX + 16], odd[PATH_MAX + 16];
    char *qw[] = {(char *)qemu_img,
                  "convert",
                  "-n",
                  "-f",
                  "raw",
                  "-O",
                  "raw",
                  in,
                  uri,
                  NULL};
    char *cw[] = {(char *)nbdcopy,
                  "--connections=4",
                  "--requests=16",
                  "--flush",
                  in,
                  uri,
                  NULL};
    char *cr[] = {(char *)nbdcopy, uri, out, NULL};
    char *qr[] = {
        (char *)qemu_img, "convert", "-f", "raw", "-O", "raw", uri, out, NULL};
    char *ow[] = {(char *)nbdcopy, "--connections=1", odd, uri, NULL};
    int rc;

    snprintf(in, sizeof(in), "%s/in.img", dir);
    snprintf(out, sizeof(out), "%s/out.img", dir);
    snprintf(odd, sizeof(odd), "%s/odd.img", dir);

    write_in(bus, qw, "qemu-img convert", in, data, 1);
    write_in(bus, cw, "nbdcopy over 4 connections", in, data, 2);

    unlink(out);
    close(open(out, O_CREAT | O_WRONLY, 0600));
    rc = run(bus, cr);
    ICHECK(rc == 0 && file_is(out, data, DISK),
           "nbdcopy reads the disk back intact (exit %d)", rc);
    unlink(out);
    rc = run(bus, qr);
    ICHECK(rc == 0 && file_is(out, data, DISK),
           "qemu-img convert reads the disk back intact (exit %d)", rc);

    /* A client that ignores the minimum block size: refused, the disk
     * unchanged (libnbd refuses it itself unless told not to). */
    memcpy(data, disk_now(), 1024);
    fill_rand(data + 2048, 1000, 3);
    write_file(odd, data + 2048, 1000);
    rc = run(bus, ow);
    ICHECK(rc != 0 && !memcmp(disk_now(), data, 1024),
           "a 1000-byte write is refused, the disk unchanged (exit %d)", rc);
    free(data);
}

/* A guest domain running nbdkit with the plugin on its vbd `devid`
 * (plugin argument dev); the clients run once it listens. */
static void export(struct xbe *bus, const char *nbdkit, const char *dev,
                   unsigned devid)
{
    char tq[PATH_MAX], tc[PATH_MAX];
    const char *qemu_img = find_tool("qemu-img", tq),
               *nbdcopy = find_tool("nbdcopy", tc);
    char *argv[] = {(char *)nbdkit, "-f",          "-U",
                    sock,           "--threads=8", plugin,
                    (char *)dev,    "timeout=20",  NULL};
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX];
    struct itest_agent a;
    int rc;

    unlink(sock);
    itest_spawn_argv(h0, &a, "nbdkit", 8192, argv);
    if (image[0])
        ICHECK(rf_toolstack_add(xb0, a.domid, devid, image, "w") == 0,
               "toolstack wrote vbd %u/%u on %s", a.domid, devid, image);
    else
        itest_device_add(xb0, KIND, a.domid, devid, fe_dir, be_dir);
    serve(bus, 20000, sock_ready);
    rc = sock_ready(NULL);
    ICHECK(rc, "nbdkit in the guest listens on %s (%s)", sock, dev);
    if (rc)
        clients(bus, qemu_img, nbdcopy);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(h0, a.domid);
    serve(bus, 300, NULL);
    if (image[0])
        rf_toolstack_rm(xb0, a.domid, devid);
}

static void blkback(const char *nbdkit)
{
    char log[PATH_MAX + 16], self[PATH_MAX], bin[PATH_MAX + 32];
    pid_t bb;
    int st = 0;

    if (!realpath("/proc/self/exe", self))
        return;
    snprintf(bin, sizeof(bin), "%s/../../bin/xgrant-blkback", dirname(self));
    if (access(bin, X_OK)) {
        printf("# xgrant-blkback is not built: its half is skipped\n");
        return;
    }
    snprintf(log, sizeof(log), "%s/blkback.log", dir);
    snprintf(image, sizeof(image), "%s/disk.img", dir);
    ICHECK(rf_image_create(image, DISK) == 0, "image %s", image);
    bb = rf_blkback_start(log, NULL);
    ICHECK(bb > 0, "xgrant-blkback started");
    export(NULL, nbdkit, "vdev=xvda", 51712);
    kill(bb, SIGTERM);
    waitpid(bb, &st, 0);
    ICHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "xgrant-blkback exits 0 on SIGTERM (0x%x)", st);
    unlink(log);
    unlink(image);
}

static void cleanup(void)
{
    static const char *names[] = {"nbd.sock", "in.img", "out.img", "odd.img"};
    char p[PATH_MAX + 16];
    unsigned i;

    for (i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int main(void)
{
    static char tools[3][PATH_MAX];
    const char *nbdkit = find_tool("nbdkit", tools[0]),
               *qemu_img = find_tool("qemu-img", tools[1]),
               *nbdcopy = find_tool("nbdcopy", tools[2]);
    char self[PATH_MAX], cmd[2 * PATH_MAX + 64];
    struct xbe *bus;

    if (!realpath("/proc/self/exe", self))
        return 1;
    snprintf(plugin, sizeof(plugin), "%s/../../lib/nbdkit-xgrant-plugin.so",
             dirname(self));
    if (!nbdkit || !qemu_img || !nbdcopy || access(plugin, R_OK)) {
        printf("skip: needs nbdkit, qemu-img, nbdcopy and the plugin (%s%s%s%s"
               "missing; make deps installs them)\n",
               nbdkit ? "" : "nbdkit ", qemu_img ? "" : "qemu-img ",
               nbdcopy ? "" : "nbdcopy ",
               access(plugin, R_OK) ? "nbdkit-xgrant-plugin.so " : "");
        return ITEST_SKIP;
    }
    snprintf(cmd, sizeof(cmd), "%s %s --dump-plugin >/dev/null 2>&1", nbdkit,
             plugin);
    if (system(cmd) != 0) {
        printf("skip: nbdkit cannot load %s (built with SANITIZE=1? ASan "
               "must come first)\n",
               plugin);
        return ITEST_SKIP;
    }
    itest_setup(&h0);
    if (grant_xenbus_open(&xb0, 0) < 0 || be_init() < 0 ||
        xbe_open(&bus, &be_ops, h0, xb0, 0, NULL) < 0 ||
        itest_mkdtemp(dir, sizeof(dir), "blkfront-nbd") < 0 ||
        chmod(dir, 01777) < 0) { /* the confined domain makes its socket */
        ICHECK(0, "store, backend and a directory");
        itest_teardown(h0);
        return itest_done();
    }
    snprintf(sock, sizeof(sock), "%s/nbd.sock", dir);
    snprintf(uri, sizeof(uri), "nbd+unix:///?socket=%s", sock);
    /* The test backend, devid 5. */
    disks[DEVID] = calloc(1, DISK);
    export(bus, nbdkit, "devid=5", DEVID);
    xbe_close(bus);
    /* xgrant-blkback on an image, the disk named xvda. */
    blkback(nbdkit);
    cleanup();
    grant_xenbus_close(xb0);
    itest_teardown(h0);
    return itest_done();
}
