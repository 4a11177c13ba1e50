/* SPDX-License-Identifier: MIT */
/*
 * test_model.c: the property test of the grant core against the reference
 * model (model.h): long random sequences of CREATE (direct, delegated),
 * REVOKE (plain, FORCE), COPY (vectored, local and grant ends), MEMSET,
 * MAP, UNMAP, PROTECT, quotas, budgets and domain deaths over five
 * domains, every answer and the whole state checked after every op.
 *
 * `make test` runs a fixed set of seeds briefly.  For longer runs:
 *   MODEL_SECONDS=300 build/tests/unit/test_model   (or make model)
 *   MODEL_SEED=0x1234 MODEL_OPS=5000 build/tests/unit/test_model
 *   MODEL_VERBOSE=1 prints every call as it goes.
 * A failure prints the seed, the op, the last calls (with every element's
 * status and the model's) and the command that replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "tests/unit/model.h"

#define QUICK_SEEDS 8u
#define QUICK_OPS   10000u

void md_trace(struct md *m, const char *fmt, ...)
{
    char *line = m->trace[m->ntrace++ % MD_TRACE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(m->trace[0]), fmt, ap);
    va_end(ap);
    if (m->verbose)
        fprintf(stderr, "%s\n", line);
}

void md_fail(struct md *m, const char *file, int line, const char *cond,
             const char *fmt, ...)
{
    unsigned n = m->ntrace < MD_TRACE ? m->ntrace : MD_TRACE;
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "model: the last %u calls (oldest first):\n", n);
    for (unsigned i = m->ntrace - n; i < m->ntrace; i++)
        fprintf(stderr, "  %s\n", m->trace[i % MD_TRACE]);
    fprintf(stderr,
            "model: FAILED seed %#llx op %llu: %s:%d: %s: %s\n"
            "model: replay: MODEL_SEED=%#llx MODEL_OPS=%llu MODEL_VERBOSE=1 "
            "build/tests/unit/test_model\n",
            (unsigned long long)m->seed, (unsigned long long)m->op, file, line,
            cond, msg, (unsigned long long)m->seed,
            (unsigned long long)m->op + 1);
    fail_msg("model: seed %#llx op %llu: %s", (unsigned long long)m->seed,
             (unsigned long long)m->op, msg);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *s = getenv(name);

    return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void stats_add(struct md_stats *t, const struct md_stats *s)
{
    const uint64_t *a = (const uint64_t *)s;
    uint64_t *b = (uint64_t *)t;

    for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
        b[i] =
            &b[i] == &t->max_depth ? (a[i] > b[i] ? a[i] : b[i]) : b[i] + a[i];
}

/* One seed: `ops` random ops (each checked), then release everything. */
static int placement;

static void run_seed(uint64_t seed, uint64_t ops, struct md_stats *total)
{
    struct md *m = calloc(1, sizeof(*m));

    assert_non_null(m);
    md_init(m, seed);
    m->verbose = env_u64("MODEL_VERBOSE", 0) != 0;
    MD_CHECK(m, placement >= 0, "the protection probe got neither answer");
    m->prot_at_move = placement;
    th_reset();
    th_fail_map_made(-1);
    assert_int_equal(gcore_create(&m->c), 0);
    for (uint16_t d = 0; d < MD_NDOM; d++) {
        md_dom_add(m, d);
        assert_int_equal(gcore_dom_add(m->c, d, m->d[d].nr_frames, m->d[d].mem),
                         0);
    }
    for (m->op = 0; m->op < ops; m->op++) {
        md_run_op(m);
        md_check_all(m);
        m->st.live_grants += m->ng;
        m->st.live_maps += m->nmap;
    }
    md_drain(m);
    md_check_all(m);
    gcore_destroy(m->c);
    MD_CHECK(m, th_balanced() && th_allocs_live() == 0,
             "after gcore_destroy: %ld allocations live", th_allocs_live());
    stats_add(total, &m->st);
    md_fini(m);
    free(m);
}

static void report(const struct md_stats *s, uint64_t seeds, double secs)
{
    printf("model: %llu seeds, %llu ops (%llu calls, %llu elements: %llu ok, "
           "%llu failed as predicted) in %.2f s: %.0f ops/s, %.0f calls/s\n",
           (unsigned long long)seeds, (unsigned long long)s->ops,
           (unsigned long long)s->calls, (unsigned long long)s->elems,
           (unsigned long long)s->ok, (unsigned long long)s->failed, secs,
           (double)s->ops / secs, (double)s->calls / secs);
    printf("model: %llu continuation calls (%llu resubmits, %llu revokes in "
           "between), %llu FORCE/removal unmap notifies, %llu restricts, "
           "%llu KILLs, %llu domain removals, %llu drains, chains up to %llu, "
           "%llu orphan probes, %llu bytes moved\n",
           (unsigned long long)s->cut_calls, (unsigned long long)s->resubmits,
           (unsigned long long)s->interleaved,
           (unsigned long long)s->force_notes, (unsigned long long)s->restricts,
           (unsigned long long)s->kills, (unsigned long long)s->removals,
           (unsigned long long)s->drains, (unsigned long long)s->max_depth,
           (unsigned long long)s->orphan_uses, (unsigned long long)s->bytes);
    printf("model: on average %.1f grants and %.1f mappings live; %llu "
           "elements failed by an injected allocation failure\n",
           (double)s->live_grants / (double)s->ops,
           (double)s->live_maps / (double)s->ops, (unsigned long long)s->ooms);
    printf("model: %llu fault records written to rings, %llu dropped "
           "(ring full)\n",
           (unsigned long long)s->records, (unsigned long long)s->dropped);
    printf("model: element errors:");
    for (unsigned e = 1; e < 128; e++)
        if (s->by_err[e])
            printf(" %u:%llu", e, (unsigned long long)s->by_err[e]);
    printf("\n");
}

/*
 * MODEL_SEED: that seed only (MODEL_OPS ops); MODEL_SECONDS: seeds from
 * MODEL_SEED_BASE on until the time is up; else QUICK_SEEDS fixed seeds.
 */
static void test_model_random(void **state)
{
    uint64_t ops = env_u64("MODEL_OPS", QUICK_OPS);
    uint64_t secs = env_u64("MODEL_SECONDS", 0);
    uint64_t base = env_u64("MODEL_SEED_BASE", 0x5eed0000);
    struct md_stats total = {0};
    uint64_t seeds = 0;
    double t0 = now();

    (void)state;
    placement = md_prot_placement();
    printf("model: the core checks copies' protections %s\n",
           placement ? "as the bytes move (per call)" : "at validation");
    if (getenv("MODEL_SEED")) {
        run_seed(env_u64("MODEL_SEED", 0), ops, &total);
        seeds = 1;
    } else if (secs) {
        while (now() - t0 < (double)secs)
            run_seed(base + seeds++, env_u64("MODEL_OPS", 20000), &total);
    } else {
        for (; seeds < QUICK_SEEDS; seeds++)
            run_seed(base + seeds, ops, &total);
    }
    report(&total, seeds, now() - t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_random),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
