/* SPDX-License-Identifier: MIT */
/*
 * private.h: the xgrant CLI's internals.  Each command is a function
 * int cmd_X(int argc, char **argv) (argv[0] is the command's name) that
 * returns the process exit code.
 */
#ifndef XGRANT_PRIVATE_H
#define XGRANT_PRIVATE_H

#include <stdint.h>
#include <stdio.h>

#include "libgrant.h"
#include "libgrant_ctl.h"

/* Exit codes. */
#define XG_OK       0
#define XG_FAIL     1 /* the operation failed */
#define XG_USAGE    2 /* bad command line */
#define XG_NODAEMON 3 /* xgrantd is not running */

/* main.c */
void xg_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* What -EACCES from domain creation means (a confining xgrantd). */
#define XG_UNREACHABLE                                                         \
    "a confined domain cannot reach program '%s' or xgrantd's binary (a "      \
    "directory on the way is closed to other users, or it lies in /tmp, "      \
    "private to the domain; xgrantd's log names it): make those "              \
    "directories searchable by others (chmod o+x) and keep the tree "          \
    "outside /tmp, or start xgrantd with --no-confine (or "                    \
    "XGRANTD_CONFINE=0)"
/* Opens a control handle; returns XG_OK or the exit code (message printed). */
int xg_open(const char *cmd, grant_handle_t **h);
/* Prints why grant_open failed with rc; returns the exit code. */
int xg_open_error(const char *cmd, int rc);
/* Reports getopt's ':' (missing argument) or '?' (unknown option). */
void xg_bad_option(const char *cmd, int ch, char **argv);
/* 1 when err means "nobody listens at the socket". */
int xg_no_daemon(int err);
/* The socket path the library will use (tools/common's rule). */
const char *xg_sock(void);
/* Strict number/size parsing; print "xgrant: CMD: OPT: ..." and return -1
 * on bad input. */
int xg_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t max,
                  uint64_t *out);
int xg_parse_size(const char *cmd, const char *opt, const char *s,
                  uint64_t *out);
/* A domain by name or id; prints the problem and returns -1. */
int xg_lookup(const char *cmd, grant_handle_t *h, const char *dom,
              grant_domid_t *domid);
/* Every domain: *out is malloc'ed; the count or -1 (message printed). */
int xg_list_domains(const char *cmd, grant_handle_t *h,
                    struct grant_domain_info **out);
/* A number of milliseconds from the environment variable `name` (0 to
 * XG_ENV_MS_MAX), else def (also, with a message, when malformed). */
#define XG_ENV_MS_MAX 600000
int xg_env_ms(const char *cmd, const char *name, int def);
/* In a child about to become a daemon: closes every fd above stderr but
 * a and b (both > 2), so none of the CLI's handles outlives it there. */
void xg_close_others(int a, int b);
/* The path of the program `name` next to this binary in buf; 0, or -errno
 * (-ENOENT/-EACCES: not there or not executable). */
int xg_sibling(const char *name, char *buf, size_t len);
/* JSON string with escaping. */
void xg_json_str(FILE *f, const char *s);
/* Rights as "rwmd" letters ('-' for a missing one) into buf[5]. */
const char *xg_rights(unsigned rights, char buf[5]);

/* hv.c */
int cmd_hv(int argc, char **argv);

/* run.c */
int cmd_run(int argc, char **argv);

/* domains.c */
int cmd_list(int argc, char **argv);
int cmd_destroy(int argc, char **argv);

/* grants.c */
int cmd_grants(int argc, char **argv);

/* protections.c: `xgrant protections`, and list's fault counters (one
 * per domain of d, zeros for one gone; *out malloc'ed; 0 or -ENOMEM). */
int cmd_protections(int argc, char **argv);
int xg_fault_stats(grant_handle_t *h, const struct grant_domain_info *d, int n,
                   struct grant_fault_stats **out);
const char *xg_faults_cell(const struct grant_fault_stats *s, char *buf,
                           size_t len);
void xg_faults_json(FILE *f, const struct grant_fault_stats *s);

/* devlist.c */
int cmd_block_list(int argc, char **argv);
int cmd_network_list(int argc, char **argv);

/* create.c (and cfg*.c, create_*.c: see cfg.h) */
int cmd_create(int argc, char **argv);
/* create_destroy.c: closes and removes the store nodes of the domain's
 * devices (frontend Closing, backend Closed, nodes removed); 0 when there
 * were none or no store runs, -1 if something failed (printed). */
int xg_devices_teardown(unsigned domid);

#endif /* XGRANT_PRIVATE_H */
