/* SPDX-License-Identifier: MIT */
/*
 * uidrange.c: the uids of confined domains.
 *
 * Each incarnation of a domain gets a uid (and the same gid) of its own,
 * never the uid of an earlier one: whatever the kernel keeps by uid (the
 * user keyring, key quotas, files left in a host directory the domain can
 * write) must not pass from one domain to the next one given the same id.
 * The uids come from a range of XD_UID_RANGE (2^20) uids starting at
 * --domain-uid-base, in turn from a random starting point (so a restarted
 * daemon does not start over where the last one started), skipping every
 * uid that owns keys (/proc/key-users): a uid comes back only after 2^20
 * incarnations, and never while a key of it is left.
 *
 * The range must belong to nobody else: it is refused when it meets uids
 * 0-65535 (system, regular and systemd's dynamic users, nobody), a uid of
 * passwd or gid of group, a range of /etc/subuid or /etc/subgid, or
 * systemd-nspawn's container range 0x00080000-0x6fffffff.  The default
 * base 0x70000000 lies just above the latter.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "private.h"

#define UID_BASE_DEFAULT 0x70000000u
#define KEY_USERS_MAX    4096 /* beyond: the rest are not skipped */
#define ALLOC_TRIES      (KEY_USERS_MAX + 1)

static unsigned uid_base = UID_BASE_DEFAULT;
static uint32_t uid_next; /* offset in the range */
static bool uid_seeded;

void xd_confine_set_uid_base(unsigned base)
{
    uid_base = base;
}

unsigned xd_confine_uid_base(void)
{
    return uid_base;
}

/* ---- allocation ---------------------------------------------------------- */

/* The uids that own keys now (/proc/key-users), up to max; how many. */
static size_t key_users(uid_t *out, size_t max)
{
    FILE *f = fopen("/proc/key-users", "re");
    char line[256];
    unsigned uid;
    size_t n = 0;

    while (f && n < max && fgets(line, sizeof(line), f))
        if (sscanf(line, " %u:", &uid) == 1)
            out[n++] = uid;
    if (f)
        fclose(f);
    return n;
}

static bool listed(const uid_t *v, size_t n, uid_t uid)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == uid)
            return true;
    return false;
}

/* A uid for a new incarnation of a domain (see above). */
uid_t xd_confine_uid_next(void)
{
    static uid_t keyed[KEY_USERS_MAX];
    size_t n = key_users(keyed, KEY_USERS_MAX);
    uid_t uid = uid_base;

    if (!uid_seeded) {
        if (getrandom(&uid_next, sizeof(uid_next), GRND_NONBLOCK) < 0)
            uid_next = (uint32_t)getpid() * 2654435761u;
        uid_seeded = true;
    }
    for (int i = 0; i < ALLOC_TRIES; i++) {
        uid = (uid_t)(uid_base + uid_next++ % XD_UID_RANGE);
        if (!listed(keyed, n, uid))
            break;
    }
    return uid;
}

/* ---- the range's owner --------------------------------------------------- */

/* Does [a, a + an) meet [b, b + bn)?  (64-bit: no wrap.) */
static bool meets(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return a < b + bn && b < a + an;
}

/* A range of a /etc/subuid-style file (name:first:count) meeting
 * [base, base + XD_UID_RANGE): 1 with its line in why, 0 none. */
static int sub_ranges(const char *file, unsigned base, char *why, size_t len)
{
    FILE *f = fopen(file, "re");
    char line[512];
    unsigned long long first, count;
    int found = 0;

    while (f && !found && fgets(line, sizeof(line), f)) {
        const char *p = strchr(line, ':');

        if (!p || sscanf(p, ":%llu:%llu", &first, &count) != 2 ||
            !meets(base, XD_UID_RANGE, first, count))
            continue;
        line[strcspn(line, "\n")] = '\0';
        snprintf(why, len, "it meets %s's range %s", file, line);
        found = 1;
    }
    if (f)
        fclose(f);
    return found;
}

/* A passwd uid or group gid in [base, base + XD_UID_RANGE): 1 and why. */
static int accounts(unsigned base, char *why, size_t len)
{
    struct passwd *pw;
    struct group *gr;
    int found = 0;

    setpwent();
    while (!found && (pw = getpwent()))
        if (meets(base, XD_UID_RANGE, pw->pw_uid, 1)) {
            snprintf(why, len, "user %s has uid %u", pw->pw_name,
                     (unsigned)pw->pw_uid);
            found = 1;
        }
    endpwent();
    setgrent();
    while (!found && (gr = getgrent()))
        if (meets(base, XD_UID_RANGE, gr->gr_gid, 1)) {
            snprintf(why, len, "group %s has gid %u", gr->gr_name,
                     (unsigned)gr->gr_gid);
            found = 1;
        }
    endgrent();
    return found;
}

/*
 * Is [base, base + XD_UID_RANGE) free for domains (see above)?  0, or -1
 * with the reason in why.
 */
int xd_confine_check_uid_base(unsigned base, char *why, size_t len)
{
    if ((uint64_t)base + XD_UID_RANGE > 0xfffffffeu)
        snprintf(why, len, "the range ends past uid 4294967293");
    else if (meets(base, XD_UID_RANGE, 0, 65536))
        snprintf(why, len,
                 "it meets uids 0-65535 (system and regular "
                 "users, systemd's dynamic users, nobody)");
    else if (meets(base, XD_UID_RANGE, 0x80000, 0x6fffffff - 0x80000 + 1))
        snprintf(why, len,
                 "it meets systemd-nspawn's container range "
                 "0x00080000-0x6fffffff");
    else if (!accounts(base, why, len) &&
             !sub_ranges("/etc/subuid", base, why, len) &&
             !sub_ranges("/etc/subgid", base, why, len))
        return 0;
    return -1;
}
