/* SPDX-License-Identifier: MIT */
/*
 * blkfront_nbd: real NBD clients through the nbdkit plugin.  A guest
 * domain runs nbdkit with nbdkit-xgrant-plugin.so on its vbd (served by
 * the test's blkif backend in domain 0, testbe.c) on a Unix socket;
 * domain 0 then:
 *  - writes random data with qemu-img convert: the backend's disk must
 *    hold exactly those bytes;
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
#include <unistd.h>

#include "blkfront/testbe.h"
#include "common/itest.h"

#define DEVID 5

static char dir[PATH_MAX], sock[PATH_MAX + 16], uri[PATH_MAX + 64];
static char plugin[PATH_MAX];

static const char *find_tool(const char *name)
{
    static const char *paths[] = {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"};
    static char buf[4][PATH_MAX];
    static unsigned k;
    unsigned i;

    for (i = 0; i < 4; i++) {
        char *p = buf[k % 4];

        snprintf(p, PATH_MAX, "%s%s", paths[i], name);
        if (access(p, X_OK) == 0) {
            k++;
            return p;
        }
    }
    return NULL;
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
        pump(bus, 5, NULL, NULL);
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
    ICHECK(!memcmp(disks[DEVID], data, DISK),
           "the backend's disk holds what %s wrote (crc %08x vs %08x)", what,
           crc32(disks[DEVID], DISK), crc32(data, DISK));
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
    memcpy(data, disks[DEVID], 1024);
    fill_rand(data + 2048, 1000, 3);
    write_file(odd, data + 2048, 1000);
    rc = run(bus, ow);
    ICHECK(rc != 0 && !memcmp(disks[DEVID], data, 1024),
           "a 1000-byte write is refused, the disk unchanged (exit %d)", rc);
    free(data);
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
    const char *nbdkit = find_tool("nbdkit"), *qemu_img = find_tool("qemu-img"),
               *nbdcopy = find_tool("nbdcopy");
    char fe_dir[GRANT_XENBUS_PATH_MAX], be_dir[GRANT_XENBUS_PATH_MAX];
    char self[PATH_MAX], arg_dev[32];
    struct itest_agent a;
    struct xbe *bus;
    int rc;

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
    snprintf(arg_dev, sizeof(arg_dev), "devid=%u", DEVID);
    {
        char *argv[] = {(char *)nbdkit, "-f",          "-U",
                        sock,           "--threads=8", plugin,
                        arg_dev,        "timeout=20",  NULL};

        itest_spawn_argv(h0, &a, "nbdkit", 8192, argv);
    }
    disks[DEVID] = calloc(1, DISK);
    itest_dev_add(xb0, KIND, a.domid, DEVID, fe_dir, be_dir);
    pump(bus, 20000, sock_ready, NULL);
    rc = sock_ready(NULL);
    ICHECK(rc, "nbdkit in the guest listens on %s", sock);
    if (rc)
        clients(bus, qemu_img, nbdcopy);
    itest_agent_close(&a);
    grant_ctl_domain_destroy(h0, a.domid);
    pump(bus, 300, NULL, NULL);
    xbe_close(bus);
    cleanup();
    grant_xenbus_close(xb0);
    itest_teardown(h0);
    return itest_done();
}
