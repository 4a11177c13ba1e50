/* SPDX-License-Identifier: MIT */
/*
 * xenbus_watch.c: libgrant_xenbus.h's watches, event delivery, waiting on
 * a peer's state, and transactions.
 *
 * libxenstore queues watch events on the handle and keeps xs_fileno()
 * readable while the queue is not empty.  A wait consumes events from
 * that queue too, so the events it does not want (the caller's) are moved
 * to our own queue, which grant_xenbus_read_event serves first.  That
 * queue is bounded: identical events are merged, and on overflow it is
 * collapsed to one event per registered watch (an event only ever means
 * "look again").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenbus_private.h"

/* ---- Our event queue -------------------------------------------------- */

static void event_free(struct xb_event *e)
{
    free(e->path);
    free(e->token);
}

void lg_xb_events_free(grant_xenbus_t *xb)
{
    unsigned i;

    for (i = 0; i < xb->queued; i++)
        event_free(&xb->queue[i]);
    for (i = 0; i < xb->nr_watches; i++) {
        free(xb->watches[i].path);
        free(xb->watches[i].token);
    }
    free(xb->queue);
    free(xb->watches);
    xb->queue = NULL;
    xb->watches = NULL;
    xb->queued = xb->queue_cap = xb->nr_watches = 0;
}

static int queued_already(const grant_xenbus_t *xb, const char *path,
                          const char *token)
{
    unsigned i;

    for (i = 0; i < xb->queued; i++)
        if (!strcmp(xb->queue[i].path, path) &&
            !strcmp(xb->queue[i].token, token))
            return 1;
    return 0;
}

/* Appends (path, token), taking ownership of both strings. */
static int queue_push(grant_xenbus_t *xb, char *path, char *token)
{
    struct xb_event *q;
    unsigned cap;

    if (queued_already(xb, path, token)) {
        free(path);
        free(token);
        return 0;
    }
    if (xb->queued == xb->queue_cap) {
        cap = xb->queue_cap ? xb->queue_cap * 2 : 16;
        q = realloc(xb->queue, cap * sizeof(*q));
        if (!q) {
            free(path);
            free(token);
            return -ENOMEM;
        }
        xb->queue = q;
        xb->queue_cap = cap;
    }
    xb->queue[xb->queued++] = (struct xb_event){path, token};
    return 0;
}

/* Replaces the queue by one event per registered watch. */
static int queue_collapse(grant_xenbus_t *xb)
{
    unsigned i;
    int rc = 0;

    for (i = 0; i < xb->queued; i++)
        event_free(&xb->queue[i]);
    xb->queued = 0;
    for (i = 0; i < xb->nr_watches && rc == 0; i++) {
        char *p = strdup(xb->watches[i].path);
        char *t = strdup(xb->watches[i].token);

        rc = p && t ? queue_push(xb, p, t) : -ENOMEM;
        if (rc < 0 && (!p || !t)) {
            free(p);
            free(t);
        }
    }
    return rc;
}

/* Keeps an event for the caller (the strings are taken). */
static int queue_keep(grant_xenbus_t *xb, char *path, char *token)
{
    if (xb->queued >= XB_QUEUE_MAX && !queued_already(xb, path, token)) {
        free(path);
        free(token);
        return queue_collapse(xb);
    }
    return queue_push(xb, path, token);
}

static void queue_pop(grant_xenbus_t *xb, char **path, char **token)
{
    struct xb_event e = xb->queue[0];

    memmove(xb->queue, xb->queue + 1, --xb->queued * sizeof(*xb->queue));
    if (path)
        *path = e.path;
    else
        free(e.path);
    if (token)
        *token = e.token;
    else
        free(e.token);
}

/* ---- Watches ---------------------------------------------------------- */

static int watch_remember(grant_xenbus_t *xb, const char *path,
                          const char *token)
{
    struct xb_watch *w;
    char *p = strdup(path), *t = strdup(token);

    w = p && t ? realloc(xb->watches, (xb->nr_watches + 1) * sizeof(*w)) : NULL;
    if (!w) {
        free(p);
        free(t);
        return -ENOMEM;
    }
    xb->watches = w;
    w[xb->nr_watches++] = (struct xb_watch){p, t};
    return 0;
}

static void watch_forget(grant_xenbus_t *xb, const char *path,
                         const char *token)
{
    unsigned i;

    for (i = 0; i < xb->nr_watches; i++) {
        struct xb_watch *w = &xb->watches[i];

        if (strcmp(w->path, path) || strcmp(w->token, token))
            continue;
        free(w->path);
        free(w->token);
        *w = xb->watches[--xb->nr_watches];
        return;
    }
}

int grant_xenbus_watch(grant_xenbus_t *xb, const char *path, const char *token)
{
    int rc;

    if (!strncmp(token, XB_TOKEN_PREFIX, strlen(XB_TOKEN_PREFIX)))
        return -EINVAL;
    rc = watch_remember(xb, path, token);
    if (rc < 0)
        return rc;
    if (xs_watch(xb->xs, path, token))
        return 0;
    rc = lg_xb_err();
    watch_forget(xb, path, token);
    return rc;
}

int grant_xenbus_unwatch(grant_xenbus_t *xb, const char *path,
                         const char *token)
{
    watch_forget(xb, path, token);
    return xs_unwatch(xb->xs, path, token) ? 0 : lg_xb_err();
}

int grant_xenbus_fd(grant_xenbus_t *xb)
{
    return xb->fd;
}

/* ---- Events ----------------------------------------------------------- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before deadline (-1: none), never negative. */
static int remaining(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return -1;
    left = deadline - now_ms();
    return left <= 0 ? 0 : left > 1000000 ? 1000000 : (int)left;
}

/*
 * One event from libxenstore without blocking: 1 with *ev filled (strings
 * malloc'ed), 0 when none is pending.
 */
static int xs_next(grant_xenbus_t *xb, struct xb_event *ev)
{
    char **v;
    int rc = 1;

    errno = 0;
    v = xs_check_watch(xb->xs);
    if (!v)
        return errno == EAGAIN || errno == 0 ? 0 : lg_xb_err();
    ev->path = strdup(v[XS_WATCH_PATH]);
    ev->token = strdup(v[XS_WATCH_TOKEN]);
    if (!ev->path || !ev->token) {
        event_free(ev);
        rc = -ENOMEM;
    }
    free(v);
    return rc;
}

/* Polls the watch fd for up to `ms` milliseconds: 1 readable, 0 not. */
static int wait_fd(grant_xenbus_t *xb, int ms)
{
    struct pollfd p = {.fd = xb->fd, .events = POLLIN};
    int n = poll(&p, 1, ms);

    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    return n;
}

static int is_internal(const char *token)
{
    return !strncmp(token, XB_TOKEN_PREFIX, strlen(XB_TOKEN_PREFIX));
}

int grant_xenbus_read_event(grant_xenbus_t *xb, int timeout_ms, char **path,
                            char **token)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    struct xb_event ev;
    int rc;

    for (;;) {
        if (xb->queued) {
            queue_pop(xb, path, token);
            return 1;
        }
        rc = xs_next(xb, &ev);
        if (rc < 0)
            return rc;
        if (rc == 1 && is_internal(ev.token)) {
            event_free(&ev); /* a finished wait's late event */
            continue;
        }
        if (rc == 1) {
            rc = queue_push(xb, ev.path, ev.token);
            if (rc < 0)
                return rc;
            continue;
        }
        rc = remaining(deadline);
        if (rc == 0)
            return 0;
        rc = wait_fd(xb, rc);
        if (rc < 0)
            return rc;
    }
}

/* ---- Waiting on a peer ------------------------------------------------ */

/*
 * Moves every pending libxenstore event to our queue, except those with
 * `token` (the wait's own): returns 1 if one of those came, 0 if not.
 */
static int drain(grant_xenbus_t *xb, const char *token)
{
    struct xb_event ev;
    int mine = 0, rc;

    while ((rc = xs_next(xb, &ev)) == 1) {
        if (!strcmp(ev.token, token)) {
            mine = 1;
            event_free(&ev);
        } else if (is_internal(ev.token)) {
            event_free(&ev);
        } else if ((rc = queue_keep(xb, ev.path, ev.token)) < 0) {
            return rc;
        }
    }
    return rc < 0 ? rc : mine;
}

static int wait_loop(grant_xenbus_t *xb, const char *dir, const char *token,
                     unsigned mask, int timeout_ms, int *state)
{
    int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
    int rc, left, look = 1;

    for (;;) {
        if (look) {
            rc = grant_xenbus_read_state(xb, XBT_NULL, dir, state);
            if (rc < 0)
                return rc;
            if (*state >= 0 && *state < 32 && (mask & (1u << *state)))
                return 0;
        }
        left = remaining(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        rc = wait_fd(xb, left);
        if (rc < 0)
            return rc;
        rc = drain(xb, token);
        if (rc < 0)
            return rc;
        look = rc;
    }
}

int grant_xenbus_wait_states(grant_xenbus_t *xb, const char *dir, unsigned mask,
                             int timeout_ms, int *state)
{
    char path[GRANT_XENBUS_PATH_MAX], token[48];
    int rc, st = XenbusStateUnknown;

    rc = lg_xb_path(dir, "state", path, sizeof(path));
    if (rc < 0)
        return rc;
    snprintf(token, sizeof(token), XB_TOKEN_PREFIX "wait:%u", ++xb->wait_seq);
    if (!xs_watch(xb->xs, path, token))
        return lg_xb_err();
    rc = wait_loop(xb, dir, token, mask, timeout_ms, &st);
    xs_unwatch(xb->xs, path, token); /* late events are dropped as internal */
    if (state)
        *state = st;
    return rc;
}

int grant_xenbus_wait_state(grant_xenbus_t *xb, const char *dir, int want,
                            int timeout_ms, int *state)
{
    unsigned stop = GRANT_XENBUS_MASK(XenbusStateClosing) |
                    GRANT_XENBUS_MASK(XenbusStateClosed) |
                    GRANT_XENBUS_MASK(XenbusStateUnknown);
    int st, rc;

    if (want < XenbusStateUnknown || want > XenbusStateReconfigured)
        return -EINVAL;
    rc = grant_xenbus_wait_states(xb, dir, stop | GRANT_XENBUS_MASK(want),
                                  timeout_ms, &st);
    if (state)
        *state = st;
    if (rc == 0 && st != want)
        rc = -ENOTCONN;
    return rc;
}

/* ---- Transactions ----------------------------------------------------- */

int grant_xenbus_transaction_start(grant_xenbus_t *xb, xs_transaction_t *t)
{
    *t = xs_transaction_start(xb->xs);
    return *t != XBT_NULL ? 0 : lg_xb_err();
}

int grant_xenbus_transaction_end(grant_xenbus_t *xb, xs_transaction_t t,
                                 int abort)
{
    return xs_transaction_end(xb->xs, t, abort != 0) ? 0 : lg_xb_err();
}

int grant_xenbus_transact(grant_xenbus_t *xb,
                          int (*fn)(grant_xenbus_t *xb, xs_transaction_t t,
                                    void *arg),
                          void *arg, unsigned max_tries)
{
    xs_transaction_t t;
    unsigned i;
    int rc = -EAGAIN;

    for (i = 0; i < (max_tries ? max_tries : 16) && rc == -EAGAIN; i++) {
        rc = grant_xenbus_transaction_start(xb, &t);
        if (rc < 0)
            return rc;
        rc = fn(xb, t, arg);
        if (rc < 0) {
            grant_xenbus_transaction_end(xb, t, 1);
            continue; /* -EAGAIN from fn retries too */
        }
        rc = grant_xenbus_transaction_end(xb, t, 0);
    }
    return rc;
}
