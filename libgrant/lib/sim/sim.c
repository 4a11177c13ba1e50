/* SPDX-License-Identifier: MIT */
/*
 * sim.c: the sim transport: a connection to xgrantd (sim_wire.h).  Opening
 * connects, says HELLO, receives the domain's memory (a memfd, mapped here
 * whole and read-write) and the notice socket, and starts the service
 * thread (sim_notice.c).  Hypercalls are one round trip each: through
 * the call area (sim_fast.c) when the daemon granted one and the call fits,
 * else over the socket.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../private.h"

int lg_sim_status(int rc, const struct sim_rpc *r)
{
    if (rc < 0)
        return rc;
    if (r->ret < -4095 || r->ret > INT_MAX)
        return -EPROTO;
    return (int)r->ret;
}

static int sim_connect(struct sim_conn *c)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int rc;

    rc = lg_sim_sock_path(sa.sun_path, sizeof(sa.sun_path));
    if (rc < 0)
        return rc;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -errno;
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -errno;
    return 0;
}

static int sim_hello(grant_handle_t *h)
{
    struct sim_conn *c = h->tp;
    struct xgw_hello_req req = {.abi_version = GNTX_ABI_VERSION,
                                .flags = XGW_HELLO_CALL_AREA | XGW_HELLO_KICKS};
    struct xgw_hello_rep rep = {0};
    struct iovec iov = {&req, sizeof(req)};
    int fds[5], rc;
    struct sim_rpc r = {.op = XGW_OP_HELLO,
                        .count = 1,
                        .iov = &iov,
                        .iovcnt = 1,
                        .rep = &rep,
                        .rep_size = sizeof(rep),
                        .fds = fds,
                        .max_fds = 5};

    rc = lg_sim_status(lg_sim_rpc(h, &r), &r);
    if (rc >= 0 &&
        (!r.got_rep || r.nr_fds < 2 || rep.abi_version != GNTX_ABI_VERSION))
        rc = -EPROTO;
    if (rc < 0) {
        while (r.nr_fds > 0)
            close(fds[--r.nr_fds]);
        return rc;
    }
    c->memfd = fds[0];
    c->notice_fd = fds[1];
    /* Without a (usable) call area the socket does everything. */
    if ((rep.flags & XGW_HELLO_CALL_AREA) && r.nr_fds >= 4) {
        if (lg_sim_fast_open(c, fds[2], fds[3], /* takes them all */
                             r.nr_fds == 5 ? fds[4] : -1) == 0)
            c->kicks = !!(rep.flags & XGW_HELLO_KICKS);
    } else
        while (r.nr_fds > 2)
            close(fds[--r.nr_fds]);
    h->domid = rep.domid;
    h->mem_frames = rep.mem_frames;
    return 0;
}

static int sim_map_memory(grant_handle_t *h)
{
    struct sim_conn *c = h->tp;
    struct stat st;
    void *p;

    if (h->mem_frames == 0)
        return 0;
    if (h->mem_frames > SIZE_MAX / GNTX_PAGE_SIZE)
        return -EPROTO;
    c->mem_size = (size_t)h->mem_frames * GNTX_PAGE_SIZE;
    if (fstat(c->memfd, &st) < 0)
        return -errno;
    if (st.st_size < 0 || (uint64_t)st.st_size < c->mem_size)
        return -EPROTO;
    p = mmap(NULL, c->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->memfd,
             0);
    if (p == MAP_FAILED)
        return -errno;
    h->mem = p;
    return 0;
}

static void sim_close(grant_handle_t *h, int forked)
{
    struct sim_conn *c = h->tp;

    if (!c)
        return;
    if (!forked)
        lg_sim_notice_stop(h);
    if (h->mem)
        munmap(h->mem, c->mem_size);
    h->mem = NULL;
    lg_sim_fast_close(c);
    if (c->notice_fd >= 0)
        close(c->notice_fd);
    if (c->memfd >= 0)
        close(c->memfd);
    /* shutdown acts on the socket itself, so xgrantd sees the end of this
     * handle (and frees what it held) even while a forked child still
     * has a copy of the descriptor.  A forked child only drops its copy. */
    if (c->fd >= 0 && !forked)
        shutdown(c->fd, SHUT_RDWR);
    if (c->fd >= 0)
        close(c->fd);
    if (!forked)
        pthread_mutex_destroy(&c->io_lock);
    free(c);
    h->tp = NULL;
}

static int sim_open(grant_handle_t *h)
{
    struct sim_conn *c;
    int rc;

    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fd = c->notice_fd = c->memfd = c->bell_fd = -1;
    pthread_mutex_init(&c->io_lock, NULL);
    h->tp = c;
    rc = sim_connect(c);
    if (rc == 0)
        rc = sim_hello(h);
    if (rc == 0)
        rc = sim_map_memory(h);
    if (rc == 0)
        rc = lg_sim_notice_start(h);
    if (rc < 0)
        sim_close(h, 0);
    /* Everything: the extension, and Xen's standard grants over it. */
    h->features = GRANT_FEAT_EXT | GRANT_FEAT_V1_MAP | GRANT_FEAT_V1_SHARE |
                  GRANT_FEAT_IO;
    return rc;
}

/* Request: args, then input aux.  Response: args, then output aux. */
static long sim_hypercall(grant_handle_t *h, struct grant_call *gc)
{
    struct iovec iov[2];
    uint64_t args_len, aux_len;
    struct sim_rpc r = {.op = gc->op,
                        .count = gc->count,
                        .iov = iov,
                        .iovcnt = 2,
                        .aux = gc->aux_out,
                        .aux_cap = gc->aux_out ? gc->aux_out_cap : 0,
                        .aux_elem = gc->aux_elem_size,
                        .fds_in = gc->fds_in,
                        .nfds_in = gc->nfds_in,
                        .fds = gc->fds,
                        .max_fds = gc->max_fds};
    int rc;

    if (__builtin_mul_overflow((uint64_t)gc->count, gc->elem_size, &args_len) ||
        __builtin_mul_overflow(gc->aux_in ? gc->aux_in_count : 0,
                               (uint64_t)gc->aux_elem_size, &aux_len) ||
        args_len + aux_len > XGW_MAX_PAYLOAD)
        return -E2BIG;
    r.aux_count = gc->aux_in ? gc->aux_in_count : gc->aux_out_cap;
    iov[0] = (struct iovec){gc->args, (size_t)args_len};
    iov[1] = (struct iovec){(void *)gc->aux_in, (size_t)aux_len};
    r.rep = gc->args;
    r.rep_size = (size_t)args_len;
    rc = lg_sim_status(lg_sim_rpc(h, &r), &r);
    gc->aux_out_count = r.aux_got;
    gc->nr_fds = r.nr_fds;
    if (rc >= 0 && args_len && !r.got_rep)
        rc = -EPROTO; /* a success must carry the elements' statuses */
    if (rc < 0)
        while (gc->nr_fds > 0)
            close(gc->fds[--gc->nr_fds]);
    return rc;
}

const struct grant_ops lg_sim_ops = {
    .name = "sim",
    .max_payload = XGW_MAX_PAYLOAD,
    .max_map_batch = XGW_MAX_MAP_BATCH,
    .open = sim_open,
    .close = sim_close,
    .hypercall = sim_hypercall,
    .mem_alloc = lg_sim_mem_alloc,
    .mem_free = lg_sim_mem_free,
    .evtchn_alloc_unbound = lg_sim_evtchn_alloc_unbound,
    .evtchn_bind = lg_sim_evtchn_bind,
    .evtchn_send = lg_sim_evtchn_send,
    .evtchn_send_async = lg_sim_evtchn_send_async,
    .evtchn_close = lg_sim_evtchn_close,
    .domain_create = lg_sim_domain_create,
    .domain_destroy = lg_sim_domain_destroy,
    .domain_list = lg_sim_domain_list,
    .domain_wait = lg_sim_domain_wait,
    .shutdown = lg_sim_shutdown,
    .v1 = &lg_v1_ext_ops,
    .io_file_register = lg_sim_io_file_register,
    .io_file_unregister = lg_sim_io_file_unregister,
};
