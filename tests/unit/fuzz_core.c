/* SPDX-License-Identifier: MIT */
/*
 * fuzz_core.c: a libFuzzer target for the grant core.
 *
 * Not built by `make` (tests/module.mk picks up tests/unit/test_*.c only).
 * Build and run from the top of the tree:
 *
 *   mkdir -p build/fuzz/corpus
 *   clang -g -O1 -std=gnu11 -D_GNU_SOURCE \
 *       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -I. -Ilibgrant/include -Ilibgrant/abi -Ilibgrant/core \
 *       tests/unit/fuzz_core.c tests/unit/testhost.c libgrant/core/[a-z]*.c \
 *       -o build/fuzz/fuzz_core
 *   build/fuzz/fuzz_core -max_total_time=180 -max_len=4096 build/fuzz/corpus
 *
 * Each input is a program: a sequence of commands, each a hypercall batch
 * (op, caller, elements, aux) built from the input bytes, or a domain
 * removal / re-add.  Refs and handles the core returns go into pools the
 * next commands draw from, so batches reach deep states (delegation chains,
 * mappings, FORCE revokes, orphans) instead of bouncing off ENOENT.
 *
 * After every command it checks, and aborts on a violation:
 *   - the test host is balanced: no lock held or nested, no frame left
 *     out, no gh_frame of a frame outside a domain (testhost.c);
 *   - every domain's USAGE agrees with its QUERY_TABLE listing (entries,
 *     frames) and with the mappings the fuzzer knows are live (maps);
 *   - the `maps` counters of all direct entries add up to the live
 *     mappings (each mapping has exactly one root entry);
 *   - a failed CREATE batch changed nothing, a successful one created
 *     exactly its elements, and no ref is ever issued twice in a domain's
 *     life; a revoked ref never works again;
 *   - query output stays inside the array given (ASan: arrays are exact);
 *   - page protections (fuzz_protect.h): listings agree with the counters,
 *     and no read-only page ever changes.
 * Some commands run with one of the core's allocations failing.
 * At the end the core is destroyed and every allocation must be back.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcore.h"
#include "tests/unit/testhost.h"

#define NDOM     5u  /* domains 0..4; 5 and up do not exist */
#define MAX_BAT  6u  /* elements in one fuzzed batch */
#define MAX_AUX  24u /* aux elements */
#define POOL     64u /* remembered refs / handles */
#define MAX_CMDS 64u

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_core: %s:%d: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                    \
            abort();                                                           \
        }                                                                      \
    } while (0)

static const uint64_t dom_frames[NDOM] = {4, 8, 3, 16, 1};

/* A ref some domain's table issued: (dom, ref). */
struct gref {
    gntx_domid_t dom;
    gntx_ref_t ref;
    gntx_domid_t grantee;
    unsigned life; /* the granter's life (fuzzer's count) at issue */
    uint16_t rights;
    uint64_t length;
};

/* A live mapping the fuzzer knows of. */
struct gmap {
    gntx_domid_t mapper;
    uint32_t handle;
};

struct fz {
    const uint8_t *p;
    size_t n;
    struct gcore *c;
    struct th_dom *mem[NDOM];
    bool present[NDOM];
    unsigned life[NDOM];    /* bumped at every removal */
    struct gref refs[POOL]; /* issued, live or not: a ring */
    unsigned nrefs;
    struct gref dead[POOL]; /* successfully revoked: a ring */
    unsigned ndead;
    struct gmap maps[POOL * 4];
    unsigned nmaps;
    size_t notes_seen; /* gh_unmap_notify log entries processed */
};

/* Input bytes; 0 once the input is used up. */
static uint8_t u8(struct fz *z)
{
    if (!z->n)
        return 0;
    z->n--;
    return *z->p++;
}

static uint64_t un(struct fz *z, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | u8(z);
    return v;
}

/* Numbers worth trying: around pages, memory ends, and wrap points. */
static uint64_t num(struct fz *z)
{
    static const uint64_t special[] = {0,
                                       1,
                                       2,
                                       7,
                                       100,
                                       4095,
                                       4096,
                                       4097,
                                       8191,
                                       8192,
                                       8193,
                                       12288,
                                       16384,
                                       65536,
                                       1ull << 32,
                                       1ull << 63,
                                       UINT64_MAX,
                                       UINT64_MAX - 4095,
                                       UINT64_MAX - 1,
                                       1ull << 30};
    uint8_t sel = u8(z);

    switch (sel >> 6) {
    case 0:
        return special[sel % (sizeof(special) / sizeof(special[0]))];
    case 1:
        return un(z, 1);
    case 2:
        return un(z, 2);
    default:
        return (sel & 1) ? un(z, 8) : (uint64_t)u8(z) * GNTX_PAGE_SIZE;
    }
}

static gntx_domid_t domsel(struct fz *z)
{
    uint8_t b = u8(z);

    if (b < 240)
        return (gntx_domid_t)(b % (NDOM + 1));
    return b & 1 ? GNTX_DOMID_SELF : (gntx_domid_t)un(z, 2);
}

/* A ref from the pools (mostly) or raw. */
static struct gref refsel(struct fz *z)
{
    uint8_t b = u8(z);

    if (b < 200 && z->nrefs)
        return z->refs[b % (z->nrefs < POOL ? z->nrefs : POOL)];
    if (b < 220 && z->ndead)
        return z->dead[b % (z->ndead < POOL ? z->ndead : POOL)];
    return (struct gref){domsel(z), (gntx_ref_t)un(z, 4), domsel(z),
                         0,         GNTX_R_ALL,           num(z)};
}

static unsigned life_of(const struct fz *z, gntx_domid_t dom)
{
    return dom < NDOM ? z->life[dom] : 0;
}

static void ref_add(struct fz *z, struct gref *ring, unsigned *n,
                    gntx_domid_t dom, gntx_ref_t ref,
                    const struct gntx_create *v)
{
    gntx_domid_t grantee = v && v->grantee == GNTX_DOMID_SELF ? dom
                           : v                                ? v->grantee
                                                              : 0;

    ring[*n % POOL] = (struct gref){dom,
                                    ref,
                                    grantee,
                                    life_of(z, dom),
                                    v ? v->rights : 0,
                                    v ? v->length : 0};
    (*n)++;
}

/* (dom, ref) is in the ring and was issued in dom's current life. */
static bool ref_in(const struct fz *z, const struct gref *ring, unsigned n,
                   gntx_domid_t dom, gntx_ref_t ref)
{
    for (unsigned i = 0; i < n && i < POOL; i++)
        if (ring[i].dom == dom && ring[i].ref == ref &&
            ring[i].life == life_of(z, dom))
            return true;
    return false;
}

static void map_forget(struct fz *z, gntx_domid_t mapper, uint32_t handle)
{
    for (unsigned i = 0; i < z->nmaps; i++) {
        if (z->maps[i].mapper == mapper && z->maps[i].handle == handle) {
            z->maps[i] = z->maps[--z->nmaps];
            return;
        }
    }
}

/* Mappings the host was told to tear down are gone from the model. */
static void notes_apply(struct fz *z)
{
    for (; z->notes_seen < th_notify_count(); z->notes_seen++) {
        const struct th_notify *t = th_notify_at(z->notes_seen);

        for (gntx_domid_t d = 0; d < NDOM; d++)
            if (t->mapper_cookie == z->mem[d])
                map_forget(z, d, t->handle);
    }
}

/* One domain's USAGE against its own QUERY_TABLE and the model. */
static void check_dom(struct fz *z, gntx_domid_t d, uint64_t *root_maps)
{
    struct gntx_usage u = {.dom = d};
    struct gntx_entry_info out[8];
    struct gntx_query q = {.dom = d};
    uint64_t entries = 0, frames = 0, maps = 0;
    int rc;

    CHECK(gcore_usage(z->c, d, &u) == 0);
    do {
        rc = gcore_query_table(z->c, d, &q, out, 8);
        CHECK(rc >= 0 && rc <= 8 && q.count == (uint32_t)rc);
        for (int i = 0; i < rc; i++) {
            CHECK(out[i].dom == d && out[i].ref != GNTX_REF_INVALID);
            entries++;
            if (out[i].type == GNTX_CREATE_DIRECT) {
                frames += out[i].nr_frames;
                *root_maps += out[i].maps;
            }
        }
    } while (q.cursor);
    for (unsigned i = 0; i < z->nmaps; i++)
        maps += z->maps[i].mapper == d;
    CHECK(entries == u.entries);
    CHECK(frames == u.frames);
    CHECK(maps == u.maps);
    CHECK(u.mem_frames == dom_frames[d]);
}

static void check_all(struct fz *z)
{
    uint64_t root_maps = 0;

    CHECK(th_balanced());
    notes_apply(z);
    for (gntx_domid_t d = 0; d < NDOM; d++) {
        CHECK(gcore_dom_exists(z->c, d) == z->present[d]);
        if (z->present[d])
            check_dom(z, d, &root_maps);
    }
    /* Every mapping is counted once, on its chain's direct entry. */
    CHECK(root_maps == z->nmaps);
    CHECK(th_balanced());
}

static struct gntx_usage usage_of(struct fz *z, gntx_domid_t d)
{
    struct gntx_usage u = {.dom = d};

    if (d < NDOM && z->present[d])
        CHECK(gcore_usage(z->c, d, &u) == 0);
    return u;
}

static long hcall(struct fz *z, gntx_domid_t caller, unsigned op, void *args,
                  unsigned count, void *aux, uint64_t aux_count)
{
    long rc = gcore_hypercall(z->c, caller, op, args, count, aux, aux_count);

    CHECK(th_balanced());
    return rc;
}

/* A delegation that should work: inside the parent, rights a subset. */
#include "tests/unit/fuzz_protect.h"

static void create_good_indirect(struct fz *z, struct gntx_create *v,
                                 const struct gref *p)
{
    uint64_t plen = p->length ? p->length : 1;

    v->type = GNTX_CREATE_INDIRECT;
    v->rights = (uint16_t)(p->rights & (u8(z) | GNTX_R_DELEGATE));
    v->offset = un(z, 2) % plen;
    v->length = 1 + un(z, 2) % (plen - v->offset);
    if (u8(z) & 1) { /* whole pages, for MAP */
        v->offset &= ~(uint64_t)(GNTX_PAGE_SIZE - 1);
        v->length = plen - v->offset;
    }
}

/* A direct grant that should work (offset 0 and whole pages: mappable). */
static void create_good_direct(struct fz *z, struct gntx_create *v,
                               unsigned nr_aux)
{
    uint8_t b = u8(z);

    v->type = GNTX_CREATE_DIRECT;
    v->rights = (uint16_t)(u8(z) | (b & 0x10 ? GNTX_R_ALL : 0)) & GNTX_R_ALL;
    v->offset = b & 1 ? 0 : u8(z) * 16u;
    v->length = b & 2 ? (1u + b % 3) * GNTX_PAGE_SIZE : 1 + un(z, 2) % 9000;
    v->nr_frames = (uint32_t)((v->offset + v->length + GNTX_PAGE_SIZE - 1) /
                              GNTX_PAGE_SIZE);
    v->frame_idx =
        nr_aux > v->nr_frames ? u8(z) % (nr_aux - v->nr_frames + 1) : 0;
}

/* Fills one create element: mostly well formed, sometimes not. */
static void create_fill(struct fz *z, struct gntx_create *v, unsigned nr_aux,
                        struct gref *p)
{
    uint8_t mode = u8(z), t = u8(z);
    uint64_t end;

    v->type = t < 250 ? (t & 1) : t;
    v->grantee = domsel(z);
    v->rights = (uint16_t)(u8(z) & 0x1f);
    *p = refsel(z);
    v->parent_dom = p->dom;
    v->parent_ref = p->ref;
    v->offset = num(z);
    v->length = num(z);
    v->status = 0x7777;
    if ((mode & 6) == 2)
        return create_good_indirect(z, v, p);
    if ((mode & 6) == 4)
        return create_good_direct(z, v, nr_aux);
    if (mode & 1) {
        v->offset &= GNTX_PAGE_SIZE - 1;
        v->length = v->length % (8 * GNTX_PAGE_SIZE) + (mode >> 7);
        end = v->offset + v->length;
        v->nr_frames = (uint32_t)((end + GNTX_PAGE_SIZE - 1) / GNTX_PAGE_SIZE);
        v->frame_idx = u8(z) % (nr_aux + 1u);
    } else {
        v->nr_frames = (uint32_t)un(z, 2);
        v->frame_idx = num(z);
    }
}

static void create_checks(struct fz *z, gntx_domid_t caller, long rc,
                          struct gntx_create *v, unsigned n,
                          const struct gntx_usage *before)
{
    struct gntx_usage after = usage_of(z, caller);
    unsigned bad = 0, cancelled = 0, untouched = 0;

    if (rc == 0) {
        CHECK(after.entries == before->entries + n);
        for (unsigned i = 0; i < n; i++) {
            CHECK(v[i].status == 0 && v[i].ref != GNTX_REF_INVALID);
            CHECK(!ref_in(z, z->refs, z->nrefs, caller, v[i].ref));
            ref_add(z, z->refs, &z->nrefs, caller, v[i].ref, &v[i]);
        }
        return;
    }
    CHECK(rc < 0);
    CHECK(after.entries == before->entries && after.frames == before->frames);
    for (unsigned i = 0; i < n; i++) {
        untouched += v[i].status == 0x7777;
        cancelled += v[i].status == -GNTX_ECANCELED;
        bad += v[i].status == rc;
        CHECK(v[i].status == 0x7777 || v[i].ref == GNTX_REF_INVALID);
    }
    /* A call-wide error touches nothing; else one failed, the rest cancelled.
     */
    CHECK(untouched == n ||
          (bad >= 1 && bad + cancelled == n && (rc != -GNTX_ECANCELED)));
}

static void cmd_create(struct fz *z, gntx_domid_t caller)
{
    struct gntx_create v[MAX_BAT];
    struct gref p;
    uint64_t aux[MAX_AUX];
    unsigned n = 1 + u8(z) % MAX_BAT, nr_aux = u8(z) % (MAX_AUX + 1);
    bool as_grantee = u8(z) & 1;
    struct gntx_usage before;
    long rc;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < nr_aux; i++)
        aux[i] = u8(z) % 20;
    for (unsigned i = 0; i < n; i++) {
        create_fill(z, &v[i], nr_aux, &p);
        /* Delegating: mostly as the parent's grantee. */
        if (i == 0 && as_grantee && v[0].type == GNTX_CREATE_INDIRECT)
            caller = p.grantee;
    }
    before = usage_of(z, caller);
    rc = hcall(z, caller, GNTX_OP_CREATE, v, n, nr_aux ? aux : NULL, nr_aux);
    create_checks(z, caller, rc, v, n, &before);
}

static void cmd_revoke(struct fz *z, gntx_domid_t caller)
{
    struct gntx_revoke v[MAX_BAT];
    unsigned n = 1 + u8(z) % MAX_BAT;
    long rc;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < n; i++) {
        struct gref g = refsel(z);

        if (i == 0 && (u8(z) & 3))
            caller = g.dom; /* mostly the granter revokes */
        v[i].ref = g.ref;
        v[i].flags = u8(z) % 5 == 0 ? 2 : (u8(z) & 1);
        v[i].status = 0x7777;
    }
    rc = hcall(z, caller, GNTX_OP_REVOKE, v, n, NULL, 0);
    if (rc < 0)
        return;
    for (unsigned i = 0; i < n; i++) {
        CHECK(v[i].status <= 0);
        if (v[i].status == 0)
            ref_add(z, z->dead, &z->ndead, caller, v[i].ref, NULL);
        rc -= v[i].status == 0;
    }
    CHECK(rc == 0);
}

/* A copy/memset end; *g gets the grant it names (dom INVALID: none). */
static struct gntx_ptr ptr_fill(struct fz *z, struct gref *g)
{
    uint8_t k = u8(z);
    struct gntx_ptr p = {.kind = k < 250 ? (k & 1) : k, .addr = num(z)};

    g->dom = GNTX_DOMID_INVALID;
    if (p.kind == GNTX_PTR_GRANT) {
        *g = refsel(z);
        p.dom = g->dom;
        p.ref = g->ref;
    }
    return p;
}

/* A successful use of (dom, ref) by caller: it must not be revoked. */
static void use_ok(struct fz *z, gntx_domid_t caller, struct gref g)
{
    gntx_domid_t dom = g.dom == GNTX_DOMID_SELF ? caller : g.dom;

    if (g.dom == GNTX_DOMID_INVALID)
        return;
    CHECK(dom < NDOM && z->present[dom]);
    CHECK(!ref_in(z, z->dead, z->ndead, dom, g.ref));
}

static void cmd_copy(struct fz *z, gntx_domid_t caller)
{
    struct gntx_copy v[MAX_BAT];
    struct gref gs[MAX_BAT], gd[MAX_BAT];
    unsigned n = 1 + u8(z) % MAX_BAT;
    bool as_grantee = u8(z) & 1;
    long rc;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < n; i++) {
        v[i].src = ptr_fill(z, &gs[i]);
        v[i].dst = ptr_fill(z, &gd[i]);
        v[i].len = num(z);
        v[i].status = 0x7777;
        if (i == 0 && as_grantee && gs[0].dom != GNTX_DOMID_INVALID)
            caller = gs[0].grantee;
    }
    rc = hcall(z, caller, GNTX_OP_COPY, v, n, NULL, 0);
    for (unsigned i = 0; rc >= 0 && i < n; i++) {
        CHECK(v[i].status <= 0);
        if (v[i].status == 0 && v[i].len) {
            use_ok(z, caller, gs[i]);
            use_ok(z, caller, gd[i]);
        }
    }
}

/* GNTX_OP_IO's host side: a 64 KiB file in memory that sometimes fails,
 * comes up short, says its time is up, or lies about what it moved. */
static struct {
    uint8_t data[1u << 16];
    uint8_t mode;
} fzfile;

static long fz_io_fn(void *ctx, uint32_t file, unsigned dir, uint64_t off,
                     const struct gcore_iov *iov, unsigned n)
{
    uint64_t moved = 0;

    (void)ctx;
    CHECK(th_lock_depth() == 1);
    if (file > 3)
        return -GNTX_EBADF;
    if (!iov)
        return fzfile.mode % 9 == 0 ? -GNTX_EINVAL : 0;
    CHECK(n >= 1 && n <= GCORE_IO_IOV);
    if (fzfile.mode % 7 == 1)
        return -GNTX_EAGAIN;
    for (unsigned i = 0; i < n; i++) {
        uint64_t k = iov[i].len;

        CHECK(iov[i].base && k && k <= (uint64_t)GCORE_IO_IOV * 4096);
        if (off >= sizeof(fzfile.data) - moved)
            break; /* the end of the file */
        if (k > sizeof(fzfile.data) - off - moved)
            k = sizeof(fzfile.data) - off - moved;
        if (dir == GNTX_IO_READ)
            memcpy(iov[i].base, fzfile.data + off + moved, k);
        else
            memcpy(fzfile.data + off + moved, iov[i].base, k);
        moved += k;
        if (k < iov[i].len)
            break;
    }
    return (long)moved + (fzfile.mode % 11 == 3);
}

/* gcore_io_batch's host side: the wave's pieces through fz_io_fn, last
 * first (a linked piece after one that came up short skipped), or the
 * whole wave refused (time up, or a failing ring). */
static int fz_io_submit(void *ctx, struct gcore_io_piece *p, unsigned n)
{
    CHECK(n >= 1 && n <= GCORE_IO_WAVE);
    if (fzfile.mode % 13 == 5)
        return -GNTX_EAGAIN;
    if (fzfile.mode % 13 == 6)
        return -5 /* EIO */;
    for (unsigned i = n; i-- > 0;)
        p[i].res = fz_io_fn(ctx, p[i].file, p[i].dir, p[i].file_off, p[i].iov,
                            p[i].niov);
    for (unsigned i = 1; i < n; i++)
        if (p[i].link && p[i - 1].res < 0)
            p[i].res = -GNTX_ECANCELED;
    return 0;
}

static void cmd_io(struct fz *z, gntx_domid_t caller)
{
    struct gntx_io v[MAX_BAT];
    struct gref g[MAX_BAT];
    uint64_t len[MAX_BAT];
    unsigned n = 1 + u8(z) % MAX_BAT;
    bool as_grantee = u8(z) & 1;
    long rc;

    memset(v, 0, sizeof(v));
    fzfile.mode = u8(z);
    for (unsigned i = 0; i < n; i++) {
        struct gntx_ptr p = ptr_fill(z, &g[i]);

        v[i] = (struct gntx_io){.dom = p.dom,
                                .dir = u8(z) % 3,
                                .ref = p.ref,
                                .offset = p.addr,
                                .len = num(z),
                                .file_off = num(z),
                                .file = u8(z) % 5,
                                .status = 0x7777};
        len[i] = v[i].len;
        if (i == 0 && as_grantee && g[0].dom != GNTX_DOMID_INVALID)
            caller = g[0].grantee;
    }
    rc = fzfile.mode & 0x80
             ? gcore_io_batch(z->c, caller, v, n, fz_io_fn, fz_io_submit, NULL)
             : gcore_io(z->c, caller, v, n, fz_io_fn, NULL);
    CHECK(th_balanced());
    for (unsigned i = 0; rc >= 0 && i < n; i++) {
        CHECK(v[i].status <= 0);
        CHECK(v[i].done <= len[i] && v[i].len == len[i] - v[i].done);
        if (v[i].done)
            use_ok(z, caller, g[i]);
    }
}

static void cmd_memset(struct fz *z, gntx_domid_t caller)
{
    struct gntx_memset v[MAX_BAT];
    struct gref g[MAX_BAT];
    unsigned n = 1 + u8(z) % MAX_BAT;
    bool as_grantee = u8(z) & 1;
    long rc;

    memset(v, 0, sizeof(v));
    for (unsigned i = 0; i < n; i++) {
        v[i].dst = ptr_fill(z, &g[i]);
        v[i].len = num(z);
        v[i].value = u8(z);
        v[i].status = 0x7777;
        if (i == 0 && as_grantee && g[0].dom != GNTX_DOMID_INVALID)
            caller = g[0].grantee;
    }
    rc = hcall(z, caller, GNTX_OP_MEMSET, v, n, NULL, 0);
    for (unsigned i = 0; rc >= 0 && i < n; i++)
        if (v[i].status == 0 && v[i].len)
            use_ok(z, caller, g[i]);
}

static void map_fill(struct fz *z, struct gntx_map *v, struct gref *g,
                     unsigned nr_aux)
{
    uint8_t mode = u8(z);

    *g = refsel(z);
    v->dom = g->dom;
    v->ref = g->ref;
    v->flags = (uint16_t)(u8(z) % 5 == 0 ? 2 : (mode >> 1 & 1));
    v->offset = num(z);
    v->length = num(z);
    v->frame_idx = u8(z) % (nr_aux + 1u);
    v->status = 0x7777;
    if (mode & 1) { /* whole pages inside the grant, as far as known */
        uint64_t pages = g->length / GNTX_PAGE_SIZE, first;

        pages = pages ? pages : 1 + u8(z) % 4;
        first = un(z, 1) % pages;
        v->offset = first * GNTX_PAGE_SIZE;
        v->length = (1 + un(z, 1) % (pages - first)) * GNTX_PAGE_SIZE;
    }
}

/* Does a later successful element of the call write aux over v[i]'s
 * frames?  Each element writes its own slots in order, so the last writer
 * of a slot is the one whose frames it holds (xgrantd's MAP allows slots
 * to overlap; Xen's dispatch refuses it). */
static bool aux_overwritten(const struct gntx_map *v, unsigned n, unsigned i)
{
    uint64_t a = v[i].frame_idx, b = a + v[i].length / GNTX_PAGE_SIZE;

    for (unsigned j = i + 1; j < n; j++) {
        uint64_t c = v[j].frame_idx, d = c + v[j].length / GNTX_PAGE_SIZE;

        if (v[j].status == 0 && c < b && a < d)
            return true;
    }
    return false;
}

/* A successful mapping: new handle, live grant, frames of the root (when
 * no later element of the call wrote over them). */
static void map_ok(struct fz *z, gntx_domid_t caller, const struct gntx_map *v,
                   struct gref g, const uint64_t *aux, bool frames_kept)
{
    use_ok(z, caller, g);
    CHECK(v->handle != 0 && v->root_dom < NDOM && z->present[v->root_dom]);
    for (unsigned j = 0; j < z->nmaps; j++)
        CHECK(z->maps[j].mapper != caller || z->maps[j].handle != v->handle);
    for (uint64_t p = 0; frames_kept && p < v->length / GNTX_PAGE_SIZE; p++)
        CHECK(aux[v->frame_idx + p] < dom_frames[v->root_dom]);
    CHECK(z->nmaps < sizeof(z->maps) / sizeof(z->maps[0]));
    z->maps[z->nmaps++] = (struct gmap){caller, v->handle};
}

static void cmd_map(struct fz *z, gntx_domid_t caller)
{
    struct gntx_map v[MAX_BAT];
    struct gref g[MAX_BAT];
    uint64_t aux[MAX_AUX];
    unsigned n = 1 + u8(z) % MAX_BAT, nr_aux = u8(z) % (MAX_AUX + 1);
    bool as_grantee = u8(z) & 1;
    long rc;

    memset(v, 0, sizeof(v));
    memset(aux, 0, sizeof(aux));
    for (unsigned i = 0; i < n; i++)
        map_fill(z, &v[i], &g[i], nr_aux);
    if (as_grantee)
        caller = g[0].grantee;
    if (z->nmaps + n > sizeof(z->maps) / sizeof(z->maps[0]))
        return;
    rc = hcall(z, caller, GNTX_OP_MAP, v, n, nr_aux ? aux : NULL, nr_aux);
    for (unsigned i = 0; rc >= 0 && i < n; i++) {
        CHECK(v[i].status <= 0);
        if (v[i].status == 0)
            map_ok(z, caller, &v[i], g[i], aux, !aux_overwritten(v, n, i));
    }
}

static void cmd_unmap(struct fz *z, gntx_domid_t caller)
{
    struct gntx_unmap v[MAX_BAT];
    unsigned n = 1 + u8(z) % MAX_BAT;
    long rc;

    for (unsigned i = 0; i < n; i++) {
        uint8_t b = u8(z);

        v[i].status = 0x7777;
        v[i].handle = (uint32_t)un(z, 4);
        if (b < 200 && z->nmaps) {
            v[i].handle = z->maps[b % z->nmaps].handle;
            if (i == 0 && (b & 1))
                caller = z->maps[b % z->nmaps].mapper;
        }
    }
    rc = hcall(z, caller, GNTX_OP_UNMAP, v, n, NULL, 0);
    for (unsigned i = 0; rc >= 0 && i < n; i++) {
        if (v[i].status)
            continue;
        /* Only a mapping the model knows is live may be unmapped. */
        unsigned before = z->nmaps;

        map_forget(z, caller, v[i].handle);
        CHECK(z->nmaps == before - 1);
    }
}

static void cmd_query(struct fz *z, gntx_domid_t caller, bool tree)
{
    unsigned cap = u8(z) % 10;
    struct gntx_entry_info *out = cap ? malloc(cap * sizeof(*out)) : NULL;
    struct gref g = refsel(z);
    struct gntx_query q = {.dom = g.dom, .ref = g.ref};
    long rc;

    CHECK(!cap || out);
    q.cursor = u8(z) & 1 ? (uint32_t)un(z, 4) : u8(z) % 70;
    rc = hcall(z, caller, tree ? GNTX_OP_QUERY_TREE : GNTX_OP_QUERY_TABLE, &q,
               1, out, cap);
    if (rc >= 0)
        CHECK((uint64_t)rc <= cap && q.count == (uint32_t)rc);
    free(out);
}

static void cmd_quota(struct fz *z, gntx_domid_t caller)
{
    struct gntx_usage u = {.dom = domsel(z)};
    uint8_t b = u8(z);

    if (b & 1)
        caller = GNTX_DOMID_CONTROL;
    u.max_entries = b & 2 ? u8(z) % 16 : (uint32_t)un(z, 4);
    u.max_maps = b & 4 ? u8(z) % 8 : (uint32_t)un(z, 4);
    u.max_frames = b & 8 ? u8(z) % 32 : num(z);
    hcall(z, caller, b & 16 ? GNTX_OP_USAGE : GNTX_OP_SET_QUOTA, &u, 1, NULL,
          0);
}

static void cmd_dom(struct fz *z)
{
    gntx_domid_t d = u8(z) % NDOM;

    if (z->present[d]) {
        gcore_dom_remove(z->c, d);
        z->present[d] = false;
        z->life[d]++;
        CHECK(th_balanced());
        notes_apply(z);
        for (unsigned i = 0; i < z->nmaps; i++)
            CHECK(z->maps[i].mapper != d);
        return;
    }
    CHECK(gcore_dom_add(z->c, d, dom_frames[d], z->mem[d]) == 0);
    z->present[d] = true;
}

/* Any op, raw bytes; MAP and UNMAP are left out (the model tracks them). */
static void cmd_raw(struct fz *z, gntx_domid_t caller)
{
    static const unsigned ops[] = {0,  1,  2,  3,  4,  5,  8,  9,
                                   10, 11, 12, 13, 14, 15, 16, 4097};
    uint64_t args[MAX_BAT * 6], aux[MAX_AUX * 7];
    unsigned op = ops[u8(z) % (sizeof(ops) / sizeof(ops[0]))];
    unsigned count = u8(z) % (MAX_BAT + 1), nr_aux = u8(z) % (MAX_AUX + 1);

    for (unsigned i = 0; i < count * 6; i++)
        args[i] = num(z);
    memset(aux, 0, sizeof(aux));
    for (unsigned i = 0; i < nr_aux; i++)
        aux[i] = u8(z) % 20;
    /* Entry infos are 7 words; frames 1. */
    if (op == GNTX_OP_QUERY_TABLE || op == GNTX_OP_QUERY_TREE)
        nr_aux = nr_aux * 8 / 56;
    if (op == GNTX_OP_PROTECT_QUERY) /* ranges are 4 words */
        nr_aux = nr_aux * 8 / 32;
    hcall(z, caller, op, count ? args : NULL, count, nr_aux ? aux : NULL,
          nr_aux);
}

static void run_cmd(struct fz *z)
{
    uint8_t cmd = u8(z);
    gntx_domid_t caller = domsel(z);

    /* Sometimes one of the core's allocations fails (not a domain add). */
    if ((cmd & 0xe0) == 0xe0 && cmd % 15 != 10)
        th_fail_alloc_after(u8(z) % 3);
    prot_snap(z);
    switch (cmd % 15) {
    case 0:
    case 1:
        cmd_create(z, caller);
        break;
    case 2:
        cmd_revoke(z, caller);
        break;
    case 3:
        cmd_copy(z, caller);
        break;
    case 4:
        cmd_memset(z, caller);
        break;
    case 5:
    case 6:
        cmd_map(z, caller);
        break;
    case 7:
        cmd_unmap(z, caller);
        break;
    case 8:
        cmd_query(z, caller, cmd & 16);
        break;
    case 9:
        cmd_quota(z, caller);
        break;
    case 10:
        cmd_dom(z);
        break;
    case 11:
        cmd_protect(z, caller);
        break;
    case 12:
        cmd_fault(z, caller);
        break;
    case 13:
        cmd_io(z, caller);
        break;
    default:
        cmd_raw(z, caller);
        break;
    }
    th_fail_alloc_after(-1);
    prot_verify(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct th_dom *mem[NDOM];
    struct fz z;

    memset(&z, 0, sizeof(z));
    z.p = data;
    z.n = size;
    th_reset();
    CHECK(gcore_create(&z.c) == 0);
    for (gntx_domid_t d = 0; d < NDOM; d++) {
        if (!mem[d])
            mem[d] = th_dom_new(dom_frames[d]);
        CHECK(mem[d]);
        z.mem[d] = mem[d];
        CHECK(gcore_dom_add(z.c, d, dom_frames[d], mem[d]) == 0);
        z.present[d] = true;
    }
    for (unsigned i = 0; i < MAX_CMDS && z.n; i++) {
        run_cmd(&z);
        check_all(&z);
    }
    gcore_destroy(z.c);
    CHECK(th_balanced());
    CHECK(th_allocs_live() == 0);
    return 0;
}
