/* SPDX-License-Identifier: MIT */
/*
 * protections.c: xgrant protections DOM [--json] (the page protections a
 * domain declared on its own memory, GNTX_OP_PROTECT_QUERY), and the fault
 * counters `xgrant list` shows (GNTX_OP_FAULT_STATS).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

static const char *acc_name(unsigned a)
{
    switch (a) {
    case GRANT_ACC_NONE:
        return "none";
    case GRANT_ACC_R:
        return "r";
    case GRANT_ACC_RW:
        return "rw";
    case GRANT_ACC_RX:
        return "rx";
    default:
        return "rwx";
    }
}

static const char *act_name(unsigned a)
{
    static const char *const n[] = {"deny", "notify", "kill", "log"};

    return a < 4 ? n[a] : "?";
}

static void print_ranges(const struct grant_prot_range *r, int n)
{
    printf("%18s %18s %9s %6s %-7s %18s\n", "START", "END", "PAGES", "ACCESS",
           "ACTION", "COOKIE");
    for (int i = 0; i < n; i++)
        printf("0x%016" PRIx64 " 0x%016" PRIx64 " %9" PRIu64
               " %6s %-7s 0x%016" PRIx64 "\n",
               r[i].gpa, r[i].gpa + r[i].len - 1, r[i].len / GRANT_PAGE_SIZE,
               acc_name(r[i].access), act_name(r[i].action), r[i].cookie);
}

static void print_ranges_json(grant_domid_t dom,
                              const struct grant_prot_range *r, int n)
{
    printf("{\"domain\":%u,\"ranges\":[", dom);
    for (int i = 0; i < n; i++)
        printf("%s\n  {\"gpa\":%" PRIu64 ",\"bytes\":%" PRIu64
               ",\"pages\":%" PRIu64 ",\"access\":\"%s\",\"action\":\"%s\","
               "\"cookie\":%" PRIu64 "}",
               i ? "," : "", r[i].gpa, r[i].len, r[i].len / GRANT_PAGE_SIZE,
               acc_name(r[i].access), act_name(r[i].action), r[i].cookie);
    printf("%s]}\n", n ? "\n" : "");
}

/* All of dom's ranges: *out malloc'ed; the count or -errno. */
static int fetch(grant_handle_t *h, grant_domid_t dom,
                 struct grant_prot_range **out)
{
    int n = grant_protect_query(h, dom, NULL, 0);

    while (n >= 0) {
        struct grant_prot_range *r = calloc((size_t)n + 1, sizeof(*r));
        int got;

        if (!r)
            return -ENOMEM;
        got = grant_protect_query(h, dom, r, (unsigned)n + 1);
        if (got >= 0 && got <= n + 1) {
            *out = r;
            return got;
        }
        free(r);
        n = got; /* it grew in between: again */
    }
    return n;
}

static int parse_args(int argc, char **argv, const char **dom, int *json)
{
    *dom = NULL;
    *json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            *json = 1;
        else if (!*dom && argv[i][0] != '-')
            *dom = argv[i];
        else {
            xg_err("protections", "unexpected argument '%s'", argv[i]);
            return -1;
        }
    }
    if (!*dom) {
        xg_err("protections", "usage: xgrant protections DOM [--json]");
        return -1;
    }
    return 0;
}

int cmd_protections(int argc, char **argv)
{
    struct grant_prot_range *r = NULL;
    grant_handle_t *h;
    grant_domid_t domid;
    const char *dom;
    int json, rc, n;

    if (parse_args(argc, argv, &dom, &json) < 0)
        return XG_USAGE;
    rc = xg_open("protections", &h);
    if (rc != XG_OK)
        return rc;
    if (xg_lookup("protections", h, dom, &domid) < 0) {
        grant_close(h);
        return XG_FAIL;
    }
    n = fetch(h, domid, &r);
    grant_close(h);
    if (n < 0) {
        xg_err("protections", "domain %u: %s", domid, grant_strerror(n));
        return XG_FAIL;
    }
    if (json)
        print_ranges_json(domid, r, n);
    else
        print_ranges(r, n);
    free(r);
    return XG_OK;
}

/* ---- fault counters for `xgrant list` ------------------------------------
 */

int xg_fault_stats(grant_handle_t *h, const struct grant_domain_info *d, int n,
                   struct grant_fault_stats **out)
{
    struct grant_fault_stats *s = calloc((size_t)n + 1, sizeof(*s));

    if (!s)
        return -ENOMEM;
    /* A domain that went away in between shows zeros. */
    for (int i = 0; i < n; i++)
        grant_fault_stats(h, d[i].domid, &s[i]);
    *out = s;
    return 0;
}

const char *xg_faults_cell(const struct grant_fault_stats *s, char *buf,
                           size_t len)
{
    snprintf(buf, len, "%" PRIu64 "/%" PRIu64, s->caused,
             s->suffered + s->own_reported);
    return buf;
}

void xg_faults_json(FILE *f, const struct grant_fault_stats *s)
{
    fprintf(f,
            ",\"faults\":{\"caused\":%" PRIu64 ",\"suffered\":%" PRIu64
            ",\"denied\":%" PRIu64 ",\"notified\":%" PRIu64
            ",\"killed\":%" PRIu64 ",\"logged\":%" PRIu64
            ",\"dropped\":%" PRIu64 ",\"own\":%" PRIu64
            ",\"protected_pages\":%" PRIu64 "}",
            s->caused, s->suffered, s->denied, s->notified, s->killed,
            s->logged, s->dropped, s->own_reported, s->prot_pages);
}
