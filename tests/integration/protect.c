/* SPDX-License-Identifier: MIT */
/*
 * protect: page protection against grantees under xgrantd.  Domain 0 (this
 * program) is the granter; B and C are xgrant-guest domains.
 *   - a WRITE grant over a page protected read-only: B's copy fails EACCES
 *     and our NOTIFY handler gets a record naming B;
 *   - protect while mapped: B's writable mapping is read-only before
 *     grant_protect returns (its write then faults), NONE removes reads;
 *   - bad arguments: clear errors;
 *   - KILL: B is destroyed, we and C keep running;
 *   - the CLI: xgrant protections / list show ranges and counters.
 */
#include <errno.h>
#include <limits.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/itest.h"

static struct grant_fault last;
static int nfaults;

static int on_fault(const struct grant_fault *f, void *arg)
{
    (void)arg;
    last = *f;
    nfaults++;
    return GRANT_FAULT_STOP;
}

/* Waits for ring records and hands them to on_fault; how many. */
static int dispatch(grant_handle_t *h, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};

    if (poll(&p, 1, 10000) != 1)
        return 0;
    return grant_fault_dispatch(h);
}

static void notify_case(grant_handle_t *h, int fd, uint8_t *mem,
                        struct itest_agent *b, grant_ref_t ref)
{
    uint64_t gpa;

    grant_gpa(h, mem, &gpa);
    ICHECK(grant_protect(h, mem, 4096, GRANT_ACC_R, GRANT_ACT_NOTIFY, 0x1234) ==
               0,
           "page 0 protected read-only, NOTIFY");
    itest_ok(b, "alloc 1");
    itest_ok(b, "fill 0 0 4096 3");
    itest_err(b, -EACCES, "copyto 0 %u 10 0 0 16", ref);
    ICHECK(mem[10] == 0xa5, "the RO page was not written");
    ICHECK(dispatch(h, fd) == 1 && nfaults == 1,
           "one fault record reached the handler");
    ICHECK(last.dom == b->domid && last.access == GRANT_ACC_W &&
               last.action == GRANT_ACT_NOTIFY && last.via == GRANT_VIA_COPY &&
               last.gpa == gpa + 10 && last.cookie == 0x1234 &&
               last.addr == mem + 10,
           "the record names B, a write at the right address, the cookie "
           "(dom %u access %u gpa 0x%llx cookie 0x%llx)",
           last.dom, last.access, (unsigned long long)last.gpa,
           (unsigned long long)last.cookie);
    itest_ok(b, "copyfrom 0 %u 0 0 0 16", ref);
    itest_ok(b, "expect 0 0 1 165"); /* 0xa5: reads are allowed */
}

static void mapped_case(grant_handle_t *h, uint8_t *mem, struct itest_agent *b,
                        grant_ref_t ref)
{
    uint64_t m = itest_ok(b, "map 0 %u 8192 8192", ref);

    itest_ok(b, "mwrite %llu 0 5", (unsigned long long)m);
    ICHECK(mem[8192] == 5, "B writes through its mapping");
    ICHECK(grant_protect(h, mem + 8192, 4096, GRANT_ACC_R, GRANT_ACT_DENY, 1) ==
               0,
           "page 2 (mapped rw by B) protected read-only");
    itest_err(b, -EFAULT, "mwrite %llu 0 6", (unsigned long long)m);
    ICHECK(mem[8192] == 5, "B's write after protect did not land");
    itest_ok(b, "mread %llu 0", (unsigned long long)m);
    itest_ok(b, "mwrite %llu 4096 7", (unsigned long long)m);
    ICHECK(grant_protect(h, mem + 8192, 8192, GRANT_ACC_NONE, GRANT_ACT_DENY,
                         2) == 0,
           "pages 2-3 protected NONE");
    itest_err(b, -EFAULT, "mread %llu 4096", (unsigned long long)m);
    itest_err(b, -EACCES, "map 0 %u 8192 4096 ro", ref);
    itest_ok(b, "unmap %llu", (unsigned long long)m);
    ICHECK(grant_protect(h, mem + 8192, 8192, GRANT_ACC_RWX, 0, 0) == 0,
           "pages 2-3 lifted");
}

static void bad_args(grant_handle_t *h, uint8_t *mem)
{
    struct grant_usage u;
    uint64_t gpa;
    uint8_t *past;

    grant_usage(h, GRANT_DOMID_SELF, &u);
    grant_gpa(h, mem, &gpa);
    past = mem - gpa + u.mem_frames * 4096; /* just past the domain */
    ICHECK(grant_protect(h, mem + 1, 4096, GRANT_ACC_R, 0, 0) == -EINVAL,
           "unaligned start: EINVAL");
    ICHECK(grant_protect(h, mem, 100, GRANT_ACC_R, 0, 0) == -EINVAL,
           "unaligned length: EINVAL");
    ICHECK(grant_protect(h, mem, 0, GRANT_ACC_R, 0, 0) == -EINVAL,
           "empty range: EINVAL");
    ICHECK(grant_protect(h, mem, 4096, GRANT_ACC_W, 0, 0) == -EINVAL,
           "write-only access: EINVAL");
    ICHECK(grant_protect(h, mem, 4096, GRANT_ACC_R, 9, 0) == -EINVAL,
           "unknown action: EINVAL");
    ICHECK(grant_protect(h, past, 4096, GRANT_ACC_R, 0, 0) == -EFAULT,
           "pages outside the domain: EFAULT");
    ICHECK(grant_protect(h, past - 4096, 8192, GRANT_ACC_R, 0, 0) == -EFAULT,
           "a range running past the domain: EFAULT");
    ICHECK(grant_protect_query(h, 4242, NULL, 0) == -ESRCH,
           "query of a domain that does not exist: ESRCH");
}

/* xgrant CLI output, through popen. */
static int cli_has(const char *args, const char *needle)
{
    char bin[PATH_MAX], dir[PATH_MAX], cmd[PATH_MAX + 64], line[512];
    FILE *f;
    int found = 0;

    snprintf(dir, sizeof(dir), "%s", itest_self());
    snprintf(bin, sizeof(bin), "%s/../../bin/xgrant", dirname(dir));
    snprintf(cmd, sizeof(cmd), "%s %s 2>&1", bin, args);
    f = popen(cmd, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        found |= strstr(line, needle) != NULL;
    return pclose(f) == 0 && found;
}

static void cli_case(grant_handle_t *h, uint8_t *mem)
{
    uint64_t gpa;
    char want[64];

    grant_gpa(h, mem, &gpa);
    snprintf(want, sizeof(want), "0x%016llx", (unsigned long long)gpa);
    ICHECK(cli_has("protections 0", want) &&
               cli_has("protections 0", "notify  0x0000000000001234"),
           "xgrant protections lists the range, access, action and cookie");
    snprintf(want, sizeof(want), "\"gpa\":%llu", (unsigned long long)gpa);
    ICHECK(cli_has("protections 0 --json", want) &&
               cli_has("protections 0 --json", "\"action\":\"notify\""),
           "xgrant protections --json");
    ICHECK(cli_has("list", "FAULTS") &&
               cli_has("list --json", "\"faults\":{\"caused\":"),
           "xgrant list shows fault counters");
    ICHECK(!cli_has("protections nosuchdomain", "START"),
           "xgrant protections of an unknown domain fails");
}

static void kill_case(grant_handle_t *h, uint8_t *mem, struct itest_agent *b,
                      struct itest_agent *c, grant_ref_t ref)
{
    struct grant_fault_stats s;
    char buf[64];
    int st, rc;

    ICHECK(grant_protect(h, mem + 4096, 4096, GRANT_ACC_NONE, GRANT_ACT_KILL,
                         9) == 0,
           "page 1 protected NONE, KILL");
    itest_cmd(b, buf, sizeof(buf), "copyfrom 0 %u 4096 0 0 1", ref);
    st = grant_ctl_domain_wait(h, b->domid);
    ICHECK(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
           "the offending grantee was destroyed (status 0x%x)", st);
    ICHECK(itest_ok(c, "domid") == c->domid, "the bystander still runs");
    memset(&s, 0, sizeof(s));
    rc = grant_fault_stats(h, 0, &s);
    ICHECK(rc == 0 && s.killed == 1 && s.notified == 1 && s.denied == 1,
           "domain 0 counts what it suffered (rc %d killed %llu notified %llu "
           "denied %llu)",
           rc, (unsigned long long)s.killed, (unsigned long long)s.notified,
           (unsigned long long)s.denied);
}

int main(void)
{
    struct itest_agent b, c;
    grant_handle_t *dom0;
    grant_ref_t ref;
    uint8_t *mem;
    void *p;
    int fd = -1;

    itest_setup(&dom0);
    itest_spawn(dom0, &b, "grantee", 64);
    itest_spawn(dom0, &c, "bystander", 64);
    ICHECK(grant_mem_alloc(dom0, 4, &p) == 0, "granter memory");
    mem = p;
    memset(mem, 0xa5, 4 * 4096);
    ICHECK(grant_fault_ring_bind(dom0, &fd) == 0 && fd >= 0,
           "fault ring bound");
    ICHECK(grant_fault_ring_bind(dom0, &fd) == -EBUSY, "bound only once");
    grant_fault_set_handler(dom0, on_fault, NULL);
    ICHECK(grant_create_direct(dom0, b.domid,
                               GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP, mem,
                               4 * 4096, &ref) == 0,
           "WRITE|MAP grant to B");
    notify_case(dom0, fd, mem, &b, ref);
    mapped_case(dom0, mem, &b, ref);
    bad_args(dom0, mem);
    cli_case(dom0, mem);
    kill_case(dom0, mem, &b, &c, ref);
    itest_agent_close(&b);
    itest_agent_close(&c);
    itest_teardown(dom0);
    return itest_done();
}
