/* SPDX-License-Identifier: MIT */
/* raw.h: a hand-made sim-wire client (tests only): it sends exactly the
 * bytes it is told to, so tests can break the protocol on purpose. */
#ifndef RAW_H
#define RAW_H

#include <stddef.h>
#include <stdint.h>

struct raw {
    int fd;
    uint32_t seq;
};

/* Connects to $XGRANT_SOCK; 0 or -errno. */
int raw_connect(struct raw *r);
/* Connects and completes HELLO (fds received are closed); 0 or -EPROTO. */
int raw_hello(struct raw *r);
/* Sends a header claiming claimed_len payload bytes, then len bytes. */
int raw_send(struct raw *r, uint32_t op, uint32_t count, uint64_t aux_count,
             const void *payload, uint32_t len, uint32_t claimed_len);
/* Reads one response header into *m and up to cap payload bytes into buf
 * (the rest is drained, fds closed); -ECONNRESET when the peer closed. */
struct xgw_msg;
int raw_recv(struct raw *r, struct xgw_msg *m, void *buf, size_t cap);
/* One well-framed request; its ret, or -ECONNRESET. */
int64_t raw_call(struct raw *r, uint32_t op, uint32_t count, uint64_t aux,
                 const void *p, uint32_t len, void *out, size_t cap);

#endif
