/* SPDX-License-Identifier: MIT */
/*
 * cfg.c: reads an xl guest configuration with Debian's libxlutil (the
 * parser xl itself uses) and checks what `xgrant create` needs:
 *
 *   name    = "guest"                        required, [A-Za-z0-9_.-]{1,31}
 *   memory  = 64                             MiB, as in xl (default 64)
 *   program = [ "prog", "arg", ... ]         the guest program (required;
 *                                            a string is a program alone)
 *   disk    = [ 'format=raw, vdev=xvda, access=rw, target=PATH', ... ]
 *   vif     = [ 'mac=00:16:3e:00:00:01, bridge=xenbr0', ... ]
 *             (either with backend=NAME: a driver domain serves it)
 *
 * Disk specs go through libxlutil's xlu_disk_parse; vif specs are parsed
 * here (libxlutil leaves them to xl).  Every semantic error names the
 * file, the line of the key and the key.  libxlutil does not expose line
 * numbers, so the line is that of the last assignment of the key (the one
 * libxlutil uses); overrides from the command line say so instead.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <libxlutil.h>

#include "cfg.h"
#include "private.h"

#define NAME_CHARS                                                             \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"

/* The parse in progress: the config, its report stream and the file. */
struct parse {
    XLU_Config *xlu;
    FILE *report;
    char *report_buf;
    size_t report_len;
    const char *file;
    char **overrides;
    int nr_overrides;
    int errors;
};

/* ---- Where a key is ---------------------------------------------------- */

/* 1 if `line` assigns `key` ("key =", "key+=", leading blanks allowed). */
static int assigns(const char *line, const char *key)
{
    size_t n = strlen(key);

    line += strspn(line, " \t");
    if (strncmp(line, key, n))
        return 0;
    line += n;
    line += strspn(line, " \t");
    return line[0] == '=' || (line[0] == '+' && line[1] == '=');
}

/* "FILE:LINE" of the assignment of key that counts, or "command line". */
static void where(const struct parse *p, const char *key, char *buf, size_t len)
{
    char line[4096];
    int i, no = 0, found = 0;
    FILE *f;

    for (i = p->nr_overrides - 1; i >= 0; i--)
        if (assigns(p->overrides[i], key)) {
            snprintf(buf, len, "%s: command line '%s'", p->file,
                     p->overrides[i]);
            return;
        }
    f = fopen(p->file, "r");
    while (f && fgets(line, sizeof(line), f)) {
        no++;
        if (assigns(line, key))
            found = no;
    }
    if (f)
        fclose(f);
    if (found)
        snprintf(buf, len, "%s:%d", p->file, found);
    else
        snprintf(buf, len, "%s", p->file);
}

static void bad(struct parse *p, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad(struct parse *p, const char *key, const char *fmt, ...)
{
    char loc[4200];
    va_list ap;

    where(p, key, loc, sizeof(loc));
    fprintf(stderr, "%s: key '%s': ", loc, key);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    p->errors++;
}

/* What libxlutil reported since the last call (without its "FILE: "
 * prefix and the trailing newline), for our own message. */
static const char *report_take(struct parse *p, char *buf, size_t len)
{
    const char *s, *pfx = ": config parsing error in disk specification: ";

    fflush(p->report);
    s = p->report_buf ? p->report_buf : "";
    if (strstr(s, pfx))
        s = strstr(s, pfx) + strlen(pfx);
    snprintf(buf, len, "%s", s);
    buf[strcspn(buf, "\n")] = '\0';
    rewind(p->report);
    fflush(p->report);
    if (p->report_buf)
        p->report_buf[0] = '\0';
    return buf;
}

/* ---- Scalars ---------------------------------------------------------- */

static int get_name(struct parse *p, struct xg_cfg *cfg)
{
    const char *s;
    int rc = xlu_cfg_get_string(p->xlu, "name", &s, 1);

    if (rc == ESRCH) {
        bad(p, "name", "missing: every guest needs a name");
        return -1;
    }
    if (rc) {
        bad(p, "name", "want a string");
        return -1;
    }
    if (!xg_cfg_domain_name(s)) {
        bad(p, "name", "'%s' is not 1 to %u characters of [A-Za-z0-9_.-]", s,
            GRANT_NAME_MAX - 1);
        return -1;
    }
    cfg->name = strdup(s);
    return cfg->name ? 0 : -1;
}

static int get_memory(struct parse *p, struct xg_cfg *cfg)
{
    long mib;
    int rc = xlu_cfg_get_long(p->xlu, "memory", &mib, 1);

    cfg->memory_bytes = 64ull << 20;
    if (rc == ESRCH)
        return 0;
    if (rc == ERANGE || (rc == 0 && (mib <= 0 || mib > (1l << 20)))) {
        bad(p, "memory", "want 1 to %ld MiB", 1l << 20);
        return -1;
    }
    if (rc) {
        bad(p, "memory", "not a number of MiB (xl's unit: memory = 64)");
        return -1;
    }
    cfg->memory_bytes = (uint64_t)mib << 20;
    return 0;
}

static int get_program(struct parse *p, struct xg_cfg *cfg)
{
    XLU_ConfigList *list;
    const char *s;
    int n, i;

    if (xlu_cfg_get_string(p->xlu, "program", &s, 1) == 0) {
        cfg->argv = calloc(2, sizeof(char *));
        if (!cfg->argv || !(cfg->argv[0] = strdup(s)))
            return -1;
        return *s ? 0 : (bad(p, "program", "empty"), -1);
    }
    if (xlu_cfg_get_list(p->xlu, "program", &list, &n, 1) == ESRCH) {
        bad(p, "program",
            "missing: the guest program to run, e.g. "
            "program = [ 'sleep', '60' ]");
        return -1;
    }
    if (xlu_cfg_get_list(p->xlu, "program", &list, &n, 1) || n == 0) {
        bad(p, "program", "want a list of strings ['prog', 'arg', ...]");
        return -1;
    }
    cfg->argv = calloc((size_t)n + 1, sizeof(char *));
    for (i = 0; cfg->argv && i < n; i++) {
        s = xlu_cfg_get_listitem(list, i);
        if (!s || (i == 0 && !*s)) {
            bad(p, "program", "item %d is not a string (or is empty)", i + 1);
            return -1;
        }
        if (!(cfg->argv[i] = strdup(s)))
            return -1;
    }
    return cfg->argv ? 0 : -1;
}

int xg_cfg_domain_name(const char *s)
{
    return *s && strlen(s) < GRANT_NAME_MAX &&
           strspn(s, NAME_CHARS) == strlen(s);
}

/* ---- Disks ------------------------------------------------------------ */

/* libxl's device_virtdisk_matches: PREFIX, letters as base-26, partition. */
static int virtdisk(const char *v, const char *prefix, long max_disk,
                    long max_part, long *disk, long *part)
{
    size_t n = strlen(prefix);
    char *end;
    long d = -1;

    if (strncmp(v, prefix, n))
        return 0;
    for (v += n; *v >= 'a' && *v <= 'z'; v++) {
        d = (d + 1) * 26 + (*v - 'a');
        if (d > max_disk)
            return 0;
    }
    if (d < 0)
        return 0;
    *disk = d;
    *part = 0;
    if (!*v)
        return 1;
    if (*v < '1' || *v > '9')
        return 0;
    errno = 0;
    *part = strtol(v, &end, 10);
    return !*end && !errno && *part <= max_part;
}

long xg_vdev_devid(const char *v)
{
    long d, p;
    char *end;
    int used = -1;

    if ((sscanf(v, "d%lip%li%n", &d, &p, &used) >= 2 &&
         used == (int)strlen(v) && d >= 0 && d < (1l << 20) && p >= 0 &&
         p < 256) ||
        virtdisk(v, "xvd", (1l << 20) - 1, 255, &d, &p))
        return d <= 15 && p <= 15 ? (202l << 8) | (d << 4) | p
                                  : (1l << 28) | (d << 8) | p;
    errno = 0;
    d = strtol(v, &end, 0);
    if (*v >= '0' && *v <= '9' && !*end && !errno && d <= INT_MAX)
        return d;
    if (virtdisk(v, "hd", 3, 63, &d, &p))
        return ((d < 2 ? 3l : 22l) << 8) | ((d & 1) << 6) | p;
    if (virtdisk(v, "sd", 15, 15, &d, &p))
        return (8l << 8) | (d << 4) | p;
    return -1;
}

/* What xgrant's toolstack supports of a parsed disk; 0 or -1 (printed). */
static int disk_check(struct parse *p, const libxl_device_disk *d, int i)
{
    struct stat st;

    if (d->format != LIBXL_DISK_FORMAT_RAW)
        bad(p, "disk", "entry %d: format '%s': only raw images are supported",
            i, libxl_disk_format_to_string(d->format));
    else if (d->is_cdrom)
        bad(p, "disk", "entry %d: cdrom devices are not supported", i);
    else if (d->backend != LIBXL_DISK_BACKEND_UNKNOWN &&
             d->backend != LIBXL_DISK_BACKEND_PHY)
        bad(p, "disk", "entry %d: backendtype '%s': only phy is supported", i,
            libxl_disk_backend_to_string(d->backend));
    else if (d->backend_domname && !xg_cfg_domain_name(d->backend_domname))
        bad(p, "disk", "entry %d: backend '%s' is not a domain name or id", i,
            d->backend_domname);
    else if (!d->pdev_path || !*d->pdev_path)
        bad(p, "disk", "entry %d: missing target=PATH", i);
    else if (stat(d->pdev_path, &st) < 0)
        bad(p, "disk", "entry %d: target '%s': %s", i, d->pdev_path,
            strerror(errno));
    else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        bad(p, "disk", "entry %d: target '%s' is not a file or block device", i,
            d->pdev_path);
    else if (xg_vdev_devid(d->vdev) < 0)
        bad(p, "disk", "entry %d: vdev '%s' is not a virtual disk name", i,
            d->vdev);
    else
        return 0;
    return -1;
}

static int disk_take(const libxl_device_disk *d, struct xg_disk *out)
{
    out->vdev = strdup(d->vdev);
    out->target = strdup(d->pdev_path);
    out->script = d->script ? strdup(d->script) : NULL;
    out->backend = d->backend_domname ? strdup(d->backend_domname) : NULL;
    out->devid = (unsigned)xg_vdev_devid(d->vdev);
    out->readwrite = d->readwrite;
    out->removable = d->removable;
    out->direct_io_safe = d->direct_io_safe;
    /* libxl__device_disk_setdefault: discard defaults to readwrite. */
    out->discard = libxl_defbool_is_default(d->discard_enable)
                       ? !!d->readwrite
                       : libxl_defbool_val(d->discard_enable);
    return out->vdev && out->target && (out->script || !d->script) &&
                   (out->backend || !d->backend_domname)
               ? 0
               : -1;
}

static int disk_one(struct parse *p, const char *spec, int i,
                    struct xg_disk *out)
{
    libxl_device_disk d;
    char msg[512];
    int rc;

    libxl_device_disk_init(&d);
    rc = xlu_disk_parse(p->xlu, 1, &spec, &d);
    if (rc)
        bad(p, "disk", "entry %d: %s", i, report_take(p, msg, sizeof(msg)));
    else if (!d.vdev)
        bad(p, "disk", "entry %d: missing vdev=", i);
    else if (disk_check(p, &d, i) == 0)
        rc = disk_take(&d, out);
    else
        rc = -1;
    libxl_device_disk_dispose(&d);
    return rc ? -1 : 0;
}

/* The list `key` ("want" describes its entries): 0 with *n entries (0 when
 * absent), or -1 (printed). */
static int spec_list(struct parse *p, const char *key, const char *want,
                     XLU_ConfigList **list, int *n)
{
    int rc = xlu_cfg_get_list(p->xlu, key, list, n, 1);

    if (rc == ESRCH)
        *n = 0;
    else if (rc) {
        bad(p, key, "want a list of %s ['...', ...]", want);
        return -1;
    }
    return 0;
}

/* Entry i of the list, or NULL (printed) when it is not a string. */
static const char *spec_item(struct parse *p, const char *key,
                             XLU_ConfigList *list, int i)
{
    const char *s = xlu_cfg_get_listitem(list, i);

    if (!s)
        bad(p, key, "entry %d is not a string", i + 1);
    return s;
}

static int disks_distinct(struct parse *p, const struct xg_cfg *cfg)
{
    unsigned i, j;
    int rc = 0;

    for (i = 0; i < cfg->nr_disks; i++)
        for (j = 0; j < i; j++)
            if (cfg->disks[i].devid == cfg->disks[j].devid) {
                bad(p, "disk", "vdev '%s' is the same device as '%s' (%u)",
                    cfg->disks[i].vdev, cfg->disks[j].vdev,
                    cfg->disks[i].devid);
                rc = -1;
            }
    return rc;
}

static int get_disks(struct parse *p, struct xg_cfg *cfg)
{
    XLU_ConfigList *list;
    const char *spec;
    int n, i, rc = spec_list(p, "disk", "disk specifications", &list, &n);

    if (rc < 0 || n == 0)
        return rc;
    cfg->disks = calloc((size_t)n + 1, sizeof(*cfg->disks));
    if (!cfg->disks)
        return -1;
    for (i = 0; i < n; i++) {
        spec = spec_item(p, "disk", list, i);
        if (spec && disk_one(p, spec, i + 1, &cfg->disks[cfg->nr_disks]) == 0)
            cfg->nr_disks++;
        else
            rc = -1;
    }
    return disks_distinct(p, cfg) < 0 ? -1 : rc;
}

/* ---- Interfaces (cfg_vif.c) and the whole file ------------------------ */

static int get_vifs(struct parse *p, struct xg_cfg *cfg)
{
    XLU_ConfigList *list;
    const char *spec;
    char err[512];
    int n, i, rc = spec_list(p, "vif", "interface specifications", &list, &n);

    if (rc < 0 || n == 0)
        return rc;
    cfg->vifs = calloc((size_t)n + 1, sizeof(*cfg->vifs));
    if (!cfg->vifs)
        return -1;
    for (i = 0; i < n; i++) {
        struct xg_vif *v = &cfg->vifs[cfg->nr_vifs++]; /* freed even if bad */

        v->devid = (unsigned)i;
        spec = spec_item(p, "vif", list, i);
        if (!spec)
            rc = -1;
        else if (xg_cfg_vif_parse(spec, v, err, sizeof(err)) < 0) {
            bad(p, "vif", "entry %d: %s in '%s'", i + 1, err, spec);
            rc = -1;
        }
    }
    return rc;
}

/* Reads the file and the overrides; 0 or -1 (printed). */
static int read_all(struct parse *p)
{
    FILE *f = fopen(p->file, "r");
    char msg[1024];
    int i, rc;

    if (!f) {
        fprintf(stderr, "xgrant: create: cannot read '%s': %s\n", p->file,
                strerror(errno));
        return -1;
    }
    fclose(f);
    rc = xlu_cfg_readfile(p->xlu, p->file);
    for (i = 0; rc == 0 && i < p->nr_overrides; i++)
        rc = xlu_cfg_readdata(p->xlu, p->overrides[i],
                              (int)strlen(p->overrides[i]));
    if (rc == 0)
        return 0;
    report_take(p, msg, sizeof(msg));
    if (i > 0) {
        const char *o = p->overrides[i - 1], *why = strstr(msg, "config ");

        fprintf(stderr, "%s: command line '%s': key '%.*s': %s\n", p->file, o,
                (int)strcspn(o, " \t+="), o, why ? why : msg);
    } else
        fprintf(stderr, "%s\n", msg[0] ? msg : strerror(rc));
    return -1;
}

int xg_cfg_load(const char *file, char **overrides, int nr_overrides,
                struct xg_cfg *cfg)
{
    struct parse p = {
        .file = file, .overrides = overrides, .nr_overrides = nr_overrides};
    int rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    cfg->file = file;
    p.report = open_memstream(&p.report_buf, &p.report_len);
    if (!p.report)
        return -1;
    p.xlu = xlu_cfg_init(p.report, file);
    if (p.xlu && read_all(&p) == 0) {
        /* Every check runs, so one pass reports every problem. */
        rc = get_name(&p, cfg);
        rc |= get_memory(&p, cfg);
        rc |= get_program(&p, cfg);
        rc |= get_disks(&p, cfg);
        rc |= get_vifs(&p, cfg);
        rc = rc || p.errors ? -1 : 0;
    }
    if (p.xlu)
        xlu_cfg_destroy(p.xlu);
    fclose(p.report);
    free(p.report_buf);
    if (rc < 0)
        xg_cfg_free(cfg);
    return rc;
}

void xg_cfg_free(struct xg_cfg *cfg)
{
    unsigned i;

    for (i = 0; cfg->argv && cfg->argv[i]; i++)
        free(cfg->argv[i]);
    for (i = 0; i < cfg->nr_disks; i++) {
        free(cfg->disks[i].vdev);
        free(cfg->disks[i].target);
        free(cfg->disks[i].script);
        free(cfg->disks[i].backend);
    }
    for (i = 0; i < cfg->nr_vifs; i++) {
        free(cfg->vifs[i].bridge);
        free(cfg->vifs[i].script);
        free(cfg->vifs[i].ip);
        free(cfg->vifs[i].vifname);
        free(cfg->vifs[i].gatewaydev);
        free(cfg->vifs[i].backend);
    }
    free(cfg->argv);
    free(cfg->disks);
    free(cfg->vifs);
    free(cfg->name);
    memset(cfg, 0, sizeof(*cfg));
}
