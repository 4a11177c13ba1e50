/* SPDX-License-Identifier: MIT */
/*
 * xgt.h: small helpers shared by the xgrant CLI, the xgrantd daemon and
 * (xgt_parse_uint, linked into libxbe) the backend daemons.
 *
 * Same conventions as the libraries: 0 (or a count) or -errno, errno is
 * never relied upon by callers.  Nothing here logs; functions that can fail
 * for a reason the user must see write it to a caller-supplied buffer.
 */
#ifndef XGT_H
#define XGT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parses a byte size: decimal digits with an optional binary unit suffix,
 * K, M, G or T (powers of 1024; case-insensitive; "KB"/"KiB" spellings
 * accepted), e.g. "4096", "16K", "64M", "1G".  0 and *bytes set;
 * -EINVAL (empty, not a number, unknown unit, trailing junk) or -ERANGE
 * (does not fit in 64 bits).  When err is not NULL, a one-line reason
 * (without trailing newline) naming the input is written to it.
 */
int xgt_parse_size(const char *s, uint64_t *bytes, char *err, size_t errlen);

/*
 * Parses a decimal number in [min, max]: one or more digits 0-9 and
 * nothing else, so " 5", "5 ", "+5", "-0", "0x10", "1e3" and "" are all
 * refused, as is anything past ULONG_MAX (no wrap, unlike strtoul).
 * 0 and *out set; -EINVAL (*out untouched).  When err is not NULL, a
 * one-line reason naming the input and the range ("want 1 to 16, not
 * ' 5'") is written to it: the caller prefixes the option or key name.
 * Every numeric command-line option of xgrantd, xgrant-blkback and
 * xgrant-netback, and backend/common's store values, go through it.
 */
int xgt_parse_uint(const char *s, unsigned long min, unsigned long max,
                   unsigned long *out, char *err, size_t errlen);

/*
 * Parses a MAC address as the store holds one ("00:16:3e:5a:01:02"): six
 * octets of one or two hex digits (either case), separated by ':', nothing
 * else (no sign, space, "0x" or trailing junk).  0 and mac set; -EINVAL
 * (mac untouched).
 */
int xgt_parse_mac(const char *s, uint8_t mac[6]);

/*
 * A program's numeric command-line option: xgt_parse_uint of s in [min,
 * max] into *out, 0; or -EINVAL (*out untouched) after writing
 * "<prog>: <opt>: <reason>" to stderr (the one function here that writes:
 * every daemon's option parser says it so).
 */
int xgt_opt_uint(const char *prog, const char *opt, const char *s, unsigned min,
                 unsigned max, unsigned *out);

/*
 * Formats a byte count for humans: "64M", "1G", "4096" (exact units only;
 * a size that is not a whole number of any unit is printed in bytes).
 * Returns what snprintf returns.
 */
int xgt_format_size(uint64_t bytes, char *buf, size_t len);

/*
 * The xgrantd socket path, as sim_wire.h defines it: $XGRANT_SOCK if set
 * and non-empty; else $XDG_RUNTIME_DIR/xgrant/xgrantd.sock; else, for uid 0,
 * /run/xgrant/xgrantd.sock; else /tmp/xgrant-$UID/xgrantd.sock.  The path
 * is returned as found (it may be relative when XGRANT_SOCK is).
 * 0, or -ENAMETOOLONG when it does not fit in len or in a sockaddr_un.
 */
int xgt_sock_path(char *buf, size_t len);

/*
 * The store (xenstore protocol) socket of the xgrantd at sock:
 * $XENSTORED_PATH if set and non-empty, else "<dir>/xenstored" when sock's
 * basename is "xgrantd.sock", else "<sock>.xenstored".  0 or -ENAMETOOLONG.
 */
int xgt_store_sock_path(const char *sock, char *buf, size_t len);

/*
 * The directory part of a socket path (what xgt_sock_path returned):
 * everything before the last '/', "." when there is none, "/" for a path
 * directly under the root.  0 or -ENAMETOOLONG.
 */
int xgt_sock_dir(const char *sock, char *buf, size_t len);

/* The longest socket path a sockaddr_un holds (sun_path minus the NUL). */
#define XGT_SOCK_PATH_MAX 107u

#endif /* XGT_H */
