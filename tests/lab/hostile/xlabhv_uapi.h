/* SPDX-License-Identifier: MIT */
/*
 * xlabhv_uapi.h: /dev/xlabhv, the lab's hostile test module (xlabhv.c):
 * what a PV guest kernel may do behind its own xgrant module's back, and
 * the owner's side of the races (issue 12: hv-patches 0008, 0013, 0021).
 *
 * mmap of /dev/xlabhv (MAP_SHARED): an empty VM_PFNMAP area whose entries
 * only XLABHV_MAP fills (Xen writes them, as for xgrant.ko's windows; a
 * munmap clears them through Linux, mmu_update).
 */
#ifndef XLABHV_UAPI_H
#define XLABHV_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* GNTX_OP_MAP of [offset 0, npages) of grant (dom, ref) into the entries
 * of the area at va, straight to Xen (one hypercall): handle and status
 * out; rc: the hypercall's result; t0 and ns: when it began and how long
 * it took (XLABHV_UNMAP of handle: rc, status, t0 and ns the same). */
struct xlabhv_map {
    __u64 va;
    __u64 npages;
    __u32 dom, ref, flags; /* flags: GNTX_MAP_* */
    __u32 handle;          /* out (XLABHV_UNMAP: in) */
    __s32 status;          /* out */
    __s32 rc;              /* out */
    __u64 ns;              /* out */
    __u64 t0;              /* out: when it began (CLOCK_MONOTONIC, ns) */
};

/* The L1 entry of va in the caller's tables: its machine address and
 * value (0, 0: no table).  XLABHV_PTE_CLEAR then clears it with one
 * mmu_update and no flush (old: the value it had). */
struct xlabhv_pte {
    __u64 va;
    __u64 maddr; /* out */
    __u64 val;   /* out */
    __s32 rc;    /* out: mmu_update's (XLABHV_PTE_CLEAR) */
    __u32 pad;
};

/*
 * The mapper's race (0008), on the guest's one vCPU, events masked
 * throughout: write word 8 of va_f (the TLB now holds the entry), clear
 * va_f's entry with one mmu_update and no flush, set word 0 of va_g to 1
 * (the owner's signal), then write word 8 of va_f again and again (even
 * values: not-present entries, should the page be a page table by now)
 * until word 1 of va_g is set, a write faults, or max_ms passed.
 */
struct xlabhv_race {
    __u64 va_f, va_g, max_ms;
    __u64 writes;  /* out: writes through va_f after the clear */
    __u64 faulted; /* out: 1 when one faulted (the entry left the TLB) */
    __u64 last;    /* out: the last value written */
    __s32 rc;      /* out: the clear's mmu_update */
    __u32 pad;
};

/* The owner (dom0): two pages of its own, F read-only in its direct map
 * (so nothing of dom0's maps it writable and it could become a page
 * table; XLABHV_GRANT_F_RW: writable, as a kernel page is) and G, granted
 * to `dom` (READ, WRITE, MAP) as one 2-page grant: ref out.
 * XLABHV_GRANT_F_HOLD: F begins with "XGL1HOLD" (the frame hv-patches
 * 0021's test knob, xgrant_test_l1_hold, waits on).  XLABHV_GRANT_G_FIRST:
 * the grant's page 0 is G, page 1 F. */
struct xlabhv_grant {
    __u32 dom;
    __u32 ref;   /* out */
    __u64 mfn_f; /* out */
    __s32 rc;    /* out: the CREATE's */
    __u32 flags; /* XLABHV_GRANT_* */
};
#define XLABHV_GRANT_F_RW    1u
#define XLABHV_GRANT_F_HOLD  2u
#define XLABHV_GRANT_G_FIRST 4u

/* The owner: GNTX_OP_PROTECT of F (one frame, action DENY) with access;
 * rc: the hypercall's, status: the element's, ns: how long it took.  With
 * `signal`, word 0 of G is set to 1 right before the hypercall (the
 * mapper's go, xlabhv_l1.va_g), and g_begun is word 2 of G right after
 * it (the mapper's "begun"). */
struct xlabhv_protect {
    __u32 access;
    __s32 rc;     /* out */
    __s32 status; /* out */
    __u32 signal;
    __u64 ns;      /* out */
    __u64 g_begun; /* out */
};

/*
 * The mapper's own L1 table (0021).  XLABHV_L1_MAP: a page of the guest's,
 * read-only in its direct map and pinned as an L1 table that is in no
 * page-table tree, gets the page at `offset` of grant (dom, ref) MAPped
 * writable into
 * its first entry (GNTX_OP_MAP takes any L1 entry of the caller's); then,
 * when `unpin`, the table is unpinned (its entries stay in memory but hold
 * no references any more).  XLABHV_L1_FREE: when va_g is set, first waits
 * (up to max_ms) for word 0 at va_g (G mapped through xlabhv: the owner's
 * go) and sets word 2 there (begun); then unpins the table if still
 * pinned, gives the page back to Xen (decrease_reservation: the guest is
 * one page smaller for good), and UNMAPs the handle.
 */
struct xlabhv_l1 {
    __u32 dom, ref;
    __u32 unpin;    /* in (L1_MAP) */
    __u32 handle;   /* out */
    __u64 maddr;    /* out: the table's machine address */
    __s32 pin_rc;   /* out: MMUEXT_PIN_L1_TABLE's */
    __s32 rc;       /* out: the MAP hypercall's */
    __s32 status;   /* out: the MAP's */
    __s32 unpin_rc; /* out: MMUEXT_UNPIN_TABLE's (0: not asked) */
    __s32 free_rc;  /* out (L1_FREE): the direct map's clear, then
                       decrease_reservation's (1: the page went) */
    __s32 unmap_rc; /* out (L1_FREE): the UNMAP's status */
    __u64 unpin_ns; /* out: how long the unpin took */
    __u64 free_ns;  /* out (L1_FREE): how long the free took */
    __u64 va_g;     /* in (L1_FREE): 0, or where G is mapped */
    __u64 max_ms;   /* in (L1_FREE) */
    __u64 wait_ns;  /* out (L1_FREE): how long it waited for the go */
    __s32 go;       /* out (L1_FREE): 1 the go came, 0 not, -errno */
    __u32 pad;
    __u64 offset; /* in (L1_MAP): the grant's page to map, in bytes */
    __u64 go_t;   /* out (L1_FREE): when the go came (CLOCK_MONOTONIC, ns) */
};

/* The owner's race: waits up to wait_ms for word 0 of G, then pins F as
 * an L1 table, reads word 8 of F, waits hold_ms, reads it again, sets
 * word 1 of G (stop) and unpins F if it was pinned. */
struct xlabhv_pin {
    __u64 wait_ms, hold_ms;
    __u64 seen;    /* out: G's signal came */
    __u64 v_pin;   /* out: F's word 8 right after the pin */
    __u64 v_after; /* out: hold_ms later */
    __s32 pin_rc;  /* out: MMUEXT_PIN_L1_TABLE's */
    __s32 unpin_rc;
};

#define XLABHV_MAGIC     'H'
#define XLABHV_MAP       _IOWR(XLABHV_MAGIC, 1, struct xlabhv_map)
#define XLABHV_UNMAP     _IOWR(XLABHV_MAGIC, 2, struct xlabhv_map)
#define XLABHV_PTE       _IOWR(XLABHV_MAGIC, 3, struct xlabhv_pte)
#define XLABHV_PTE_CLEAR _IOWR(XLABHV_MAGIC, 4, struct xlabhv_pte)
#define XLABHV_RACE      _IOWR(XLABHV_MAGIC, 5, struct xlabhv_race)
#define XLABHV_GRANT     _IOWR(XLABHV_MAGIC, 6, struct xlabhv_grant)
#define XLABHV_PIN_RACE  _IOWR(XLABHV_MAGIC, 7, struct xlabhv_pin)
#define XLABHV_UNGRANT   _IO(XLABHV_MAGIC, 8)
#define XLABHV_PROTECT   _IOWR(XLABHV_MAGIC, 9, struct xlabhv_protect)
#define XLABHV_L1_MAP    _IOWR(XLABHV_MAGIC, 10, struct xlabhv_l1)
#define XLABHV_L1_FREE   _IOWR(XLABHV_MAGIC, 11, struct xlabhv_l1)

#endif /* XLABHV_UAPI_H */
