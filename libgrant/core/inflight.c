/* SPDX-License-Identifier: MIT */
/*
 * inflight.c: the chunks of COPY and MEMSET whose bytes move outside the
 * core lock, and how a change that takes access away waits for them.
 *
 * A chunk is validated (chain, rights, window, protections) and its frame
 * numbers are copied out under the lock; it takes a slot there with a
 * ticket from an increasing sequence, drops the lock, moves its bytes
 * through gh_frame (which holds the frames' references while they are in
 * use, so nothing frees them underneath) and frees the slot.  A revoke,
 * PROTECT or domain removal makes its change under the lock, then waits
 * (gc_copy_drain, lock dropped) until no slot holds a ticket at or below
 * the sequence it read: every chunk that was validated before the change
 * is over, and every later chunk is validated against it.  Later chunks
 * never delay the wait (their tickets are higher), so a stream of copies
 * cannot starve a revoke, and the wait is at most one chunk's copy.
 *
 * Ordering: the slot is written under the lock before the chunk drops it;
 * the waiter took the lock after (or read the sequence after its own
 * unlock), so it sees the slot.  The chunk's release store of 0 comes
 * after its last byte: the waiter's acquire load of 0 sees every byte
 * written.
 */
#include "private.h"

int gc_copy_enter(struct gcore *c)
{
    for (unsigned i = 0; i < GC_COPY_SLOTS; i++) {
        if (__atomic_load_n(&c->copy_slot[i], __ATOMIC_RELAXED))
            continue;
        /* Lock held: no other enter runs; a leave only ever writes 0. */
        __atomic_store_n(&c->copy_slot[i], ++c->copy_seq, __ATOMIC_RELAXED);
        return (int)i;
    }
    return -1;
}

void gc_copy_leave(struct gcore *c, int slot)
{
    if (slot >= 0)
        __atomic_store_n(&c->copy_slot[slot], 0, __ATOMIC_RELEASE);
}

void gc_copy_drain(struct gcore *c)
{
    uint64_t upto;

    gh_lock(c);
    upto = c->copy_seq;
    gh_unlock(c);
    for (unsigned i = 0; i < GC_COPY_SLOTS; i++) {
        uint64_t t;

        while ((t = __atomic_load_n(&c->copy_slot[i], __ATOMIC_ACQUIRE)) &&
               t <= upto)
            gh_relax();
    }
}
