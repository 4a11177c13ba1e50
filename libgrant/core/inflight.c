/* SPDX-License-Identifier: MIT */
/*
 * inflight.c: the chunks of COPY and MEMSET whose bytes move outside the
 * core lock, and how a change that takes access away waits for them.
 *
 * A chunk is validated (chain, rights, window, protections) and its frame
 * numbers are copied out under the lock, held shared (chunks of several
 * CPUs validate at once; only a protection violation, whose action
 * changes state, takes it exclusive); it takes a slot there with a ticket
 * from an increasing sequence, drops the lock, moves its bytes
 * through gh_frame (which holds the frames' references while they are in
 * use, so nothing frees them underneath) and frees the slot.  A revoke,
 * PROTECT or domain removal makes its change under the lock, then waits
 * (gc_copy_drain, lock dropped) until no slot holds a ticket at or below
 * the sequence it read: every chunk that was validated before the change
 * is over, and every later chunk is validated against it.  Later chunks
 * never delay the wait (their tickets are higher), so a stream of copies
 * cannot starve a revoke, and the wait is at most one chunk's copy.
 *
 * Ordering: the ticket and the slot are written under the chunk's locks
 * (the instance lock shared, its domains' locks shared, lock.c) before it
 * drops them; a change that concerns the chunk took one of those locks
 * exclusive after that, and the waiter reads the sequence after the
 * change, so it sees the ticket and the slot (no lock of its own).  The chunk's
 * release store of 0 comes after its last byte: the waiter's acquire load of 0
 * sees every byte written.
 */
#include "private.h"

int gc_copy_enter(struct gcore *c)
{
    /* Lock held, perhaps shared with other chunks: the ticket and the slot
     * are taken atomically. */
    uint64_t t = __atomic_add_fetch(&c->copy_seq, 1, __ATOMIC_RELAXED);

    for (unsigned i = 0; i < GC_COPY_SLOTS; i++) {
        uint64_t none = 0;

        if (__atomic_compare_exchange_n(&c->copy_slot[i], &none, t, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            return (int)i;
    }
    return -1;
}

void gc_copy_leave(struct gcore *c, int slot)
{
    /* A read-modify-write, as the next chunk's taking of the slot is: a
     * waiter that reads a later chunk's 0 still sees this chunk's bytes
     * (one release sequence). */
    if (slot >= 0)
        __atomic_exchange_n(&c->copy_slot[slot], 0, __ATOMIC_RELEASE);
}

void gc_copy_drain(struct gcore *c)
{
    /* Every chunk validated before the change held a lock the change
     * then took (a domain's, or the instance lock), and it had its slot
     * and ticket by then: this load sees its ticket, and the loads below
     * its slot. */
    uint64_t upto = __atomic_load_n(&c->copy_seq, __ATOMIC_SEQ_CST);

    for (unsigned i = 0; i < GC_COPY_SLOTS; i++) {
        uint64_t t;

        while ((t = __atomic_load_n(&c->copy_slot[i], __ATOMIC_ACQUIRE)) &&
               t <= upto)
            gh_relax();
    }
}
