/* SPDX-License-Identifier: MIT */
/*
 * itest.h: integration-test harness.  Every test is a real program:
 * it starts a private xgrantd (its own socket in a temp dir), opens a
 * domain-0 handle, and spawns domains that run xgrant-guest (a line-
 * oriented interpreter over libgrant, tools/xgrant-guest) driven through
 * the domain's stdin/stdout, or this same binary in a role of its own.
 * Exit codes: 0 pass, 1 fail, 77 skip.
 */
#ifndef ITEST_H
#define ITEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "libgrant.h"
#include "libgrant_ctl.h"

#define ITEST_SKIP 77

struct itest_agent {
    grant_domid_t domid;
    char name[32];
    int to;   /* agent's stdin */
    int from; /* agent's stdout */
    FILE *in; /* buffered reader over `from` */
};

/* The path of this test binary (to spawn it in a role). */
char *itest_self(void);

/* A new directory <this binary's directory>/<name>-XXXXXX (mode 0700)
 * into out: for files a domain must see (a confined domain's /tmp is its
 * own); /tmp/<name>-XXXXXX where that directory is not writable.  0 or
 * -errno. */
int itest_mkdtemp(char *out, size_t len, const char *name);

/* Starts xgrantd on a fresh socket, sets XGRANT_SOCK, opens *dom0.
 * Exits 1 with a message on failure. */
void itest_setup(grant_handle_t **dom0);
/* 1 when this run cannot confine domains: not root, or confinement turned
 * off (XGRANTD_CONFINE=0, set by run-tests.sh for a tree a confined domain
 * cannot reach).  The skip reason is printed; a test asserting confinement
 * then returns ITEST_SKIP. */
int itest_confine_skip(void);
/* Shuts xgrantd down and removes the temp dir. */
void itest_teardown(grant_handle_t *dom0);
/* Path of the xgrantd socket of this run. */
const char *itest_sock(void);
/* The pid of this run's xgrantd. */
pid_t itest_daemon_pid(void);
/* xgrantd's log of this run, open for reading (NULL if it cannot be). */
FILE *itest_log_open(void);
/* Does xgrantd list domain id (among the first 64)? */
int itest_domain_listed(grant_handle_t *dom0, grant_domid_t id);

/* Spawns a domain running xgrant-guest with `mem_pages` pages. */
void itest_spawn(grant_handle_t *dom0, struct itest_agent *a, const char *name,
                 unsigned mem_pages);
/* Spawns a domain running argv, stdin/stdout piped to the test. */
void itest_spawn_argv(grant_handle_t *dom0, struct itest_agent *a,
                      const char *name, unsigned mem_pages, char **argv);
/* The same with a grant-table quota (max_entries; 0: the default). */
void itest_spawn_quota(grant_handle_t *dom0, struct itest_agent *a,
                       const char *name, unsigned mem_pages, char **argv,
                       unsigned max_entries);
/* The hostile-client cases (common/hostile.c); run inside a domain.
 * Returns the number of cases passed or -EPROTO with out saying which. */
int itest_hostile(grant_handle_t *h, char *out, size_t len);
/* Sends one command line, reads one reply line into buf (no newline).
 * Returns 0 when the reply starts with "ok", else the errno in
 * "err -N ..." (negative), or -EPIPE when the agent is gone. */
int itest_cmd(struct itest_agent *a, char *buf, size_t len, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));
/* itest_cmd that must succeed; returns the first number after "ok". */
uint64_t itest_ok(struct itest_agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* itest_cmd that must fail with exactly `err` (negative errno). */
void itest_err(struct itest_agent *a, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The pid, as the host sees it, of the process of domain dom that is pid
 * in its own PID namespace (getpid() there); -1 if none is found. */
long itest_host_pid(grant_handle_t *dom0, grant_domid_t dom, long pid);
/* Closes the agent's pipes (the agent exits on EOF). */
void itest_agent_close(struct itest_agent *a);

/* Checks: print "ok"/"not ok" lines; itest_done() returns the exit code. */
#define ICHECK(cond, ...) itest_check(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
void itest_check(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int itest_done(void);

#endif
