/* SPDX-License-Identifier: MIT */
/*
 * main.c: xgrant, the xl-like command line tool for xgrant domains.
 * Dispatches to the commands and holds their shared helpers.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "private.h"
#include "tools/common/xgt.h"

static const char usage_text[] =
    "usage: xgrant COMMAND [ARGS...]\n"
    "\n"
    "Hypervisor:\n"
    "  hv start [--foreground] [--socket PATH] [--dom0-memory SIZE]\n"
    "           [--log FILE] [--poll-us N] [--max-domain-conns N]\n"
    "                  start xgrantd; prints its socket path\n"
    "  hv stop         destroy every domain and stop xgrantd\n"
    "  hv status       is xgrantd running, and with how many domains\n"
    "\n"
    "Domains:\n"
    "  run [--name N] [--memory SIZE] [--max-entries N] [--max-maps N]\n"
    "      [--max-frames N] [-d|--detach] -- PROG [ARGS...]\n"
    "                  run PROG as a new domain (default 64M of memory;\n"
    "                  quotas: 0 or absent is the default);\n"
    "                  --detach prints its id and returns (stdio: /dev/null)\n"
    "  list [--json]   list domains\n"
    "  create [-n|--dry-run] CFG [KEY=VALUE...]\n"
    "                  create a domain from an xl config file (name, memory,\n"
    "                  program, disk, vif) and write its device nodes as\n"
    "                  libxl does; -n prints them instead\n"
    "  destroy DOM     close its devices, remove their nodes, kill a domain\n"
    "                  (DOM: name or id)\n"
    "  block-list DOM [--json]\n"
    "                  DOM's disks as xl block-list shows them, with the\n"
    "                  backend's I/O counters\n"
    "  network-list DOM [--json]\n"
    "                  DOM's interfaces as xl network-list shows them, with\n"
    "                  the backend's packet counters\n"
    "  grants DOM [--json]\n"
    "                  DOM's grant table and the delegation trees below it\n"
    "  protections DOM [--json]\n"
    "                  DOM's page protections: ranges, access, action, cookie\n"
    "\n"
    "  help            this text\n"
    "\n"
    "Socket: $XGRANT_SOCK, else $XDG_RUNTIME_DIR/xgrant/xgrantd.sock, else\n"
    "/run/xgrant/xgrantd.sock (root) or /tmp/xgrant-$UID/xgrantd.sock.\n"
    "Exit status: 0 ok, 1 failed, 2 usage error, 3 xgrantd not running.\n";

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    {"hv", cmd_hv},
    {"run", cmd_run},
    {"list", cmd_list},
    {"destroy", cmd_destroy},
    {"grants", cmd_grants},
    {"create", cmd_create},
    {"protections", cmd_protections},
    {"block-list", cmd_block_list},
    {"network-list", cmd_network_list},
};

void xg_err(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "xgrant: %s%s", cmd ? cmd : "", cmd ? ": " : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *xg_sock(void)
{
    static char path[4096];

    if (xgt_sock_path(path, sizeof(path)) < 0)
        snprintf(path, sizeof(path), "(socket path too long)");
    return path;
}

int xg_no_daemon(int err)
{
    return err == -ENOENT || err == -ECONNREFUSED || err == -ENOTDIR;
}

int xg_open(const char *cmd, grant_handle_t **h)
{
    int rc = grant_open(h, 0);

    return rc == 0 ? XG_OK : xg_open_error(cmd, rc);
}

int xg_open_error(const char *cmd, int rc)
{
    if (xg_no_daemon(rc)) {
        xg_err(cmd,
               "xgrantd is not running (no daemon at %s); "
               "start it with 'xgrant hv start'",
               xg_sock());
        return XG_NODAEMON;
    }
    if (rc == -ENOSYS || rc == -EINVAL) {
        xg_err(cmd, "transport '%s' (XGRANT_TRANSPORT) is %s",
               getenv("XGRANT_TRANSPORT") ? getenv("XGRANT_TRANSPORT") : "",
               rc == -ENOSYS ? "not available in this build" : "unknown");
        return XG_FAIL;
    }
    if (rc == -EPERM || rc == -EACCES)
        xg_err(cmd, "xgrantd at %s refused this process: %s", xg_sock(),
               strerror(-rc));
    else if (rc == -EPROTO)
        xg_err(cmd, "xgrantd at %s speaks another protocol version", xg_sock());
    else
        xg_err(cmd, "cannot connect to xgrantd at %s: %s", xg_sock(),
               strerror(-rc));
    return XG_FAIL;
}

void xg_bad_option(const char *cmd, int ch, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    const char *eq = strchr(arg, '=');

    if (ch == ':')
        xg_err(cmd, "option '%s' needs an argument", arg);
    else if (!strncmp(arg, "--", 2) && eq && optopt)
        xg_err(cmd, "option '%.*s' takes no argument", (int)(eq - arg), arg);
    else if (!strncmp(arg, "--", 2))
        xg_err(cmd, "unknown option '%s'", arg);
    else if (optopt)
        xg_err(cmd, "unknown option '-%c'", optopt);
    else
        xg_err(cmd, "unknown option '%s'", arg);
}

int xg_parse_uint(const char *cmd, const char *opt, const char *s, uint64_t max,
                  uint64_t *out)
{
    unsigned long long v;
    char *end;

    if (*s < '0' || *s > '9') { /* no sign, no space */
        xg_err(cmd, "%s: '%s' is not a number", opt, s);
        return -1;
    }
    errno = 0; /* decimal, or hex with 0x; never octal */
    v = strtoull(s, &end,
                 s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
    if (*end) {
        xg_err(cmd, "%s: '%s' is not a number", opt, s);
        return -1;
    }
    if (errno == ERANGE || v > max) {
        xg_err(cmd, "%s: %s is out of range (at most %" PRIu64 ")", opt, s,
               max);
        return -1;
    }
    *out = v;
    return 0;
}

int xg_parse_size(const char *cmd, const char *opt, const char *s,
                  uint64_t *out)
{
    char err[160];

    if (xgt_parse_size(s, out, err, sizeof(err)) < 0) {
        xg_err(cmd, "%s: %s", opt, err);
        return -1;
    }
    return 0;
}

int xg_env_ms(const char *cmd, const char *name, int def)
{
    const char *env = getenv(name);
    char *end;
    long v;

    if (!env || !*env)
        return def;
    errno = 0;
    v = strtol(env, &end, 10);
    if (errno || *end || end == env || v < 0 || v > XG_ENV_MS_MAX) {
        xg_err(cmd,
               "%s='%s' is not a number of milliseconds from 0 to %d; "
               "using %d",
               name, env, XG_ENV_MS_MAX, def);
        return def;
    }
    return (int)v;
}

void xg_close_others(int a, int b)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;

    if (lo > 3)
        close_range(3, (unsigned)lo - 1, 0);
    if (hi > lo + 1)
        close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0u, 0);
}

int xg_sibling(const char *name, char *buf, size_t len)
{
    char self[PATH_MAX];
    ssize_t n;

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0)
        return -errno;
    self[n] = '\0';
    if ((size_t)snprintf(buf, len, "%s/%s", dirname(self), name) >= len)
        return -ENAMETOOLONG;
    return access(buf, X_OK) < 0 ? -errno : 0;
}

int xg_list_domains(const char *cmd, grant_handle_t *h,
                    struct grant_domain_info **out)
{
    unsigned cap = 16;
    int n, tries;

    for (tries = 0; tries < 4; tries++) {
        *out = calloc(cap, sizeof(**out));
        if (!*out) {
            xg_err(cmd, "out of memory");
            return -1;
        }
        n = grant_ctl_domain_list(h, *out, cap);
        if (n >= 0 && (unsigned)n <= cap)
            return n;
        free(*out);
        *out = NULL;
        if (n < 0) {
            xg_err(cmd, "cannot list domains: %s", strerror(-n));
            return -1;
        }
        cap = (unsigned)n + 16;
    }
    xg_err(cmd, "cannot list domains: the list keeps changing");
    return -1;
}

int xg_lookup(const char *cmd, grant_handle_t *h, const char *dom,
              grant_domid_t *domid)
{
    int rc = grant_ctl_domain_lookup(h, dom, domid);

    if (rc == 0)
        return 0;
    if (rc == -ESRCH && strspn(dom, "0123456789") == strlen(dom))
        xg_err(cmd, "no domain with id %s", dom);
    else if (rc == -ESRCH || rc == -EINVAL)
        xg_err(cmd, "no domain named '%s'", dom);
    else
        xg_err(cmd, "cannot look up domain '%s': %s", dom, strerror(-rc));
    return -1;
}

/* Length of the valid UTF-8 sequence at p (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
    size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
    uint32_t c = *p & (0x3f >> (n - 1)), min = n == 2   ? 0x80
                                               : n == 3 ? 0x800
                                                        : 0x10000;

    if (*p < 0xc2 || *p > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n;
}

void xg_json_str(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    fputc('"', f);
    while (*p) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (*p < 0x80)
            fputc(*p, f);
        else if ((n = utf8_len(p)) != 0) {
            fwrite(p, 1, n, f);
            p += n;
            continue;
        } else
            fputs("\\ufffd", f); /* not UTF-8: JSON cannot carry it */
        p++;
    }
    fputc('"', f);
}

const char *xg_rights(unsigned rights, char buf[5])
{
    buf[0] = (rights & GRANT_R_READ) ? 'r' : '-';
    buf[1] = (rights & GRANT_R_WRITE) ? 'w' : '-';
    buf[2] = (rights & GRANT_R_MAP) ? 'm' : '-';
    buf[3] = (rights & GRANT_R_DELEGATE) ? 'd' : '-';
    buf[4] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    size_t i;

    opterr = 0; /* the commands report bad options themselves */
    if (argc < 2) {
        fputs(usage_text, stderr);
        return XG_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "-h")) {
        fputs(usage_text, stdout);
        return XG_OK;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    xg_err(NULL, "unknown command '%s' (try 'xgrant help')", argv[1]);
    return XG_USAGE;
}
