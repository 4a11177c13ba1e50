/* SPDX-License-Identifier: MIT */
/*
 * xsperm.h: one entry of a xenstore permission list, as text.  Implemented
 * once, in xsperm.c: libgrant's xenbus helpers use it and xgrantd's store
 * links the same object (tools/common/module.mk), so the library and the
 * store read the same language.  libc only.
 */
#ifndef LG_XSPERM_H
#define LG_XSPERM_H

#include <stddef.h>

/* Modes, xs_wire.h's bits (XS_PERM_READ 1, XS_PERM_WRITE 2). */
#define LG_PERM_NONE  0u
#define LG_PERM_READ  1u
#define LG_PERM_WRITE 2u
#define LG_PERM_BOTH  3u

/* Highest domain id an entry may name (GNTX_DOMID_MAX: ids from
 * DOMID_FIRST_RESERVED up are not domains). */
#define LG_PERM_DOMID_MAX 0x7fefu

/*
 * The n bytes at s, "<letter><domid>": letter n (none), r (read), w
 * (write) or b (both), then 1 to 5 decimal digits, nothing else, the id at
 * most LG_PERM_DOMID_MAX.  0 with *mode (LG_PERM_*) and *dom set, or
 * -EINVAL (nothing written).
 */
int lg_perm_parse(const char *s, size_t n, unsigned *mode, unsigned *dom);

#endif /* LG_XSPERM_H */
