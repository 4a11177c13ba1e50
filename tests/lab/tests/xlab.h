/* SPDX-License-Identifier: MIT */
/*
 * xlab.h: the lab's test program (one static binary, run in dom0 and in the
 * PV guest).  Every case prints one line the host counts:
 *   XLAB <where> PASS|FAIL|NOTRUN <case>: <detail>
 */
#ifndef XLAB_H
#define XLAB_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "grant_abi.h"
#include "libgrant.h"

/* The window dom0 grants the guest: it spans four pages. */
#define XLAB_GRANT_OFF 100u
#define XLAB_GRANT_LEN (3u * 4096u + 50u)
/* The window the guest delegates back to dom0 (inside the grant). */
#define XLAB_DELEG_OFF 4000u
#define XLAB_DELEG_LEN 300u
/* Where the guest writes its marker through the grant. */
#define XLAB_MARK_OFF    8190u
#define XLAB_MARK        "written-by-the-guest"
#define XLAB_WAIT_S      300
#define XLAB_BENCH_ITER  400
#define XLAB_BENCH_BLOCK 40 /* copies each way per alternating block */
/* Rounds of map+touch+unmap each way in the map comparison. */
#define XLAB_MAP_BENCH_ITER  200
#define XLAB_MAP_BENCH_BLOCK 20 /* alternating blocks of this many */

/* xlab.c */
void xlab_kernel_clean(void); /* case kernel_log_clean */
/* /dev/xgrant straight (around libgrant), with `pages` of grant memory set
 * up (and mapped at *mem if mem is set): the fd, or -errno. */
int xlab_dev_open(unsigned pages, uint8_t **mem);
extern const char *xlab_where;
/* Prints the case line; returns pass (1) or 0, and counts failures. */
int xlab_report(const char *name, int pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void xlab_notrun(const char *name, const char *why);
/* A case this hypervisor cannot run (XLAB <where> SKIP name: why). */
void xlab_skip(const char *name, const char *why);
/* The hypervisor booted: "patched" or "stock" (dom0: $XLAB_XEN, from the
 * kernel command line; the guest: dom0's word under "xen"). */
extern const char *xlab_xen;
/* Case "features": grant_features fits the hypervisor (and the devices
 * the domain has); on a stock one, case "ext_absent" too.  Returns 1 when
 * the extension is there. */
int xlab_features(grant_handle_t *h);
uint8_t xlab_pattern(uint64_t i);
/* CPU accesses that may fault (SIGSEGV/SIGBUS caught): 1 if the access
 * went through, 0 if it faulted.  _write stores v at p; _read copies len
 * bytes from p to out. */
int xlab_try_write(volatile uint8_t *p, uint8_t v);
int xlab_try_read(const volatile uint8_t *p, uint8_t *out, size_t len);

/* xlab_xs.c: the xenstore handshake under /local/domain/<guest>/data/xlab */
int xlab_xs_open(unsigned guest, int make_dir);
/* dom0: the folder of another guest from now on (made and given to it
 * when make_dir); the connection stays. */
int xlab_xs_folder(unsigned guest, int make_dir);
int xlab_xs_write(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Waits up to XLAB_WAIT_S for key; 0 and its value, or -ETIMEDOUT.
 * _u32: a value "ERR<n>" (the peer failed) comes back as n (-errno). */
int xlab_xs_wait(const char *key, char *buf, unsigned len);
/* The same, waiting up to `seconds`. */
int xlab_xs_wait_s(const char *key, char *buf, unsigned len, unsigned seconds);
/* Without waiting: 0 and its value, or -ENOENT. */
int xlab_xs_read(const char *key, char *buf, unsigned len);
int xlab_xs_wait_u32(const char *key, uint32_t *v);
void xlab_xs_close(void);
/* `xlab xs get|put ...`: the shell scripts' xenstore access in the guest. */
int xlab_xs_main(int argc, char **argv);

/* xlab_cases.c: cases one domain runs alone (grantee: the peer). */
void xlab_local_cases(grant_handle_t *h, grant_domid_t peer);

/* xlab_dom0.c / xlab_guest.c: the two sides of the cross-domain cases. */
int xlab_dom0(grant_handle_t *h, unsigned guest);
int xlab_guest(grant_handle_t *h);
/* dom0: prints the guest's case lines it left under key, for the host. */
void xlab_guest_results(const char *key);

/* xlab_map.c: zero-copy mapping (dom0 grants, the guest maps), both sides;
 * the guest's lines go to "mapresults", which xlab_map_dom0 prints. */
void xlab_map_dom0(grant_handle_t *h, unsigned guest);
void xlab_map_guest(grant_handle_t *h);

/* xlab_prot.c: page protection, both sides. */
void xlab_prot_guest(grant_handle_t *h);
void xlab_prot_dom0(grant_handle_t *h, unsigned guest);
/* xlab_evtchn.c: a port dom0 allocates and the guest binds, signals both
 * ways; the guest's lines go to "evresults". */
void xlab_evtchn_dom0(grant_handle_t *h, unsigned guest);
void xlab_evtchn_guest(grant_handle_t *h);

/* xlab_std.c: Xen's standard grants through libgrant (grant_v1_*), both
 * sides; the guest's lines go to "v1results", which xlab_std_dom0 prints. */
void xlab_std_dom0(grant_handle_t *h, unsigned guest);
void xlab_std_guest(grant_handle_t *h);

/* xlab_harden.c (issue 12): dom0 tries to pin the guest's scratch page as
 * a page table after the map cases (scratch_no_retype); the guest, made a
 * v1 backend, writes dom0's KILL page and must live (kill_spares_backend:
 * last, after benchdone). */
void xlab_scratch_dom0(unsigned guest);
/* dom0: Xen's 'q' dump (xl debug-keys q, then xl dmesg) to read, for
 * pclose; NULL and errno on failure. */
FILE *xlab_q_dump(void);
void xlab_kill_dom0(grant_handle_t *h, unsigned guest);
void xlab_kill_guest(grant_handle_t *h);
/* xlab_freed.c (issue 12): a closed handle's grants are revoked before its
 * pages are freed (freed_grant_live, freed_grant_revoked). */
void xlab_freed_dom0(grant_handle_t *h, unsigned guest);
void xlab_freed_guest(void);
/* xlab_fuzz.c: the guest fuzzes the extension (two threads, random ops)
 * while dom0 revokes and protects; dom0 checks Xen's log and the
 * guest's teardown (last, after the kill case). */
void xlab_fuzz_guest(grant_handle_t *h);
void xlab_fuzz_dom0(grant_handle_t *h, unsigned guest);
/* xlab_lock.c (issue 12, Locking): a bystander's 4 KiB copy times while
 * the guest copies, protects or churns grants, dom0's third party
 * protecting and revoking meanwhile (last, after the fuzz). */
void xlab_lock_guest(void);
void xlab_lock_dom0(grant_handle_t *h, unsigned guest);
/* The hostile guest's loads (written by dom0 into the guest's control
 * page; xlab_multi.c runs them too): XLAB_LOAD_FORCE only there. */
enum {
    XLAB_LOAD_NONE,
    XLAB_LOAD_COPY,    /* 4 MiB COPY per call from dom0's grant */
    XLAB_LOAD_PROTECT, /* PROTECT R and back of 4 MiB of its own */
    XLAB_LOAD_CHURN,   /* 16 one-page creates and revokes at a time */
    XLAB_LOAD_FORCE,   /* FORCE revokes of 1 MiB grants dom0 has mapped */
    XLAB_LOAD_STOP
};
#define XLAB_LOCK_BIG (4u << 20)
extern const char *const xlab_load_name[XLAB_LOAD_STOP];
struct xlab_load_counts {
    unsigned long ops, bad, errs;
    int last_err;
};
/* One round of load (not FORCE) on buf (XLAB_LOCK_BIG of h's memory);
 * big: dom0's XLAB_LOCK_BIG grant to this domain. */
void xlab_lock_load(grant_handle_t *h, int load, grant_ref_t big, uint8_t *buf,
                    struct xlab_load_counts *c);
/* grant_open with XGRANT_XEN_PAGES=pages of grant memory; 0 or -errno. */
int xlab_open_pages(grant_handle_t **out, const char *pages);
int xlab_cmp_double(const void *a, const void *b); /* qsort, ascending */
/* xlab_multi.c (issue 12, Locking, with three guests): two extra guests
 * (xlab-m2, xlab-m3: `xlab multi`, dom0-init.sh starts them) copy from
 * each other while this guest protects; then xlab-m2's 4 KiB copy times
 * while this guest runs each load and xlab-m3 fuzzes (xlab_fuzz.c), and
 * xlab-m2's copy ratio against GNTTABOP_copy; xlab-m3's teardown (last). */
void xlab_multi_dom0(grant_handle_t *h, unsigned guest);
void xlab_multi_guest(grant_handle_t *h);
int xlab_multi_extra(grant_handle_t *h);
/* xlab_dirty.c (issue 12 finding 7): the extension's writes into the
 * guest's pages (a COPY, a writable map) set their bits in its log-dirty
 * bitmap (dirty_copy, dirty_map; last, after the lock cases). */
void xlab_dirty_guest(grant_handle_t *h);
void xlab_dirty_dom0(grant_handle_t *h, unsigned guest);
/* xlab_offsets.c (issue 12 item 7): the guest's own protection query and
 * fault record name offsets in its grant memory (prot_query_offset,
 * fault_record_offset; last). */
void xlab_offsets_guest(void);
void xlab_offsets_dom0(grant_handle_t *h, unsigned guest);
/* xlab_settle.c (issue 12 finding 6): a FORCE revoke of a page the guest
 * mapped N times grows ~N, not ~N^2 (XLAB-SETTLE, settle_linear; last). */
void xlab_settle_guest(grant_handle_t *h);
void xlab_settle_dom0(unsigned guest);
/* xlab_hvmap.c (issue 12, hv-patches 0008, 0013, 0018, 0019): a hostile guest
 * kernel (tests/lab/hostile, xlabhv.ko) clears a writable xgrant entry
 * itself while dom0 pins the frame as an L1 table (refs_until_flush), and
 * re-uses a slot another record claims (slot_reuse); dom0 maps a 256 MiB
 * window, then makes MAP and UNMAP hypercalls of it while its other vCPU on
 * the same CPU notes when it was kept off (map_big*, unmap_big_preempted;
 * last, or alone with LAB_ONLY=hvmap). */
void xlab_hvmap_guest(grant_handle_t *h);
void xlab_hvmap_dom0(grant_handle_t *h, unsigned guest);
/* Xen's longest stretch per sub-op without a preemption check (0019's
 * debug key 'X'): XLAB-HELD, case held_report (last). */
void xlab_held_dom0(void);
/* xlab_xsm.c (issue 12 finding 5, on a FLASK hypervisor only: $XLAB_XSM):
 * the extension's copies obey the policy, its maps too (xsm_*). */
void xlab_xsm_guest(grant_handle_t *h);
void xlab_xsm_dom0(grant_handle_t *h, unsigned guest);

/* xlab_bench.c: GNTTABOP_copy of 4 KiB vs the extension's COPY, and
 * GNTTABOP_map_grant_ref of 1 page vs the extension's MAP (dom0 maps the
 * guest's shared page). */
void xlab_bench_dom0(grant_handle_t *h, unsigned guest);
void xlab_map_bench_dom0(grant_handle_t *h, unsigned guest);
/* Guest side: shares one page each way; 0 or -errno.  Undone by _end. */
int xlab_bench_guest_share(grant_handle_t *h);
void xlab_bench_guest_end(void);

#endif /* XLAB_H */
