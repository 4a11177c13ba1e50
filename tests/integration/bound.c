/* SPDX-License-Identifier: MIT */
/*
 * bound: no single call of one domain holds xgrantd for long (issue 11,
 * "Bound").  A bystander domain copies 4 KiB within its own memory in a
 * loop and records the worst wait of one copy while a hostile domain runs,
 * one after the other:
 *   protect  PROTECT batches of 4096 elements, each its whole memory,
 *            alternating R and RWX;
 *   copy     after a PROTECT of its last page, COPY batches of 4096
 *            elements, each the rest of its memory onto itself;
 *   query    QUERY_TREE of a grant a colluding domain delegated from
 *            thousands of times.
 * The hostile side speaks the wire by hand (common/raw.c) and resubmits
 * what the budget cut short, as libgrant does.  Prints the worst waits.
 * These are wall-clock times on a shared machine, where a process may wait
 * that long for a CPU: a load whose worst reaches BOUND_MS runs again (up
 * to TRIES times) and fails only if every run does (one call of the old
 * core held xgrantd 1.3-4.8 s under each of these loads, every time).
 * tests/unit/test_bound.c checks the tight bound on CPU time, in-process.
 * XGRANT_BOUND_LONG=1 (make bench): a 4 GiB hostile domain, 65535
 * delegations and 3 s loads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/itest.h"
#include "common/raw.h"
#include "grant_abi.h"
#include "libgrant/abi/sim_wire.h"

#define BOUND_MS 500 /* wall clock, see above; the goal is ~10 ms */
#define BATCH    GNTX_MAX_BATCH
#define TRIES    5 /* runs of a load before its worst counts */

static uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the bystander ---------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* "run MS": 4 KiB copies for MS ms; "ok WORST_US MEDIAN_US COUNT". */
static void bystander_run(grant_handle_t *h, char *mem, unsigned ms)
{
    static uint64_t lat[1u << 20];
    struct grant_copy_seg s = {.src = {.local = 1, .ptr = mem},
                               .dst = {.local = 1, .ptr = mem + 8192},
                               .len = 4096};
    uint64_t end = now_us() + ms * 1000ull, worst = 0;
    size_t n = 0;
    int bad = 0;

    while (now_us() < end && n < sizeof(lat) / sizeof(lat[0])) {
        uint64_t t0 = now_us();

        bad |= grant_copy(h, &s, 1) != 1;
        lat[n] = now_us() - t0;
        worst = lat[n] > worst ? lat[n] : worst;
        n++;
    }
    qsort(lat, n, sizeof(lat[0]), cmp_u64);
    printf("%s %llu %llu %zu\n", bad ? "err" : "ok", (unsigned long long)worst,
           (unsigned long long)(n ? lat[n / 2] : 0), n);
}

static int bystander_role(void)
{
    grant_handle_t *h;
    char line[128];
    void *mem;
    unsigned ms;

    if (grant_open(&h, 0) < 0 || grant_mem_alloc(h, 4, &mem) < 0) {
        printf("err open\n");
        return 1;
    }
    printf("ok\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        if (sscanf(line, "run %u", &ms) == 1)
            bystander_run(h, mem, ms);
        else
            printf("err %s", line);
        fflush(stdout);
    }
    grant_close(h);
    return 0;
}

/* ---- the hostile domain ----------------------------------------------- */

static struct raw conn;
static uint8_t wire[XGW_MAX_PAYLOAD];

/* One call: args (n of esz bytes) and aux_in go out; the args come back
 * in place, aux_out (naux_out of aux_esz) after them.  The call's ret. */
static int64_t hcall(unsigned op, void *args, unsigned n, size_t esz,
                     const void *aux_in, size_t aux_in_len, uint64_t naux_out,
                     size_t aux_esz, void *aux_out)
{
    size_t alen = n * esz;
    int64_t rc;

    memcpy(wire, args, alen);
    if (aux_in_len)
        memcpy(wire + alen, aux_in, aux_in_len);
    rc = raw_call(&conn, op, n,
                  aux_in_len ? aux_in_len / sizeof(uint64_t) : naux_out, wire,
                  (uint32_t)(alen + aux_in_len), wire, sizeof(wire));
    memcpy(args, wire, alen);
    if (aux_out)
        memcpy(aux_out, wire + alen, naux_out * aux_esz);
    return rc;
}

/* Sends v[0..n) and resubmits the -EAGAIN elements until none is left or
 * the time is up; returns the calls made. */
static unsigned send_all(unsigned op, void *v, unsigned n, size_t esz,
                         size_t status_off, uint64_t end)
{
    unsigned calls = 0;

    while (n && now_us() < end) {
        unsigned k = 0;

        if (hcall(op, v, n, esz, NULL, 0, 0, 0, NULL) < 0)
            return calls;
        calls++;
        for (unsigned i = 0; i < n; i++) {
            char *e = (char *)v + i * esz;

            if (*(int32_t *)(void *)(e + status_off) == -GNTX_EAGAIN)
                memmove((char *)v + k++ * esz, e, esz);
        }
        n = k;
    }
    return calls;
}

static uint64_t mem_pages;

static void load_protect(uint64_t end, unsigned *calls)
{
    static struct gntx_protect v[BATCH];

    while (now_us() < end) {
        for (unsigned i = 0; i < BATCH; i++)
            v[i] = (struct gntx_protect){.nr = mem_pages,
                                         .access =
                                             i % 2 ? GNTX_ACC_RWX : GNTX_ACC_R,
                                         .action = GNTX_ACT_LOG};
        *calls += send_all(GNTX_OP_PROTECT, v, BATCH, sizeof(v[0]),
                           offsetof(struct gntx_protect, status), end);
    }
}

static void load_copy(uint64_t end, unsigned *calls)
{
    static struct gntx_copy v[BATCH];
    struct gntx_protect last = {.gfn = mem_pages - 1, .nr = 1};

    hcall(GNTX_OP_PROTECT, &last, 1, sizeof(last), NULL, 0, 0, 0, NULL);
    while (now_us() < end) {
        for (unsigned i = 0; i < BATCH; i++)
            v[i] = (struct gntx_copy){.src = {.kind = GNTX_PTR_LOCAL},
                                      .dst = {.kind = GNTX_PTR_LOCAL},
                                      .len = (mem_pages - 1) * GNTX_PAGE_SIZE};
        *calls += send_all(GNTX_OP_COPY, v, BATCH, sizeof(v[0]),
                           offsetof(struct gntx_copy, status), end);
    }
}

/* Room for the whole tree: the daemon bounds a call, not the caller. */
#define TREE_ROOM (1u << 16)

static void load_query(uint32_t ref, uint64_t end, unsigned *calls,
                       uint64_t *nodes)
{
    static struct gntx_entry_info out[TREE_ROOM];

    while (now_us() < end) {
        struct gntx_query q = {.dom = GNTX_DOMID_SELF, .ref = ref};

        do {
            if (hcall(GNTX_OP_QUERY_TREE, &q, 1, sizeof(q), NULL, 0, TREE_ROOM,
                      sizeof(out[0]), out) < 0)
                return;
            ++*calls;
            *nodes += q.count;
        } while (q.cursor && now_us() < end);
    }
}

/* "root TO": a one-page grant with DELEGATE to TO; "ok REF". */
static int64_t make_root(unsigned to)
{
    struct gntx_create v = {.type = GNTX_CREATE_DIRECT,
                            .grantee = (uint16_t)to,
                            .rights = GNTX_R_READ | GNTX_R_DELEGATE,
                            .nr_frames = 1,
                            .length = 1};
    uint64_t frame = 0;
    int64_t rc = hcall(GNTX_OP_CREATE, &v, 1, sizeof(v), &frame, sizeof(frame),
                       0, 0, NULL);

    return rc < 0 ? rc : v.ref;
}

/* "fan PDOM PREF TO N": N delegations of (PDOM, PREF) to TO. */
static int64_t fan(unsigned pdom, uint32_t pref, unsigned to, unsigned n)
{
    static struct gntx_create v[BATCH];

    for (unsigned at = 0; at < n; at += BATCH) {
        unsigned k = n - at < BATCH ? n - at : BATCH;
        int64_t rc;

        for (unsigned i = 0; i < k; i++)
            v[i] = (struct gntx_create){.type = GNTX_CREATE_INDIRECT,
                                        .grantee = (uint16_t)to,
                                        .rights = GNTX_R_READ,
                                        .parent_dom = (uint16_t)pdom,
                                        .parent_ref = pref,
                                        .length = 1};
        rc = hcall(GNTX_OP_CREATE, v, k, sizeof(v[0]), NULL, 0, 0, 0, NULL);
        if (rc < 0)
            return rc;
    }
    return n;
}

static void hostile_cmd(const char *line)
{
    unsigned ms, a, c, n, calls = 0;
    uint64_t nodes = 0;
    uint32_t b;

    if (sscanf(line, "protect %u", &ms) == 1) {
        load_protect(now_us() + ms * 1000ull, &calls);
        printf("ok %u\n", calls);
    } else if (sscanf(line, "copy %u", &ms) == 1) {
        load_copy(now_us() + ms * 1000ull, &calls);
        printf("ok %u\n", calls);
    } else if (sscanf(line, "query %u %u", &b, &ms) == 2) {
        load_query(b, now_us() + ms * 1000ull, &calls, &nodes);
        printf("ok %u %llu\n", calls, (unsigned long long)nodes);
    } else if (sscanf(line, "root %u", &a) == 1) {
        printf("ok %lld\n", (long long)make_root(a));
    } else if (sscanf(line, "fan %u %u %u %u", &a, &b, &c, &n) == 4) {
        printf("ok %lld\n", (long long)fan(a, b, c, n));
    } else {
        printf("err %s", line);
    }
}

static int hostile_role(void)
{
    grant_handle_t *h;
    struct grant_usage u;
    char line[128];

    if (grant_open(&h, 0) < 0 || grant_usage(h, GRANT_DOMID_SELF, &u) < 0 ||
        raw_hello(&conn) < 0) {
        printf("err open\n");
        return 1;
    }
    mem_pages = u.mem_frames;
    printf("ok\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin)) {
        hostile_cmd(line);
        fflush(stdout);
    }
    grant_close(h);
    return 0;
}

/* ---- the test --------------------------------------------------------- */

static void spawn(grant_handle_t *dom0, struct itest_agent *a, const char *name,
                  const char *role, unsigned pages, unsigned max_entries)
{
    char *argv[] = {itest_self(), (char *)role, NULL};
    char buf[64];

    itest_spawn_quota(dom0, a, name, pages, argv, max_entries);
    ICHECK(fgets(buf, sizeof(buf), a->in) && strncmp(buf, "ok", 2) == 0,
           "%s is up", name);
}

/* Runs one hostile load beside the bystander: its worst wait in us. */
static uint64_t try_load(struct itest_agent *by, struct itest_agent *evil,
                         const char *what, const char *cmd, unsigned ms)
{
    unsigned long long worst = 0, median = 0;
    unsigned long count = 0;
    char hb[128], bb[128];

    dprintf(by->to, "run %u\n", ms + 100);
    dprintf(evil->to, "%s\n", cmd);
    ICHECK(fgets(hb, sizeof(hb), evil->in) && strncmp(hb, "ok", 2) == 0,
           "hostile %s ran: %s", what, hb);
    ICHECK(fgets(bb, sizeof(bb), by->in) &&
               sscanf(bb, "ok %llu %llu %lu", &worst, &median, &count) == 3,
           "bystander copied: %s", bb);
    hb[strcspn(hb, "\n")] = 0;
    printf("bound: %-7s worst bystander 4 KiB copy %7.1f ms (median %llu us, "
           "%lu copies; hostile calls: %s)\n",
           what, worst / 1000.0, median, count, hb + 3);
    return worst;
}

static void under_load(struct itest_agent *by, struct itest_agent *evil,
                       const char *what, const char *cmd, unsigned ms)
{
    uint64_t worst = UINT64_MAX;

    for (int i = 0; i < TRIES && worst >= BOUND_MS * 1000ull; i++) {
        uint64_t w = try_load(by, evil, what, cmd, ms);

        worst = w < worst ? w : worst;
    }
    ICHECK(worst < BOUND_MS * 1000ull, "%s: worst wait %.1f ms < %d ms", what,
           worst / 1000.0, BOUND_MS);
}

int main(int argc, char **argv)
{
    const int big = getenv("XGRANT_BOUND_LONG") != NULL;
    const unsigned pages = big ? 1u << 20 : 1u << 18; /* 4 GiB / 1 GiB */
    const unsigned kids = big ? TREE_ROOM - 1 : 1u << 15, ms = big ? 3000 : 400;
    struct itest_agent by, evil, peer;
    grant_handle_t *dom0;
    char cmd[96], buf[64];
    long long root;

    if (argc == 2 && strcmp(argv[1], "--bystander") == 0)
        return bystander_role();
    if (argc == 2 && strcmp(argv[1], "--hostile") == 0)
        return hostile_role();
    itest_setup(&dom0);
    spawn(dom0, &by, "bystander", "--bystander", 16, 0);
    spawn(dom0, &evil, "hostile", "--hostile", pages, 64);
    spawn(dom0, &peer, "colluder", "--hostile", 16, kids + 64);

    try_load(&by, &evil, "none", "protect 0", 0); /* warm-up, no load */
    snprintf(cmd, sizeof(cmd), "protect %u", ms);
    under_load(&by, &evil, "protect", cmd, ms);
    snprintf(cmd, sizeof(cmd), "copy %u", ms);
    under_load(&by, &evil, "copy", cmd, ms);

    dprintf(evil.to, "root %u\n", peer.domid);
    ICHECK(fgets(buf, sizeof(buf), evil.in) &&
               sscanf(buf, "ok %lld", &root) == 1 && root > 0,
           "hostile root grant: %s", buf);
    dprintf(peer.to, "fan %u %lld %u %u\n", evil.domid, root, evil.domid, kids);
    ICHECK(fgets(buf, sizeof(buf), peer.in) && atoi(buf + 3) == (int)kids,
           "colluder delegated it %u times: %s", kids, buf);
    snprintf(cmd, sizeof(cmd), "query %lld %u", root, ms);
    under_load(&by, &evil, "query", cmd, ms);

    itest_agent_close(&by);
    itest_agent_close(&evil);
    itest_agent_close(&peer);
    itest_teardown(dom0);
    return itest_done();
}
