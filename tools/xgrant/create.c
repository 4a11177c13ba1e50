/* SPDX-License-Identifier: MIT */
/*
 * create.c: xgrant create [-n|--dry-run] guest.cfg [KEY=VALUE...]
 *
 * Does what xl create does with libxl, on xgrantd: reads the xl config
 * (cfg.c), creates the domain running `program` (detached, like
 * `xgrant run --detach`), writes its devices' frontend and backend nodes as
 * libxl 4.17 does (create_dev.c), starts the backend drivers that do not
 * run yet (in domain 0, or a driver domain for backend=), as root the
 * guest's netfront on its own eth<N> (create_netfront.c), waits for each
 * device's backend to probe (create_backend.c), and leaves a watcher that
 * removes the device nodes when the guest dies by itself (create_reap.c).
 * Under xgrantd a domain has no paused state: its program runs while the
 * nodes are written, so a frontend waits (watches) for its device
 * directory as a hotplugged Xen frontend does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "private.h"

#define CMD "create"

static int make_domain(grant_handle_t *h, const struct xg_cfg *cfg,
                       grant_domid_t *domid)
{
    struct grant_domain_config dc = {.name = cfg->name,
                                     .memory_bytes = cfg->memory_bytes,
                                     .argv = cfg->argv,
                                     .stdio = {-1, -1, -1}};
    int rc = grant_ctl_domain_create(h, &dc, domid);

    if (rc == 0)
        return 0;
    if (rc == -EEXIST)
        xg_err(CMD, "%s: a domain named '%s' already exists", cfg->file,
               cfg->name);
    else if (rc == -ENOENT)
        xg_err(CMD, "%s: program '%s' not found", cfg->file, cfg->argv[0]);
    else if (rc == -EACCES)
        xg_err(CMD, "%s: " XG_UNREACHABLE, cfg->file, cfg->argv[0]);
    else if (rc == -ENOMEM)
        xg_err(CMD, "%s: not enough memory for %llu MiB", cfg->file,
               (unsigned long long)(cfg->memory_bytes >> 20));
    else
        xg_err(CMD, "%s: cannot create domain '%s': %s", cfg->file, cfg->name,
               strerror(-rc));
    return -1;
}

/* Devices and drivers of a fresh domain; undone on failure. */
static int populate(grant_handle_t *h, const struct xg_cfg *cfg,
                    grant_domid_t domid)
{
    grant_xenbus_t *xb;
    int rc = grant_xenbus_open(&xb, 0);

    if (rc < 0) {
        xg_err(CMD, "cannot open the store: %s", strerror(-rc));
        grant_ctl_domain_destroy(h, domid);
        return -1;
    }
    rc = xg_backends_add(xb, cfg, domid);
    if (rc == 0)
        rc = xg_netfronts_start(h, cfg, domid);
    if (rc == 0)
        rc = xg_backends_wait(h, xb, cfg, domid);
    if (rc < 0) {
        xg_devices_remove(xb, domid, 1); /* the probes were waited for */
        grant_ctl_domain_destroy(h, domid);
        xg_backends_stop_idle(xb, 0);
    }
    grant_xenbus_close(xb);
    return rc < 0 ? -1 : 0;
}

static void print_dry_run(const struct xg_cfg *cfg)
{
    unsigned i;

    printf("# %s: name %s, memory %llu MiB, program", cfg->file, cfg->name,
           (unsigned long long)(cfg->memory_bytes >> 20));
    for (i = 0; cfg->argv[i]; i++)
        printf(" '%s'", cfg->argv[i]);
    printf("\n# nodes libxl 4.17 would write ($NAME: driver domain NAME)\n");
    xg_devices_print(cfg);
}

static int parse_args(int argc, char **argv, int *dry_run)
{
    static const struct option lo[] = {
        {"dry-run", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "+:n", lo, NULL)) != -1) {
        if (ch != 'n') {
            xg_bad_option(CMD, ch, argv);
            return -1;
        }
        *dry_run = 1;
    }
    if (optind == argc) {
        xg_err(CMD, "missing config file (xgrant create [-n] guest.cfg "
                    "[KEY=VALUE...])");
        return -1;
    }
    for (ch = optind + 1; ch < argc; ch++)
        if (!strchr(argv[ch], '=')) {
            xg_err(CMD, "'%s' is not KEY=VALUE", argv[ch]);
            return -1;
        }
    return 0;
}

int cmd_create(int argc, char **argv)
{
    struct xg_cfg cfg;
    grant_handle_t *h;
    grant_domid_t domid;
    int dry_run = 0, rc;

    if (parse_args(argc, argv, &dry_run) < 0)
        return XG_USAGE;
    if (xg_cfg_load(argv[optind], argv + optind + 1, argc - optind - 1, &cfg))
        return XG_FAIL;
    if (dry_run) {
        print_dry_run(&cfg);
        xg_cfg_free(&cfg);
        return XG_OK;
    }
    rc = xg_open(CMD, &h);
    if (rc == XG_OK) {
        rc = XG_FAIL;
        if (xg_backends_resolve(h, &cfg) == 0 &&
            make_domain(h, &cfg, &domid) == 0 &&
            populate(h, &cfg, domid) == 0) {
            xg_reap_later(domid);
            fprintf(stderr,
                    "xgrant: domain %u (%s) created: %u disk(s), %u "
                    "interface(s)\n",
                    domid, cfg.name, cfg.nr_disks, cfg.nr_vifs);
            printf("%u\n", domid);
            rc = XG_OK;
        }
        grant_close(h);
    }
    xg_cfg_free(&cfg);
    return rc;
}
