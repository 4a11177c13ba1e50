/* SPDX-License-Identifier: MIT */
/*
 * test_spin: the adaptive spin of sim_spin.h, the policy both the sim
 * transport's client (its spin for an answer) and xgrantd (its poll of the
 * call areas) follow.  Causal: given what the caller measured, what it
 * decides; no clock is read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "libgrant/lib/sim/sim_spin.h"

#define MAX 100000u

static void client(struct xgw_spin *s)
{
    xgw_spin_init(s, MAX, 0);
}

/* Nothing spins while the answer needs a wake-up and no CPU is free; a
 * spin is short while no CPU is free; otherwise the whole budget. */
static void test_budget_by_state(void **state)
{
    struct xgw_spin s;

    (void)state;
    client(&s);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX);
    assert_int_equal(xgw_spin_budget(&s, 1, 0), MAX);
    assert_int_equal(xgw_spin_budget(&s, 0, 1), XGW_SPIN_BUSY_NS);
    assert_int_equal(xgw_spin_budget(&s, 1, 1), 0);
}

/* Answers that come only long after the budget (the other side was not
 * running) shrink it, down to the floor, never below. */
static void test_late_answers_shrink(void **state)
{
    struct xgw_spin s;
    uint32_t prev;

    (void)state;
    client(&s);
    for (int i = 0; i < 40; i++) {
        prev = xgw_spin_budget(&s, 0, 0);
        xgw_spin_learn(&s, 5000000, prev);
        assert_true(xgw_spin_budget(&s, 0, 0) <= prev);
    }
    assert_int_equal(xgw_spin_budget(&s, 0, 0), XGW_SPIN_MIN_NS);
}

/* Answers caught by the spin leave the budget alone; answers that came
 * after it but within the maximum grow it back, up to the maximum. */
static void test_near_misses_grow(void **state)
{
    struct xgw_spin s;
    uint32_t b;

    (void)state;
    client(&s);
    for (int i = 0; i < 40; i++)
        xgw_spin_learn(&s, 5000000, xgw_spin_budget(&s, 0, 0));
    b = xgw_spin_budget(&s, 0, 0);
    xgw_spin_learn(&s, b / 2, b);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), b);
    xgw_spin_learn(&s, b + 1000, b);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), 2 * b);
    for (int i = 0; i < 40; i++) {
        b = xgw_spin_budget(&s, 0, 0);
        xgw_spin_learn(&s, MAX, b);
    }
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX);
}

/* A wait that did not spin (asleep and busy) teaches the client nothing. */
static void test_no_spin_no_lesson(void **state)
{
    struct xgw_spin s;

    (void)state;
    client(&s);
    xgw_spin_learn(&s, 5000000, xgw_spin_budget(&s, 1, 1));
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX);
}

/* The daemon's window may reach 0 (no polling: it blocks at once after
 * sparse requests) and grows back when requests come close together. */
static void test_daemon_window(void **state)
{
    struct xgw_spin s;

    (void)state;
    xgw_spin_init(&s, 50000, 1);
    for (int i = 0; i < 40; i++)
        xgw_spin_learn(&s, 10000000, xgw_spin_budget(&s, 0, 0));
    assert_int_equal(xgw_spin_budget(&s, 0, 0), 0);
    xgw_spin_learn(&s, 10000000, 0);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), 0);
    xgw_spin_learn(&s, 30000, 0);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), XGW_SPIN_MIN_NS);
    /* It grows until it catches them, and stops there. */
    for (int i = 0; i < 40; i++)
        xgw_spin_learn(&s, 30000, xgw_spin_budget(&s, 0, 0));
    assert_true(xgw_spin_budget(&s, 0, 0) >= 30000);
    assert_true(xgw_spin_budget(&s, 0, 0) < 50000);
    for (int i = 0; i < 40; i++)
        xgw_spin_learn(&s, 45000, xgw_spin_budget(&s, 0, 0));
    assert_int_equal(xgw_spin_budget(&s, 0, 0), 50000);
    assert_int_equal(xgw_spin_budget(&s, 0, 1), XGW_SPIN_BUSY_NS);
    /* --poll-us 0: never polls, whatever it learns. */
    xgw_spin_init(&s, 0, 1);
    xgw_spin_learn(&s, 0, 0);
    xgw_spin_learn(&s, 100, 0);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_by_state),
        cmocka_unit_test(test_late_answers_shrink),
        cmocka_unit_test(test_near_misses_grow),
        cmocka_unit_test(test_no_spin_no_lesson),
        cmocka_unit_test(test_daemon_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
