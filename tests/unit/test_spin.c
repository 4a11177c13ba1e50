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
    xgw_spin_init(s, MAX);
}

/* Nothing spins while the answer needs a wake-up and no CPU is free;
 * otherwise the budget learned. */
static void test_budget_by_state(void **state)
{
    struct xgw_spin s;

    (void)state;
    client(&s);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX);
    assert_int_equal(xgw_spin_budget(&s, 1, 0), MAX);
    assert_int_equal(xgw_spin_budget(&s, 0, 1), MAX);
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

/* A late answer after a stream of answers the spin caught (the daemon was
 * preempted once) does not shrink the budget; a second one in a row does. */
static void test_hits_protect(void **state)
{
    struct xgw_spin s;

    (void)state;
    client(&s);
    for (int i = 0; i < 100; i++)
        xgw_spin_hit(&s);
    xgw_spin_learn(&s, 5000000, MAX);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX);
    xgw_spin_learn(&s, 5000000, MAX);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX / 2);
    /* An answer caught counts as a hit too. */
    xgw_spin_learn(&s, 500, MAX / 2);
    xgw_spin_learn(&s, 5000000, MAX / 2);
    assert_int_equal(xgw_spin_budget(&s, 0, 0), MAX / 2);
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

/* The daemon polls its whole window unless no CPU is free and the last
 * request came after a sleep (sparse traffic): then only a sleep's cost;
 * a stream it caught while polling keeps the whole window even then. */
static void test_daemon_window(void **state)
{
    (void)state;
    assert_int_equal(xgw_poll_window(50000, 0, 0), 50000);
    assert_int_equal(xgw_poll_window(50000, 0, 1), 50000);
    assert_int_equal(xgw_poll_window(50000, 1, 1), 50000);
    assert_int_equal(xgw_poll_window(50000, 1, 0), XGW_SPIN_BUSY_NS);
    /* --poll-us 0 never polls; a window below the cap stays. */
    assert_int_equal(xgw_poll_window(0, 1, 0), 0);
    assert_int_equal(xgw_poll_window(1000, 1, 0), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_by_state),
        cmocka_unit_test(test_late_answers_shrink),
        cmocka_unit_test(test_near_misses_grow),
        cmocka_unit_test(test_hits_protect),
        cmocka_unit_test(test_no_spin_no_lesson),
        cmocka_unit_test(test_daemon_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
