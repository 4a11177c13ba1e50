/* SPDX-License-Identifier: MIT */
/*
 * callarea_hostile: a guest that owns a shared-memory call area (the
 * hypercall fast path) and abuses it: bad magic, lying lengths, ops that
 * must stay on the socket, huge batches and capacities, request headers
 * rewritten while the daemon reads them, the daemon's own words scribbled
 * over, the near page (large copies on the caller's CPU) written or its
 * workers woken for nothing.  Every request is answered with an error or a
 * result (none is lost, none hangs), and xgrantd keeps serving an honest pair
 * throughout.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/itest.h"
#include "common/raw.h"
#include "libgrant/abi/sim_wire.h"

#define HUNG ((int64_t)-100000) /* no answer within 2 s */

struct area {
    struct xgw_ca_ctl *ctl;
    uint8_t *buf;
    int bell;
    int near; /* the near page's fd, -1 without */
    uint32_t seq;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* HELLO asking for a call area; maps it.  0 or -errno. */
static int area_open(struct raw *r, struct area *a)
{
    struct xgw_hello_req req = {GNTX_ABI_VERSION, XGW_HELLO_CALL_AREA};
    struct {
        struct xgw_msg m;
        struct xgw_hello_req r;
    } h = {{.magic = XGW_MAGIC,
            .op = XGW_OP_HELLO,
            .seq = 1,
            .count = 1,
            .len = sizeof(req)},
           req};
    char cbuf[CMSG_SPACE(8 * sizeof(int))];
    struct xgw_msg m;
    struct iovec iov = {&m, sizeof(m)};
    struct msghdr mh = {.msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = cbuf,
                        .msg_controllen = sizeof(cbuf)};
    struct xgw_hello_rep rep;
    struct cmsghdr *c;
    int *fds, n;
    void *p;

    if (raw_connect(r) < 0 || write(r->fd, &h, sizeof(h)) != sizeof(h) ||
        recvmsg(r->fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC) != sizeof(m) ||
        read(r->fd, &rep, sizeof(rep)) != sizeof(rep) || m.ret < 0)
        return -EPROTO;
    c = CMSG_FIRSTHDR(&mh);
    n = c ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : 0;
    if (n != 4 && n != 5) /* memfd, notice socket, call area, doorbell, */
        return -EPROTO;   /* maybe the near page */
    fds = (int *)CMSG_DATA(c);
    p = mmap(NULL, XGW_CA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[2], 0);
    if (p == MAP_FAILED)
        return -errno;
    close(fds[0]);
    close(fds[1]);
    close(fds[2]);
    a->ctl = p;
    a->buf = (uint8_t *)p + XGW_CA_BUF_OFF;
    a->bell = fds[3];
    a->near = n == 5 ? fds[4] : -1;
    a->seq = 100;
    return 0;
}

/* Posts the request already in ctl->req (with a fresh seq); waits. */
static int64_t area_post(struct area *a)
{
    uint64_t one = 1;
    double end = now_s() + 2;

    __atomic_store_n(&a->ctl->req_seq, a->seq, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&a->ctl->daemon_state, __ATOMIC_RELAXED) ==
            XGW_CA_SLEEPING &&
        write(a->bell, &one, sizeof(one)) != sizeof(one))
        return HUNG;
    while (__atomic_load_n(&a->ctl->rep_seq, __ATOMIC_ACQUIRE) != a->seq)
        if (now_s() > end)
            return HUNG;
    return a->ctl->rep.ret;
}

static int64_t area_call(struct area *a, uint32_t magic, uint32_t op,
                         uint32_t count, uint64_t aux, uint32_t len)
{
    a->ctl->req = (struct xgw_msg){.magic = magic,
                                   .op = op,
                                   .seq = ++a->seq,
                                   .count = count,
                                   .aux_count = aux,
                                   .len = len};
    return area_post(a);
}

static int64_t near_copy(struct area *a, uint32_t cpu)
{
    struct gntx_copy *v = (struct gntx_copy *)a->buf;

    for (int i = 0; i < 2; i++)
        v[i] = (struct gntx_copy){
            .src = {.kind = GNTX_PTR_GRANT, .dom = 0, .ref = 0xdead},
            .dst = {.kind = GNTX_PTR_LOCAL},
            .len = 1u << 20,
            .status = 1};
    a->ctl->client_cpu = cpu;
    return area_call(a, XGW_MAGIC, GNTX_OP_COPY, 2, 0, 2 * sizeof(*v));
}

/* Rewrites the header with random bytes right after posting it, racing the
 * daemon's one copy; returns how many requests went unanswered. */
static int scribble(struct area *a, int n)
{
    uint8_t *h = (uint8_t *)&a->ctl->req;
    int lost = 0;

    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof(a->ctl->req); k++)
            h[k] = (uint8_t)rand();
        a->ctl->req.magic = XGW_MAGIC;
        a->ctl->req.len %= 4096;
        a->ctl->req.op &= 0x1f;
        a->ctl->req.seq = ++a->seq;
        __atomic_store_n(&a->ctl->req_seq, a->seq, __ATOMIC_RELEASE);
        for (size_t k = 0; k < sizeof(a->ctl->req); k++)
            h[k] = (uint8_t)rand();
        lost += area_post(a) == HUNG;
    }
    return lost;
}

#define CASE(cond, what)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            printf("err -71 case failed: %s\n", what);                         \
            return 1;                                                          \
        }                                                                      \
        cases++;                                                               \
    } while (0)

/* The near page (large copies on the caller's CPU): read-only for us, and
 * lies about our CPU or needless wakes of its workers harm nobody.  0, or
 * 1 once a case failed (it printed "err"). */
static int near_abuse(struct area *a)
{
    const struct xgw_near_cpu *w;
    int cases = 0;
    char c = 1;

    if (a->near < 0)
        return 0;
    CASE(mmap(NULL, XGW_NEAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, a->near,
              0) == MAP_FAILED,
         "the near page does not map writable");
    CASE(pwrite(a->near, &c, 1, 0) < 0, "nor takes a write()");
    w = mmap(NULL, XGW_NEAR_SIZE, PROT_READ, MAP_SHARED, a->near, 0);
    CASE(w != MAP_FAILED, "it maps read-only");
    CASE(near_copy(a, 0xfffffff0u) == 0,
         "a large COPY from CPU 2^32-16 -> answered (elements failed)");
    CASE(near_copy(a, 0) == 0, "a large COPY claiming CPU 0 -> answered");
    CASE(near_copy(a, 1) == 0, "a large COPY claiming CPU 1 -> answered");
    for (int i = 0; i < 1000; i++)
        for (unsigned cpu = 0; cpu < 2; cpu++)
            syscall(SYS_futex, &w[cpu].go, FUTEX_WAKE, 1, NULL, NULL, 0);
    CASE(near_copy(a, 1) == 0, "after 2000 needless worker wakes too");
    munmap((void *)w, XGW_NEAR_SIZE);
    return cases < 0;
}

static int role(void)
{
    struct gntx_usage *u;
    struct area a;
    struct raw r;
    int64_t rc;
    int cases = 0;

    srand(7);
    if (area_open(&r, &a) < 0)
        return printf("err -71 no call area\n"), 1;
    rc = area_call(&a, 0xdead, GNTX_OP_USAGE, 1, 0, sizeof(*u));
    CASE(rc < 0 && rc != HUNG, "bad magic is answered with an error");
    rc = area_call(&a, XGW_MAGIC, GNTX_OP_USAGE, 1, 0, 0xffffffffu);
    CASE(rc < 0 && rc != HUNG, "len beyond the buffer -> error");
    CASE(area_call(&a, XGW_MAGIC, GNTX_OP_MAP, 1, 1, sizeof(struct gntx_map)) ==
             -EINVAL,
         "MAP posted in the area -> EINVAL");
    CASE(area_call(&a, XGW_MAGIC, XGW_OP_HELLO, 1, 0, 8) == -EINVAL,
         "HELLO in the area -> EINVAL");
    CASE(area_call(&a, XGW_MAGIC, XGW_OP_SHUTDOWN, 0, 0, 0) == -EINVAL ||
             area_call(&a, XGW_MAGIC, XGW_OP_SHUTDOWN, 0, 0, 0) == -EPERM,
         "SHUTDOWN in the area is refused");
    rc = area_call(&a, XGW_MAGIC, GNTX_OP_COPY, 100000, 0, 100000u * 48);
    CASE(rc < 0 && rc != HUNG, "a 100000-element COPY -> error");
    rc = area_call(&a, XGW_MAGIC, GNTX_OP_QUERY_TABLE, 1, 1ull << 40,
                   sizeof(struct gntx_query));
    CASE(rc < 0 && rc != HUNG, "a 2^40 query capacity -> error");
    if (near_abuse(&a))
        return 1;
    CASE(scribble(&a, 5000) == 0,
         "5000 requests rewritten mid-read: every one answered");
    /* The daemon's own words scribbled over: it must still answer. */
    a.ctl->rep_seq = 0;
    a.ctl->daemon_state = 77;
    a.ctl->daemon_cpu = 0xffffffffu;
    a.ctl->client_cpu = 0xffffffffu;
    u = (struct gntx_usage *)a.buf;
    memset(u, 0, sizeof(*u));
    u->dom = GNTX_DOMID_SELF;
    /* daemon_state is garbage, so ring the doorbell unconditionally. */
    {
        uint64_t one = 1;
        CASE(write(a.bell, &one, sizeof(one)) == sizeof(one),
             "ring the doorbell");
    }
    CASE(area_call(&a, XGW_MAGIC, GNTX_OP_USAGE, 1, 0, sizeof(*u)) == 0,
         "a valid USAGE after all that succeeds");
    printf("ok %d cases\n", cases);
    return 0;
}

int main(int argc, char **argv)
{
    char *argv_role[] = {NULL, "--role", NULL};
    struct itest_agent a, b, evil;
    grant_handle_t *dom0;
    char line[256];
    uint64_t ref;

    if (argc == 2 && strcmp(argv[1], "--role") == 0)
        return role();
    itest_setup(&dom0);
    itest_spawn(dom0, &a, "honest-a", 64);
    itest_spawn(dom0, &b, "honest-b", 64);
    itest_ok(&a, "alloc 1");
    itest_ok(&a, "fill 0 0 4096 4");
    itest_ok(&b, "alloc 1");
    ref = itest_ok(&a, "grant %u r 0 0 4096", b.domid);
    argv_role[0] = itest_self();
    itest_spawn_argv(dom0, &evil, "area-abuser", 64, argv_role);
    for (int i = 0; i < 20; i++)
        itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 4096", a.domid,
                 (unsigned long long)ref);
    if (!fgets(line, sizeof(line), evil.in))
        strcpy(line, "(no answer)\n");
    ICHECK(strncmp(line, "ok", 2) == 0, "call-area abuse: %s", line);
    itest_agent_close(&evil);
    itest_ok(&b, "copyfrom %u 0x%llx 0 0 0 4096", a.domid,
             (unsigned long long)ref);
    itest_ok(&b, "check 0 0 4096 4");
    itest_agent_close(&a);
    itest_agent_close(&b);
    itest_teardown(dom0);
    return itest_done();
}
