/* SPDX-License-Identifier: MIT */
/*
 * mem_reuse: a frame never outlives its grants.  A domain-0 process
 * allocates a page, grants it to a domU twice (one grant the domU maps, one
 * it copies through), then goes: killed (a crash: no revoke, no free) or
 * by grant_mem_free.  A second domain-0 client allocates, gets the same
 * frame, and fills it with its own data: the domU must neither read nor
 * write that data through the old references or the old mapping.  And a
 * freed frame that a mapper has not yet let go of (its process stopped:
 * no ack) is not handed out again until it has.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/itest.h"

#define OLD_BYTE    0x5a /* the first owner's data */
#define SECRET_BYTE 0xa5 /* the second owner's */

/* ---- the first owner, a process of its own ------------------------------- */

/* "ok GPA MAPREF COPYREF", then obeys "free" / "exit" on stdin. */
static int owner_role(grant_domid_t domu)
{
    grant_ref_t mref, cref;
    grant_handle_t *h;
    char line[64];
    uint64_t gpa;
    void *p;

    void *pad[4];

    /* Blocks around the granted one: all of them come back at the end. */
    if (grant_open(&h, 0) < 0 || grant_mem_alloc(h, 2, &pad[0]) < 0 ||
        grant_mem_alloc(h, 1, &pad[1]) < 0 || grant_mem_alloc(h, 1, &p) < 0 ||
        grant_mem_alloc(h, 3, &pad[2]) < 0 || grant_gpa(h, p, &gpa) < 0)
        return printf("err -1 setup\n"), 1;
    memset(p, OLD_BYTE, GRANT_PAGE_SIZE);
    if (grant_create_direct(h, domu, GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
                            p, GRANT_PAGE_SIZE, &mref) < 0 ||
        grant_create_direct(h, domu, GRANT_R_READ | GRANT_R_WRITE, p,
                            GRANT_PAGE_SIZE, &cref) < 0)
        return printf("err -1 grant\n"), 1;
    printf("ok %llu %u %u\n", (unsigned long long)gpa, mref, cref);
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        if (strncmp(line, "free", 4) == 0)
            printf("ok %d\n", grant_mem_free(h, p));
        else
            _exit(0); /* no grant_close: as a crash would */
        fflush(stdout);
    }
    return 0;
}

struct owner {
    pid_t pid;
    FILE *to, *from;
    uint64_t gpa;
    unsigned mref, cref;
};

/* Runs this program as `role arg1 arg2`, its stdin/stdout piped to o. */
static void owner_spawn(struct owner *o, const char *role, const char *arg1,
                        const char *arg2)
{
    int in[2], out[2];

    if (pipe(in) < 0 || pipe(out) < 0)
        exit(1);
    o->pid = fork();
    if (o->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(itest_self(), itest_self(), role, arg1, arg2, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    o->to = fdopen(in[1], "w");
    o->from = fdopen(out[0], "r");
}

static void owner_start(struct owner *o, grant_domid_t domu)
{
    char id[16], line[128] = "";
    bool ok;

    snprintf(id, sizeof(id), "%u", domu);
    owner_spawn(o, "--owner", id, NULL);
    ok = o->pid > 0 && fgets(line, sizeof(line), o->from) &&
         sscanf(line, "ok %lu %u %u", &o->gpa, &o->mref, &o->cref) == 3;

    ICHECK(ok, "the first owner granted its page (map ref %u, copy ref %u)",
           o->mref, o->cref);
}

static void owner_say(struct owner *o, const char *cmd)
{
    fprintf(o->to, "%s\n", cmd);
    fflush(o->to);
}

static void owner_end(struct owner *o, int sig)
{
    int st;

    if (sig)
        kill(o->pid, sig);
    else
        owner_say(o, "exit");
    waitpid(o->pid, &st, 0);
    fclose(o->to);
    fclose(o->from);
}

/* ---- a mapper in domain 0 -------------------------------------------------
 */

/* Maps (dom, ref), "ok", then waits for a line or EOF. */
static int mapper_role(grant_domid_t dom, grant_ref_t ref)
{
    grant_handle_t *h;
    char line[16];
    void *p;

    if (grant_open(&h, 0) < 0 ||
        grant_map(h, dom, ref, 0, GRANT_PAGE_SIZE, 0, &p) < 0)
        return printf("err -1 map\n"), 1;
    printf("ok\n");
    fflush(stdout);
    if (!fgets(line, sizeof(line), stdin))
        return 0;
    return 0;
}

/* ---- domain 0's second client -------------------------------------------- */

/* Allocates pages until it holds the frame at gpa (free once the unmaps
 * are acknowledged), then frees the others; NULL after 3 s. */
static void *alloc_at(grant_handle_t *h, uint64_t gpa)
{
    void *held[64], *p = NULL;
    unsigned n = 0;

    for (int i = 0; i < 300 && !p; i++) {
        uint64_t got;
        void *q;

        if (n == 64 || grant_mem_alloc(h, 1, &q) < 0) {
            while (n)
                grant_mem_free(h, held[--n]);
            usleep(10000);
            continue;
        }
        if (grant_gpa(h, q, &got) == 0 && got == gpa)
            p = q;
        else
            held[n++] = q;
    }
    while (n)
        grant_mem_free(h, held[--n]);
    return p;
}

static void scenario(grant_handle_t *dom0, struct itest_agent *u, int sig)
{
    const char *how = sig ? "killed" : "grant_mem_free";
    struct owner o;
    char buf[256];
    uint8_t *p;
    int rc, map;
    bool intact = true, ok;

    owner_start(&o, u->domid);
    map = (int)itest_ok(u, "map 0 %u 0 4096", o.mref);
    ICHECK(itest_ok(u, "mread %d 100", map) == OLD_BYTE,
           "the domU maps the first owner's page");
    itest_ok(u, "copyfrom 0 %u 0 0 0 4096", o.cref);
    itest_ok(u, "expect 0 0 4096 %d", OLD_BYTE);

    if (sig) {
        owner_end(&o, sig);
    } else {
        owner_say(&o, "free");
        ok = fgets(buf, sizeof(buf), o.from) && strncmp(buf, "ok 0", 4) == 0;
        buf[strcspn(buf, "\n")] = '\0';
        ICHECK(ok, "grant_mem_free: %s", buf);
    }
    p = alloc_at(dom0, o.gpa);
    ICHECK(p != NULL, "%s: a second client got the same frame", how);
    if (p) {
        memset(p, SECRET_BYTE, GRANT_PAGE_SIZE);
        rc = itest_cmd(u, buf, sizeof(buf), "mread %d 100", map);
        ICHECK(rc != 0 || strtol(buf + 3, NULL, 10) != SECRET_BYTE,
               "%s: the old mapping does not show the new owner's data (%s)",
               how, buf);
        itest_cmd(u, buf, sizeof(buf), "mwrite %d 200 1", map);
        rc = itest_cmd(u, buf, sizeof(buf), "copyfrom 0 %u 0 0 0 4096", o.cref);
        ICHECK(rc != 0, "%s: the old copy grant reads nothing (%s)", how, buf);
        rc = itest_cmd(u, buf, sizeof(buf), "copyto 0 %u 0 0 0 16", o.cref);
        ICHECK(rc != 0, "%s: the old copy grant writes nothing (%s)", how, buf);
        rc = itest_cmd(u, buf, sizeof(buf), "copyfrom 0 %u 0 0 0 4096", o.mref);
        ICHECK(rc != 0, "%s: the old map grant reads nothing (%s)", how, buf);
        for (unsigned i = 0; i < GRANT_PAGE_SIZE; i++)
            intact = intact && p[i] == SECRET_BYTE;
        ICHECK(intact, "%s: the new owner's page is untouched", how);
        grant_mem_free(dom0, p);
    }
    itest_cmd(u, buf, sizeof(buf), "unmap %d", map);
    if (!sig)
        owner_end(&o, 0);
}

/* The first frame of the grant (dom, ref), or UINT64_MAX. */
static uint64_t frame_of(grant_handle_t *dom0, grant_domid_t dom, uint64_t ref)
{
    struct grant_entry_info e[16];
    int n = grant_query_table(dom0, dom, e, 16);

    for (int i = 0; i < n && i < 16; i++)
        if (e[i].ref == ref)
            return e[i].first_frame;
    return UINT64_MAX;
}

/* Allocates one page in u and grants it to domain 0: its frame. */
static uint64_t domu_alloc(grant_handle_t *dom0, struct itest_agent *u,
                           uint64_t *slot)
{
    *slot = itest_ok(u, "alloc 1");
    return frame_of(
        dom0, u->domid,
        itest_ok(u, "grant 0 r %llu 0 4096", (unsigned long long)*slot));
}

static void quarantine(grant_handle_t *dom0)
{
    struct itest_agent o;
    struct owner m;
    uint64_t slot, f, f2;
    char id[16], ref[16], line[64] = "";
    int i, st;

    itest_spawn(dom0, &o, "owner", 16);
    slot = itest_ok(&o, "alloc 1");
    snprintf(id, sizeof(id), "%u", o.domid);
    snprintf(ref, sizeof(ref), "%llu",
             (unsigned long long)itest_ok(&o, "grant 0 rwm %llu 0 4096",
                                          (unsigned long long)slot));
    f = frame_of(dom0, o.domid, strtoull(ref, NULL, 10));
    owner_spawn(&m, "--mapper", id, ref);
    ICHECK(fgets(line, sizeof(line), m.from) && strncmp(line, "ok", 2) == 0,
           "a domain-0 process maps the domU's page (frame %llu)",
           (unsigned long long)f);
    /* kill() only queues the stop: until the thread it wakes has handled
     * it, the library's service thread (not woken) still runs, and a
     * notice it gets meanwhile is acked.  Stopped means what waitpid
     * reports: every thread of the mapper has stopped. */
    kill(m.pid, SIGSTOP);
    ICHECK(waitpid(m.pid, &st, WUNTRACED) == m.pid && WIFSTOPPED(st),
           "the mapper is stopped: it cannot acknowledge an unmap now");
    itest_ok(&o, "free %llu", (unsigned long long)slot);
    f2 = domu_alloc(dom0, &o, &slot);
    ICHECK(f2 != f && f2 != UINT64_MAX,
           "freed while mapped: the frame is not handed out again (got %llu)",
           (unsigned long long)f2);
    itest_ok(&o, "free %llu", (unsigned long long)slot);
    kill(m.pid, SIGCONT);
    for (i = 0; i < 300 && f2 != f; i++) {
        usleep(10000);
        f2 = domu_alloc(dom0, &o, &slot);
        itest_ok(&o, "free %llu", (unsigned long long)slot);
    }
    ICHECK(f2 == f, "once the mapper acknowledged, the frame is reused");
    owner_end(&m, 0);
    grant_ctl_domain_destroy(dom0, o.domid);
    itest_agent_close(&o);
}

int main(int argc, char **argv)
{
    struct itest_agent u;
    grant_handle_t *dom0;

    if (argc > 2 && strcmp(argv[1], "--owner") == 0)
        return owner_role((grant_domid_t)atoi(argv[2]));
    if (argc > 3 && strcmp(argv[1], "--mapper") == 0)
        return mapper_role((grant_domid_t)atoi(argv[2]),
                           (grant_ref_t)strtoul(argv[3], NULL, 10));
    itest_setup(&dom0);
    itest_spawn(dom0, &u, "domu", 16);
    itest_ok(&u, "alloc 1");
    scenario(dom0, &u, SIGKILL);
    scenario(dom0, &u, 0);
    quarantine(dom0);
    itest_agent_close(&u);
    itest_teardown(dom0);
    return itest_done();
}
