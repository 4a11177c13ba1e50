/* SPDX-License-Identifier: MIT */
/*
 * xenbus: libgrant_xenbus.h against a private xgrantd's store, through the
 * real libxenstore: device paths and the other end, node reads and writes,
 * the XenbusState machine, waiting on a peer (times out when it never
 * moves, returns as soon as it does, stops on Closing, keeps the caller's
 * own watch events through spurious ones) and transactions that conflict
 * and are retried.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "libgrant_xenbus.h"

static char fe[GRANT_XENBUS_PATH_MAX], be[GRANT_XENBUS_PATH_MAX];

static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static void test_paths(grant_xenbus_t *xb, unsigned domid)
{
    char small[8], *path = NULL;
    unsigned id = 999;
    int rc;

    ICHECK(grant_xenbus_frontend_dir(domid, "vbd", 51712, fe, sizeof(fe)) == 0,
           "frontend dir %s", fe);
    ICHECK(grant_xenbus_backend_dir(0, "vbd", domid, 51712, be, sizeof(be)) ==
               0,
           "backend dir %s", be);
    ICHECK(grant_xenbus_frontend_dir(1, "vbd", 1, small, sizeof(small)) ==
               -ENAMETOOLONG,
           "a short buffer is -ENAMETOOLONG");
    ICHECK(grant_xenbus_backend_dir(0, "a/b", 1, 1, be + 0, 0) == -EINVAL,
           "a kind with '/' is -EINVAL");
    grant_xenbus_backend_dir(0, "vbd", domid, 51712, be, sizeof(be));
    /* What the toolstack writes: the links and the peers' ids. */
    grant_xenbus_write(xb, XBT_NULL, fe, "backend", be);
    grant_xenbus_write(xb, XBT_NULL, fe, "backend-id", "0");
    grant_xenbus_write(xb, XBT_NULL, be, "frontend", fe);
    grant_xenbus_printf(xb, XBT_NULL, be, "frontend-id", "%u", domid);
    rc = grant_xenbus_otherend(xb, fe, "backend", &path, &id);
    ICHECK(rc == 0 && path && !strcmp(path, be) && id == 0,
           "frontend's other end is the backend (%s, %u)", path, id);
    free(path);
    rc = grant_xenbus_otherend(xb, be, "frontend", &path, &id);
    ICHECK(rc == 0 && path && !strcmp(path, fe) && id == domid,
           "backend's other end is the frontend (%s, %u)", path, id);
    free(path);
    grant_xenbus_write(xb, XBT_NULL, be, "frontend-id", "12x");
    ICHECK(grant_xenbus_otherend(xb, be, "frontend", &path, &id) == -EINVAL &&
               !path,
           "a malformed peer id is -EINVAL");
    ICHECK(grant_xenbus_otherend(xb, be, "nosuch", &path, NULL) == -ENOENT,
           "a missing link is -ENOENT");
    grant_xenbus_printf(xb, XBT_NULL, be, "frontend-id", "%u", domid);
}

static void test_nodes(grant_xenbus_t *xb)
{
    char *v = NULL;
    unsigned len = 0;
    int a = 0, b = 0;

    ICHECK(grant_xenbus_printf(xb, XBT_NULL, be, "ring-ref", "%d %d", 8, 9) ==
               0,
           "printf-write");
    a = grant_xenbus_read(xb, XBT_NULL, be, "ring-ref", &v, &len);
    ICHECK(a == 0 && v && !strcmp(v, "8 9") && len == 3,
           "read back '%s' (%u bytes)", v ? v : "", len);
    free(v);
    ICHECK(grant_xenbus_scanf(xb, XBT_NULL, be, "ring-ref", "%d %d", &a, &b) ==
                   2 &&
               a == 8 && b == 9,
           "scanf-read converts 2 items");
    ICHECK(grant_xenbus_scanf(xb, XBT_NULL, be, "nosuch", "%d", &a) == -ENOENT,
           "scanf of a missing node is -ENOENT");
    ICHECK(grant_xenbus_rm(xb, XBT_NULL, be, "ring-ref") == 0 &&
               grant_xenbus_read(xb, XBT_NULL, be, "ring-ref", &v, NULL) ==
                   -ENOENT &&
               !v,
           "rm, then the node is gone");
    ICHECK(grant_xenbus_rm(xb, XBT_NULL, be, "ring-ref") == 0,
           "rm of a missing node is success");
    ICHECK(grant_xenbus_set_perms(xb, XBT_NULL, be, "frontend", "n0,q1") ==
               -EINVAL,
           "a malformed permission string is -EINVAL");
}

static void test_states(grant_xenbus_t *xb)
{
    int st = -1;

    ICHECK(
        !strcmp(grant_xenbus_state_name(XenbusStateConnected), "Connected") &&
            !strcmp(grant_xenbus_state_name(XenbusStateInitWait), "InitWait") &&
            !strcmp(grant_xenbus_state_name(42), "Invalid"),
        "state names");
    ICHECK(grant_xenbus_read_state(xb, XBT_NULL, be, &st) == 0 &&
               st == XenbusStateUnknown,
           "no state node reads as Unknown");
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, XenbusStateInitWait) ==
               -ENOENT,
           "switch_state does not create a removed device's state");
    grant_xenbus_printf(xb, XBT_NULL, be, "state", "%d",
                        XenbusStateInitialising);
    grant_xenbus_printf(xb, XBT_NULL, fe, "state", "%d",
                        XenbusStateInitialising);
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, XenbusStateInitWait) ==
                   0 &&
               grant_xenbus_read_state(xb, XBT_NULL, be, &st) == 0 &&
               st == XenbusStateInitWait,
           "switch_state Initialising -> InitWait writes \"2\"");
    ICHECK(grant_xenbus_switch_state(xb, XBT_NULL, be, 99) == -EINVAL,
           "switch to an invalid state is -EINVAL");
    grant_xenbus_write(xb, XBT_NULL, fe, "state", "4x");
    ICHECK(grant_xenbus_read_state(xb, XBT_NULL, fe, &st) == -EINVAL,
           "a malformed state is -EINVAL");
    grant_xenbus_printf(xb, XBT_NULL, fe, "state", "%d",
                        XenbusStateInitialising);
}

/* The peer: after delay_ms, writes noise, then moves `dir` to `state`. */
struct peer {
    const char *dir;
    int state, delay_ms, noise;
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    grant_xenbus_t *xb;
    int i, cur = 0;

    if (grant_xenbus_open(&xb, 0) < 0)
        return NULL;
    usleep((useconds_t)p->delay_ms * 1000);
    for (i = 0; i < p->noise; i++) {
        grant_xenbus_printf(xb, XBT_NULL, "/local/domain/0/xbtest", "mine",
                            "%d", i);
        grant_xenbus_read_state(xb, XBT_NULL, p->dir, &cur);
        grant_xenbus_printf(xb, XBT_NULL, p->dir, "state", "%d", cur);
        grant_xenbus_write(xb, XBT_NULL, p->dir, "other", "x");
    }
    grant_xenbus_switch_state(xb, XBT_NULL, p->dir, p->state);
    grant_xenbus_close(xb);
    return NULL;
}

static int wait_with_peer(grant_xenbus_t *xb, struct peer *p, int want,
                          int timeout_ms, int *st, long long *ms)
{
    pthread_t t;
    long long t0 = ms_now();
    int rc;

    pthread_create(&t, NULL, peer_main, p);
    rc = grant_xenbus_wait_state(xb, p->dir, want, timeout_ms, st);
    *ms = ms_now() - t0;
    pthread_join(t, NULL);
    return rc;
}

static void test_wait(grant_xenbus_t *xb)
{
    struct peer p = {be, XenbusStateConnected, 200, 0};
    long long t0 = ms_now(), ms;
    char *path = NULL, *token = NULL;
    int st = -1, rc, mine = 0, leaked = 0;

    rc = grant_xenbus_wait_state(xb, be, XenbusStateConnected, 300, &st);
    ms = ms_now() - t0;
    ICHECK(rc == -ETIMEDOUT && st == XenbusStateInitWait && ms >= 290,
           "wait times out when the peer never moves (%d, state %d, %lld ms)",
           rc, st, ms);
    rc = wait_with_peer(xb, &p, XenbusStateConnected, 20000, &st, &ms);
    ICHECK(rc == 0 && st == XenbusStateConnected && ms < 15000,
           "wait returns when the peer reaches Connected (%lld ms)", ms);
    ICHECK(grant_xenbus_wait_state(xb, be, XenbusStateConnected, 0, &st) == 0,
           "a state already reached returns at once");

    /* Spurious events on the waited node and the caller's own watch. */
    grant_xenbus_write(xb, XBT_NULL, "/local/domain/0/xbtest", "mine", "-");
    ICHECK(grant_xenbus_watch(xb, "/local/domain/0/xbtest", "mine") == 0,
           "the caller watches a node of its own");
    ICHECK(grant_xenbus_watch(xb, "/x", "grant_xenbus:x") == -EINVAL,
           "reserved tokens are refused");
    p = (struct peer){be, XenbusStateClosing, 100, 5};
    rc = wait_with_peer(xb, &p, XenbusStateInitialised, 20000, &st, &ms);
    ICHECK(rc == -ENOTCONN && st == XenbusStateClosing,
           "through spurious events, the peer's Closing ends the wait (%d)",
           rc);
    while (grant_xenbus_read_event(xb, 1000, &path, &token) == 1) {
        mine += !strcmp(token, "mine") &&
                !strncmp(path, "/local/domain/0/xbtest", 22);
        leaked += !strncmp(token, "grant_xenbus:", 13);
        free(path);
        free(token);
    }
    ICHECK(mine >= 1 && leaked == 0,
           "the caller's watch events survived the wait (%d), no internal "
           "ones leaked",
           mine);
    grant_xenbus_unwatch(xb, "/local/domain/0/xbtest", "mine");
}

/* A transaction whose first try conflicts with a write from outside. */
struct txn {
    grant_xenbus_t *other;
    int runs;
};

static int bump(grant_xenbus_t *xb, xs_transaction_t t, void *arg)
{
    struct txn *x = arg;
    int v = 0;

    x->runs++;
    if (grant_xenbus_scanf(xb, t, "/local/domain/0/xbtest", "count", "%d",
                           &v) != 1)
        return -EIO;
    if (x->runs == 1) /* someone else commits the node meanwhile */
        grant_xenbus_write(x->other, XBT_NULL, "/local/domain/0/xbtest",
                           "count", "10");
    return grant_xenbus_printf(xb, t, "/local/domain/0/xbtest", "count", "%d",
                               v + 1);
}

static void test_transactions(grant_xenbus_t *xb)
{
    struct txn x = {NULL, 0};
    xs_transaction_t t;
    int v = 0, rc;

    grant_xenbus_write(xb, XBT_NULL, "/local/domain/0/xbtest", "count", "1");
    if (grant_xenbus_open(&x.other, 0) < 0)
        return;
    rc = grant_xenbus_transact(xb, bump, &x, 0);
    grant_xenbus_scanf(xb, XBT_NULL, "/local/domain/0/xbtest", "count", "%d",
                       &v);
    ICHECK(rc == 0 && x.runs == 2 && v == 11,
           "a conflicting transaction is retried (runs %d, count %d)", x.runs,
           v);
    ICHECK(grant_xenbus_transaction_start(xb, &t) == 0 &&
               grant_xenbus_write(xb, t, "/local/domain/0/xbtest", "count",
                                  "99") == 0 &&
               grant_xenbus_transaction_end(xb, t, 1) == 0 &&
               grant_xenbus_scanf(xb, XBT_NULL, "/local/domain/0/xbtest",
                                  "count", "%d", &v) == 1 &&
               v == 11,
           "an aborted transaction wrote nothing");
    grant_xenbus_close(x.other);
}

int main(void)
{
    struct itest_agent g;
    grant_handle_t *dom0;
    grant_xenbus_t *xb;
    int rc;

    itest_setup(&dom0);
    rc = grant_xenbus_open(&xb, 0);
    if (rc == -ENOENT || rc == -ECONNREFUSED) {
        itest_teardown(dom0);
        printf("SKIP: this xgrantd serves no store (%s)\n", strerror(-rc));
        return ITEST_SKIP;
    }
    ICHECK(rc == 0 && grant_xenbus_fd(xb) >= 0, "open the store (%d)", rc);
    if (rc < 0) {
        itest_teardown(dom0);
        return itest_done();
    }
    itest_spawn(dom0, &g, "xbguest", 16);
    test_paths(xb, g.domid);
    test_nodes(xb);
    test_states(xb);
    test_wait(xb);
    test_transactions(xb);
    grant_xenbus_close(xb);
    grant_xenbus_close(NULL);
    itest_agent_close(&g);
    itest_teardown(dom0);
    return itest_done();
}
