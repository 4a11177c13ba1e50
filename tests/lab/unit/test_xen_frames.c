/* SPDX-License-Identifier: MIT */
/*
 * test_xen_frames.c: libgrant/lib/frames.c, the way back from the frames
 * Xen names (a PV domain's machine frames, in PROTECT_QUERY ranges and
 * fault records) to pages of the handle's grant memory, which is what
 * grant_protect_query and a fault handler report (issue 12, item 7).  The
 * handle's pages sit at descending frames with holes, as the module's
 * XGRANT_IOC_FRAMES gives them for a PV guest.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "libgrant/lib/private.h"

#define NPAGES 8u
#define TOP    5000u
#define SELF   5u

static uint64_t frame_of(uint64_t idx)
{
    return TOP - 2 * idx;
}

static int setup(void **state)
{
    static struct grant_handle h;
    uint64_t fr[NPAGES];

    for (unsigned i = 0; i < NPAGES; i++)
        fr[i] = frame_of(i);
    memset(&h, 0, sizeof(h));
    h.domid = SELF;
    h.mem_frames = NPAGES;
    assert_int_equal(lg_frames_set(&h, fr, NPAGES), 0);
    *state = &h;
    return 0;
}

static int teardown(void **state)
{
    lg_frames_free(*state);
    return 0;
}

static void index_of_frame(void **state)
{
    grant_handle_t *h = *state;
    uint64_t idx = 99;

    assert_int_equal(lg_frame_index(h, frame_of(3), &idx), 0);
    assert_int_equal(idx, 3);
    assert_int_equal(lg_frame_index(h, frame_of(0), &idx), 0);
    assert_int_equal(idx, 0);
    assert_int_equal(lg_frame_index(h, frame_of(3) + 1, &idx), -ENOENT);
    assert_int_equal(lg_frame_index(h, 3, &idx), -ENOENT);
    /* Without a table (xgrantd): the frame is the page. */
    lg_frames_free(h);
    assert_int_equal(lg_frame_index(h, 3, &idx), 0);
    assert_int_equal(idx, 3);
    assert_int_equal(lg_frame_index(h, NPAGES, &idx), -ENOENT);
}

static void own_ranges_as_pages(void **state)
{
    grant_handle_t *h = *state;
    /* Frames [4990, 4997) hold pages 5, 4, 3, 2; 4998 page 1 (the same
     * class: one range with them); 5000 page 0 (another class); 100 is
     * not the handle's. */
    const struct gntx_prot_range in[] = {
        {.gfn = 4990, .nr = 7, .cookie = 1, .access = GNTX_ACC_R},
        {.gfn = 4998, .nr = 1, .cookie = 1, .access = GNTX_ACC_R},
        {.gfn = 5000, .nr = 1, .cookie = 2, .access = GNTX_ACC_NONE},
        {.gfn = 100, .nr = 10, .cookie = 3, .access = GNTX_ACC_R},
    };
    struct grant_prot_range out[4] = {0};

    assert_int_equal(lg_frames_ranges(h, SELF, in, 4, out, 4), 2);
    assert_int_equal(out[0].gpa, 0);
    assert_int_equal(out[0].len, 4096);
    assert_int_equal(out[0].cookie, 2);
    assert_int_equal(out[0].access, GNTX_ACC_NONE);
    assert_int_equal(out[1].gpa, 4096);
    assert_int_equal(out[1].len, 5 * 4096);
    assert_int_equal(out[1].cookie, 1);
    memset(out, 0, sizeof(out));
    assert_int_equal(lg_frames_ranges(h, SELF, in, 4, out, 1), 2);
    assert_int_equal(out[1].len, 0); /* only cap written */
}

/* Another domain's frames (the control domain's query) mean nothing in
 * this handle: they come as they are. */
static void other_domain_as_frames(void **state)
{
    grant_handle_t *h = *state;
    const struct gntx_prot_range in[] = {{.gfn = 4990, .nr = 7, .cookie = 1}};
    struct grant_prot_range out[1] = {0};

    assert_int_equal(lg_frames_ranges(h, SELF + 1, in, 1, out, 1), 1);
    assert_int_equal(out[0].gpa, 4990ull * 4096);
    assert_int_equal(out[0].len, 7 * 4096);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(index_of_frame, setup, teardown),
        cmocka_unit_test_setup_teardown(own_ranges_as_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(other_domain_as_frames, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
