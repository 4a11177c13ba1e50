/* SPDX-License-Identifier: MIT */
/*
 * dom.c: the core instance and its domains (add, remove, lookup).
 *
 * Domains live in a pointer array indexed by id, so every hypercall finds
 * its caller and the domains it names in O(1).
 */
#include "private.h"

int gcore_create(struct gcore **out)
{
    struct gcore *c = gh_zalloc(sizeof(*c));

    if (!c)
        return -GNTX_ENOMEM;
    c->doms = gh_zalloc(((size_t)GNTX_DOMID_MAX + 1) * sizeof(*c->doms));
    if (!c->doms) {
        gh_free(c);
        return -GNTX_ENOMEM;
    }
    c->list = NULL;
    c->next_inc = 0;
    c->call_bytes = GNTX_DEFAULT_CALL_BYTES;
    c->call_pages = GNTX_DEFAULT_CALL_PAGES;
    c->io_bytes = GNTX_DEFAULT_IO_BYTES;
    *out = c;
    return 0;
}

void gcore_set_call_bytes(struct gcore *c, uint64_t bytes)
{
    gh_lock(c);
    __atomic_store_n(&c->call_bytes, bytes ? bytes : GNTX_DEFAULT_CALL_BYTES,
                     __ATOMIC_RELAXED); /* copies read it without the lock */
    gh_unlock(c);
}

void gcore_set_io_bytes(struct gcore *c, uint64_t bytes)
{
    gh_lock(c);
    c->io_bytes = bytes ? bytes : GNTX_DEFAULT_IO_BYTES;
    gh_unlock(c);
}

void gcore_set_call_pages(struct gcore *c, uint64_t pages)
{
    gh_lock(c);
    c->call_pages = pages ? pages : GNTX_DEFAULT_CALL_PAGES;
    gh_unlock(c);
}

static void dom_unlink(struct gcore *c, struct gc_dom *d)
{
    struct gc_dom **pp = &c->list;

    while (*pp && *pp != d)
        pp = &(*pp)->next;
    if (*pp)
        *pp = d->next;
    c->doms[d->id] = NULL;
}

/*
 * Tears a domain down: the mappings it holds first, then every entry of its
 * table with FORCE semantics (mappers of its memory are notified), then its
 * memory.  Delegations others made from its grants are left as orphans.
 */
static void dom_destroy(struct gcore *c, struct gc_dom *d)
{
    for (uint32_t i = 0; i < d->maps.cap; i++)
        if (gc_map_at(d, i)->s.live)
            gc_map_drop(c, d, i, true);
    gc_revoke_all(c, d);
    dom_unlink(c, d);
    gc_prot_free(d);
    gc_pool_fini(&d->maps);
    gc_pool_fini(&d->table);
    gh_free(d);
}

void gcore_destroy(struct gcore *c)
{
    if (!c)
        return;
    gh_lock(c);
    while (c->list)
        dom_destroy(c, c->list);
    gh_unlock(c);
    gh_free(c->doms);
    gh_free(c);
}

static int dom_add_locked(struct gcore *c, gntx_domid_t id, uint64_t nr_frames,
                          void *cookie)
{
    struct gc_dom *d;

    if (id > GNTX_DOMID_MAX)
        return -GNTX_EINVAL;
    if (c->doms[id])
        return -GNTX_EEXIST;
    d = gh_zalloc(sizeof(*d));
    if (!d)
        return -GNTX_ENOMEM;
    d->id = id;
    d->cookie = cookie;
    d->nr_frames = nr_frames;
    d->max_entries = GCORE_DEFAULT_MAX_ENTRIES;
    d->max_maps = GCORE_DEFAULT_MAX_MAPS;
    d->max_frames = GCORE_DEFAULT_MAX_FRAMES;
    if (++c->next_inc == 0)
        c->next_inc = 1;
    d->inc = c->next_inc;
    gc_pool_init(&d->table, sizeof(struct gc_entry));
    gc_pool_init(&d->maps, sizeof(struct gc_map));
    d->next = c->list;
    c->list = d;
    c->doms[id] = d;
    return 0;
}

int gcore_dom_add(struct gcore *c, gntx_domid_t id, uint64_t nr_frames,
                  void *cookie)
{
    int rc;

    gh_lock(c);
    rc = dom_add_locked(c, id, nr_frames, cookie);
    gh_unlock(c);
    return rc;
}

void gcore_dom_remove(struct gcore *c, gntx_domid_t id)
{
    struct gc_dom *d;

    gh_lock(c);
    d = gc_dom_get(c, id);
    if (d)
        dom_destroy(c, d);
    gh_unlock(c);
    /* Chunks moving its bytes (or its grantees' through its grants) are
     * over: the host may let its memory go. */
    gc_copy_drain(c);
}

bool gcore_dom_exists(struct gcore *c, gntx_domid_t id)
{
    bool r;

    gh_lock_shared(c);
    r = gc_dom_get(c, id) != NULL;
    gh_unlock_shared(c);
    return r;
}
