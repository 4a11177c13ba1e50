/* SPDX-License-Identifier: MIT */
/*
 * cfg_vif.c: one `vif = [...]` entry, "key=value, key=value" as
 * xl-network-configuration(5) spells it (libxlutil leaves these to xl, so
 * they are parsed here).  Keys: mac, bridge, ip, script, vifname, mtu,
 * gatewaydev, backend (a driver domain), type (vif only).  Defaults as libxl's
 * libxl__device_nic_setdefault: a random MAC under Xen's OUI 00:16:3e,
 * bridge xenbr0, script vif-bridge, mtu 1500.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cfg.h"

#define ERR(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int parse_mac(const char *s, uint8_t mac[6])
{
    unsigned i;

    for (i = 0; i < 6; i++, s += 3) {
        char hex[3] = {s[0], s[0] ? s[1] : 0, 0}, *end;

        if (!hex[0] || !hex[1] || (i < 5 && s[2] != ':') || (i == 5 && s[2]))
            return -1;
        mac[i] = (uint8_t)strtoul(hex, &end, 16);
        if (*end)
            return -1;
    }
    return 0;
}

/* Xen's OUI and three random bytes, the first below 0x80 (as libxl). */
static void random_mac(uint8_t mac[6])
{
    uint8_t r[3] = {0};

    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r[2] = (uint8_t)rand(); /* never fails for 3 bytes in practice */
    mac[0] = 0x00;
    mac[1] = 0x16;
    mac[2] = 0x3e;
    mac[3] = r[0] & 0x7f;
    mac[4] = r[1];
    mac[5] = r[2];
}

static int set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = strdup(v);
    return *dst ? 0 : -1;
}

static int one_key(const char *k, const char *v, struct xg_vif *vif,
                   int *have_mac, char *err, size_t errlen)
{
    char *end;
    unsigned long mtu;

    if (!strcmp(k, "mac")) {
        *have_mac = 1;
        return parse_mac(v, vif->mac)
                   ? ERR("mac '%s' is not xx:xx:xx:xx:xx:xx", v)
                   : 0;
    }
    if (!strcmp(k, "mtu")) {
        errno = 0;
        mtu = strtoul(v, &end, 10);
        if (*v < '0' || *v > '9' || *end || errno || mtu < 68 || mtu > 65535)
            return ERR("mtu '%s' is not 68 to 65535", v);
        vif->mtu = (unsigned)mtu;
        return 0;
    }
    if (!strcmp(k, "backend"))
        return xg_cfg_domain_name(v)
                   ? set_str(&vif->backend, v)
                   : ERR("backend '%s' is not a domain name or id", v);
    if (!strcmp(k, "type"))
        return strcmp(v, "vif") ? ERR("type '%s': only vif is supported", v)
                                : 0;
    if (!strcmp(k, "bridge"))
        return set_str(&vif->bridge, v);
    if (!strcmp(k, "ip")) {
        struct in_addr a, m;

        if (xg_cfg_ip_parse(v, &a, &m) < 0)
            return ERR("ip '%s' is not a.b.c.d[/len]", v);
        return set_str(&vif->ip, v);
    }
    if (!strcmp(k, "script"))
        return set_str(&vif->script, v);
    if (!strcmp(k, "vifname"))
        return set_str(&vif->vifname, v);
    if (!strcmp(k, "gatewaydev"))
        return set_str(&vif->gatewaydev, v);
    return ERR("unknown key '%s'", k);
}

int xg_cfg_ip_parse(const char *ip, struct in_addr *addr, struct in_addr *mask)
{
    char buf[64], *slash, *end;
    long len = 24;

    snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(ip, " \t"), ip);
    slash = strchr(buf, '/');
    if (slash) {
        *slash++ = '\0';
        errno = 0;
        len = strtol(slash, &end, 10);
        if (!*slash || *end || errno || len < 0 || len > 32)
            return -1;
    }
    if (inet_pton(AF_INET, buf, addr) != 1)
        return -1;
    mask->s_addr = htonl(len ? ~0u << (32 - len) : 0);
    return 0;
}

/* Trims blanks at both ends, in place. */
static char *trim(char *s)
{
    char *e;

    s += strspn(s, " \t");
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

static int defaults(struct xg_vif *v, int have_mac)
{
    if (!have_mac)
        random_mac(v->mac);
    if (!v->mtu)
        v->mtu = 1500;
    if (!v->bridge && set_str(&v->bridge, "xenbr0") < 0)
        return -1;
    if (!v->script && set_str(&v->script, "vif-bridge") < 0)
        return -1;
    return 0;
}

int xg_cfg_vif_parse(const char *spec, struct xg_vif *v, char *err,
                     size_t errlen)
{
    char *copy = strdup(spec), *save = NULL, *tok, *eq;
    int have_mac = 0, rc = 0;

    snprintf(err, errlen, "out of memory");
    if (!copy)
        return ERR("out of memory");
    for (tok = strtok_r(copy, ",", &save); tok && rc == 0;
         tok = strtok_r(NULL, ",", &save)) {
        tok = trim(tok);
        if (!*tok)
            continue;
        eq = strchr(tok, '=');
        if (!eq) {
            rc = ERR("'%s' is not key=value", tok);
            break;
        }
        *eq = '\0';
        rc = one_key(trim(tok), trim(eq + 1), v, &have_mac, err, errlen);
    }
    free(copy);
    if (rc == 0 && defaults(v, have_mac) < 0)
        rc = ERR("out of memory");
    return rc;
}
