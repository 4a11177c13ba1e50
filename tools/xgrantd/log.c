/* SPDX-License-Identifier: MIT */
/*
 * log.c: one line per event, "xgrantd: dom 3 (alice): what happened".
 * Lines go to stderr, which is the log file once daemonized; a log file gets
 * a timestamp in front of each line.
 *
 * What a domain's requests make the daemon log (xd_log_conn, xd_log_domid:
 * bad messages, refusals, closed connections, the store's too) costs that
 * domain a token of its bucket:
 * DOM_LOG_BURST lines at once, then DOM_LOG_RATE a second.  Lines past
 * that are counted, not written; the next line that goes out (or the
 * domain's next lifecycle line, xd_log_dom) is preceded by
 * "suppressed N log lines".  A guest flooding bad requests therefore writes a
 * bounded log (XSA-180 was QEMU's unbounded one), and one domain's flood
 * never silences another's lines.  Domain 0's processes share one bucket
 * like any domain's.  Punishments (a false ack, an unacknowledged unmap,
 * a kill for want of memory: xd_log_conn_always) and lifecycle lines
 * (xd_log_dom) are never charged: a domain must not silence the record of
 * its own punishment, and they are bounded by the punishments themselves.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "private.h"

static char log_path[4096];
static bool log_stamp;

int xd_log_open(const char *path)
{
    int fd;

    if (strlen(path) >= sizeof(log_path))
        return -ENAMETOOLONG;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (dup2(fd, STDERR_FILENO) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    close(fd);
    snprintf(log_path, sizeof(log_path), "%s", path);
    log_stamp = true;
    return 0;
}

/* SIGHUP: reopen the log file (after rotation). */
void xd_log_reopen(void)
{
    if (log_path[0] && xd_log_open(log_path) < 0)
        xd_log("cannot reopen log %s", log_path);
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
    char line[1024];
    char stamp[40] = "";
    int n;

    if (log_stamp) {
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(stamp + n, sizeof(stamp) - (size_t)n, ".%03ld ",
                 ts.tv_nsec / 1000000);
    }
    n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0)
        return;
    /* One write per line, so lines from a forked child never interleave. */
    dprintf(STDERR_FILENO, "%sxgrantd: %s%s\n", stamp, prefix, line);
}

void xd_log(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

void xd_dbg(const char *fmt, ...)
{
    va_list ap;

    if (!xd.verbose)
        return;
    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}

#define DOM_LOG_BURST 20u /* lines */
#define DOM_LOG_RATE  2u  /* lines a second, once the burst is spent */

static void plog(const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void plog(const char *prefix, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(prefix, fmt, ap);
    va_end(ap);
}

/* Writes "N lines suppressed" under prefix if lines were. */
static void dropped_flush(struct xd_logbucket *b, const char *prefix)
{
    if (b->dropped)
        plog(prefix,
             "suppressed %" PRIu64 " log lines (%u at once, then %u a second)",
             b->dropped, DOM_LOG_BURST, DOM_LOG_RATE);
    b->dropped = 0;
}

/* May one more line be charged to b?  Counts it as dropped if not. */
static bool bucket_take(struct xd_logbucket *b)
{
    uint64_t now = xd_now_ms(), full = DOM_LOG_BURST * 1000ull;

    /* Thousandths of a line per ms: DOM_LOG_RATE lines a second. */
    if (!b->last_ms || now - b->last_ms >= full / DOM_LOG_RATE)
        b->milli = full;
    else
        b->milli += (now - b->last_ms) * DOM_LOG_RATE;
    if (b->milli > full)
        b->milli = full;
    b->last_ms = now;
    if (b->milli < 1000) {
        b->dropped++;
        return false;
    }
    b->milli -= 1000;
    return true;
}

/* A line of c's: charged to its domain's bucket if `charge`. */
static void conn_vlog(const struct xd_conn *c, bool charge, const char *fmt,
                      va_list ap)
{
    char prefix[96];

    if (charge && c->dom && !bucket_take(&c->dom->logb))
        return;
    if (c->dom)
        snprintf(prefix, sizeof(prefix), "dom %u (%s) pid %d: ", c->dom->id,
                 c->dom->name, (int)c->pid);
    else
        snprintf(prefix, sizeof(prefix), "pid %d uid %u: ", (int)c->pid,
                 (unsigned)c->uid);
    if (c->dom)
        dropped_flush(&c->dom->logb, prefix);
    vlog(prefix, fmt, ap);
}

void xd_log_conn(const struct xd_conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conn_vlog(c, true, fmt, ap);
    va_end(ap);
}

void xd_log_conn_always(const struct xd_conn *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    conn_vlog(c, false, fmt, ap);
    va_end(ap);
}

void xd_log_domid(unsigned id, const char *fmt, ...)
{
    struct xd_dom *d = xd_dom_get(id);
    char prefix[64];
    va_list ap;

    if (d && !bucket_take(&d->logb))
        return;
    snprintf(prefix, sizeof(prefix), "dom %u (%s): ", id, d ? d->name : "gone");
    if (d)
        dropped_flush(&d->logb, prefix);
    va_start(ap, fmt);
    vlog(prefix, fmt, ap);
    va_end(ap);
}

void xd_log_dom(const struct xd_dom *d, const char *fmt, ...)
{
    char prefix[64];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "dom %u (%s): ", d->id, d->name);
    /* The count is the log's, not the domain's state: every domain is
     * allocated writable (xd_dom_new), so dropping const here is sound. */
    dropped_flush((struct xd_logbucket *)&d->logb, prefix);
    va_start(ap, fmt);
    vlog(prefix, fmt, ap);
    va_end(ap);
}

#define RL_BURST       10u
#define RL_INTERVAL_MS 5000u

void xd_log_rl(struct xd_ratelimit *rl, const char *fmt, ...)
{
    uint64_t now = xd_now_ms();
    va_list ap;

    if (now - rl->start >= RL_INTERVAL_MS) {
        if (rl->dropped)
            xd_log("(%u similar lines suppressed)", rl->dropped);
        rl->start = now;
        rl->n = rl->dropped = 0;
    }
    if (rl->n >= RL_BURST) {
        rl->dropped++;
        return;
    }
    rl->n++;
    va_start(ap, fmt);
    vlog("", fmt, ap);
    va_end(ap);
}
