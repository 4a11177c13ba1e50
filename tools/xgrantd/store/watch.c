/* SPDX-License-Identifier: MIT */
/*
 * watch.c: watches.  A watch on W fires for a change at W or below it
 * (the event names the changed node), and, when a subtree is removed,
 * for watches below the removed node (the event names the watch's node),
 * as cxenstored does.  An event goes only to a domain that may read the
 * node (judged in the tree where it exists: after a write, before a
 * removal; for a node that is not there, its nearest ancestor).  A watch
 * set with a relative path gets relative names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

struct xst_watch {
    struct xst_watch *next;
    char *path; /* canonical */
    size_t rel; /* bytes to strip for the name the client used */
    char *token;
};

int xst_watch_add(struct xst_conn *c, const char *path, size_t rel,
                  const char *token)
{
    struct xst_watch *w;

    for (w = c->watches; w; w = w->next)
        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0)
            return -EEXIST;
    w = calloc(1, sizeof(*w));
    if (!w || !(w->path = strdup(path)) || !(w->token = strdup(token))) {
        if (w)
            free(w->path);
        free(w);
        return -ENOMEM;
    }
    w->rel = rel;
    w->next = c->watches;
    c->watches = w;
    xst.watches[c->dom]++;
    return 0;
}

static void watch_free(struct xst_conn *c, struct xst_watch *w)
{
    xst.watches[c->dom]--;
    free(w->path);
    free(w->token);
    free(w);
}

int xst_watch_del(struct xst_conn *c, const char *path, const char *token)
{
    for (struct xst_watch **pp = &c->watches; *pp; pp = &(*pp)->next) {
        struct xst_watch *w = *pp;

        if (strcmp(w->path, path) == 0 && strcmp(w->token, token) == 0) {
            *pp = w->next;
            watch_free(c, w);
            return 0;
        }
    }
    return -ENOENT;
}

void xst_watch_drop_all(struct xst_conn *c)
{
    while (c->watches) {
        struct xst_watch *w = c->watches;

        c->watches = w->next;
        watch_free(c, w);
    }
}

static bool may_read(const struct xst_conn *c, const char *path,
                     const struct xst_node *root)
{
    if (c->dom == 0)
        return true;
    return xst_perm_for(xst_tree_nearest(root, path), c->dom) & XST_P_READ;
}

/* Sends w's event naming path; false when the connection closed. */
static bool send_event(struct xst_conn *c, const struct xst_watch *w,
                       const char *path)
{
    const char *name = path + (strlen(path) >= w->rel ? w->rel : 0);

    return xst_send_event(c, name, w->token);
}

static void fire_conn(struct xst_conn *c, const char *path, bool recurse,
                      const struct xst_node *root)
{
    for (struct xst_watch *w = c->watches; w && !c->closed; w = w->next) {
        const char *name = NULL;

        if (w->path[0] == '@')
            continue;
        if (xst_path_under(path, w->path))
            name = path;
        else if (recurse && xst_path_under(w->path, path))
            name = w->path;
        if (name && may_read(c, name, root) && !send_event(c, w, name))
            return;
    }
}

void xst_watch_fire(const char *path, bool recurse,
                    const struct xst_node *permroot)
{
    struct xst_conn *c, *next;

    for (c = xst.conns; c; c = next) {
        next = c->next;
        fire_conn(c, path, recurse, permroot);
    }
}

void xst_watch_fire_special(unsigned which)
{
    static const char *const names[] = {"@introduceDomain", "@releaseDomain"};
    struct xst_conn *c, *next;

    for (c = xst.conns; c; c = next) {
        next = c->next;
        if (c->dom && !(xst_perm_for(xst.special[which], c->dom) & XST_P_READ))
            continue;
        for (struct xst_watch *w = c->watches; w && !c->closed; w = w->next)
            if (strcmp(w->path, names[which]) == 0 &&
                !send_event(c, w, names[which]))
                break;
    }
}
