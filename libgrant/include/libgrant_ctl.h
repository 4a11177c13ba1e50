/* SPDX-License-Identifier: MIT */
/*
 * libgrant_ctl.h: domain control for the control domain (the xgrant CLI,
 * later libxl-like tools).  Same conventions as libgrant.h: 0/count or
 * -errno, errno untouched.  Every call needs a handle of domain 0, else
 * -EPERM.  Only the sim transport implements these; the xen transport
 * returns -ENOSYS (xl does this job on Xen).
 */
#ifndef LIBGRANT_CTL_H
#define LIBGRANT_CTL_H

#include "libgrant.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GRANT_NAME_MAX 32u

struct grant_domain_config {
    const char *name;      /* [A-Za-z0-9_.-]{1,31}, unique */
    uint64_t memory_bytes; /* page multiple */
    char *const *argv;     /* NULL-terminated, argv[0] looked up in PATH */
    int stdio[3]; /* fds for the domain's stdin/out/err; -1: /dev/null */
    unsigned max_entries; /* quotas; 0: the default */
    unsigned max_maps;
    uint64_t max_frames;
};

struct grant_domain_info {
    char name[GRANT_NAME_MAX];
    grant_domid_t domid;
    int dying;
    int pid; /* 0 for domain 0 */
    uint64_t mem_frames;
    struct grant_usage usage;
};

/* Spawns a domain running cfg->argv; *domid receives its id once the
 * program has been executed.  -EINVAL (bad name/memory/argv), -EEXIST
 * (name taken), -ENOMEM, -ENOENT (the program could not be run: not found,
 * not executable by the domain's uid under a confining root xgrantd; the
 * daemon's log says why), -EACCES (a confining root xgrantd: the program or
 * xgrantd's own binary lies below a directory other users cannot search,
 * or in /tmp, which a confined domain has of its own; the daemon's log
 * names it), -ENOSPC (no free domain id). */
int grant_ctl_domain_create(grant_handle_t *h,
                            const struct grant_domain_config *cfg,
                            grant_domid_t *domid);
/* Kills and removes a domain; when this returns, its grants are revoked and
 * its mappings gone.  -ESRCH, -EPERM (domain 0). */
int grant_ctl_domain_destroy(grant_handle_t *h, grant_domid_t domid);
/* Fills up to cap domains (domain 0 first); returns how many exist. */
int grant_ctl_domain_list(grant_handle_t *h, struct grant_domain_info *out,
                          unsigned cap);
/* Blocks until the domain is gone; returns its wait status (>= 0). */
int grant_ctl_domain_wait(grant_handle_t *h, grant_domid_t domid);
/* Finds a domain by name or decimal id; -ESRCH. */
int grant_ctl_domain_lookup(grant_handle_t *h, const char *name_or_id,
                            grant_domid_t *domid);
/* Destroys every domain and stops xgrantd. */
int grant_ctl_shutdown(grant_handle_t *h);

#ifdef __cplusplus
}
#endif

#endif /* LIBGRANT_CTL_H */
