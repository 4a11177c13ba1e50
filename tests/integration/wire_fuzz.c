/* SPDX-License-Identifier: MIT */
/*
 * wire_fuzz: a guest sends thousands of random requests (seeded, so a
 * failure replays) over the raw wire protocol: random ops, counts, aux
 * counts and payloads biased towards small numbers so they reach deep into
 * validation, and now and then a frame whose length lies.  xgrantd must
 * answer or drop the connection, never crash or stall, and keep serving an
 * honest pair of domains the whole time.
 *   wire_fuzz [SEED [MESSAGES]]
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/itest.h"
#include "common/raw.h"
#include "libgrant/abi/sim_wire.h"

static const struct {
    uint32_t op, elem;
} ops[] = {
    {GNTX_OP_VERSION, 0},
    {GNTX_OP_CREATE, 48},
    {GNTX_OP_REVOKE, 16},
    {GNTX_OP_COPY, 48},
    {GNTX_OP_MEMSET, 32},
    {GNTX_OP_MAP, 48},
    {GNTX_OP_UNMAP, 8},
    {GNTX_OP_QUERY_TABLE, 16},
    {GNTX_OP_QUERY_TREE, 16},
    {GNTX_OP_USAGE, 48},
    {GNTX_OP_SET_QUOTA, 48},
    {GNTX_OP_PROTECT, 32},
    {GNTX_OP_PROTECT_QUERY, 16},
    {GNTX_OP_FAULT_RING, 16},
    {GNTX_OP_FAULT_STATS, 80},
    {GNTX_OP_IO, 48},
    {XGW_OP_MEM_ALLOC, 16},
    {XGW_OP_MEM_FREE, 16},
    {XGW_OP_EVTCHN_ALLOC_UNBOUND, 16},
    {XGW_OP_EVTCHN_SEND, 16},
    {XGW_OP_EVTCHN_CLOSE, 16},
    {XGW_OP_DOMAIN_LIST, 0},
    {XGW_OP_DOMAIN_DESTROY, 8},
    {0x77, 4},
};

static uint8_t small_byte(void)
{
    static const uint8_t pick[] = {0, 0, 0, 1, 1, 2, 3, 4, 0x10, 0xff};
    int r = rand() % 16;

    return r < 10 ? pick[r] : (uint8_t)rand();
}

/* Ops that take one struct (more is an error to exercise now and then). */
static int single(uint32_t op)
{
    return op == GNTX_OP_QUERY_TABLE || op == GNTX_OP_QUERY_TREE ||
           op == GNTX_OP_USAGE || op == GNTX_OP_SET_QUOTA ||
           op == GNTX_OP_PROTECT_QUERY || op == GNTX_OP_FAULT_RING ||
           op == GNTX_OP_FAULT_STATS;
}

/* PROTECT elements never ask for KILL: the fuzzer's own random copies
 * would then end it (as designed) before it has sent everything. */
static void no_kill(uint8_t *buf, uint32_t len)
{
    size_t at = offsetof(struct gntx_protect, action);

    for (uint32_t e = 0; e + sizeof(struct gntx_protect) <= len;
         e += sizeof(struct gntx_protect))
        if (buf[e + at] == GNTX_ACT_KILL)
            buf[e + at] = GNTX_ACT_NOTIFY;
}

/* One random request; returns 1 if the daemon dropped the connection. */
static int one(struct raw *r, uint8_t *buf, size_t cap)
{
    unsigned k = rand() % (sizeof(ops) / sizeof(ops[0]));
    uint32_t count = rand() % 6, len, claimed;
    uint64_t aux =
        rand() % 4 ? (uint64_t)(rand() % 5) : (uint64_t)rand() << (rand() % 40);
    struct xgw_msg m;

    if (single(ops[k].op))
        count = rand() % 4 ? 1 : count;
    len = count * ops[k].elem +
          (ops[k].op == GNTX_OP_CREATE && aux < 64 ? (uint32_t)aux * 8 : 0);
    if (len > cap)
        len = (uint32_t)cap;
    for (uint32_t i = 0; i < len; i++)
        buf[i] = small_byte();
    if (ops[k].op == GNTX_OP_PROTECT)
        no_kill(buf, len);
    claimed = rand() % 50 ? len : len + (rand() % 3) - 1;
    if (claimed > len) /* a lie upward: the daemon waits, then we hang up */
        return raw_send(r, ops[k].op, count, aux, buf, len, claimed), 1;
    if (raw_send(r, ops[k].op, count, aux, buf, claimed, claimed) < 0)
        return 1;
    return raw_recv(r, &m, NULL, 0) < 0;
}

static int fuzz_role(unsigned seed, unsigned n)
{
    static uint8_t buf[4096];
    unsigned reconnects = 0, i;
    struct raw r;

    srand(seed);
    if (raw_hello(&r) < 0)
        return printf("err -71 hello\n"), 1;
    for (i = 0; i < n; i++) {
        if (!one(&r, buf, sizeof(buf)))
            continue;
        close(r.fd);
        reconnects++;
        if (raw_hello(&r) < 0)
            return printf("err -71 reconnect after %u messages\n", i), 1;
    }
    close(r.fd);
    printf("ok %u messages, %u connections dropped by the daemon\n", n,
           reconnects);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 20261122;
    unsigned n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 0) : 3000;
    char s_seed[16], s_n[16], line[256];
    char *role[] = {NULL, "--fuzz", s_seed, s_n, NULL};
    struct itest_agent a, b, f;
    grant_handle_t *dom0;
    uint64_t ref;

    if (argc > 1 && strcmp(argv[1], "--fuzz") == 0)
        return fuzz_role(seed, n);
    if (argc > 1) {
        seed = (unsigned)strtoul(argv[1], NULL, 0);
        n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : n;
    }
    snprintf(s_seed, sizeof(s_seed), "%u", seed);
    snprintf(s_n, sizeof(s_n), "%u", n);
    itest_setup(&dom0);
    itest_spawn(dom0, &a, "honest-a", 64);
    itest_spawn(dom0, &b, "honest-b", 64);
    itest_ok(&a, "alloc 1");
    itest_ok(&b, "alloc 1");
    itest_ok(&a, "fill 0 0 4096 8");
    ref = itest_ok(&a, "grant %u rw 0 0 4096", b.domid);

    role[0] = itest_self();
    itest_spawn_argv(dom0, &f, "fuzzer", 64, role);
    /* The honest pair works while the fuzzer runs. */
    for (int i = 0; i < 20; i++)
        itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 4096", a.domid,
                 (unsigned long long)ref);
    if (!fgets(line, sizeof(line), f.in))
        strcpy(line, "(no answer)\n");
    ICHECK(strncmp(line, "ok", 2) == 0, "fuzzer (seed %u) finished: %s", seed,
           line);
    itest_agent_close(&f);
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 4096", a.domid,
             (unsigned long long)ref);
    itest_ok(&b, "check 0 0 4096 8");
    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
