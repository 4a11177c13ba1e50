/* SPDX-License-Identifier: MIT */
/*
 * log.c: one line per event, "xgrantd: dom 3 (alice): what happened".
 * Lines go to stderr, which is the log file once daemonized; a log file gets
 * a timestamp in front of each line.
 */
#include <errno.h>
#include <fcntl.h>
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

void xd_log_conn(const struct xd_conn *c, const char *fmt, ...)
{
    char prefix[96];
    va_list ap;

    if (c->dom)
        snprintf(prefix, sizeof(prefix), "dom %u (%s) pid %d: ", c->dom->id,
                 c->dom->name, (int)c->pid);
    else
        snprintf(prefix, sizeof(prefix), "pid %d uid %u: ", (int)c->pid,
                 (unsigned)c->uid);
    va_start(ap, fmt);
    vlog(prefix, fmt, ap);
    va_end(ap);
}

void xd_log_dom(const struct xd_dom *d, const char *fmt, ...)
{
    char prefix[64];
    va_list ap;

    snprintf(prefix, sizeof(prefix), "dom %u (%s): ", d->id, d->name);
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
