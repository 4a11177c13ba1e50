/* SPDX-License-Identifier: MIT */
/*
 * sim_calls.c: guest memory and event channel requests of the sim
 * transport (XGW_OP_MEM_*, XGW_OP_EVTCHN_*).
 */
#include <errno.h>
#include <unistd.h>

#include "../private.h"

static int mem_call(grant_handle_t *h, uint32_t op, struct xgw_mem *m)
{
    struct iovec iov = {m, sizeof(*m)};
    struct sim_rpc r = {.op = op,
                        .count = 1,
                        .iov = &iov,
                        .iovcnt = 1,
                        .rep = m,
                        .rep_size = sizeof(*m)};
    int rc;

    rc = lg_sim_status(lg_sim_rpc(h, &r), &r);
    if (rc >= 0 && !r.got_rep)
        rc = -EPROTO;
    return rc < 0 ? rc : 0;
}

int lg_sim_mem_alloc(grant_handle_t *h, uint64_t nr_frames, uint64_t *gfn)
{
    struct xgw_mem m = {.nr_frames = nr_frames};
    int rc;

    rc = mem_call(h, XGW_OP_MEM_ALLOC, &m);
    if (rc < 0)
        return rc;
    *gfn = m.first_gfn;
    return 0;
}

int lg_sim_mem_free(grant_handle_t *h, uint64_t gfn, uint64_t nr_frames)
{
    struct xgw_mem m = {.first_gfn = gfn, .nr_frames = nr_frames};

    return mem_call(h, XGW_OP_MEM_FREE, &m);
}

/* An event channel request; `fd` (may be NULL) receives the port's
 * eventfd for ALLOC_UNBOUND and BIND_INTERDOMAIN. */
static int evtchn_call(grant_handle_t *h, uint32_t op, struct xgw_evtchn *e,
                       int *fd)
{
    struct iovec iov = {e, sizeof(*e)};
    int fds[1];
    struct sim_rpc r = {.op = op,
                        .count = 1,
                        .iov = &iov,
                        .iovcnt = 1,
                        .rep = e,
                        .rep_size = sizeof(*e),
                        .fds = fds,
                        .max_fds = fd ? 1 : 0};
    int rc;

    rc = lg_sim_status(lg_sim_rpc(h, &r), &r);
    if (rc >= 0 && fd && (!r.got_rep || r.nr_fds != 1))
        rc = -EPROTO;
    if (rc < 0) {
        if (r.nr_fds)
            close(fds[0]);
        return rc;
    }
    if (fd)
        *fd = fds[0];
    return 0;
}

int lg_sim_evtchn_alloc_unbound(grant_handle_t *h, grant_domid_t remote,
                                uint32_t *port, int *fd)
{
    struct xgw_evtchn e = {.remote_dom = remote};
    int rc;

    rc = evtchn_call(h, XGW_OP_EVTCHN_ALLOC_UNBOUND, &e, fd);
    if (rc == 0)
        *port = e.port;
    return rc;
}

int lg_sim_evtchn_bind(grant_handle_t *h, grant_domid_t remote,
                       uint32_t remote_port, uint32_t *port, int *fd)
{
    struct xgw_evtchn e = {.remote_dom = remote, .remote_port = remote_port};
    int rc;

    rc = evtchn_call(h, XGW_OP_EVTCHN_BIND_INTERDOMAIN, &e, fd);
    if (rc == 0)
        *port = e.port;
    return rc;
}

int lg_sim_evtchn_send(grant_handle_t *h, uint32_t port)
{
    struct xgw_evtchn e = {.port = port};

    return evtchn_call(h, XGW_OP_EVTCHN_SEND, &e, NULL);
}

int lg_sim_evtchn_send_async(grant_handle_t *h, uint32_t port)
{
    struct sim_conn *c = h->tp;
    int rc;

    if (!c->kicks)
        return lg_sim_evtchn_send(h, port);
    rc = lg_sim_fast_kick(c, port);
    return rc == -EAGAIN ? lg_sim_evtchn_send(h, port) : rc;
}

int lg_sim_evtchn_close(grant_handle_t *h, uint32_t port)
{
    struct xgw_evtchn e = {.port = port};

    return evtchn_call(h, XGW_OP_EVTCHN_CLOSE, &e, NULL);
}

/* Registered files for grant I/O (XGW_OP_IO_FILE_*). */
int lg_sim_io_file_register(grant_handle_t *h, int fd, uint32_t *file)
{
    struct xgw_io_file f = {0};
    struct sim_rpc r = {.op = XGW_OP_IO_FILE_REGISTER,
                        .fds_in = &fd,
                        .nfds_in = 1,
                        .rep = &f,
                        .rep_size = sizeof(f)};
    int rc = lg_sim_status(lg_sim_rpc(h, &r), &r);

    if (rc >= 0 && !r.got_rep)
        rc = -EPROTO;
    if (rc < 0)
        return rc;
    *file = f.file;
    return 0;
}

int lg_sim_io_file_unregister(grant_handle_t *h, uint32_t file)
{
    struct xgw_io_file f = {.file = file};
    struct iovec iov = {&f, sizeof(f)};
    struct sim_rpc r = {
        .op = XGW_OP_IO_FILE_UNREGISTER, .count = 1, .iov = &iov, .iovcnt = 1};
    int rc = lg_sim_status(lg_sim_rpc(h, &r), &r);

    return rc < 0 ? rc : 0;
}
