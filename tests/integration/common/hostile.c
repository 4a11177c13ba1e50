/* SPDX-License-Identifier: MIT */
/*
 * hostile.c: a client that speaks the sim wire protocol by hand and breaks
 * it on purpose: garbage, wrong sizes, lies about counts, out-of-range
 * frames, control ops from a guest, a frame cut off mid-way.  Each case
 * checks that xgrantd answers with the right error or drops only this
 * connection.  Runs inside a domain (the hostile test's --hostile role).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "itest.h"
#include "libgrant/abi/sim_wire.h"
#include "raw.h"

/* Expect the daemon to drop this connection (read gives EOF). */
static int expect_closed(struct raw *r)
{
    struct xgw_msg m;
    int rc = raw_recv(r, &m, NULL, 0);

    close(r->fd);
    return rc == -ECONNRESET;
}

#define CASE(cond, what)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf(out, len, "case failed: %s", what);                       \
            return -EPROTO;                                                    \
        }                                                                      \
        cases++;                                                               \
    } while (0)

static int framing_cases(char *out, size_t len)
{
    static const char junk[64] = "\x13\x37not a header at all, just bytes";
    struct raw r;
    int cases = 0;

    CASE(raw_connect(&r) == 0 && write(r.fd, junk, sizeof(junk)) > 0 &&
             expect_closed(&r),
         "garbage bytes close the connection");
    CASE(raw_connect(&r) == 0 &&
             raw_send(&r, GNTX_OP_COPY, 1, 0, NULL, 0, XGW_MAX_PAYLOAD + 1) ==
                 0 &&
             expect_closed(&r),
         "len above XGW_MAX_PAYLOAD closes");
    CASE(raw_connect(&r) == 0 &&
             raw_call(&r, GNTX_OP_VERSION, 0, 0, NULL, 0, NULL, 0) < 0,
         "a request before HELLO is refused");
    close(r.fd);
    /* Cut off mid-frame: claims 4096 bytes, sends 10, hangs up (before and
     * after HELLO).  The daemon may drop the connection as soon as it sees
     * the header (too long for the state it is in), so whether the 10
     * bytes still go out is not the point: the cases after this one show
     * that the daemon survived it. */
    CASE(raw_connect(&r) == 0, "connect for a truncated frame");
    (void)raw_send(&r, GNTX_OP_COPY, 1, 0, junk, 10, 4096);
    close(r.fd);
    CASE(raw_hello(&r) == 0, "hello for a truncated frame");
    (void)raw_send(&r, GNTX_OP_COPY, 1, 0, junk, 10, 4096);
    close(r.fd);
    return cases;
}

static int content_cases(grant_handle_t *h, char *out, size_t len)
{
    struct gntx_copy cp[2] = {0};
    struct gntx_create cr = {0};
    struct xgw_domain_create dc = {.memory_bytes = 1 << 20, .argc = 1};
    struct xgw_mem mem = {.nr_frames = 1};
    uint64_t frames[2] = {0, 1ull << 40};
    char buf[sizeof(cr) + sizeof(frames)];
    int cases = 0;
    int64_t rc;
    struct raw r;

    (void)h;
    if (raw_hello(&r) < 0) {
        snprintf(out, len, "hello failed");
        return -EPROTO;
    }
    CASE(raw_call(&r, 0x999, 0, 0, NULL, 0, NULL, 0) == -ENOSYS,
         "unknown op -> ENOSYS");
    CASE(raw_call(&r, GNTX_OP_COPY, 2, 0, cp, sizeof(cp[0]), NULL, 0) ==
             -EINVAL,
         "count 2 with one element's bytes -> EINVAL");
    rc = raw_call(&r, GNTX_OP_COPY, GNTX_MAX_BATCH + 1, 0, NULL, 0, NULL, 0);
    CASE(rc == -E2BIG || rc == -EINVAL,
         "count above GNTX_MAX_BATCH -> E2BIG/EINVAL");
    cr.type = GNTX_CREATE_DIRECT;
    cr.grantee = 0;
    cr.rights = GNTX_R_READ;
    cr.nr_frames = 1;
    cr.frame_idx = 1; /* -> frames[1], far outside this domain's memory */
    cr.length = 16;
    memcpy(buf, &cr, sizeof(cr));
    memcpy(buf + sizeof(cr), frames, sizeof(frames));
    CASE(raw_call(&r, GNTX_OP_CREATE, 1, 2, buf, sizeof(buf), &cr,
                  sizeof(cr)) == -EFAULT &&
             cr.status == -EFAULT,
         "a frame outside own memory -> EFAULT");
    cr.frame_idx = 7; /* beyond the 2 frames sent */
    memcpy(buf, &cr, sizeof(cr));
    CASE(raw_call(&r, GNTX_OP_CREATE, 1, 2, buf, sizeof(buf), NULL, 0) ==
             -EINVAL,
         "frame_idx beyond aux -> EINVAL");
    CASE(raw_call(&r, GNTX_OP_QUERY_TABLE, 1, (uint64_t)1 << 40, cp, 16, NULL,
                  0) < 0,
         "a huge output capacity is refused");
    CASE(raw_call(&r, XGW_OP_MEM_ALLOC, 1, 0, &mem, 8, NULL, 0) == -EINVAL,
         "short MEM_ALLOC payload -> EINVAL");
    snprintf(dc.name, sizeof(dc.name), "evil");
    CASE(raw_call(&r, XGW_OP_DOMAIN_CREATE, 1, 0, &dc, sizeof(dc), NULL, 0) ==
             -EPERM,
         "DOMAIN_CREATE from a guest -> EPERM");
    CASE(raw_call(&r, XGW_OP_SHUTDOWN, 0, 0, NULL, 0, NULL, 0) == -EPERM,
         "SHUTDOWN from a guest -> EPERM");
    CASE(raw_call(&r, GNTX_OP_VERSION, 0, 0, NULL, 0, NULL, 0) ==
             GNTX_ABI_VERSION,
         "the connection still works after all that");
    close(r.fd);
    return cases;
}

int itest_hostile(grant_handle_t *h, char *out, size_t len)
{
    int a, b;

    snprintf(out, len, "all cases passed");
    a = framing_cases(out, len);
    if (a < 0)
        return a;
    b = content_cases(h, out, len);
    if (b < 0)
        return b;
    snprintf(out, len, "cases passed");
    return a + b;
}
