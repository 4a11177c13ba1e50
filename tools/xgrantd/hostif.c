/* SPDX-License-Identifier: MIT */
/*
 * hostif.c: xgrantd as the core's host (every gh_* of gcore_host.h), and
 * what FORCE revoke needs around it:
 *   - map records: which connection holds each mapping handle, so a
 *     mapping is unmapped when its connection closes and a FORCE notice
 *     reaches the right library;
 *   - groups: a request whose reply waits (xd.cur is the request being
 *     served while the core runs);
 *   - acks: notices sent and not yet acknowledged, oldest first; one that
 *     is not acknowledged within XGW_UNMAP_TIMEOUT_MS (at once when the
 *     mapper closed its connection) costs the mapper its domain (a domU)
 *     or its process (a control-domain client), and the revoker hears back
 *     only once they are dead.
 * Nothing here closes a connection or calls the core while the core is
 * running: gh_unmap_notify only queues.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "gcore_host.h"
#include "private.h"

struct xd_ack {
    struct xd_ack *prev, *next;
    struct xd_conn *conn;
    struct xd_group *grp;
    uint32_t handle;
    uint16_t owner;
    uint64_t deadline;
    bool dying;          /* punished: done when the mapper's process is gone */
    bool judge;          /* acked: checked after this batch of events */
    struct xd_run *runs; /* unmap notices: the frames, checked at the ack */
    uint32_t nruns;
};

static struct xd_ack *ack_head, *ack_tail;
static int lock_depth;

/* ---- gh_*: the host interface ------------------------------------------ */

void *gh_zalloc(size_t size)
{
    return calloc(1, size ? size : 1);
}

void gh_free(void *p)
{
    free(p);
}

void gh_memcpy(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
}

void gh_memset(void *dst, int c, size_t n)
{
    memset(dst, c, n);
}

/* One thread: the lock only checks that the core is never re-entered. */
void gh_lock(struct gcore *core)
{
    (void)core;
    assert(lock_depth == 0);
    lock_depth++;
}

void gh_unlock(struct gcore *core)
{
    (void)core;
    assert(lock_depth == 1);
    lock_depth--;
}

void gh_lock_shared(struct gcore *core)
{
    gh_lock(core);
}

void gh_unlock_shared(struct gcore *core)
{
    gh_unlock(core);
}

/* Nothing waits: the core runs on one thread at a time here. */
void gh_relax(void)
{
    sched_yield();
}

void *gh_frame(void *cookie, uint64_t gfn, int write)
{
    struct xd_dom *d = cookie;

    (void)write; /* the daemon maps every domain read-write */
    if (!d || !d->mem || gfn >= d->nr_frames)
        return NULL;
    return d->mem + gfn * GNTX_PAGE_SIZE;
}

void gh_frame_put(void *cookie, void *va)
{
    (void)cookie;
    (void)va;
}

/* ---- map records ------------------------------------------------------- */

struct xd_map *xd_map_find(struct xd_dom *d, uint32_t handle)
{
    for (size_t i = 0; i < d->nmaps; i++)
        if (d->maps[i].handle == handle)
            return &d->maps[i];
    return NULL;
}

static void map_del(struct xd_dom *d, struct xd_map *m)
{
    free(m->runs);
    *m = d->maps[--d->nmaps];
}

int xd_map_add(struct xd_conn *c, uint32_t handle, uint16_t owner,
               const uint64_t *frames, uint64_t npages)
{
    struct xd_dom *d = c->dom;
    struct xd_map *n =
        xd_grow(d->maps, &d->maps_cap, d->nmaps + 1, sizeof(*n), 16);
    struct xd_run *runs;
    uint32_t nruns;

    if (!n)
        return -ENOMEM;
    d->maps = n;
    if (xd_runs_make(frames, npages, &runs, &nruns) < 0)
        return -ENOMEM;
    (void)xd_maps_fd_open(c); /* for its UNMAP; else tried again then */
    d->maps[d->nmaps++] = (struct xd_map){handle, owner, c, runs, nruns};
    return 0;
}

void xd_map_remove(struct xd_dom *d, uint32_t handle)
{
    struct xd_map *m = xd_map_find(d, handle);

    if (m)
        map_del(d, m);
}

bool xd_maps_held(const struct xd_conn *c)
{
    for (size_t i = 0; i < c->dom->nmaps; i++)
        if (c->dom->maps[i].conn == c)
            return true;
    return false;
}

/* Does c's process still reach the memory of any domain c maps? */
bool xd_maps_reachable(const struct xd_conn *c)
{
    for (size_t i = 0; i < c->dom->nmaps; i++)
        if (c->dom->maps[i].conn == c &&
            xd_proc_reaches(c->pid, xd_dom_get(c->dom->maps[i].owner)))
            return true;
    return false;
}

/*
 * Dying mappers: a domain being destroyed loses its mappings at once (its
 * notices go nowhere), but its processes, SIGKILLed, may map the owner's
 * pages until they are reaped.  Each (mapper, owner) pair is remembered
 * until then, and every MEM_FREE of the owner keeps its frames in
 * quarantine until the mapper is reaped (xd_dying_hold; whatever frames
 * they are: a reap takes milliseconds).  Named by id and init pid,
 * never by pointer: a reaped domain is freed.
 */
struct dying {
    struct dying *next;
    pid_t pid;
    uint16_t mapper, owner;
};

static struct dying *dying_head;

static struct xd_dom *dying_mapper(const struct dying *m)
{
    struct xd_dom *d = xd_dom_get(m->mapper);

    return d && d->pid == m->pid && !d->reaped ? d : NULL;
}

/* Forgets the pairs whose mapper is reaped. */
static void dying_prune(void)
{
    for (struct dying **p = &dying_head, *m; (m = *p);) {
        if (dying_mapper(m)) {
            p = &m->next;
            continue;
        }
        *p = m->next;
        free(m);
    }
}

static void dying_add(struct xd_dom *d, uint16_t owner)
{
    struct dying *m;

    if (d->reaped || owner == d->id)
        return;
    dying_prune();
    for (m = dying_head; m; m = m->next)
        if (m->mapper == d->id && m->owner == owner)
            return;
    m = malloc(sizeof(*m));
    if (!m) {
        xd_log_dom(d,
                   "out of memory: a MEM_FREE of dom %u may not wait for "
                   "its reap",
                   owner);
        return;
    }
    *m = (struct dying){dying_head, d->pid, d->id, owner};
    dying_head = m;
}

void xd_dying_hold(uint16_t owner, struct xd_group *g)
{
    dying_prune();
    for (struct dying *m = dying_head; m; m = m->next)
        if (m->owner == owner)
            xd_dom_wait_reap(dying_mapper(m), g);
}

/* Unmaps, as its domain, everything a closing connection had mapped. */
void xd_maps_drop_conn(struct xd_conn *c)
{
    struct xd_dom *d = c->dom;
    struct gntx_unmap u[256];
    struct xd_group *saved = xd.cur;
    unsigned n = 0;

    if (!d)
        return;
    xd.cur = NULL;
    for (size_t i = 0; i < d->nmaps;) {
        if (d->maps[i].conn != c) {
            i++;
            continue;
        }
        u[n++] = (struct gntx_unmap){d->maps[i].handle, 0};
        if (d->state != XGW_DOM_RUNNING) /* its process may live on */
            dying_add(d, d->maps[i].owner);
        map_del(d, &d->maps[i]);
        if (n == sizeof(u) / sizeof(u[0])) {
            if (d->in_core)
                gcore_unmap(xd.core, d->id, u, n);
            n = 0;
        }
    }
    if (n && d->in_core)
        gcore_unmap(xd.core, d->id, u, n);
    xd.cur = saved;
}

/* d's records go (the domain is torn down). */
void xd_maps_free(struct xd_dom *d)
{
    for (size_t i = 0; i < d->nmaps; i++)
        free(d->maps[i].runs);
    free(d->maps);
    d->maps = NULL;
    d->nmaps = d->maps_cap = 0;
}

/* ---- groups -------------------------------------------------------------- */

struct xd_group *xd_group_new(void)
{
    struct xd_group *g = calloc(1, sizeof(*g));

    if (g)
        g->pending = 1;
    return g;
}

void xd_group_get(struct xd_group *g)
{
    g->pending++;
}

void xd_group_put(struct xd_group *g)
{
    struct xd_conn *c;
    struct xd_out *m;

    assert(g->pending > 0);
    if (--g->pending)
        return;
    if (g->done)
        g->done(g->done_arg);
    c = g->requester;
    m = g->reply;
    free(g);
    if (!c) {
        xd_out_free(m);
        return;
    }
    c->defer = NULL;
    if (m)
        xd_reply(c, m);
    else
        xd_conn_update(c);
}

/*
 * The request that made g is done with the core: its reply goes out now,
 * or when the last ack (or reap) it waits for arrives.  With no reply
 * (out of memory) the connection is closed instead.
 */
void xd_group_finish(struct xd_group *g, struct xd_conn *c,
                     struct xd_out *reply)
{
    if (!reply) {
        xd_conn_close(c, "out of memory for a reply");
        xd_group_put(g);
        return;
    }
    g->requester = c;
    g->reply = reply;
    /* Only a reply that really waits stops the connection's reading (and
     * costs epoll changes); the common one goes out right below. */
    if (g->pending > 1) {
        c->defer = g;
        xd_conn_update(c);
    }
    xd_group_put(g);
}

/* ---- acks -----------------------------------------------------------------
 */

static void ack_unlink(struct xd_ack *a)
{
    if (a->prev)
        a->prev->next = a->next;
    else
        ack_head = a->next;
    if (a->next)
        a->next->prev = a->prev;
    else
        ack_tail = a->prev;
}

static void ack_done(struct xd_ack *a)
{
    struct xd_group *g = a->grp;

    ack_unlink(a);
    free(a->runs);
    free(a);
    xd_group_put(g);
}

/* An unmap notice, or with `r` a restrict notice (gh_map_restrict). */
static struct xd_out *notice_new(uint16_t owner, uint32_t handle,
                                 const struct xgw_restrict *r)
{
    struct xd_out *m =
        r ? xd_out_new(XGW_NOTICE_RESTRICT, 0, 0, sizeof(*r))
          : xd_out_new(XGW_NOTICE_UNMAP, 0, 0, sizeof(struct xgw_notice));
    struct xgw_notice *n;

    if (!m)
        return NULL;
    xd_out_hdr(m)->count = 1;
    if (r) {
        memcpy(xd_out_payload(m), r, sizeof(*r));
        return m;
    }
    n = xd_out_payload(m);
    n->handle = handle;
    n->owner = owner;
    return m;
}

/* Last resort when a notice cannot even be queued: the mapper goes. */
static void notice_failed(struct xd_conn *c, uint32_t handle)
{
    xd_log_conn_always(c,
                       "out of memory sending unmap notice for handle %u: "
                       "killing %s",
                       handle, c->dom->id ? "its domain" : "its process");
    if (c->dom->id)
        xd_dom_kill(c->dom);
    else
        xd_conn_kill(c);
}

/* Records that c owes an ack for (owner, handle), on behalf of the request
 * being served (or of nobody).  NULL when out of memory. */
static struct xd_ack *ack_add(struct xd_conn *c, uint16_t owner,
                              uint32_t handle)
{
    struct xd_ack *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->grp = xd.cur ? xd.cur : xd_group_new();
    if (!a->grp) {
        free(a);
        return NULL;
    }
    if (xd.cur)
        xd_group_get(xd.cur);
    a->conn = c;
    a->handle = handle;
    a->owner = owner;
    /* No notice socket: it cannot be told, so it cannot ack either. */
    a->deadline = xd_now_ms() + (c->nfd < 0 ? 0 : XGW_UNMAP_TIMEOUT_MS);
    a->prev = ack_tail;
    if (ack_tail)
        ack_tail->next = a;
    else
        ack_head = a;
    ack_tail = a;
    return a;
}

/* Tells the mapper c of d (unmap, or with r restrict) and makes the
 * request being served wait for its ack.  An unmap's `runs` (the frames,
 * owned: taken or freed here) are checked when the ack comes. */
static void mapper_tell(struct xd_dom *d, struct xd_conn *c, uint16_t owner,
                        uint32_t handle, const struct xgw_restrict *r,
                        struct xd_run *runs, uint32_t nruns)
{
    struct xd_ack *a = NULL;
    struct xd_out *m;

    /* A dying mapper's processes may still map the pages until they are
     * reaped: the request waits for that, and so does a later MEM_FREE of
     * the frames (dying_add). */
    if (d && d->state != XGW_DOM_RUNNING) {
        if (xd.cur)
            xd_dom_wait_reap(d, xd.cur);
        if (!r)
            dying_add(d, owner);
        goto free_runs;
    }
    /* Mapper gone: nothing to wait for.  A lingering one (socket closed,
     * process alive) cannot ack: punished at once (no notice socket,
     * deadline now). */
    if (!c || (c->closed && !c->lingering))
        goto free_runs;
    /* A lingering process that exec'd or let go of the pages: done. */
    if (c->lingering && !xd_proc_reaches(c->pid, xd_dom_get(owner)))
        goto free_runs;
    m = c->nfd < 0 ? NULL : notice_new(owner, handle, r);
    if ((c->nfd >= 0 && !m) || !(a = ack_add(c, owner, handle))) {
        xd_out_free(m);
        notice_failed(c, handle);
        goto free_runs;
    }
    a->runs = runs;
    a->nruns = nruns;
    runs = NULL;
    if (!m)
        return;
    xd_outq_push(&c->nout, m);
    xd_dbg("dom %u: %s notice for handle %u (dom %u's memory) to pid %d", d->id,
           r ? "restrict" : "unmap", handle, owner, (int)c->pid);
    /* Errors surface as EPOLLERR/EPOLLHUP on the notice socket later. */
    xd_outq_flush(c->nfd, &c->nout);
    xd_conn_update(c);
free_runs:
    free(runs);
}

/* xgrantd records a mapping when it sends the MAP reply (hcall.c): it is
 * one thread, so no notice can come between the core's MAP and that. */
int gh_map_made(void *mapper_cookie, uint16_t owner, uint32_t handle,
                uint64_t frame_idx, const uint64_t *frames, uint64_t npages,
                int rdonly)
{
    (void)mapper_cookie, (void)owner, (void)handle, (void)frame_idx,
        (void)frames, (void)npages, (void)rdonly;
    return 0;
}

void gh_unmap_notify(void *mapper_cookie, uint16_t owner, uint32_t handle)
{
    struct xd_dom *d = mapper_cookie;
    struct xd_map *rec = d ? xd_map_find(d, handle) : NULL;
    struct xd_conn *c = rec ? rec->conn : NULL;
    struct xd_run *runs = NULL;
    uint32_t nruns = 0;

    if (rec) {
        runs = rec->runs;
        nruns = rec->nruns;
        rec->runs = NULL;
        map_del(d, rec);
    }
    mapper_tell(d, c, owner, handle, NULL, runs, nruns);
}

/* PROTECT tightened pages the mapper maps: its library downgrades them
 * (XGW_NOTICE_RESTRICT) and the PROTECT reply waits for the ack. */
void gh_map_restrict(void *mapper_cookie, uint16_t owner, uint32_t handle,
                     uint64_t first, uint64_t npages, unsigned access)
{
    struct xd_dom *d = mapper_cookie;
    struct xd_map *rec = d ? xd_map_find(d, handle) : NULL;
    struct xgw_restrict r = {handle, owner, (uint16_t)access, first, npages};

    mapper_tell(d, rec ? rec->conn : NULL, owner, handle, &r, NULL, 0);
}

/* legit := the frames of owner's memory whose unmap notices c's process
 * still owes an ack for, but a's: 0 or -ENOMEM. */
static int acks_owed_runs(const struct xd_conn *c, const struct xd_ack *a,
                          struct xd_vmas *legit)
{
    for (struct xd_ack *o = ack_head; o; o = o->next) {
        if (o == a || o->dying || o->judge || o->owner != a->owner ||
            o->conn->pid != c->pid)
            continue;
        for (uint32_t i = 0; i < o->nruns; i++)
            if (xd_vmas_add(legit, o->runs[i].first, o->runs[i].nr) < 0)
                return -ENOMEM;
    }
    return 0;
}

/*
 * Does c still map the pages of the mapping a acknowledges (pm: its maps,
 * read after the ack came)?  A FORCE revoke (or MEM_FREE) notifies every
 * mapping of the frames at once and the library scratches and acks them
 * one by one: the frames of the others still owing their acks count as
 * legitimately mapped until their own acks come (each is checked then,
 * against those left).
 */
static bool ack_lies(struct xd_conn *c, const struct xd_ack *a,
                     const struct xd_procmaps *pm)
{
    struct xd_map rec = {a->handle, a->owner, c, a->runs, a->nruns, false};
    struct xd_dom *owner = xd_dom_get(a->owner);
    struct xd_vmas vm = {0}, legit = {0};
    bool lies;

    lies = pm->rc < 0 || xd_procmaps_owner(pm, owner, &vm) < 0 ||
           acks_owed_runs(c, a, &legit) < 0 ||
           xd_map_lingers(&vm, c->dom, &rec, &legit);
    xd_vmas_free(&legit);
    xd_vmas_free(&vm);
    return lies;
}

/* An ack is believed once the mapping is gone from the mapper (checked
 * once the batch of events it came in is handled: acks_judge); one that
 * is not expires at once (the mapper is punished). */
void xd_ack_received(struct xd_conn *c, const struct xgw_notice *n)
{
    for (struct xd_ack *a = ack_head; a; a = a->next) {
        if (a->conn != c || a->handle != n->handle || a->owner != n->owner ||
            a->dying || a->judge)
            continue;
        if (a->deadline == 0)
            return; /* judged already: punished soon, logged once */
        if (a->runs)
            a->judge = true;
        else
            ack_done(a);
        return;
    }
    xd_dbg("dom %u pid %d: ack for handle %u that nobody waits for", c->dom->id,
           (int)c->pid, n->handle);
}

/* The first ack of c waiting to be judged, or NULL. */
static struct xd_ack *judge_next(const struct xd_conn *c)
{
    for (struct xd_ack *a = ack_head; a; a = a->next)
        if (a->judge && (!c || a->conn == c))
            return a;
    return NULL;
}

/*
 * Judges the acks of this batch of events: the maps of each process are
 * read once, after all its acks of the batch came (so they show every
 * page those acks let go of), whatever their number and owners.
 */
static void acks_judge(void)
{
    struct xd_ack *a;

    while ((a = judge_next(NULL))) {
        struct xd_conn *c = a->conn;
        struct xd_procmaps pm = {0};

        /* ack_done may answer a group that closes c: judge c's acks
         * first (none is done), then finish them one at a time. */
        for (struct xd_ack *j = a; j; j = j->next) {
            if (!j->judge || j->conn != c)
                continue;
            /* Read at the first ack whose owner's memory still exists. */
            if (!pm.read)
                (void)xd_procmaps_read(c, xd_dom_get(j->owner), &pm);
            if (ack_lies(c, j, &pm)) {
                xd_log_conn_always(c,
                                   "acknowledged the unmap of handle %u but "
                                   "still maps dom %u's pages",
                                   j->handle, j->owner);
                j->deadline = 0;
                j->judge = false;
            }
        }
        xd_procmaps_free(&pm);
        while ((a = judge_next(c)))
            ack_done(a);
    }
}

void xd_acks_drop_conn(struct xd_conn *c)
{
    struct xd_ack *a;

    /* A completed group's reply may close (and drop acks of) another
     * connection: never keep a pointer across ack_done. */
again:
    for (a = ack_head; a; a = a->next) {
        if (a->conn == c) {
            ack_done(a);
            goto again;
        }
    }
}

bool xd_acks_owed(const struct xd_conn *c)
{
    for (struct xd_ack *a = ack_head; a; a = a->next)
        if (a->conn == c)
            return true;
    return false;
}

/* d is being destroyed: replies waiting on its acks wait for its reap. */
void xd_acks_hold_for_reap(struct xd_dom *d)
{
    for (struct xd_ack *a = ack_head; a; a = a->next)
        if (a->conn->dom == d)
            xd_dom_wait_reap(d, a->grp);
}

/* The ack that expires first (not yet punished), or NULL. */
static struct xd_ack *ack_first(void)
{
    struct xd_ack *first = NULL;

    for (struct xd_ack *a = ack_head; a; a = a->next)
        if (!a->dying && (!first || a->deadline < first->deadline))
            first = a;
    return first;
}

/* Milliseconds until the first ack expires, -1 when none is pending. */
int xd_acks_timeout_ms(void)
{
    struct xd_ack *a = ack_first();
    uint64_t now;

    if (!a)
        return -1;
    now = xd_now_ms();
    return a->deadline <= now ? 0 : (int)(a->deadline - now);
}

/* c can no longer be told: what it owes expires now. */
void xd_acks_expire_conn(struct xd_conn *c)
{
    for (struct xd_ack *a = ack_head; a; a = a->next)
        if (a->conn == c)
            a->deadline = 0;
}

/* The revoker's guarantee wins over an unresponsive mapper. */
static void punish(struct xd_ack *a)
{
    struct xd_conn *c = a->conn;
    struct xd_dom *d = c->dom;

    if (d->id != GNTX_DOMID_CONTROL) {
        xd_log_conn_always(
            c,
            "UNMAP NOT ACKNOWLEDGED: handle %u (dom %u's memory) "
            "after %d ms: destroying the domain",
            a->handle, a->owner, XGW_UNMAP_TIMEOUT_MS);
        xd_dom_destroy(d, "did not acknowledge a forced unmap");
    } else {
        xd_log_conn_always(
            c,
            "UNMAP NOT ACKNOWLEDGED: handle %u (dom %u's memory) "
            "after %d ms: killing pid %d and closing its "
            "connection",
            a->handle, a->owner, XGW_UNMAP_TIMEOUT_MS, (int)c->pid);
        xd_conn_kill(c);
        xd_conn_close(c, NULL); /* lingers until the process is gone */
    }
}

void xd_acks_expire(void)
{
    struct xd_ack *a;

    acks_judge();
    while ((a = ack_first()) && a->deadline <= xd_now_ms()) {
        struct xd_conn *c = a->conn;

        /* Punish first, so the revoker hears back only once the mapper can
         * no longer touch the pages: a domain's acks wait for its reap, a
         * lingering process's for its end. */
        punish(a);
        if (!c->lingering) {
            xd_acks_drop_conn(c);
            continue;
        }
        for (a = ack_head; a; a = a->next)
            if (a->conn == c)
                a->dying = true;
    }
}
