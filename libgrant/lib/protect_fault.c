/* SPDX-License-Identifier: MIT */
/*
 * protect_fault.c: what happens after a protection is violated, on the
 * guest side.
 *
 *   - Own CPU accesses: a SIGSEGV handler (SA_SIGINFO, installed once per
 *     process at the first protection) maps the faulting address to the
 *     handle whose memory holds it and runs the page's action.  It only
 *     uses atomics, mprotect, sigaction, kill and the program's handler:
 *     async-signal-safe.  Addresses outside every registered handle's
 *     memory go to the handler that was there before (or the default).
 *   - Grantees' accesses: the hypervisor's fault ring (grant_abi.h), read
 *     by grant_fault_dispatch in the program's own context.
 *   - Mappings this handle holds of others' memory: restrict notices
 *     (XGW_NOTICE_RESTRICT) from the service thread, lg_map_restrict.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "private.h"

#define MAX_REGS 8

/* The handles the SIGSEGV handler knows: base NULL is a free slot. */
static struct {
    uint8_t *base;
    size_t len;
    grant_handle_t *h;
} regs[MAX_REGS];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction old_segv;
static int installed;

/* ---- the SIGSEGV handler -------------------------------------------------
 */

static void die_default(int sig)
{
    struct sigaction dfl;

    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL); /* the access runs again and kills us */
}

static void chain(int sig, siginfo_t *si, void *uc)
{
    if (old_segv.sa_flags & SA_SIGINFO) {
        old_segv.sa_sigaction(sig, si, uc);
        return;
    }
    if (old_segv.sa_handler != SIG_DFL && old_segv.sa_handler != SIG_IGN) {
        old_segv.sa_handler(sig);
        return;
    }
    die_default(sig);
}

static grant_handle_t *reg_find(const uint8_t *a)
{
    for (unsigned i = 0; i < MAX_REGS; i++) {
        uint8_t *base = __atomic_load_n(&regs[i].base, __ATOMIC_ACQUIRE);

        if (base && a >= base && (size_t)(a - base) < regs[i].len)
            return regs[i].h;
    }
    return NULL;
}

/* The access attempted: the page-fault error code where there is one. */
static unsigned fault_access(void *ucv, uint32_t allowed)
{
#if defined(__x86_64__)
    const ucontext_t *uc = ucv;
    greg_t err = uc->uc_mcontext.gregs[REG_ERR];

    (void)allowed;
    if (err & 0x10)
        return GRANT_ACC_X;
    return err & 0x2 ? GRANT_ACC_W : GRANT_ACC_R;
#else
    (void)ucv;
    return allowed & GRANT_ACC_R ? GRANT_ACC_W : GRANT_ACC_R;
#endif
}

static void own_log(struct lg_prot *p, const struct grant_fault *f)
{
    uint32_t at = __atomic_load_n(&p->log_prod, __ATOMIC_RELAXED);

    if (at - __atomic_load_n(&p->log_cons, __ATOMIC_ACQUIRE) >= LG_OWN_LOG_MAX)
        return;
    p->log[at % LG_OWN_LOG_MAX] =
        (struct lg_own_rec){f->gpa, f->cookie, f->access, f->action};
    __atomic_store_n(&p->log_prod, at + 1, __ATOMIC_RELEASE);
}

/* Opens the faulting page in this process (LOG, GRANT_FAULT_OPEN). */
static void page_open(grant_handle_t *h, uint64_t gfn, unsigned access)
{
    int prot = PROT_READ | PROT_WRITE | (access == GRANT_ACC_X ? PROT_EXEC : 0);

    mprotect(h->mem + gfn * GRANT_PAGE_SIZE, GRANT_PAGE_SIZE, prot);
}

static void own_kill(const grant_handle_t *h)
{
    if (h->domid != GNTX_DOMID_CONTROL)
        kill(0, SIGKILL); /* the domain's process group: the domain ends */
    raise(SIGKILL);
}

static void run_action(grant_handle_t *h, struct lg_prot *p,
                       struct grant_fault *f, int sig)
{
    int r = GRANT_FAULT_STOP;

    switch (f->action) {
    case GRANT_ACT_LOG:
        own_log(p, f);
        page_open(h, f->gpa / GRANT_PAGE_SIZE, f->access);
        return;
    case GRANT_ACT_KILL:
        if (h->domid != GNTX_DOMID_CONTROL)
            own_kill(h);
        /* The control domain is notified instead. */
        __attribute__((fallthrough));
    case GRANT_ACT_NOTIFY:
        if (p->fn)
            r = p->fn(f, p->arg);
        if (r == GRANT_FAULT_OPEN)
            page_open(h, f->gpa / GRANT_PAGE_SIZE, f->access);
        if (r != GRANT_FAULT_STOP)
            return;
        die_default(sig);
        return;
    default:
        die_default(sig);
    }
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    uint8_t *a = si->si_addr;
    grant_handle_t *h = reg_find(a);
    struct lg_prot *p = h ? h->prot : NULL;
    struct grant_fault f;
    uint64_t gfn;
    uint32_t meta;

    /* Only the kernel's report of a protection fault is one of ours: a
     * SIGSEGV sent with kill or sigqueue carries whatever si_addr the
     * sender wrote and must not run (or, with LOG, open) a page. */
    if (!p || si->si_code != SEGV_ACCERR) {
        chain(sig, si, uc);
        errno = saved;
        return;
    }
    gfn = (uint64_t)(a - h->mem) / GRANT_PAGE_SIZE;
    meta = __atomic_load_n(&p->page[gfn].meta, __ATOMIC_ACQUIRE);
    if (!(meta & LG_PROT_VALID)) {
        chain(sig, si, uc); /* not ours: e.g. a stray access elsewhere */
        errno = saved;
        return;
    }
    f = (struct grant_fault){
        .dom = h->domid,
        .access = fault_access(uc, meta & 0xff),
        .action = (meta >> 8) & 0xff,
        .via = GRANT_VIA_CPU,
        .gpa = (uint64_t)(a - h->mem),
        .addr = a,
        .cookie = __atomic_load_n(&p->page[gfn].cookie, __ATOMIC_RELAXED)};
    if (p->ring)
        __atomic_add_fetch(&p->ring->own_faults, 1, __ATOMIC_RELAXED);
    run_action(h, p, &f, sig);
    errno = saved;
}

/* ---- registry ---------------------------------------------------------- */

static int install(void)
{
    struct sigaction sa;

    if (installed)
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) < 0)
        return -errno;
    installed = 1;
    return 0;
}

int lg_prot_sig_register(grant_handle_t *h)
{
    int rc = 0, free_slot = -1;

    if (h->prot->slot >= 0)
        return 0;
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_REGS && free_slot < 0; i++)
        if (!regs[i].base)
            free_slot = i;
    rc = free_slot < 0 ? -ENOSPC : install();
    if (rc == 0) {
        regs[free_slot].len = (size_t)h->mem_frames * GRANT_PAGE_SIZE;
        regs[free_slot].h = h;
        __atomic_store_n(&regs[free_slot].base, h->mem, __ATOMIC_RELEASE);
        h->prot->slot = free_slot;
    }
    pthread_mutex_unlock(&reg_lock);
    return rc;
}

void lg_prot_sig_unregister(grant_handle_t *h)
{
    int i = h->prot->slot;

    if (i < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    __atomic_store_n(&regs[i].base, NULL, __ATOMIC_RELEASE);
    regs[i].h = NULL;
    pthread_mutex_unlock(&reg_lock);
    h->prot->slot = -1;
}

/* ---- handler, ring, dispatch --------------------------------------------
 */

int grant_fault_set_handler(grant_handle_t *h, grant_fault_fn fn, void *arg)
{
    struct lg_prot *p;
    int rc;

    if (!h)
        return -EINVAL;
    rc = lg_prot_get(h, &p);
    if (rc < 0)
        return lg_fail(h, "grant_fault_set_handler", rc);
    /* arg first: the signal handler reads fn, then arg. */
    __atomic_store_n(&p->arg, arg, __ATOMIC_RELAXED);
    __atomic_store_n(&p->fn, fn, __ATOMIC_RELEASE);
    return 0;
}

static int ring_call(grant_handle_t *h, uint64_t gfn, uint32_t port)
{
    struct gntx_fault_ring r = {.gfn = gfn, .port = port};
    struct grant_call gc = {.op = GNTX_OP_FAULT_RING,
                            .args = &r,
                            .elem_size = sizeof(r),
                            .count = 1};

    return (int)h->ops->hypercall(h, &gc);
}

int grant_fault_ring_bind(grant_handle_t *h, int *fd)
{
    struct lg_prot *p;
    uint64_t gpa;
    uint32_t port;
    void *mem;
    int rc;

    if (!h || !fd)
        return lg_fail(h, "grant_fault_ring_bind", -EINVAL);
    rc = lg_prot_get(h, &p);
    if (rc == 0 && p->ring)
        rc = -EBUSY;
    if (rc < 0)
        return lg_fail(h, "grant_fault_ring_bind", rc);
    rc = grant_mem_alloc(h, 1, &mem);
    if (rc < 0)
        return rc;
    rc = grant_evtchn_alloc_unbound(h, grant_domid(h), &port);
    if (rc < 0)
        goto free_mem;
    rc = grant_gpa(h, mem, &gpa);
    if (rc == 0)
        rc = ring_call(h, gpa / GRANT_PAGE_SIZE, port);
    if (rc == 0)
        rc = grant_evtchn_fd(h, port);
    if (rc < 0)
        goto close_port;
    *fd = rc;
    p->ring_mem = mem;
    p->ring_port = port;
    __atomic_store_n(&p->ring, mem, __ATOMIC_RELEASE);
    return 0;
close_port:
    ring_call(h, GNTX_FAULT_RING_NONE, 0);
    grant_evtchn_close(h, port);
free_mem:
    grant_mem_free(h, mem);
    return lg_fail(h, "grant_fault_ring_bind", rc);
}

static void deliver(grant_handle_t *h, const struct gntx_fault_rec *r)
{
    struct lg_prot *p = h->prot;
    struct grant_fault f = {.dom = r->dom,
                            .access = r->access,
                            .action = r->action,
                            .via = r->via,
                            .gpa = r->addr,
                            .cookie = r->cookie};
    uint64_t idx;

    /* On Xen the record names a machine frame: the page of this handle's
     * memory it is (another handle's page keeps the frame, addr NULL). */
    if (lg_frame_index(h, r->addr / GRANT_PAGE_SIZE, &idx) == 0) {
        f.gpa = idx * GRANT_PAGE_SIZE + r->addr % GRANT_PAGE_SIZE;
        f.addr = h->mem ? h->mem + f.gpa : NULL;
    }
    if (p->fn)
        p->fn(&f, p->arg);
}

static int drain_ring(grant_handle_t *h, struct gntx_fault_ring_page *rp)
{
    /* Acquire: the records are read after the index that covers them. */
    uint32_t prod = __atomic_load_n(&rp->prod, __ATOMIC_ACQUIRE);
    uint32_t cons = rp->cons;
    int n = 0;

    if (prod - cons > GNTX_FAULT_RING_SLOTS) /* clamp a confused index */
        cons = prod - GNTX_FAULT_RING_SLOTS;
    for (; cons != prod; cons++, n++) {
        struct gntx_fault_rec r = rp->rec[cons % GNTX_FAULT_RING_SLOTS];

        deliver(h, &r);
    }
    /* Release: the slots are read before the producer may reuse them. */
    __atomic_store_n(&rp->cons, cons, __ATOMIC_RELEASE);
    return n;
}

static int drain_own(grant_handle_t *h, struct lg_prot *p)
{
    uint32_t prod = __atomic_load_n(&p->log_prod, __ATOMIC_ACQUIRE);
    uint32_t cons = p->log_cons;
    int n = 0;

    for (; cons != prod; cons++, n++) {
        const struct lg_own_rec *o = &p->log[cons % LG_OWN_LOG_MAX];
        struct gntx_fault_rec r = {.dom = h->domid,
                                   .access = (uint8_t)o->access,
                                   .action = (uint8_t)o->action,
                                   .via = GNTX_VIA_CPU,
                                   .addr = o->gpa,
                                   .cookie = o->cookie};

        deliver(h, &r);
    }
    __atomic_store_n(&p->log_cons, cons, __ATOMIC_RELEASE);
    return n;
}

int grant_fault_dispatch(grant_handle_t *h)
{
    struct lg_prot *p;
    int n;

    if (!h)
        return -EINVAL;
    p = h->prot;
    if (!p)
        return 0;
    /* Consume the signal first: a record after it signals again. */
    if (p->ring)
        grant_evtchn_wait(h, p->ring_port, 0);
    n = drain_own(h, p);
    if (p->ring)
        n += drain_ring(h, p->ring);
    return n;
}

/* ---- restrict notices ---------------------------------------------------
 */

int lg_map_restrict(grant_handle_t *h, const struct xgw_restrict *r)
{
    struct grant_mapping *m;
    uint64_t end;
    int rc = 0;

    pthread_mutex_lock(&h->map_lock);
    for (m = h->maps; m && m->handle != r->handle; m = m->next)
        ;
    if (m && m->state == GRANT_MAPPING_LIVE &&
        !__builtin_add_overflow(r->first, r->npages, &end) &&
        end <= m->len / GRANT_PAGE_SIZE &&
        mprotect(m->addr + r->first * GRANT_PAGE_SIZE,
                 r->npages * GRANT_PAGE_SIZE,
                 r->access == GRANT_ACC_R ? PROT_READ : PROT_NONE) < 0)
        rc = -errno;
    /* Its MAP reply is still on the way: grant_map will refuse it. */
    if (!m && h->map_inflight && h->nr_early < GRANT_EARLY_MAX)
        h->early[h->nr_early++] = r->handle;
    else if (!m && h->map_inflight)
        h->early_overflow = 1;
    pthread_mutex_unlock(&h->map_lock);
    return rc;
}
