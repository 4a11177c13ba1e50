/* SPDX-License-Identifier: MIT */
/*
 * xgrant-guest: a scriptable guest for xgrant domains.  Run it in a domain
 * (`xgrant run -- xgrant-guest`); it reads one command per line on stdin
 * and answers one line on stdout: "ok [values]" or "err -N NAME detail".
 * Buffers live in numbered slots of grantable memory, mappings in numbered
 * map ids.  `help` lists the commands.  The demo and the integration tests
 * drive domains through it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libgrant.h"

#define MAX_SLOTS 64
#define MAX_ARGS  10

struct slot {
    uint8_t *p;
    size_t size;
};

#define HELP                                                                   \
    "domid | alloc PAGES | free SLOT | fill|check SLOT OFF LEN SEED | "        \
    "expect SLOT OFF LEN BYTE | sum SLOT OFF LEN | print SLOT OFF LEN | "      \
    "grant DOM RIGHTS(rwmd) SLOT OFF LEN | "                                   \
    "delegate DOM RIGHTS GRANTER REF OFF LEN | revoke REF [force] | "          \
    "copyfrom|copyto GRANTER REF GOFF SLOT OFF LEN | "                         \
    "memset GRANTER REF GOFF BYTE LEN | g2g SDOM SREF SOFF DDOM DREF DOFF "    \
    "LEN | "                                                                   \
    "map GRANTER REF OFF LEN [ro] | mread MAP OFF | mwrite MAP OFF BYTE | "    \
    "unmap MAP | mapb GRANTER LEN REF... | unmapb MAP... | "                   \
    "revokeb FORCE(0|1) REF... | mrevoked | mbusy MAP | mstop | "              \
    "evtalloc DOM | evtbind DOM PORT | evtnotify PORT | "                      \
    "evtwait PORT MS | usage | write SLOT OFF TEXT | features | "              \
    "v1share DOM PAGES [ro] | v1end SLOT | v1map DOM ro|rw REF... | "          \
    "v1unmap MAP | v1copyfrom|v1copyto DOM REF ROFF SLOT OFF LEN | "           \
    "v1g2g SDOM SREF SOFF DDOM DREF DOFF LEN | exit [CODE]"

static grant_handle_t *gh;
static struct slot slots[MAX_SLOTS];
static struct slot maps[MAX_SLOTS];
static uint8_t map_v1[MAX_SLOTS]; /* maps[i] came from grant_v1_map */
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_armed;

static void on_fault(int sig)
{
    (void)sig;
    if (fault_armed)
        siglongjmp(fault_jmp, 1);
    _exit(139);
}

static uint8_t pat(uint64_t seed, uint64_t i)
{
    return (uint8_t)(seed * 31 + i * 7 + (i >> 9));
}

static unsigned rights_of(const char *s)
{
    unsigned r = 0;

    if (*s >= '0' && *s <= '9')
        return (unsigned)strtoul(s, NULL, 0);
    for (; *s; s++) {
        r |= *s == 'r' ? GRANT_R_READ : 0;
        r |= *s == 'w' ? GRANT_R_WRITE : 0;
        r |= *s == 'm' ? GRANT_R_MAP : 0;
        r |= *s == 'd' ? GRANT_R_DELEGATE : 0;
    }
    return r;
}

/* A slot's byte range [off, off+len) or NULL. */
static uint8_t *slot_at(struct slot *tab, uint64_t id, uint64_t off,
                        uint64_t len)
{
    if (id >= MAX_SLOTS || !tab[id].p || off > tab[id].size ||
        len > tab[id].size - off)
        return NULL;
    return tab[id].p + off;
}

static int reply_err(int rc, const char *detail)
{
    printf("err %d %s %s\n", rc, grant_strerror(rc), detail ? detail : "");
    return 0;
}

static int cmd_slot_ops(char **av, uint64_t *n, int ac)
{
    uint8_t *p;
    uint64_t i, sum = 1469598103934665603ull;
    void *mem;
    int rc, s;

    if (!strcmp(av[0], "alloc") && ac == 2) {
        for (s = 0; s < MAX_SLOTS && slots[s].p; s++)
            ;
        if (s == MAX_SLOTS)
            return reply_err(-ENOSPC, "no slot");
        rc = grant_mem_alloc(gh, n[1], &mem);
        if (rc < 0)
            return reply_err(rc, "grant_mem_alloc");
        slots[s].p = mem;
        slots[s].size = n[1] * GRANT_PAGE_SIZE;
        printf("ok %d\n", s);
        return 0;
    }
    if (!strcmp(av[0], "free") && ac == 2) {
        p = slot_at(slots, n[1], 0, 0);
        rc = p ? grant_mem_free(gh, p) : -EINVAL;
        if (rc < 0)
            return reply_err(rc, "grant_mem_free");
        slots[n[1]].p = NULL;
        printf("ok\n");
        return 0;
    }
    if ((!strcmp(av[0], "fill") || !strcmp(av[0], "check")) && ac == 5) {
        p = slot_at(slots, n[1], n[2], n[3]);
        if (!p)
            return reply_err(-EINVAL, "bad slot range");
        for (i = 0; i < n[3]; i++) {
            if (av[0][0] == 'f')
                p[i] = pat(n[4], n[2] + i);
            else if (p[i] != pat(n[4], n[2] + i)) {
                printf("err -84 EILSEQ mismatch at %llu: %u != %u\n",
                       (unsigned long long)i, p[i], pat(n[4], n[2] + i));
                return 0;
            }
        }
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "expect") && ac == 5) {
        p = slot_at(slots, n[1], n[2], n[3]);
        if (!p)
            return reply_err(-EINVAL, "bad slot range");
        for (i = 0; i < n[3]; i++)
            if (p[i] != (uint8_t)n[4]) {
                printf("err -84 EILSEQ byte %llu is %u\n",
                       (unsigned long long)i, p[i]);
                return 0;
            }
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "print") && ac == 4) {
        p = slot_at(slots, n[1], n[2], n[3]);
        if (!p)
            return reply_err(-EINVAL, "bad slot range");
        printf("ok ");
        for (i = 0; i < n[3]; i++)
            putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
        printf("\n");
        return 0;
    }
    if (!strcmp(av[0], "sum") && ac == 4) {
        p = slot_at(slots, n[1], n[2], n[3]);
        if (!p)
            return reply_err(-EINVAL, "bad slot range");
        for (i = 0; i < n[3]; i++)
            sum = (sum ^ p[i]) * 1099511628211ull;
        printf("ok 0x%llx\n", (unsigned long long)sum);
        return 0;
    }
    return 1;
}

static int cmd_grant_ops(char **av, uint64_t *n, int ac)
{
    grant_ref_t ref;
    uint8_t *p;
    int rc;

    if (!strcmp(av[0], "grant") && ac == 6) {
        p = slot_at(slots, n[3], n[4], n[5]);
        if (!p)
            return reply_err(-EINVAL, "bad slot range");
        rc = grant_create_direct(gh, n[1], rights_of(av[2]), p, n[5], &ref);
        if (rc < 0)
            return reply_err(rc, "grant_create_direct");
        printf("ok 0x%x\n", ref);
        return 0;
    }
    if (!strcmp(av[0], "delegate") && ac == 7) {
        rc = grant_create_indirect(gh, n[1], rights_of(av[2]), n[3], n[4], n[5],
                                   n[6], &ref);
        if (rc < 0)
            return reply_err(rc, "grant_create_indirect");
        printf("ok 0x%x\n", ref);
        return 0;
    }
    if (!strcmp(av[0], "revoke") && (ac == 2 || ac == 3)) {
        rc = grant_revoke(gh, n[1], ac == 3 ? GRANT_REVOKE_FORCE : 0);
        if (rc < 0)
            return reply_err(rc, "grant_revoke");
        printf("ok\n");
        return 0;
    }
    return 1;
}

static int cmd_copy_ops(char **av, uint64_t *n, int ac)
{
    struct grant_copy_seg seg = {0};
    uint8_t *p;
    int rc;

    if ((!strcmp(av[0], "copyfrom") || !strcmp(av[0], "copyto")) && ac == 7) {
        p = slot_at(slots, n[4], n[5], n[6]);
        if (!p)
            return reply_err(-EINVAL, "bad slot range");
        if (av[0][4] == 'f')
            rc = grant_copy_from(gh, p, n[1], n[2], n[3], n[6]);
        else
            rc = grant_copy_to(gh, n[1], n[2], n[3], p, n[6]);
        if (rc < 0)
            return reply_err(rc, av[0]);
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "memset") && ac == 6) {
        rc = grant_memset(gh, n[1], n[2], n[3], (int)n[4], n[5]);
        if (rc < 0)
            return reply_err(rc, "grant_memset");
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "g2g") && ac == 8) {
        seg.src =
            (struct grant_ptr){.granter = n[1], .ref = n[2], .offset = n[3]};
        seg.dst =
            (struct grant_ptr){.granter = n[4], .ref = n[5], .offset = n[6]};
        seg.len = n[7];
        rc = grant_copy(gh, &seg, 1);
        if (rc < 0)
            return reply_err(rc, "grant_copy");
        if (seg.status < 0)
            return reply_err(seg.status, "segment");
        printf("ok\n");
        return 0;
    }
    return 1;
}

/* A free map slot, or -1. */
static int map_slot(void)
{
    for (int s = 0; s < MAX_SLOTS; s++)
        if (!maps[s].p)
            return s;
    return -1;
}

/* Touches one byte of a mapping; a fault (revoked mapping, write to a
 * read-only one) is answered as -EFAULT instead of killing the guest. */
static int map_access(uint64_t id, uint64_t off, int write, uint64_t val)
{
    volatile uint8_t *volatile p = slot_at(maps, id, off, 1);
    volatile int v = 0;

    if (!p)
        return reply_err(-EINVAL, "bad map range");
    if (sigsetjmp(fault_jmp, 1)) {
        fault_armed = 0;
        return reply_err(-EFAULT, "fault");
    }
    fault_armed = 1;
    if (write)
        *p = (uint8_t)val;
    v = *p;
    fault_armed = 0;
    printf("ok %d\n", v);
    return 0;
}

static int cmd_map_ops(char **av, uint64_t *n, int ac)
{
    void *addr;
    int rc, s;

    if (!strcmp(av[0], "map") && (ac == 5 || ac == 6)) {
        s = map_slot();
        if (s < 0)
            return reply_err(-ENOSPC, "no map slot");
        rc = grant_map(gh, n[1], n[2], n[3], n[4],
                       ac == 6 ? GRANT_MAP_RDONLY : 0, &addr);
        if (rc < 0)
            return reply_err(rc, "grant_map");
        maps[s].p = addr;
        maps[s].size = n[4];
        map_v1[s] = 0;
        printf("ok %d\n", s);
        return 0;
    }
    if (!strcmp(av[0], "mread") && ac == 3)
        return map_access(n[1], n[2], 0, 0);
    if (!strcmp(av[0], "mwrite") && ac == 4)
        return map_access(n[1], n[2], 1, n[3]);
    if ((!strcmp(av[0], "unmap") || !strcmp(av[0], "v1unmap")) && ac == 2) {
        if (!slot_at(maps, n[1], 0, 0))
            return reply_err(-EINVAL, "bad map id");
        if (map_v1[n[1]] != !strcmp(av[0], "v1unmap"))
            return reply_err(-EINVAL, "unmap of the other kind");
        rc = map_v1[n[1]] ? grant_v1_unmap(gh, maps[n[1]].p)
                          : grant_unmap(gh, maps[n[1]].p);
        if (rc < 0)
            return reply_err(rc, av[0]);
        maps[n[1]].p = NULL;
        map_v1[n[1]] = 0;
        printf("ok\n");
        return 0;
    }
    return 1;
}

/* A free slot of tab, or -1. */
static int free_slot(const struct slot *tab)
{
    for (int s = 0; s < MAX_SLOTS; s++)
        if (!tab[s].p)
            return s;
    return -1;
}

static int v1_copy_one(struct grant_v1_copy_seg *seg)
{
    int rc = grant_v1_copy(gh, seg, 1);

    if (rc < 0)
        return reply_err(rc, "grant_v1_copy");
    if (seg->status < 0)
        return reply_err(seg->status, "segment");
    printf("ok\n");
    return 0;
}

/* Xen's standard grants (grant_v1_*). */
static int cmd_v1_ops(char **av, uint64_t *n, int ac)
{
    grant_v1_ref_t refs[MAX_ARGS];
    struct grant_v1_copy_seg seg = {0};
    int rc, s, ro = ac > 2 && !strcmp(av[ac - 1], "ro");
    void *addr;

    if (!strcmp(av[0], "v1share") && (ac == 3 || (ac == 4 && ro))) {
        if ((s = free_slot(slots)) < 0 || n[2] > MAX_ARGS)
            return reply_err(-ENOSPC, "no slot, or too many pages");
        rc = grant_v1_share(gh, n[1], n[2], ro ? GRANT_V1_RDONLY : 0, refs,
                            &addr);
        if (rc < 0)
            return reply_err(rc, "grant_v1_share");
        slots[s] = (struct slot){addr, n[2] * GRANT_PAGE_SIZE};
        printf("ok %d", s);
        for (uint64_t i = 0; i < n[2]; i++)
            printf(" 0x%x", refs[i]);
        printf("\n");
        return 0;
    }
    if (!strcmp(av[0], "v1end") && ac == 2) {
        rc = slot_at(slots, n[1], 0, 0) ? grant_v1_end(gh, slots[n[1]].p)
                                        : -EINVAL;
        if (rc < 0)
            return reply_err(rc, "grant_v1_end");
        slots[n[1]].p = NULL;
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "v1map") && ac >= 4) {
        if ((s = map_slot()) < 0)
            return reply_err(-ENOSPC, "no map slot");
        for (int i = 3; i < ac; i++)
            refs[i - 3] = (grant_v1_ref_t)n[i];
        rc = grant_v1_map(gh, n[1], refs, (unsigned)(ac - 3),
                          !strcmp(av[2], "ro") ? GRANT_V1_RDONLY : 0, &addr);
        if (rc < 0)
            return reply_err(rc, "grant_v1_map");
        maps[s] = (struct slot){addr, (size_t)(ac - 3) * GRANT_PAGE_SIZE};
        map_v1[s] = 1;
        printf("ok %d\n", s);
        return 0;
    }
    if ((!strcmp(av[0], "v1copyfrom") || !strcmp(av[0], "v1copyto")) &&
        ac == 7) {
        struct grant_v1_ptr ref = {
            .granter = n[1], .ref = n[2], .offset = (uint16_t)n[3]};
        struct grant_v1_ptr loc = {.local = 1,
                                   .ptr = slot_at(slots, n[4], n[5], n[6])};

        if (!loc.ptr || n[3] > UINT16_MAX || n[6] > UINT16_MAX)
            return reply_err(-EINVAL, "bad slot range");
        seg.src = av[0][6] == 'f' ? ref : loc;
        seg.dst = av[0][6] == 'f' ? loc : ref;
        seg.len = (uint16_t)n[6];
        return v1_copy_one(&seg);
    }
    if (!strcmp(av[0], "v1g2g") && ac == 8) {
        seg.src = (struct grant_v1_ptr){
            .granter = n[1], .ref = n[2], .offset = (uint16_t)n[3]};
        seg.dst = (struct grant_v1_ptr){
            .granter = n[4], .ref = n[5], .offset = (uint16_t)n[6]};
        seg.len = (uint16_t)n[7];
        return v1_copy_one(&seg);
    }
    if (!strcmp(av[0], "features") && ac == 1) {
        printf("ok %u\n", grant_features(gh));
        return 0;
    }
    return 1;
}

/* mapb GRANTER LEN REF...: one batch, element i = REF i, offset 0, LEN
 * bytes, read-write.  "ok MAPPED" then per element "MAP@OFFSET" (its map
 * id and where it lies in the range) or its -errno. */
static int cmd_mapb(uint64_t *n, int ac)
{
    struct grant_map_req r[MAX_ARGS];
    unsigned k = (unsigned)ac - 3, i;
    void *base;
    int rc;

    for (i = 0; i < k; i++)
        r[i] =
            (struct grant_map_req){.ref = (grant_ref_t)n[3 + i], .len = n[2]};
    rc = grant_map_batch(gh, n[1], r, k, &base);
    if (rc < 0)
        return reply_err(rc, "grant_map_batch");
    printf("ok %d", rc);
    for (i = 0; i < k; i++) {
        int s = r[i].status == 0 ? map_slot() : -1;

        if (s >= 0) {
            maps[s].p = r[i].addr;
            maps[s].size = r[i].len;
        }
        if (r[i].status == 0)
            printf(" %d@%zu", s,
                   (size_t)((uint8_t *)r[i].addr - (uint8_t *)base));
        else
            printf(" %d", r[i].status);
    }
    printf("\n");
    return 0;
}

/* unmapb MAP...: "ok UNMAPPED" then per element its status. */
static int cmd_unmapb(uint64_t *n, int ac)
{
    void *a[MAX_ARGS];
    int st[MAX_ARGS], rc, i;

    for (i = 0; i < ac - 1; i++)
        a[i] = slot_at(maps, n[1 + i], 0, 0);
    rc = grant_unmap_batch(gh, a, st, (unsigned)ac - 1);
    if (rc < 0)
        return reply_err(rc, "grant_unmap_batch");
    printf("ok %d", rc);
    for (i = 0; i < ac - 1; i++) {
        if (st[i] == 0)
            maps[n[1 + i]].p = NULL;
        printf(" %d", st[i]);
    }
    printf("\n");
    return 0;
}

/* revokeb FORCE REF...: "ok REVOKED" then per element its status. */
static int cmd_revokeb(uint64_t *n, int ac)
{
    struct grant_revoke_req r[MAX_ARGS];
    int rc, i;

    for (i = 0; i < ac - 2; i++)
        r[i] =
            (struct grant_revoke_req){.ref = (grant_ref_t)n[2 + i],
                                      .flags = n[1] ? GRANT_REVOKE_FORCE : 0};
    rc = grant_revoke_batch(gh, r, (unsigned)ac - 2);
    if (rc < 0)
        return reply_err(rc, "grant_revoke_batch");
    printf("ok %d", rc);
    for (i = 0; i < ac - 2; i++)
        printf(" %d", r[i].status);
    printf("\n");
    return 0;
}

/* mrevoked: the next revoke event: "ok MAP READABLE" (whether the fd
 * polled readable before), or EAGAIN when none is pending. */
static int cmd_mrevoked(void)
{
    struct grant_map_event ev;
    struct pollfd p = {.events = POLLIN};
    int rc, s, readable;

    p.fd = grant_map_revoked_fd(gh);
    if (p.fd < 0)
        return reply_err(p.fd, "grant_map_revoked_fd");
    readable = poll(&p, 1, 0) == 1;
    rc = grant_map_revoked_next(gh, &ev);
    if (rc < 0)
        return reply_err(rc, "grant_map_revoked_next");
    if (rc == 0)
        return reply_err(-EAGAIN, readable ? "none, yet readable" : "none");
    for (s = 0; s < MAX_SLOTS && maps[s].p != ev.addr; s++)
        ;
    printf("ok %d %d %zu %u 0x%x\n", s < MAX_SLOTS ? s : -1, readable, ev.len,
           ev.granter, ev.ref);
    return 0;
}

/* mbusy MAP: a thread writes and reads back every page of the mapping
 * until mstop ("ok ROUNDS MISMATCHES"); a fault kills the guest. */
static struct {
    pthread_t t;
    volatile uint8_t *p;
    size_t size;
    int stop, on;
    unsigned long rounds, bad;
} busy;

static void *busy_main(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&busy.stop, __ATOMIC_RELAXED)) {
        uint8_t v = (uint8_t)(0x5a ^ (busy.rounds & 1));

        for (size_t o = 0; o < busy.size; o += 4096) {
            busy.p[o] = v;
            busy.bad += busy.p[o] != v;
        }
        busy.rounds++;
    }
    return NULL;
}

static int cmd_busy(char **av, uint64_t *n, int ac)
{
    if (!strcmp(av[0], "mbusy") && ac == 2) {
        if (busy.on || !slot_at(maps, n[1], 0, 1))
            return reply_err(-EINVAL, "busy, or bad map id");
        busy.p = maps[n[1]].p;
        busy.size = maps[n[1]].size;
        busy.stop = 0;
        busy.rounds = busy.bad = 0;
        if (pthread_create(&busy.t, NULL, busy_main, NULL) != 0)
            return reply_err(-EAGAIN, "pthread_create");
        busy.on = 1;
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "mstop") && ac == 1 && busy.on) {
        __atomic_store_n(&busy.stop, 1, __ATOMIC_RELAXED);
        pthread_join(busy.t, NULL);
        busy.on = 0;
        printf("ok %lu %lu\n", busy.rounds, busy.bad);
        return 0;
    }
    return 1;
}

static int cmd_batch_ops(char **av, uint64_t *n, int ac)
{
    if (!strcmp(av[0], "mapb") && ac >= 4)
        return cmd_mapb(n, ac);
    if (!strcmp(av[0], "unmapb") && ac >= 2)
        return cmd_unmapb(n, ac);
    if (!strcmp(av[0], "revokeb") && ac >= 3)
        return cmd_revokeb(n, ac);
    if (!strcmp(av[0], "mrevoked") && ac == 1)
        return cmd_mrevoked();
    return cmd_busy(av, n, ac);
}

static int cmd_misc_ops(char **av, uint64_t *n, int ac)
{
    struct grant_usage u;
    uint32_t port;
    int rc;

    if (!strcmp(av[0], "domid") && ac == 1) {
        printf("ok %u\n", grant_domid(gh));
        return 0;
    }
    if (!strcmp(av[0], "usage") && ac == 1) {
        rc = grant_usage(gh, GRANT_DOMID_SELF, &u);
        if (rc < 0)
            return reply_err(rc, "grant_usage");
        printf("ok %u %u %llu\n", u.entries, u.maps,
               (unsigned long long)u.frames);
        return 0;
    }
    if (!strcmp(av[0], "evtalloc") && ac == 2) {
        rc = grant_evtchn_alloc_unbound(gh, n[1], &port);
        if (rc < 0)
            return reply_err(rc, "alloc_unbound");
        printf("ok %u\n", port);
        return 0;
    }
    if (!strcmp(av[0], "evtbind") && ac == 3) {
        rc = grant_evtchn_bind(gh, n[1], n[2], &port);
        if (rc < 0)
            return reply_err(rc, "bind");
        printf("ok %u\n", port);
        return 0;
    }
    if (!strcmp(av[0], "evtnotify") && ac == 2) {
        rc = grant_evtchn_notify(gh, n[1]);
        if (rc < 0)
            return reply_err(rc, "notify");
        printf("ok\n");
        return 0;
    }
    if (!strcmp(av[0], "evtwait") && ac == 3) {
        rc = grant_evtchn_wait(gh, n[1], (int)n[2]);
        if (rc < 0)
            return reply_err(rc, "wait");
        printf("ok %d\n", rc);
        return 0;
    }
    if (!strcmp(av[0], "help")) {
        printf("ok %s\n", HELP);
        return 0;
    }
    if (!strcmp(av[0], "exit"))
        exit(ac > 1 ? (int)n[1] : 0);
    return 1;
}

/* An argument: a number (decimal, 0x hex, 0 octal) that fits 64 bits, or
 * one of the words some commands take (rights letters, "force", "ro"). */
static int parse_arg(const char *t, uint64_t *v)
{
    char *end;

    if (!strcmp(t, "force") || !strcmp(t, "ro") ||
        (strspn(t, "rwmd-") == strlen(t) && *t)) {
        *v = 0;
        return 0;
    }
    if (*t == '-' || *t == '+')
        return -EINVAL;
    errno = 0;
    *v = strtoull(t, &end, 0);
    return errno || *end || end == t ? -EINVAL : 0;
}

/* write SLOT OFF TEXT: the rest of the line, spaces included. */
static int cmd_write(const char *line)
{
    unsigned long long id, off;
    size_t len;
    uint8_t *p;
    int pos = 0;

    if (sscanf(line, "write %llu %llu %n", &id, &off, &pos) != 2 || !pos)
        return reply_err(-EINVAL, "usage: write SLOT OFF TEXT");
    len = strcspn(line + pos, "\n");
    p = slot_at(slots, id, off, len);
    if (!p)
        return reply_err(-EINVAL, "bad slot range");
    memcpy(p, line + pos, len);
    printf("ok %zu\n", len);
    return 0;
}

static void guest_line(char *line)
{
    char *av[MAX_ARGS], *save = NULL, *t;
    uint64_t n[MAX_ARGS] = {0};
    int ac = 0;

    if (strncmp(line, "write ", 6) == 0) {
        cmd_write(line);
        fflush(stdout);
        return;
    }

    for (t = strtok_r(line, " \t\n", &save); t && ac < MAX_ARGS;
         t = strtok_r(NULL, " \t\n", &save)) {
        av[ac] = t;
        if (ac > 0 && parse_arg(t, &n[ac]) < 0) {
            printf("err -22 EINVAL not a number: '%s'\n", t);
            fflush(stdout);
            return;
        }
        ac++;
    }
    if (t) {
        printf("err -7 E2BIG more than %d words\n", MAX_ARGS);
        fflush(stdout);
        return;
    }
    if (ac == 0)
        printf("err -22 EINVAL empty\n");
    else if (cmd_slot_ops(av, n, ac) && cmd_grant_ops(av, n, ac) &&
             cmd_copy_ops(av, n, ac) && cmd_map_ops(av, n, ac) &&
             cmd_batch_ops(av, n, ac) && cmd_v1_ops(av, n, ac) &&
             cmd_misc_ops(av, n, ac))
        printf("err -22 EINVAL unknown command or arity: %s\n", av[0]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_fault};
    char line[512];
    int rc;

    if (argc > 1) {
        fprintf(stderr,
                "usage: xgrant-guest  (commands on stdin; try 'help')\n");
        return 2;
    }
    (void)argv;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    rc = grant_open(&gh, 0);
    if (rc < 0) {
        printf("err %d %s grant_open\n", rc, grant_strerror(rc));
        return 1;
    }
    while (fgets(line, sizeof(line), stdin))
        guest_line(line);
    grant_close(gh);
    return 0;
}
