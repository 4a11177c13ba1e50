/* SPDX-License-Identifier: MIT */
/*
 * xenbus_private.h: the grant_xenbus handle, shared by xenbus.c (open,
 * nodes, paths, states) and xenbus_watch.c (watches, events, waits,
 * transactions).
 */
#ifndef XENBUS_PRIVATE_H
#define XENBUS_PRIVATE_H

#include "libgrant_xenbus.h"

/* Tokens of the helpers' own watches; events carrying them never reach
 * the caller. */
#define XB_TOKEN_PREFIX "grant_xenbus:"

struct xb_event {
    char *path, *token;
};

/* A watch the caller registered (kept to collapse the queue on overflow). */
struct xb_watch {
    char *path, *token;
};

#define XB_QUEUE_MAX 1024u

struct grant_xenbus {
    struct xs_handle *xs;
    int fd;                 /* xs_fileno: readable while events are queued */
    struct xb_event *queue; /* events kept for the caller, oldest first */
    unsigned queued, queue_cap;
    struct xb_watch *watches;
    unsigned nr_watches;
    unsigned wait_seq; /* makes each wait's token unique */
};

/* xenbus.c */
/* "dir/node" (or dir when node is NULL/empty) into buf; -ENAMETOOLONG. */
int lg_xb_path(const char *dir, const char *node, char *buf, size_t len);
/* -errno of a failed libxenstore call (never 0). */
int lg_xb_err(void);

/* xenbus_watch.c */
void lg_xb_events_free(grant_xenbus_t *xb);

#endif /* XENBUS_PRIVATE_H */
