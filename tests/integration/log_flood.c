/* SPDX-License-Identifier: MIT */
/*
 * log_flood: a guest that sends bad requests as fast as it can writes a
 * bounded number of lines to xgrantd's log (a burst, then a few a second),
 * and the count of what was suppressed appears once its lines resume; a
 * second guest's bad request is still logged meanwhile.  Its store
 * connections, closed for bad framing, share the same budget.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "common/raw.h"

#define BAD_OP    0x1ffu /* no such op: "bad message: unknown op 0x1ff" */
#define BAD_STORE 50     /* store connections closed for bad framing */

/* Connects to the store and sends a header claiming too long a payload
 * (xgrantd closes it: "store: ... closed: ..."); waits for the close. */
static int store_bad_frame(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    const char *path = getenv("XENSTORED_PATH");
    uint32_t hdr[4] = {2 /* XS_READ */, 1, 0, 0xffffu};
    char c;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (!path || fd < 0)
        return -1;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        write(fd, hdr, sizeof(hdr)) != sizeof(hdr)) {
        close(fd);
        return -1;
    }
    while (read(fd, &c, 1) > 0)
        ;
    close(fd);
    return 0;
}

/* In a domain: n bad requests, a pause, one more.  "ok N" or "err". */
static int flood_role(unsigned n, unsigned pause_ms)
{
    struct raw r;
    unsigned i;

    if (raw_hello(&r) < 0)
        return printf("err -71 hello\n"), 1;
    for (i = 0; i < n; i++)
        if (raw_call(&r, BAD_OP, 0, 0, NULL, 0, NULL, 0) != -ENOSYS)
            return printf("err -71 request %u not refused with ENOSYS\n", i), 1;
    for (i = 0; pause_ms && i < BAD_STORE; i++)
        if (store_bad_frame() < 0)
            return printf("err -71 store connection %u\n", i), 1;
    usleep(pause_ms * 1000u);
    if (pause_ms && raw_call(&r, BAD_OP, 0, 0, NULL, 0, NULL, 0) != -ENOSYS)
        return printf("err -71 last request\n"), 1;
    close(r.fd);
    printf("ok %u\n", n + (pause_ms ? 1 + BAD_STORE : 0));
    return 0;
}

static void run(grant_handle_t *dom0, struct itest_agent *a, const char *name,
                const char *n, const char *pause_ms)
{
    char *role[] = {itest_self(), "--flood", (char *)n, (char *)pause_ms, NULL};
    char line[256];

    itest_spawn_argv(dom0, a, name, 16, role);
    if (!fgets(line, sizeof(line), a->in))
        strcpy(line, "(no answer)\n");
    ICHECK(strncmp(line, "ok", 2) == 0, "%s sent its bad requests: %s", name,
           line);
}

/* Lines of domain dom's that say `what`, and the suppressed counts. */
static void scan_log(unsigned dom, unsigned *lines, unsigned long *suppressed,
                     unsigned *notes)
{
    char tag[64], buf[1024];
    FILE *f;

    snprintf(tag, sizeof(tag), "dom %u (", dom);
    *lines = *notes = 0;
    *suppressed = 0;
    f = itest_log_open();
    if (!f)
        return;
    while (fgets(buf, sizeof(buf), f)) {
        const char *s = strstr(buf, "suppressed ");

        if (!strstr(buf, tag))
            continue;
        if (strstr(buf, "unknown op 0x1ff") || strstr(buf, "store: pid"))
            (*lines)++;
        if (s) {
            *suppressed += strtoul(s + 11, NULL, 10);
            (*notes)++;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    unsigned n = 5000;
    unsigned lines, notes;
    unsigned long supp;
    struct itest_agent a, b;
    grant_handle_t *dom0;
    struct timespec t0, t1;
    double secs;
    char sn[16];

    if (argc > 3 && strcmp(argv[1], "--flood") == 0)
        return flood_role((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
    snprintf(sn, sizeof(sn), "%u", n);
    itest_setup(&dom0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    run(dom0, &a, "flooder", sn, "1100");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    run(dom0, &b, "bystander", "1", "0");

    n += 1 + BAD_STORE;
    scan_log(a.domid, &lines, &supp, &notes);
    printf("# %u bad requests in %.2f s: %u lines logged, %u notes of %lu "
           "suppressed\n",
           n, secs, lines, notes, supp);
    /* 20 at once, then 2 a second (tools/xgrantd/log.c), plus slack. */
    ICHECK(lines >= 20 && lines <= 24 + (unsigned)(2 * secs),
           "the flood logged a bounded number of lines (%u for %u requests "
           "in %.1f s)",
           lines, n, secs);
    ICHECK(notes >= 1, "a \"suppressed N\" line once its lines resumed");
    ICHECK(lines + supp == n,
           "every line is logged or counted as suppressed (%u + %lu)", lines,
           supp);
    scan_log(b.domid, &lines, &supp, &notes);
    ICHECK(lines == 1 && supp == 0,
           "another domain's bad request is still logged (%u lines)", lines);

    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
