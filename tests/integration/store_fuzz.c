/* SPDX-License-Identifier: MIT */
/*
 * store_fuzz: malformed xenstore frames on raw sockets to xgrantd's store
 * (bad and huge lengths, missing NULs, unknown types, bad transaction ids,
 * random frames and bytes, partial frames then close).  After each case
 * another client is answered and the tree is intact.
 * Usage: store_fuzz [SEED [N]] (N random frames, default 300).
 */
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <errno.h> /* xs_wire.h: xsd_errors */
#include <xen/io/xs_wire.h>
#include <xenstore.h>

#include "common/itest.h"

int lg_store_sock_path(char *buf, size_t len);

static char store[108];

static int raw_open(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", store);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("store_fuzz: connect");
        exit(1);
    }
    return fd;
}

static void send_all(int fd, const void *p, size_t len)
{
    if (send(fd, p, len, MSG_NOSIGNAL) != (ssize_t)len)
        fprintf(stderr, "# short send (peer closed?)\n");
}

static void send_msg(int fd, uint32_t type, uint32_t tx, uint32_t len,
                     const void *pay, size_t paylen)
{
    struct xsd_sockmsg h = {type, 77, tx, len};

    send_all(fd, &h, sizeof(h));
    if (paylen)
        send_all(fd, pay, paylen);
}

/* Reads exactly len bytes within 10 s; 0, or -1 on EOF/timeout. */
static int recv_all(int fd, void *p, size_t len)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&pf, 1, 10000) <= 0)
            return -1;
        n = recv(fd, (char *)p + got, len - got, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return 0;
}

/* The next reply: its type and payload (NUL-terminated) or -1 when the
 * connection closed. */
static int reply(int fd, char *pay, size_t cap)
{
    struct xsd_sockmsg h;

    if (recv_all(fd, &h, sizeof(h)) < 0 || (size_t)h.len >= cap ||
        recv_all(fd, pay, h.len) < 0)
        return -1;
    pay[h.len] = '\0';
    return (int)h.type;
}

static bool closed_by_peer(int fd)
{
    char c;
    struct pollfd pf = {.fd = fd, .events = POLLIN};

    /* EOF, or ECONNRESET when it closed with our bytes unread. */
    return poll(&pf, 1, 10000) == 1 && recv(fd, &c, 1, 0) <= 0;
}

/* Another client is answered and the canary is intact. */
static bool intact(void)
{
    struct xs_handle *h = xs_open(0);
    unsigned len = 0, n = 0;
    char *v = h ? xs_read(h, XBT_NULL, "/fuzz/canary", &len) : NULL;
    char **d = h ? xs_directory(h, XBT_NULL, "/fuzz", &n) : NULL;
    bool ok = v && strcmp(v, "alive") == 0 && d && n == 2;

    free(v);
    free(d);
    if (h)
        xs_close(h);
    return ok;
}

static void expect_error(uint32_t type, uint32_t tx, const void *pay,
                         size_t len, const char *err, const char *what)
{
    char buf[5000];
    int fd = raw_open(), t;

    send_msg(fd, type, tx, (uint32_t)len, pay, len);
    t = reply(fd, buf, sizeof(buf));
    ICHECK(t == XS_ERROR && strcmp(buf, err) == 0, "%s: %s (got %d %s)", what,
           err, t, t == XS_ERROR ? buf : "");
    close(fd);
    ICHECK(intact(), "after %s: store answers, tree intact", what);
}

static void expect_close(uint32_t len, const char *what)
{
    int fd = raw_open();

    send_msg(fd, XS_WRITE, 0, len, "/fuzz/canary\0dead", 17);
    ICHECK(closed_by_peer(fd), "%s: connection closed", what);
    close(fd);
    ICHECK(intact(), "after %s: store answers, tree intact", what);
}

static void partial(void)
{
    struct xsd_sockmsg h = {XS_WRITE, 1, 0, 100};
    int fd = raw_open();

    send_all(fd, &h, 10);
    close(fd);
    fd = raw_open();
    send_all(fd, &h, sizeof(h));
    send_all(fd, "/fuzz/canary\0dead", 17);
    close(fd);
    ICHECK(intact(), "partial header / payload then close: tree intact");
}

static void random_frames(unsigned seed, unsigned n)
{
    static char pay[XENSTORE_PAYLOAD_MAX];
    int fd = raw_open();

    srandom(seed);
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = (uint32_t)random() % 64;
        uint32_t type = (uint32_t)random() % (XS_TYPE_COUNT + 3);

        if (type == XS_RM || type == XS_SET_PERMS || type == XS_RESET_WATCHES)
            type = XS_READ; /* keep the canary's own tree */
        for (uint32_t k = 0; k < len; k++)
            pay[k] = (char)(random() % 4 ? 'a' + random() % 26
                                         : "/\0@_"[random() % 4]);
        if (random() % 8 == 0)
            len = (uint32_t)random() % sizeof(pay);
        send_msg(fd, type, (uint32_t)random() % 3, len, pay, len);
    }
    /* Unframed bytes to finish. */
    for (unsigned k = 0; k < 256; k++)
        pay[k] = (char)random();
    send_all(fd, pay, 256);
    close(fd);
    ICHECK(intact(), "%u random frames (seed %u): tree intact", n, seed);
}

int main(int argc, char **argv)
{
    unsigned seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 1;
    unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 300;
    grant_handle_t *dom0;
    struct xs_handle *h;
    char big[XENSTORE_PAYLOAD_MAX + 1] = "/fuzz/canary";

    unsetenv("XENSTORED_PATH"); /* the private xgrantd picks its own */
    itest_setup(&dom0);
    if (lg_store_sock_path(store, sizeof(store)) < 0)
        return 1;
    setenv("XENSTORED_PATH", store, 1);
    h = xs_open(0);
    ICHECK(h && xs_write(h, XBT_NULL, "/fuzz/canary", "alive", 5) &&
               xs_write(h, XBT_NULL, "/fuzz/other", "x", 1),
           "canary written");
    if (h)
        xs_close(h);
    expect_close(XENSTORE_PAYLOAD_MAX + 1, "len PAYLOAD_MAX + 1");
    expect_close(0xffffffffu, "len 4 GiB - 1");
    expect_error(XS_READ, 0, "/fuzz/canary", 12, "EINVAL", "missing NUL");
    expect_error(999, 0, "/fuzz/canary", 13, "EINVAL", "unknown type");
    expect_error(XS_READ, 4242, "/fuzz/canary", 13, "ENOENT", "bad tx id");
    expect_error(XS_TRANSACTION_END, 0, "T", 2, "ENOENT", "end without tx");
    expect_error(XS_WATCH_EVENT, 0, "a\0b", 4, "EINVAL", "client event");
    expect_error(XS_READ, 0, "/fuzz//canary", 14, "EINVAL", "path with //");
    expect_error(XS_READ, 0, "", 0, "EINVAL", "empty payload");
    memset(big + 12, 'a', sizeof(big) - 13);
    big[XENSTORE_PAYLOAD_MAX - 1] = '\0';
    expect_error(XS_READ, 0, big, XENSTORE_PAYLOAD_MAX, "EINVAL",
                 "a 4095-byte path");
    partial();
    random_frames(seed, n);
    itest_teardown(dom0);
    return itest_done();
}
