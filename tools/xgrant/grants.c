/* SPDX-License-Identifier: MIT */
/*
 * grants.c: xgrant grants DOM [--json]: DOM's grant table, then the
 * delegation tree below each of its grants (grant_query_table and
 * grant_query_tree through the control domain).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

#define CMD "grants"

struct tree {
    grant_ref_t root;
    int n; /* nodes, or -errno */
    struct grant_entry_info *nodes;
};

/* Calls a query with a growing buffer until everything fits. */
static int fetch(grant_handle_t *h, grant_domid_t dom, grant_ref_t ref,
                 int table, struct grant_entry_info **out)
{
    unsigned cap = 64;
    int n, tries;

    for (tries = 0; tries < 5; tries++) {
        *out = calloc(cap, sizeof(**out));
        if (!*out)
            return -ENOMEM;
        n = table ? grant_query_table(h, dom, *out, cap)
                  : grant_query_tree(h, dom, ref, *out, cap);
        if (n >= 0 && (unsigned)n <= cap)
            return n;
        free(*out);
        *out = NULL;
        if (n < 0)
            return n;
        cap = (unsigned)n + 16;
    }
    return -EAGAIN;
}

static void print_entry_row(const struct grant_entry_info *e)
{
    char rights[5], frames[48], parent[32];

    if (e->indirect) {
        snprintf(frames, sizeof(frames), "-");
        snprintf(parent, sizeof(parent), "%u:0x%x", e->parent_dom,
                 e->parent_ref);
    } else {
        snprintf(frames, sizeof(frames), "0x%llx+%u",
                 (unsigned long long)e->first_frame, e->nr_frames);
        snprintf(parent, sizeof(parent), "-");
    }
    printf("0x%x %7u %-6s %-8s %-6s %10llu %12llu %-14s %4u %s\n", e->ref,
           e->grantee, xg_rights(e->rights, rights),
           e->indirect ? "indirect" : "direct", e->orphan ? "orphan" : "live",
           (unsigned long long)e->offset, (unsigned long long)e->length, frames,
           e->maps, parent);
}

static void print_tree(const struct tree *t, grant_domid_t dom)
{
    const struct grant_entry_info *e;
    char rights[5];
    int i;

    if (t->n < 0) {
        printf("d%u:0x%x (tree unavailable: %s)\n", dom, t->root,
               strerror(-t->n));
        return;
    }
    for (i = 0; i < t->n; i++) {
        e = &t->nodes[i];
        printf("%*sd%u:0x%x -> d%u %s [%llu,+%llu)%s", (int)e->depth * 2, "",
               e->dom, e->ref, e->grantee, xg_rights(e->rights, rights),
               (unsigned long long)e->offset, (unsigned long long)e->length,
               e->orphan ? " orphan" : "");
        if (e->maps)
            printf(" maps=%u", e->maps);
        printf("\n");
    }
}

static void print_text(grant_domid_t dom, const struct grant_entry_info *t,
                       int n, const struct tree *trees)
{
    int i;

    if (n == 0) {
        printf("domain %u has no grants\n", dom);
        return;
    }
    printf("%-10s %7s %-6s %-8s %-6s %10s %12s %-14s %4s %s\n", "REF",
           "GRANTEE", "RIGHTS", "TYPE", "STATE", "OFFSET", "LENGTH", "FRAMES",
           "MAPS", "PARENT");
    for (i = 0; i < n; i++)
        print_entry_row(&t[i]);
    printf("\ndelegation trees:\n");
    for (i = 0; i < n; i++)
        print_tree(&trees[i], dom);
}

static void json_entry(const struct grant_entry_info *e, int with_depth)
{
    char rights[5];

    printf("{\"dom\":%u,\"ref\":%u,\"grantee\":%u,\"rights\":\"%s\","
           "\"type\":\"%s\",\"state\":\"%s\",\"offset\":%llu,"
           "\"length\":%llu,\"maps\":%u",
           e->dom, e->ref, e->grantee, xg_rights(e->rights, rights),
           e->indirect ? "indirect" : "direct", e->orphan ? "orphan" : "live",
           (unsigned long long)e->offset, (unsigned long long)e->length,
           e->maps);
    if (e->indirect)
        printf(",\"parent\":{\"dom\":%u,\"ref\":%u}", e->parent_dom,
               e->parent_ref);
    else
        printf(",\"first_frame\":%llu,\"nr_frames\":%u,\"parent\":null",
               (unsigned long long)e->first_frame, e->nr_frames);
    if (with_depth)
        printf(",\"depth\":%u", e->depth);
    printf("}");
}

static void print_json(grant_domid_t dom, const struct grant_entry_info *t,
                       int n, const struct tree *trees)
{
    int i, j;

    printf("{\"domain\":%u,\"entries\":[", dom);
    for (i = 0; i < n; i++) {
        printf("%s", i ? "," : "");
        json_entry(&t[i], 0);
    }
    printf("],\"trees\":[");
    for (i = 0; i < n; i++) {
        printf("%s{\"root\":%u,", i ? "," : "", trees[i].root);
        if (trees[i].n < 0) {
            printf("\"error\":");
            xg_json_str(stdout, strerror(-trees[i].n));
            printf("}");
            continue;
        }
        printf("\"nodes\":[");
        for (j = 0; j < trees[i].n; j++) {
            printf("%s", j ? "," : "");
            json_entry(&trees[i].nodes[j], 1);
        }
        printf("]}");
    }
    printf("]}\n");
}

static int show(grant_handle_t *h, grant_domid_t dom, int json)
{
    struct grant_entry_info *table;
    struct tree *trees;
    int n, i;

    n = fetch(h, dom, 0, 1, &table);
    if (n < 0) {
        xg_err(CMD, "cannot read domain %u's grant table: %s", dom,
               strerror(-n));
        return XG_FAIL;
    }
    trees = calloc((size_t)n + 1, sizeof(*trees));
    if (!trees) {
        free(table);
        xg_err(CMD, "out of memory");
        return XG_FAIL;
    }
    for (i = 0; i < n; i++) {
        trees[i].root = table[i].ref;
        trees[i].n = fetch(h, dom, table[i].ref, 0, &trees[i].nodes);
    }
    if (json)
        print_json(dom, table, n, trees);
    else
        print_text(dom, table, n, trees);
    for (i = 0; i < n; i++)
        free(trees[i].nodes);
    free(trees);
    free(table);
    return XG_OK;
}

int cmd_grants(int argc, char **argv)
{
    const char *dom = NULL;
    grant_handle_t *h;
    grant_domid_t domid;
    int json = 0, i, rc;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (argv[i][0] == '-') {
            xg_err(CMD, "unknown option '%s'", argv[i]);
            return XG_USAGE;
        } else if (!dom)
            dom = argv[i];
        else {
            xg_err(CMD, "unexpected argument '%s'", argv[i]);
            return XG_USAGE;
        }
    }
    if (!dom) {
        xg_err(CMD, "missing domain (name or id)");
        return XG_USAGE;
    }
    rc = xg_open(CMD, &h);
    if (rc != XG_OK)
        return rc;
    rc = xg_lookup(CMD, h, dom, &domid) < 0 ? XG_FAIL : show(h, domid, json);
    grant_close(h);
    return rc;
}
