/* SPDX-License-Identifier: MIT */
/*
 * domain.c: domains' lifecycle.
 *
 *   create   memfd memory, the core learns the domain, quotas, spawn;
 *   destroy  (DOMAIN_DESTROY, unacknowledged unmap, shutdown) kill every
 *            process of it (its PID namespace's init, or whatever /proc
 *            shows of its session and token), then tear down at once:
 *            connections, the core's tables (FORCE-revoking every grant
 *            of it), ports, memory; replies waiting on its unmap acks wait
 *            for the reap (all of its processes dead);
 *   exit     the pidfd polls readable (or SIGCHLD): reap its init, tear
 *            down if not done yet; without a PID namespace, once the child
 *            that kills what /proc shows of it has ended too (SIGCHLD),
 *            answer DOMAIN_WAIT and the DOMAIN_DESTROY replies waiting for
 *            the reap, free the id.  Nothing of this waits in the loop.
 * Domain 0 is the control domain: created at start, never destroyed.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "private.h"

struct xd_dom *xd_dom_new(uint16_t id, const char *name)
{
    struct xd_dom *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->id = id;
    d->state = XGW_DOM_RUNNING;
    d->memfd = -1;
    d->pidfd = -1;
    d->statfd = -1;
    d->errfd = -1;
    d->ev = (struct xd_ev){XD_EV_PIDFD, d};
    strncpy(d->name, name, sizeof(d->name) - 1);
    return d;
}

/* NULL-safe; the domain must be out of the core and have no connection. */
void xd_dom_free(struct xd_dom *d)
{
    if (!d)
        return;
    if (d->pidfd >= 0) {
        xd_epoll_del(d->pidfd);
        close(d->pidfd);
    }
    if (d->statfd >= 0)
        close(d->statfd);
    if (d->errfd >= 0) {
        xd_epoll_del(d->errfd);
        close(d->errfd);
    }
    if (d->started)
        xd_group_put(d->started);
    xd_evtchn_dom_close(d);
    xd_mem_teardown(d);
    xd_maps_free(d);
    free(d->reapers);
    if (xd.doms[d->id] == d)
        xd.doms[d->id] = NULL;
    free(d);
}

struct xd_dom *xd_dom_get(unsigned id)
{
    return id <= GNTX_DOMID_MAX ? xd.doms[id] : NULL;
}

/* ---- recently exited -------------------------------------------------------
 */

/*
 * A domain that exits before its creator's DOMAIN_WAIT arrives (`xgrant run
 * -- true`) must still report its status: the last exits are remembered
 * for a while, and their ids are not handed out again meanwhile (unless
 * no other id is free).
 */
#define EXITED_SLOTS  64
#define EXITED_TTL_MS 30000u

static struct exited {
    uint16_t id;
    int status;
    uint64_t until; /* 0: free slot */
} exited[EXITED_SLOTS];

static void exited_record(uint16_t id, int status)
{
    struct exited *slot = &exited[0];
    uint64_t now = xd_now_ms();

    for (unsigned i = 0; i < EXITED_SLOTS; i++) {
        if (exited[i].until <= now || exited[i].id == id) {
            slot = &exited[i];
            break;
        }
        if (exited[i].until < slot->until)
            slot = &exited[i];
    }
    *slot = (struct exited){id, status, now + EXITED_TTL_MS};
}

static struct exited *exited_find(unsigned id)
{
    uint64_t now = xd_now_ms();

    for (unsigned i = 0; i < EXITED_SLOTS; i++)
        if (exited[i].until > now && exited[i].id == id)
            return &exited[i];
    return NULL;
}

/* 0 and *status when domain id exited lately, else -ESRCH. */
int xd_dom_exit_status(unsigned id, int *status)
{
    struct exited *e = exited_find(id);

    if (!e)
        return -ESRCH;
    *status = e->status;
    return 0;
}

bool xd_dom_id_reserved(unsigned id)
{
    return exited_find(id) != NULL;
}

/* Ids are handed out lowest first: nothing lives above the highest ever. */
static unsigned id_top;

void xd_dom_insert(struct xd_dom *d)
{
    struct exited *e = exited_find(d->id);

    /* The id is taken again: a WAIT on it now means the new domain. */
    if (e)
        e->until = 0;
    xd.doms[d->id] = d;
    if (d->id > id_top)
        id_top = d->id;
}

unsigned xd_dom_id_top(void)
{
    return id_top;
}

struct xd_dom *xd_dom_of_pid(pid_t pid)
{
    for (unsigned i = 1; i <= id_top; i++)
        if (xd.doms[i] && xd.doms[i]->pid == pid)
            return xd.doms[i];
    return NULL;
}

int xd_dom0_create(uint64_t mem_bytes)
{
    struct xd_dom *d = xd_dom_new(GNTX_DOMID_CONTROL, XD_DOM0_NAME);
    int r;

    if (!d)
        return -ENOMEM;
    r = xd_mem_setup(d, mem_bytes);
    if (r == 0)
        r = xd_confine_mem(d);
    if (r == 0)
        r = gcore_dom_add(xd.core, d->id, d->nr_frames, d);
    if (r < 0) {
        xd_dom_free(d);
        return r;
    }
    d->in_core = true;
    xd_dom_insert(d);
    return 0;
}

/* ---- teardown ---------------------------------------------------------------
 */

static void close_conns(struct xd_dom *d)
{
    struct xd_conn *c;

    xd_conn_release_dom(d);
again:
    for (c = xd.conns; c; c = c->next) {
        if (c->dom == d) {
            /* Closing may close others: start over. */
            xd_conn_close(c, NULL);
            goto again;
        }
    }
}

/* Everything but the process: after this no one reaches d's memory
 * through the core or a mapping (notices are out, acks awaited by xd.cur). */
void xd_dom_teardown(struct xd_dom *d)
{
    d->state = XGW_DOM_DYING;
    close_conns(d);
    xst_dom_release(d->id);
    if (d->in_core) {
        gcore_dom_remove(xd.core, d->id);
        d->in_core = false;
    }
    xd_evtchn_dom_close(d);
    xd_maps_free(d);
    xd_mem_teardown(d);
}

/* Without a PID namespace: every process of its session or token, by a
 * child of the daemon (proc.c) that d's end waits for. */
static void kill_strays(struct xd_dom *d)
{
    pid_t k;

    if (d->has_ns || d->killer > 0)
        return;
    kill(-d->pid, SIGKILL);
    k = xd_proc_kill_strays(d);
    if (k < 0)
        xd_log_dom(d, "cannot kill its processes: %s", strerror((int)-k));
    else
        d->killer = k;
}

/* Has the child killing d's processes ended?  (Logs how.) */
static bool killer_done(struct xd_dom *d)
{
    int status = 0;
    pid_t r;

    if (d->killer <= 0)
        return true;
    do
        r = waitpid(d->killer, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        xd_log_dom(d, "killing its processes: %s",
                   r < 0 ? strerror(errno)
                   : WIFEXITED(status) && WEXITSTATUS(status) == 1
                       ? "some are still alive"
                       : "/proc unreadable");
    d->killer = 0;
    return true;
}

/*
 * SIGKILLs every process of d; signals only (safe while the core runs).
 * Its init is not reaped yet: its pid is ours.  With a PID namespace the
 * kernel kills the rest, and the init is reaped once all of them are gone.
 */
void xd_dom_kill(struct xd_dom *d)
{
    if (d->id == GNTX_DOMID_CONTROL || d->pid <= 1 || d->init_gone)
        return;
    if (d->pidfd < 0 ||
        syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0) < 0)
        kill(d->pid, SIGKILL);
    kill_strays(d);
}

/* g's reply waits until d is reaped (all of its processes dead). */
void xd_dom_wait_reap(struct xd_dom *d, struct xd_group *g)
{
    struct xd_group **n;

    if (d->reaped)
        return;
    n = reallocarray(d->reapers, d->nreapers + 1, sizeof(*n));
    if (!n)
        return; /* the reply just does not wait for the reap */
    d->reapers = n;
    xd_group_get(g);
    d->reapers[d->nreapers++] = g;
}

void xd_dom_destroy(struct xd_dom *d, const char *why)
{
    if (!d || d->id == GNTX_DOMID_CONTROL || d->state != XGW_DOM_RUNNING)
        return;
    xd_log_dom(d, "destroyed: %s", why);
    xd_dom_kill(d);
    xd_acks_hold_for_reap(d);
    xd_dom_teardown(d);
}

/* ---- exit -------------------------------------------------------------------
 */

static void log_exit(const struct xd_dom *d, int status)
{
    if (WIFEXITED(status))
        xd_log_dom(d, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        xd_log_dom(d, "killed by signal %d (%s)", WTERMSIG(status),
                   strsignal(WTERMSIG(status)));
    else
        xd_log_dom(d, "gone, wait status 0x%x", status);
}

static void answer_waiters(struct xd_dom *d, int status)
{
    struct xd_conn *c;

    /* A reply may close connections: start over after each. */
again:
    for (c = xd.conns; c; c = c->next) {
        struct xgw_msg h = {.op = XGW_OP_DOMAIN_WAIT};

        if (c->wait_dom != d->id)
            continue;
        h.seq = c->wait_seq;
        c->wait_dom = -1;
        xd_reply_err(c, &h, status);
        goto again;
    }
}

/* The program's own status, as its init passed it on (else the init's). */
static int program_status(const struct xd_dom *d, int status)
{
    int st;

    if (d->statfd >= 0 && read(d->statfd, &st, sizeof(st)) == sizeof(st))
        return st;
    return status;
}

/* The init is gone (status as waitpid's): what is left of d is killed. */
static void init_reaped(struct xd_dom *d, int status)
{
    xd_dom_started(d, true); /* if the news of its exec is still due */
    d->init_gone = true;
    d->exit_status = status = program_status(d, status);
    if (d->state == XGW_DOM_RUNNING) {
        log_exit(d, status);
        kill_strays(d); /* what is left of it (no namespace) */
        xd_dom_teardown(d);
    } else {
        xd_dbg("dom %u (%s): reaped, wait status 0x%x", d->id, d->name, status);
    }
    if (d->pidfd >= 0) {
        xd_epoll_del(d->pidfd);
        close(d->pidfd);
        d->pidfd = -1;
    }
}

/* All of d's processes are dead: waiters are answered, its id is free. */
static void reaped(struct xd_dom *d)
{
    answer_waiters(d, d->exit_status);
    exited_record(d->id, d->exit_status);
    xd.doms[d->id] = NULL;
    for (size_t i = 0; i < d->nreapers; i++)
        xd_group_put(d->reapers[i]);
    d->nreapers = 0;
    /* An event of this batch may still name d: free it after the batch. */
    d->reaped = true;
    d->grave_next = xd.dom_graveyard;
    xd.dom_graveyard = d;
}

void xd_dom_reap_graveyard(void)
{
    while (xd.dom_graveyard) {
        struct xd_dom *d = xd.dom_graveyard;

        xd.dom_graveyard = d->grave_next;
        xd_dom_free(d);
    }
}

/* Its pidfd, or SIGCHLD: has its init, or the killer of its processes,
 * ended? */
void xd_dom_event(struct xd_dom *d)
{
    int status = 0;
    pid_t r;

    if (d->reaped)
        return;
    if (!d->init_gone) {
        do
            r = waitpid(d->pid, &status, WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r == 0)
            return;
        if (r < 0)
            xd_log_dom(d, "waitpid: %s", strerror(errno));
        init_reaped(d, status);
    }
    if (killer_done(d))
        reaped(d);
}

/* SIGCHLD: whichever domains exited (the only way without pidfds). */
void xd_dom_sigchld(void)
{
    for (unsigned i = 1; i <= id_top; i++)
        if (xd.doms[i])
            xd_dom_event(xd.doms[i]);
}

/* Waits up to ms for d's process to end; reaps it (d may be freed). */
static void wait_gone(struct xd_dom *d, int ms)
{
    struct pollfd p = {.fd = d->pidfd, .events = POLLIN};
    uint16_t id = d->id;

    if (d->pidfd >= 0) {
        poll(&p, 1, ms);
        xd_dom_event(d);
    }
    for (int t = 0; t <= ms && xd.doms[id] == d; t += 10) {
        xd_dom_event(d);
        if (xd.doms[id] == d)
            usleep(10000);
    }
}

/* Shutdown: destroy every domain, reap them (bounded wait). */
void xd_dom_destroy_all(void)
{
    for (unsigned i = 1; i <= id_top; i++)
        if (xd.doms[i])
            xd_dom_destroy(xd.doms[i], "daemon shutting down");
    for (unsigned i = 1; i <= id_top; i++) {
        struct xd_dom *d = xd.doms[i];

        if (!d)
            continue;
        wait_gone(d, 2000);
        if (xd.doms[i] == d)
            xd_log_dom(d, "did not die within 2 s of SIGKILL");
    }
}
