/* SPDX-License-Identifier: MIT */
/*
 * xlab_fuzz.c: the extension fuzzed inside Xen from a guest (issue 12).
 *
 * A guest (xlab-m3 of the multi-guest case, xlab_multi.c: two vCPUs) runs
 * two threads for XLAB_FUZZ_S seconds, each pinned to a vCPU of its own,
 * on one /dev/xgrant file: random sub-ops with random counts and argument
 * words drawn from values that mean something (0, 1, ~0, page sizes and
 * offsets, dom0's and its own domid, the refs dom0 granted it for the
 * fuzz with nearby generations), random aux; one thread also maps dom0's
 * fuzz grants into windows (random read-only), touches them (guarded) and
 * drops them, racing the other.  Meanwhile dom0 FORCE-revokes and
 * re-creates those grants and protects their pages (R, NONE, back to RWX)
 * at random.  Then dom0 checks: Xen's log since the start holds no BUG,
 * WARN, assertion or trace; the guest's mappings are back to what they
 * were before (its fd closed: teardown leaves no record in Xen; its
 * grants are printed: the module does not revoke a closed file's grants);
 * dom0's own grant calls still work; the threads ran on two vCPUs and
 * raced (fuzz_two_vcpus).  The number of calls and the time are printed
 * (XLAB-FUZZ).  The guest's own teardown (it powers off: no domain, its
 * memory back) is checked by xlab_multi.c (fuzz_teardown_domain).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "xlab.h"
#include "../../../libgrant/abi/gntx_xen.h"
#include "../../../libgrant/kmod/xgrant_uapi.h"

#define XLAB_FUZZ_S  20
#define FUZZ_GRANTS  4
#define FUZZ_PAGES   16    /* the guest's grant memory for the fuzz */
#define FUZZ_BUF     16384 /* bytes of args, and of aux, per thread */
#define FUZZ_AUX     64    /* aux elements at most */
#define FUZZ_MAX_OPS 16    /* past the last op: ENOSYS */

struct fuzz {
    int fd;
    uint16_t self;
    uint32_t refs[FUZZ_GRANTS];
    uint32_t npages[FUZZ_GRANTS];
    time_t end;
    int running; /* threads inside their loop */
    /* dom0's page naming its fuzz grants' current refs (it revokes and
     * re-creates them), read before each map: a grant of dom0's to us. */
    grant_handle_t *h;
    uint32_t live_ref;
    uint32_t *live; /* h's grant memory */
};

struct fuzz_thread {
    struct fuzz *f;
    unsigned seed;
    int maps; /* this thread maps windows too */
    int cpu;  /* the vCPU it is pinned to, or -1 */
    unsigned long calls, ok, mapped;
    unsigned long on_cpu; /* calls made on that vCPU */
    unsigned long racing; /* calls made while the other thread ran too */
    /* The call's arrays: the module writes results back into them. */
    uint32_t args[FUZZ_BUF / 4], aux[FUZZ_BUF / 4];
};

static uint32_t rnd(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* A 32-bit word that may mean something to some op. */
static uint32_t word(struct fuzz_thread *t)
{
    struct fuzz *f = t->f;
    uint32_t r = rnd(&t->seed), ref;

    switch (r % 12) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return ~0u;
    case 3:
        return 4096u * (rnd(&t->seed) % 4);
    case 4:
        return rnd(&t->seed) % 64;
    case 5:
        return f->self;
    case 6:
    case 7:
        /* dom0's fuzz grants, this generation or a nearby one */
        ref = f->refs[rnd(&t->seed) % FUZZ_GRANTS];
        return gntx_ref_make(gntx_ref_index(ref),
                             gntx_ref_gen(ref) + rnd(&t->seed) % 3);
    case 8:
        return gntx_ref_make(rnd(&t->seed) % 16, 1 + rnd(&t->seed) % 3);
    case 9:
        return rnd(&t->seed) % FUZZ_PAGES * 4096u + rnd(&t->seed) % 64;
    default:
        return rnd(&t->seed);
    }
}

static void fill(struct fuzz_thread *t, uint32_t *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        w[i] = word(t);
}

/* One random call straight through the module. */
static void random_call(struct fuzz_thread *t)
{
    struct gntx_xen_call c = {0};
    struct gntx_op_shape s;

    c.op = rnd(&t->seed) % FUZZ_MAX_OPS;
    c.count = rnd(&t->seed) % 7;
    c.args = (uintptr_t)t->args;
    if (rnd(&t->seed) % 2) {
        c.aux = (uintptr_t)t->aux;
        c.aux_count = rnd(&t->seed) % (FUZZ_AUX + 1);
    }
    /* Arrays the module copies back must fit in ours. */
    if (gntx_op_shape(c.op, &s) == 0 &&
        ((uint64_t)c.count * s.arg_size > FUZZ_BUF ||
         (uint64_t)c.aux_count * s.aux_size > FUZZ_BUF))
        return;
    fill(t, t->args, c.count * 16u);
    fill(t, t->aux, c.aux_count * 4u);
    t->calls++;
    if (ioctl(t->f->fd, XGRANT_IOC_CALL, &c) >= 0)
        t->ok++;
}

/* Maps one of dom0's fuzz grants into a window, touches it, unmaps it. */
static void random_map(struct fuzz_thread *t)
{
    struct fuzz *f = t->f;
    unsigned g = rnd(&t->seed) % FUZZ_GRANTS, np = f->npages[g];
    int rdonly = rnd(&t->seed) % 2;
    struct gntx_map m = {.dom = 0,
                         .flags = rdonly ? GNTX_MAP_RDONLY : 0,
                         .ref = f->refs[g],
                         .offset = 0,
                         .length = (uint64_t)np * 4096u};
    struct gntx_xen_call c = {.op = GNTX_OP_MAP, .count = 1};
    uint64_t aux[4];
    uint8_t *w, b;

    if (f->live && grant_copy_from(f->h, f->live, 0, f->live_ref, 0,
                                   FUZZ_GRANTS * sizeof(uint32_t)) == 0)
        m.ref = f->live[g];

    w = mmap(NULL, (size_t)np * 4096u, PROT_READ | (rdonly ? 0 : PROT_WRITE),
             MAP_SHARED, f->fd, (off_t)XGRANT_MAP_OFFSET);
    if (w == MAP_FAILED)
        return;
    for (unsigned i = 0; i < np; i++)
        aux[i] = (uintptr_t)(w + (size_t)i * 4096u);
    c.args = (uintptr_t)&m;
    c.aux = (uintptr_t)aux;
    c.aux_count = np;
    t->calls++;
    if (ioctl(f->fd, XGRANT_IOC_CALL, &c) == 1 && m.status == 0) {
        t->ok++;
        t->mapped++;
        (void)xlab_try_read(w + rnd(&t->seed) % (np * 4096u), &b, 1);
        if (!rdonly)
            (void)xlab_try_write(w + rnd(&t->seed) % (np * 4096u), 'f');
    }
    munmap(w, (size_t)np * 4096u);
}

static void *fuzz_thread(void *arg)
{
    struct fuzz_thread *t = arg;
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(t->cpu, &set);
    if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
        t->cpu = -1;
    __atomic_add_fetch(&t->f->running, 1, __ATOMIC_SEQ_CST);
    while (time(NULL) < t->f->end) {
        unsigned long before = t->calls;

        if (t->maps && rnd(&t->seed) % 8 == 0)
            random_map(t);
        else
            random_call(t);
        if (t->calls == before)
            continue;
        t->on_cpu += sched_getcpu() == t->cpu;
        t->racing += __atomic_load_n(&t->f->running, __ATOMIC_SEQ_CST) == 2;
    }
    __atomic_sub_fetch(&t->f->running, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

void xlab_fuzz_guest(grant_handle_t *h)
{
    struct fuzz f = {.self = grant_domid(h), .h = h};
    static struct fuzz_thread t[2];
    pthread_t th[2];
    char v[256];
    time_t start;
    int rc, started = 0;

    /* One thread per vCPU (the guest has two: xlab-m3, dom0-init.sh). */
    t[0] = (struct fuzz_thread){.f = &f, .seed = 0x1234u, .maps = 1};
    t[1] = (struct fuzz_thread){.f = &f, .seed = 0x9876u, .cpu = 1};
    rc = xlab_xs_wait("fuzzrefs", v, sizeof(v));
    if (rc == 0 &&
        sscanf(v, "%u/%u %u/%u %u/%u %u/%u %u", &f.refs[0], &f.npages[0],
               &f.refs[1], &f.npages[1], &f.refs[2], &f.npages[2], &f.refs[3],
               &f.npages[3], &f.live_ref) != 2 * FUZZ_GRANTS + 1)
        rc = -EINVAL;
    if (rc == 0 && grant_mem_alloc(h, 1, (void **)&f.live))
        f.live = NULL; /* the first refs then */
    if (rc == 0)
        rc = f.fd = xlab_dev_open(FUZZ_PAGES, NULL);
    start = time(NULL);
    f.end = start + XLAB_FUZZ_S;
    for (int i = 0; rc >= 0 && i < 2; i++)
        if (pthread_create(&th[i], NULL, fuzz_thread, &t[i]) == 0)
            started++;
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (rc < 0) {
        xlab_xs_write("fuzzdone", "ERR%d", rc);
        return;
    }
    close(f.fd); /* the teardown dom0 checks */
    xlab_xs_write("fuzzcpus", "%ld %d %d %lu %lu %lu %lu %lu %lu",
                  sysconf(_SC_NPROCESSORS_ONLN), t[0].cpu, t[1].cpu, t[0].calls,
                  t[0].on_cpu, t[0].racing, t[1].calls, t[1].on_cpu,
                  t[1].racing);
    xlab_xs_write("fuzzdone", "%lu calls (%lu ok, %lu maps) in %ld s",
                  t[0].calls + t[1].calls, t[0].ok + t[1].ok, t[0].mapped,
                  (long)(time(NULL) - start));
    /* Alive until dom0 has looked at what the fuzz left behind. */
    xlab_xs_wait("fuzzchecked", v, sizeof(v));
}

/* dom0's churn on its fuzz grants while the guest fuzzes. */
static void churn(grant_handle_t *h, unsigned guest, uint8_t *mem,
                  grant_ref_t *refs, const unsigned *np, unsigned *seed)
{
    time_t end = time(NULL) + XLAB_FUZZ_S;
    static const unsigned acc[] = {GRANT_ACC_R, GRANT_ACC_NONE, GRANT_ACC_RWX};

    while (time(NULL) < end) {
        unsigned g = rnd(seed) % FUZZ_GRANTS;
        uint8_t *p = mem + (size_t)g * 2 * 4096u;

        if (rnd(seed) % 2) {
            grant_revoke(h, refs[g], GRANT_REVOKE_FORCE);
            grant_create_direct(h, (grant_domid_t)guest,
                                GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP, p,
                                np[g] * 4096u, &refs[g]);
        } else {
            grant_protect(h, p, np[g] * 4096u, acc[rnd(seed) % 3],
                          rnd(seed) % 2 ? GRANT_ACT_DENY : GRANT_ACT_NOTIFY,
                          0xf022u);
        }
        usleep(20000);
    }
}

/*
 * The guest's two threads raced on two vCPUs: each was pinned to its own
 * (0 and 1), made every call there, and made calls while the other was
 * inside its loop too.  Prints the figures (XLAB-FUZZ).
 */
static void fuzz_cpus(const char *done)
{
    unsigned long c[2] = {0}, on[2] = {0}, race[2] = {0};
    int ncpu = 0, cpu[2] = {-1, -1}, n = 0;
    char v[256];

    if (xlab_xs_wait("fuzzcpus", v, sizeof(v)) == 0)
        n = sscanf(v, "%d %d %d %lu %lu %lu %lu %lu %lu", &ncpu, &cpu[0],
                   &cpu[1], &c[0], &on[0], &race[0], &c[1], &on[1], &race[1]);
    xlab_report(
        "fuzz_two_vcpus",
        n == 9 && ncpu >= 2 && cpu[0] == 0 && cpu[1] == 1 && c[0] && c[1] &&
            on[0] == c[0] && on[1] == c[1] && race[0] && race[1],
        "%d vCPUs online; thread 0 pinned to vCPU %d: %lu calls (%lu "
        "there, %lu racing the other), thread 1 to vCPU %d: %lu "
        "(%lu, %lu)",
        ncpu, cpu[0], c[0], on[0], race[0], cpu[1], c[1], on[1], race[1]);
    printf("XLAB-FUZZ guest: %s, two threads on %d vCPUs (%lu and %lu "
           "calls), dom0 revoking and protecting meanwhile\n",
           done, ncpu, c[0], c[1]);
}

/* Lines of Xen's log that say Xen is unwell; how many. */
static int xen_log_bad(char *first, size_t len)
{
    static const char *const bad[] = {"BUG",    "WARN",           "Assertion",
                                      "FATAL",  "Xen call trace", "Panic",
                                      "crashed"};
    char line[512];
    int n = 0;
    FILE *f = popen("xl dmesg 2>/dev/null", "r");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
            if (strstr(line, bad[i])) {
                if (!n++)
                    snprintf(first, len, "%s", line);
                break;
            }
    pclose(f);
    return n;
}

void xlab_fuzz_dom0(grant_handle_t *h, unsigned guest)
{
    static const unsigned np[FUZZ_GRANTS] = {1, 2, 1, 2};
    static grant_ref_t none[FUZZ_GRANTS];
    grant_ref_t *refs = none, live = 0; /* refs: in the page the guest reads */
    struct grant_usage u0 = {0}, u1 = {0};
    char v[256], bad[512] = "";
    unsigned seed = 0x5eedu;
    uint8_t *mem = NULL;
    grant_ref_t r;
    int rc, nbad;

    rc = grant_mem_alloc(h, 2 * FUZZ_GRANTS + 1, (void **)&mem);
    if (rc == 0) {
        refs = (grant_ref_t *)(mem + 2 * FUZZ_GRANTS * 4096u);
        rc = grant_create_direct(h, (grant_domid_t)guest, GRANT_R_READ, refs,
                                 4096, &live);
    }
    for (unsigned g = 0; rc == 0 && g < FUZZ_GRANTS; g++)
        rc = grant_create_direct(
            h, (grant_domid_t)guest, GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP,
            mem + (size_t)g * 2 * 4096u, np[g] * 4096u, &refs[g]);
    if (rc == 0)
        rc = grant_usage(h, (grant_domid_t)guest, &u0);
    if (system("xl dmesg -c >/dev/null 2>&1") != 0)
        rc = rc ? rc : -EIO;
    xlab_xs_write("fuzzrefs", rc ? "ERR%d" : "%u/%u %u/%u %u/%u %u/%u %u",
                  rc ? rc : (int)refs[0], np[0], refs[1], np[1], refs[2], np[2],
                  refs[3], np[3], live);
    if (rc == 0)
        churn(h, guest, mem, refs, np, &seed);
    if (rc == 0)
        rc = xlab_xs_wait("fuzzdone", v, sizeof(v));
    if (rc == 0 && !strncmp(v, "ERR", 3))
        rc = -EIO;
    xlab_report("fuzz_guest_done", rc == 0, "the guest fuzzed: %s",
                rc ? grant_strerror(rc) : v);
    if (rc == 0)
        fuzz_cpus(v);
    nbad = xen_log_bad(bad, sizeof(bad));
    xlab_report("fuzz_xen_log_clean", rc == 0 && nbad == 0,
                "Xen's log since the fuzz began: %d bad lines%s%s", nbad,
                nbad > 0 ? ", first: " : "", nbad > 0 ? bad : "");
    if (rc == 0)
        rc = grant_usage(h, (grant_domid_t)guest, &u1);
    xlab_report("fuzz_teardown_maps", rc == 0 && u1.maps == u0.maps,
                "the guest's mappings %u -> %u once its fd closed (%s)",
                u0.maps, u1.maps, grant_strerror(rc));
    /* Grants a raw /dev/xgrant caller made outlive its file: the module
     * does not revoke them when the file goes (its pages are freed). */
    printf("XLAB-NOTE fuzz: the guest's grants %u -> %u once its fd closed\n",
           u0.entries, u1.entries);
    for (unsigned g = 0; g < FUZZ_GRANTS; g++) {
        if (mem)
            grant_protect(h, mem + (size_t)g * 2 * 4096u, np[g] * 4096u,
                          GRANT_ACC_RWX, GRANT_ACT_DENY, 0);
        grant_revoke(h, refs[g], GRANT_REVOKE_FORCE);
    }
    if (live)
        grant_revoke(h, live, 0);
    rc = mem ? grant_create_direct(h, (grant_domid_t)guest, GRANT_R_READ, mem,
                                   4096, &r)
             : -ENOMEM;
    if (rc == 0)
        rc = grant_revoke(h, r, 0);
    xlab_report("fuzz_dom0_works", rc == 0,
                "dom0's create and revoke after the fuzz: %s",
                grant_strerror(rc));
    xlab_xs_write("fuzzchecked", "1");
}
