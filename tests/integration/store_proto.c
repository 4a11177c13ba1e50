/* SPDX-License-Identifier: MIT */
/*
 * store_proto: xgrantd's store through the real libxenstore (-lxenstore).
 * Domain 0 is this process; domUs run this binary as an "agent" (one
 * xenstore command per line on stdin, "ok ..." / "err -N" on stdout), which
 * finds the store through the XENSTORED_PATH xgrantd gives every domain.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xenstore.h>

#include "common/itest.h"

/* libgrant/lib/sockpath.c (linked in): the store socket rule. */
int lg_store_sock_path(char *buf, size_t len);

/* ---- the agent (a domU) -------------------------------------------------- */

/* Next watch event within ms: "path token" into out; 0 or -ETIMEDOUT. */
static int next_event(struct xs_handle *h, int ms, char *out, size_t len)
{
    struct pollfd p = {.fd = xs_fileno(h), .events = POLLIN};
    unsigned n;
    char **ev = xs_check_watch(h);

    if (!ev && poll(&p, 1, ms) > 0)
        ev = xs_check_watch(h);
    if (!ev)
        return -ETIMEDOUT;
    (void)n;
    snprintf(out, len, "%s %s", ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
    free(ev);
    return 0;
}

static void agent_reply(bool ok, const char *txt)
{
    if (ok)
        printf("ok %s\n", txt);
    else
        printf("err -%d %s\n", errno, strerror(errno));
    fflush(stdout);
}

/* Repeats an operation until it fails: "ok <done> <errno>". */
static void agent_many(struct xs_handle *h, const char *what, const char *base,
                       int n)
{
    char path[256], tok[32];
    int i, err = 0;

    for (i = 0; i < n; i++) {
        bool ok;

        snprintf(path, sizeof(path), "%s/%d", base, i);
        snprintf(tok, sizeof(tok), "t%d", i);
        if (strcmp(what, "nodes") == 0)
            ok = xs_write(h, XBT_NULL, path, "x", 1);
        else if (strcmp(what, "watches") == 0)
            ok = xs_watch(h, path, tok);
        else
            ok = xs_transaction_start(h) != XBT_NULL;
        if (!ok) {
            err = errno;
            break;
        }
    }
    printf("ok %d %d\n", i, err);
    fflush(stdout);
}

/* Rewrites one node with a 2048-byte value inside one transaction until
 * that fails (then aborts it): "ok <done> <errno>". */
static void agent_txnlog(struct xs_handle *h, const char *path)
{
    static char v[2048];
    xs_transaction_t t = xs_transaction_start(h);
    int i, err = 0;

    memset(v, 'v', sizeof(v));
    for (i = 0; t != XBT_NULL && i < 2000; i++) {
        if (!xs_write(h, t, path, v, sizeof(v))) {
            err = errno;
            break;
        }
    }
    if (t != XBT_NULL)
        xs_transaction_end(h, t, true);
    printf("ok %d %d\n", i, t == XBT_NULL ? -1 : err);
    fflush(stdout);
}

/* A raw connection that sets a watch with a long token and never reads. */
static int stall_fd = -1;

static bool stall_tok(const char *path, size_t toklen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *store = getenv("XENSTORED_PATH");
    static char msg[16 + 256 + 3500];
    uint32_t hdr[4] = {XS_WATCH, 1, 0, 0};
    size_t pl = strlen(path) + 1;

    stall_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", store ? store : "");
    if (stall_fd < 0 || pl > 200 || toklen > 3000 ||
        connect(stall_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return false;
    memcpy(msg + 16, path, pl);
    memset(msg + 16 + pl, 't', toklen);
    msg[16 + pl + toklen] = '\0';
    hdr[3] = (uint32_t)(pl + toklen + 1);
    memcpy(msg, hdr, sizeof(hdr));
    return send(stall_fd, msg, 16 + hdr[3], 0) == (ssize_t)(16 + hdr[3]);
}

static bool stall(const char *path)
{
    return stall_tok(path, 200);
}

/* Reads what the stalled connection has; bytes read, -1 once closed. */
static long stall_drain(void)
{
    static char buf[65536];
    long total = 0;
    ssize_t n;

    while ((n = recv(stall_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        total += n;
    return n == 0 || (n < 0 && errno != EAGAIN) ? -1 : total;
}

/* Has the daemon closed the stalled connection?  "ok 1" / "ok 0".  Asked
 * of poll, never by reading: a read here would take what the daemon queued
 * (and, while the daemon refills the socket, all of it), so the connection
 * would not be the one that never reads, and under load was never closed. */
static void stalled(void)
{
    struct pollfd p = {.fd = stall_fd, .events = POLLRDHUP};

    printf("ok %d\n", poll(&p, 1, 0) == 1 &&
                          (p.revents & (POLLHUP | POLLRDHUP | POLLERR)));
    fflush(stdout);
}

/* Writes path n times: "ok <done> <errno>". */
static void agent_rewrite(struct xs_handle *h, const char *path, int n)
{
    int i, err = 0;

    for (i = 0; i < n; i++)
        if (!xs_write(h, XBT_NULL, path, "x", 1)) {
            err = errno;
            break;
        }
    printf("ok %d %d\n", i, err);
    fflush(stdout);
}

static void agent_line(struct xs_handle *h, char *line)
{
    char a[256] = "", b[4096] = "", out[4200] = "";
    char cmd[32] = "";
    unsigned len = 0, n = 0;
    char **list;
    char *v;
    int num = 0;

    sscanf(line, "%31s %255s %4095s", cmd, a, b);
    if (strcmp(cmd, "read") == 0) {
        v = xs_read(h, XBT_NULL, a, &len);
        agent_reply(v != NULL, v ? v : "");
        free(v);
    } else if (strcmp(cmd, "write") == 0) {
        agent_reply(xs_write(h, XBT_NULL, a, b, strlen(b)), "");
    } else if (strcmp(cmd, "bigwrite") == 0) {
        num = atoi(b);
        v = calloc(1, (size_t)num + 1);
        memset(v, 'v', (size_t)num);
        agent_reply(xs_write(h, XBT_NULL, a, v, (unsigned)num), "");
        free(v);
    } else if (strcmp(cmd, "rm") == 0) {
        agent_reply(xs_rm(h, XBT_NULL, a), "");
    } else if (strcmp(cmd, "dir") == 0) {
        list = xs_directory(h, XBT_NULL, a, &n);
        for (unsigned i = 0; list && i < n; i++)
            snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s",
                     i ? "," : "", list[i]);
        agent_reply(list != NULL, out);
        free(list);
    } else if (strcmp(cmd, "setperms") == 0) {
        struct xs_permissions p[4];
        char *s = line + strlen(cmd) + strlen(a) + 2, *tok;

        while ((tok = strsep(&s, " \n")) && n < 4)
            if (*tok && xs_strings_to_perms(&p[n], 1, tok))
                n++;
        agent_reply(xs_set_permissions(h, XBT_NULL, a, p, n), "");
    } else if (strcmp(cmd, "watch") == 0) {
        agent_reply(xs_watch(h, a, b), "");
    } else if (strcmp(cmd, "event") == 0) {
        errno = ETIMEDOUT;
        agent_reply(next_event(h, atoi(a), out, sizeof(out)) == 0, out);
    } else if (strcmp(cmd, "stall") == 0) {
        agent_reply(stall(a), "");
    } else if (strcmp(cmd, "stalled") == 0) {
        stalled();
    } else if (strcmp(cmd, "rewrite") == 0) {
        agent_rewrite(h, a, atoi(b));
    } else if (strcmp(cmd, "txnlog") == 0) {
        agent_txnlog(h, a);
    } else if (strcmp(cmd, "many") == 0) {
        agent_many(h, a, b, 2000);
    } else {
        errno = EINVAL;
        agent_reply(false, "");
    }
}

static int agent(void)
{
    struct xs_handle *h = xs_open(0);
    char line[4400];

    if (!h) {
        printf("err -%d cannot open the store\n", errno);
        return 1;
    }
    while (fgets(line, sizeof(line), stdin))
        agent_line(h, line);
    xs_close(h);
    return 0;
}

/* ---- domain 0 ------------------------------------------------------------ */

static struct xs_handle *xs;

static char *rd(const char *path)
{
    unsigned len;

    return xs_read(xs, XBT_NULL, path, &len);
}

static bool value_is(const char *path, const char *want)
{
    char *v = rd(path);
    bool ok = v && strcmp(v, want) == 0;

    free(v);
    return ok;
}

/* The permissions of path as "n0,r3". */
static void perms_of(const char *path, char *out, size_t len)
{
    unsigned n = 0;
    struct xs_permissions *p = xs_get_permissions(xs, XBT_NULL, path, &n);
    static const char letter[] = "nrwb";

    out[0] = '\0';
    for (unsigned i = 0; p && i < n; i++)
        snprintf(out + strlen(out), len - strlen(out), "%s%c%u", i ? "," : "",
                 letter[p[i].perms & 3], p[i].id);
    free(p);
}

static bool perms_are(const char *path, const char *want)
{
    char got[128];

    perms_of(path, got, sizeof(got));
    if (strcmp(got, want) != 0)
        fprintf(stderr, "# perms of %s: %s, want %s\n", path, got, want);
    return strcmp(got, want) == 0;
}

/* The next event on xs within 10 s is (path, token). */
static bool event_is(const char *path, const char *token)
{
    char got[512], want[512];

    snprintf(want, sizeof(want), "%s %s", path, token);
    if (next_event(xs, 10000, got, sizeof(got)) < 0)
        snprintf(got, sizeof(got), "(none)");
    if (strcmp(got, want) != 0)
        fprintf(stderr, "# event: got \"%s\", want \"%s\"\n", got, want);
    return strcmp(got, want) == 0;
}

/* The agent's next event is exactly want ("path token"). */
static bool agent_event_is(struct itest_agent *a, const char *want)
{
    char buf[512];

    if (itest_cmd(a, buf, sizeof(buf), "event 10000") < 0)
        return false;
    if (strcmp(buf + 3, want) != 0)
        fprintf(stderr, "# %s event: \"%s\", want \"%s\"\n", a->name, buf + 3,
                want);
    return strcmp(buf + 3, want) == 0;
}

static void basics(void)
{
    unsigned n = 0;
    char **d;

    ICHECK(xs_write(xs, XBT_NULL, "/test/a/b", "hello", 5), "dom0 writes");
    ICHECK(value_is("/test/a/b", "hello"), "and reads back");
    ICHECK(value_is("/test/a", ""), "intermediate nodes are made, empty");
    ICHECK(xs_mkdir(xs, XBT_NULL, "/test/dir"), "mkdir");
    d = xs_directory(xs, XBT_NULL, "/test", &n);
    ICHECK(d && n == 2 && !strcmp(d[0], "a") && !strcmp(d[1], "dir"),
           "directory lists a, dir");
    free(d);
    ICHECK(xs_rm(xs, XBT_NULL, "/test/a"), "rm a subtree");
    ICHECK(!rd("/test/a/b") && errno == ENOENT, "gone: ENOENT");
    ICHECK(xs_rm(xs, XBT_NULL, "/test/nothere"),
           "rm of a missing child of an existing node succeeds (Xen)");
    ICHECK(!xs_rm(xs, XBT_NULL, "/nope/nothere") && errno == ENOENT,
           "rm below a missing node: ENOENT");
    ICHECK(!xs_write(xs, XBT_NULL, "/test/bad//x", "", 0) && errno == EINVAL,
           "a malformed path: EINVAL");
    ICHECK(value_is("/local/domain/0/name", "Domain-0"), "domain 0's name");
}

static void domain_nodes(const struct itest_agent *a)
{
    char p[128], want[64];

    snprintf(p, sizeof(p), "/local/domain/%u", a->domid);
    snprintf(want, sizeof(want), "n0,r%u", a->domid);
    ICHECK(perms_are(p, want), "/local/domain/N: owned by 0, readable by N");
    snprintf(p, sizeof(p), "/local/domain/%u/name", a->domid);
    ICHECK(value_is(p, a->name), "name");
    snprintf(p, sizeof(p), "/local/domain/%u/domid", a->domid);
    snprintf(want, sizeof(want), "%u", a->domid);
    ICHECK(value_is(p, want), "domid");
    snprintf(p, sizeof(p), "/local/domain/%u/device", a->domid);
    snprintf(want, sizeof(want), "n0,r%u", a->domid);
    ICHECK(perms_are(p, want), "device/ as libxl makes it");
    snprintf(p, sizeof(p), "/local/domain/%u/data", a->domid);
    snprintf(want, sizeof(want), "n%u", a->domid);
    ICHECK(perms_are(p, want), "data/ owned by N");
    snprintf(p, sizeof(p), "/local/domain/%u/control/shutdown", a->domid);
    ICHECK(perms_are(p, want), "control/shutdown owned by N");
    ICHECK(xs_is_domain_introduced(xs, a->domid), "introduced");
    snprintf(p, sizeof(p), "/local/domain/%u", a->domid);
    ICHECK(value_is(p, ""), "exists");
}

static void permissions(struct itest_agent *a)
{
    char buf[256], want[64];
    struct xs_permissions ro[2] = {{0, XS_PERM_NONE}, {a->domid, XS_PERM_READ}};

    ICHECK(itest_cmd(a, buf, sizeof(buf), "read name") == 0 &&
               strcmp(buf + 3, a->name) == 0,
           "a domU reads its name by a relative path");
    itest_err(a, -EACCES, "read /local/domain/0/name");
    itest_err(a, -EACCES, "write /local/domain/0/x v");
    itest_err(a, -EACCES, "write name renamed");
    itest_err(a, -EACCES, "setperms /local/domain/%u n%u", a->domid, a->domid);
    itest_err(a, -EACCES, "read /test/nothere/deeper");
    /* RM answers alike whether or not the node exists where the domU may
     * not write (it must not probe another domain's subtree). */
    itest_err(a, -EACCES, "rm /local/domain/0/name");
    itest_err(a, -EACCES, "rm /local/domain/0/nothere");
    itest_err(a, -EACCES, "rm /local/domain/0/no/deeper");
    itest_ok(a, "write data/sub/x 1");
    snprintf(buf, sizeof(buf), "/local/domain/%u/data/sub", a->domid);
    snprintf(want, sizeof(want), "n%u", a->domid);
    ICHECK(perms_are(buf, want), "what a domU creates it owns (inherited)");
    ICHECK(xs_write(xs, XBT_NULL, "/test/ro", "v", 1) &&
               xs_set_permissions(xs, XBT_NULL, "/test/ro", ro, 2),
           "dom0 makes /test/ro readable by the domU");
    ICHECK(itest_cmd(a, buf, sizeof(buf), "read /test/ro") == 0, "r: reads");
    itest_err(a, -EACCES, "write /test/ro w");
    itest_err(a, -EACCES, "write /test/ro/child w");
    ro[1].perms = XS_PERM_READ | XS_PERM_WRITE;
    xs_set_permissions(xs, XBT_NULL, "/test/ro", ro, 2);
    itest_ok(a, "write /test/ro/child w");
    snprintf(want, sizeof(want), "n%u,b%u", a->domid, a->domid);
    ICHECK(perms_are("/test/ro/child", want),
           "a domU's node below dom0's: it owns it, the list is inherited");
    itest_err(a, -EPERM, "setperms /test/ro/child n0");
    itest_ok(a, "setperms /test/ro/child n%u r0", a->domid);
    snprintf(want, sizeof(want), "/local/domain/%u/data/byzero", a->domid);
    ICHECK(xs_write(xs, XBT_NULL, want, "z", 1), "dom0 writes in data/");
    snprintf(buf, sizeof(buf), "n%u", a->domid);
    ICHECK(perms_are(want, buf), "dom0's node keeps the inherited owner");
}

/* A domU connection that never reads its events is closed once they pass
 * its bound; everyone else goes on being served. */
static void flood(struct itest_agent *a)
{
    char p[128], buf[256];
    int i;

    snprintf(p, sizeof(p), "/local/domain/%u/data/flood", a->domid);
    itest_ok(a, "stall data/flood");
    for (i = 0; i < 20000; i++) {
        if (!xs_write(xs, XBT_NULL, p, "x", 1))
            break;
        if (i % 500 == 499 && itest_ok(a, "stalled") == 1)
            break;
    }
    ICHECK(i < 20000,
           "a domU that never reads is disconnected (after %d "
           "events)",
           i + 1);
    ICHECK(itest_cmd(a, buf, sizeof(buf), "read name") == 0,
           "its other connection still works");
    ICHECK(value_is(p, "x"), "domain 0 is still served");
}

/* A domU rewriting a node that a domain-0 client watches but does not read
 * (with a long token: 3 KiB per event) fills that client's queue with at
 * most its own bound of events; the client is not disconnected for it. */
static void flood_dom0(struct itest_agent *a)
{
    char p[128], buf[128];
    long got;
    int done = -1, err = -1;

    snprintf(p, sizeof(p), "/local/domain/%u/data/loud", a->domid);
    ICHECK(stall_tok(p, 3000), "a domain-0 client watches %s, reads nothing",
           p);
    if (itest_cmd(a, buf, sizeof(buf), "rewrite data/loud 4000") == 0)
        sscanf(buf, "ok %d %d", &done, &err);
    ICHECK(done == 4000, "the domU wrote it 4000 times (%d, %d)", done, err);
    ICHECK(value_is(p, "x"), "domain 0 is still served");
    got = stall_drain();
    ICHECK(got >= 0 && got < (1 << 20),
           "the watcher is still connected, with %ld bytes of events (12 MB "
           "were fired)",
           got);
    close(stall_fd);
    stall_fd = -1;
}

static void watches(struct itest_agent *a)
{
    char want[256];

    ICHECK(xs_watch(xs, "/test/w", "tw"), "dom0 watches /test/w");
    ICHECK(event_is("/test/w", "tw"), "the initial event");
    xs_write(xs, XBT_NULL, "/test/w/deep/x", "1", 1);
    ICHECK(event_is("/test/w/deep/x", "tw"), "a change below fires");
    itest_ok(a, "watch data td");
    ICHECK(agent_event_is(a, "data td"), "domU: initial event, relative");
    snprintf(want, sizeof(want), "/local/domain/%u/data/hidden", a->domid);
    {
        struct xs_permissions none = {0, XS_PERM_NONE};

        xs_transaction_t t = xs_transaction_start(xs);

        xs_write(xs, t, want, "h", 1);
        xs_set_permissions(xs, t, want, &none, 1);
        ICHECK(xs_transaction_end(xs, t, false), "hidden node committed");
    }
    snprintf(want, sizeof(want), "/local/domain/%u/data/seen", a->domid);
    xs_write(xs, XBT_NULL, want, "s", 1);
    ICHECK(agent_event_is(a, "data/seen td"),
           "no event for a node the domU cannot read, then the next one");
    flood(a);
    flood_dom0(a);
    xs_rm(xs, XBT_NULL, "/test/w");
    ICHECK(event_is("/test/w", "tw"), "rm fires");
    ICHECK(xs_unwatch(xs, "/test/w", "tw"), "unwatch");
    ICHECK(!xs_unwatch(xs, "/test/w", "tw") && errno == ENOENT,
           "unwatch again: ENOENT");
}

static void transactions(void)
{
    xs_transaction_t t;
    unsigned len;
    char *v;
    bool ok;

    xs_write(xs, XBT_NULL, "/test/tx", "0", 1);
    t = xs_transaction_start(xs);
    v = xs_read(xs, t, "/test/tx", &len);
    free(v);
    xs_write(xs, XBT_NULL, "/test/tx", "other", 5);
    v = xs_read(xs, t, "/test/tx", &len);
    ICHECK(v && strcmp(v, "0") == 0, "a transaction reads its snapshot");
    free(v);
    xs_write(xs, t, "/test/tx", "mine", 4);
    ok = xs_transaction_end(xs, t, false);
    ICHECK(!ok && errno == EAGAIN, "conflicting commit: EAGAIN");
    ICHECK(value_is("/test/tx", "other"), "and nothing of it landed");
    t = xs_transaction_start(xs);
    v = xs_read(xs, t, "/test/tx", &len);
    free(v);
    xs_write(xs, t, "/test/tx", "mine", 4);
    xs_write(xs, t, "/test/tx2", "too", 3);
    ICHECK(!rd("/test/tx2"), "not visible outside before commit");
    ICHECK(xs_transaction_end(xs, t, false), "the retry commits");
    ICHECK(value_is("/test/tx", "mine") && value_is("/test/tx2", "too"),
           "both writes landed");
    t = xs_transaction_start(xs);
    xs_write(xs, t, "/test/tx3", "x", 1);
    ICHECK(xs_transaction_end(xs, t, true) && !rd("/test/tx3"),
           "an aborted transaction leaves nothing");
}

/* "ok <done> <errno>" of an agent's "many" command. */
static void many(struct itest_agent *a, const char *what, const char *base,
                 int *done, int *err)
{
    char buf[128];

    *done = *err = -1;
    if (itest_cmd(a, buf, sizeof(buf), "many %s %s", what, base) == 0)
        sscanf(buf, "ok %d %d", done, err);
}

static void quotas(struct itest_agent *a)
{
    char buf[128];
    int done, err;

    many(a, "nodes", "data/q", &done, &err);
    ICHECK(done > 900 && done < 1000 && err == ENOSPC,
           "node quota: %d nodes, then ENOSPC (%d)", done, err);
    itest_ok(a, "rm data/q");
    itest_ok(a, "bigwrite data/v 2048");
    itest_err(a, -ENOSPC, "bigwrite data/v 2049");
    many(a, "watches", "data/w", &done, &err);
    ICHECK(done == 127 && err == E2BIG, "watch quota: %d more, then E2BIG",
           done);
    if (itest_cmd(a, buf, sizeof(buf), "txnlog data/t") != 0 ||
        sscanf(buf, "ok %d %d", &done, &err) != 2)
        done = err = -1;
    ICHECK(done >= 50 && done < 2000 && err == ENOSPC,
           "rewriting one node in a transaction is bounded: %d writes, then "
           "ENOSPC (%d)",
           done, err);
    many(a, "txns", "-", &done, &err);
    ICHECK(done == 10 && err == ENOSPC, "transaction quota: %d, then ENOSPC",
           done);
    {
        char *big = calloc(1, 3001);

        memset(big, 'x', 3000);
        ICHECK(xs_write(xs, XBT_NULL, "/test/big", big, 3000),
               "domain 0 is not held to the value quota");
        free(big);
    }
}

static void release(grant_handle_t *dom0, struct itest_agent *a)
{
    char p[64], id[16];

    snprintf(p, sizeof(p), "/local/domain/%u", a->domid);
    snprintf(id, sizeof(id), "%u", a->domid);
    ICHECK(xs_watch(xs, "@releaseDomain", "rel"), "watch @releaseDomain");
    ICHECK(event_is("@releaseDomain", "rel"), "its initial event");
    /* Destroy while its program still waits for commands: closing its
     * pipes first let it exit by itself, and under load that exit could
     * win the race (destroy then ESRCH). */
    ICHECK(grant_ctl_domain_destroy(dom0, a->domid) == 0, "destroy");
    itest_agent_close(a);
    ICHECK(event_is("@releaseDomain", "rel"), "@releaseDomain fires");
    ICHECK(!rd(p) && errno == ENOENT, "/local/domain/N is gone");
    ICHECK(!xs_is_domain_introduced(xs, a->domid), "no longer introduced");
    ICHECK(perms_are("/test/ro/child", "n0,r0"),
           "what it owned went to domain 0, its entries dropped");
}

int main(int argc, char **argv)
{
    char store[4096], *dp;
    struct itest_agent a;
    grant_handle_t *dom0;
    char *av[] = {itest_self(), "agent", NULL};

    if (argc > 1 && strcmp(argv[1], "agent") == 0)
        return agent();
    unsetenv("XENSTORED_PATH"); /* the private xgrantd picks its own */
    itest_setup(&dom0);
    av[0] = itest_self();
    if (lg_store_sock_path(store, sizeof(store)) < 0)
        return 1;
    setenv("XENSTORED_PATH", store, 1);
    xs = xs_open(0);
    ICHECK(xs != NULL, "libxenstore opens %s", store);
    if (!xs) {
        itest_teardown(dom0);
        return itest_done();
    }
    basics();
    ICHECK(xs_watch(xs, "@introduceDomain", "intro"), "watch @introduceDomain");
    ICHECK(event_is("@introduceDomain", "intro"), "its initial event");
    itest_spawn_argv(dom0, &a, "storeguest", 64, av);
    ICHECK(event_is("@introduceDomain", "intro"), "@introduceDomain fires");
    dp = xs_get_domain_path(xs, a.domid);
    ICHECK(dp && strncmp(dp, "/local/domain/", 14) == 0 &&
               (unsigned)atoi(dp + 14) == a.domid,
           "GET_DOMAIN_PATH");
    free(dp);
    domain_nodes(&a);
    permissions(&a);
    watches(&a);
    transactions();
    quotas(&a);
    release(dom0, &a);
    xs_close(xs);
    itest_teardown(dom0);
    return itest_done();
}
