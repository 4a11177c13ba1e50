/* SPDX-License-Identifier: MIT */
/* domains.c: xgrant list and xgrant destroy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "tools/common/xgt.h"

static int by_domid(const void *a, const void *b)
{
    const struct grant_domain_info *x = a, *y = b;

    return (int)x->domid - (int)y->domid;
}

static void print_table(const struct grant_domain_info *d, int n,
                        const struct grant_fault_stats *fs)
{
    char mem[32], ent[32], maps[32], frames[48], name[GRANT_NAME_MAX + 8];
    char faults[48];
    int i;

    printf("%5s %-24s %7s %6s %13s %11s %19s %13s\n", "ID", "NAME", "PID",
           "MEM", "ENTRIES", "MAPS", "FRAMES", "FAULTS");
    for (i = 0; i < n; i++) {
        xgt_format_size(d[i].mem_frames * GRANT_PAGE_SIZE, mem, sizeof(mem));
        snprintf(ent, sizeof(ent), "%u/%u", d[i].usage.entries,
                 d[i].usage.max_entries);
        snprintf(maps, sizeof(maps), "%u/%u", d[i].usage.maps,
                 d[i].usage.max_maps);
        snprintf(frames, sizeof(frames), "%llu/%llu",
                 (unsigned long long)d[i].usage.frames,
                 (unsigned long long)d[i].usage.max_frames);
        snprintf(name, sizeof(name), "%s%s", d[i].name,
                 d[i].dying ? " (dying)" : "");
        printf("%5u %-24s %7d %6s %13s %11s %19s %13s\n", d[i].domid, name,
               d[i].pid, mem, ent, maps, frames,
               xg_faults_cell(&fs[i], faults, sizeof(faults)));
    }
}

static void print_json(const struct grant_domain_info *d, int n,
                       const struct grant_fault_stats *fs)
{
    int i;

    printf("[");
    for (i = 0; i < n; i++) {
        printf("%s\n  {\"id\":%u,\"name\":", i ? "," : "", d[i].domid);
        xg_json_str(stdout, d[i].name);
        printf(",\"pid\":%d,\"dying\":%s,\"memory_bytes\":%llu,"
               "\"entries\":%u,\"max_entries\":%u,\"maps\":%u,"
               "\"max_maps\":%u,\"frames\":%llu,\"max_frames\":%llu",
               d[i].pid, d[i].dying ? "true" : "false",
               (unsigned long long)d[i].mem_frames * GRANT_PAGE_SIZE,
               d[i].usage.entries, d[i].usage.max_entries, d[i].usage.maps,
               d[i].usage.max_maps, (unsigned long long)d[i].usage.frames,
               (unsigned long long)d[i].usage.max_frames);
        xg_faults_json(stdout, &fs[i]);
        printf("}");
    }
    printf("%s]\n", n ? "\n" : "");
}

int cmd_list(int argc, char **argv)
{
    struct grant_fault_stats *fs = NULL;
    struct grant_domain_info *all;
    grant_handle_t *h;
    int json = 0, n, rc, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") != 0) {
            xg_err("list", "unexpected argument '%s' (only --json)", argv[i]);
            return XG_USAGE;
        }
        json = 1;
    }
    rc = xg_open("list", &h);
    if (rc != XG_OK)
        return rc;
    n = xg_list_domains("list", h, &all);
    if (n >= 0)
        qsort(all, (size_t)n, sizeof(*all), by_domid);
    if (n >= 0 && xg_fault_stats(h, all, n, &fs) < 0) {
        xg_err("list", "out of memory");
        free(all);
        n = -1;
    }
    grant_close(h);
    if (n < 0)
        return XG_FAIL;
    if (json)
        print_json(all, n, fs);
    else
        print_table(all, n, fs);
    free(fs);
    free(all);
    return XG_OK;
}

int cmd_destroy(int argc, char **argv)
{
    grant_handle_t *h;
    grant_domid_t domid;
    int rc;

    if (argc != 2) {
        xg_err("destroy",
               argc < 2 ? "missing domain (name or id)" : "too many arguments");
        return XG_USAGE;
    }
    rc = xg_open("destroy", &h);
    if (rc != XG_OK)
        return rc;
    rc = XG_FAIL;
    if (xg_lookup("destroy", h, argv[1], &domid) < 0)
        goto close;
    if (domid != 0)
        xg_devices_teardown(domid); /* devices first, as libxl does */
    rc = grant_ctl_domain_destroy(h, domid);
    if (rc == -EPERM && domid == 0)
        xg_err("destroy", "domain 0 is the control domain; "
                          "use 'xgrant hv stop' to stop everything");
    else if (rc == -ESRCH)
        xg_err("destroy", "domain %s is already gone", argv[1]);
    else if (rc < 0)
        xg_err("destroy", "cannot destroy domain %s: %s", argv[1],
               strerror(-rc));
    rc = rc < 0 ? XG_FAIL : XG_OK;
close:
    grant_close(h);
    return rc;
}
