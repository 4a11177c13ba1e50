/* SPDX-License-Identifier: MIT */
/*
 * create_netfront.c: the guest side of each vif, as root.
 *
 * Under a root xgrantd each domain has a network namespace of its own with
 * only loopback (tools/xgrantd/confine.c), no capability and no
 * /dev/net/tun.  For each vif of the config, create makes the guest's
 * interface there and starts the netfront daemon in the domain
 * (frontend/README.md: xgrant-netfront --tap-fd), as a kernel's netfront
 * would come up in a Xen guest:
 *
 *   1. a child joins the domain's network namespace and, still root, makes
 *      the TAP eth<devid> (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR), gives it the
 *      vif's mac and mtu, the vif's first `ip=` address (a.b.c.d[/len],
 *      /24 by default: xgrant's stand-in for the guest configuring its own
 *      interface) and brings it up;
 *   2. it joins the domain's PID, IPC and mount namespaces and forks (and
 *      then only waits to reap the daemon: a process of the domain with a
 *      parent outside it is reaped from outside, and the domain's end
 *      waits until it is): the grandchild is a process of the domain (xgrantd
 * knows a domain's processes by their PID namespace); it takes the domain's uid
 * and gid (those of its init, with no supplementary group: every capability
 * goes with uid 0), sets no_new_privs, and executes xgrant-netfront --devid N
 * --ifname eth<N> --tap-fd 3 with the TAP as fd 3, the environment of the
 * domain's init, stdout and stderr appended to
 * <rundir>/xgrant-netfront.<domid>.<devid>.log.
 *
 * It runs until the backend closes the device or the domain goes.  What is
 * not the same as the domain's own processes: it does not run under the
 * domain's seccomp filter (it cannot make namespaces anyway: no capability,
 * no_new_privs, and a root xgrantd's host is expected to refuse
 * unprivileged user namespaces as the domains' filter does).
 *
 * A domain that shares this process's network namespace (xgrantd not
 * root, or not confining) gets no netfront: said on stderr, the guest
 * program may run its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "private.h"

#define CMD "create"

/* The domain's init: its pid, namespaces, credentials and environment. */
struct guest {
    pid_t pid;
    uid_t uid;
    gid_t gid;
    char *env_buf;
    char **env;
};

static int same_netns(pid_t pid)
{
    char path[64];
    struct stat a, b;

    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    return stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 &&
           a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* The environment of pid, as an envp; 0 or -errno. */
static int read_env(struct guest *g)
{
    char path[64];
    size_t len = 0, cap = 0, n, i, k = 0;
    char buf[4096];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/environ", (int)g->pid);
    f = fopen(path, "r");
    if (!f)
        return -errno;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (len + n + 1 > cap) {
            char *p = realloc(g->env_buf, cap = (len + n + 1) * 2);

            if (!p)
                break;
            g->env_buf = p;
        }
        memcpy(g->env_buf + len, buf, n);
        len += n;
    }
    fclose(f);
    if (!g->env_buf)
        return -ENOENT;
    g->env_buf[len] = '\0';
    g->env = calloc(len + 2, sizeof(char *));
    for (i = 0; g->env && i < len; i += strlen(g->env_buf + i) + 1)
        g->env[k++] = g->env_buf + i;
    return g->env ? 0 : -ENOMEM;
}

static int guest_find(grant_handle_t *h, unsigned domid, struct guest *g)
{
    struct grant_domain_info *all;
    char path[64];
    struct stat st;
    int n, i;

    memset(g, 0, sizeof(*g));
    n = xg_list_domains(CMD, h, &all);
    for (i = 0; i < n; i++)
        if (all[i].domid == domid)
            g->pid = all[i].pid;
    if (n >= 0)
        free(all);
    snprintf(path, sizeof(path), "/proc/%d", (int)g->pid);
    if (g->pid <= 0 || stat(path, &st) < 0)
        return -ESRCH;
    g->uid = st.st_uid;
    g->gid = st.st_gid;
    return read_env(g);
}

static void guest_free(struct guest *g)
{
    free(g->env);
    free(g->env_buf);
}

/* ---- Step 1: the TAP, in the domain's network namespace ---------------- */

static int if_ioctl(int s, unsigned long req, struct ifreq *ifr,
                    const char *what, char *err, size_t errlen)
{
    if (ioctl(s, req, ifr) == 0)
        return 0;
    snprintf(err, errlen, "%s of %s: %s", what, ifr->ifr_name, strerror(errno));
    return -1;
}

/* Address, mac, mtu, up; 0 or -1 with err. */
static int tap_config(const char *name, const struct xg_vif *v, char *err,
                      size_t errlen)
{
    struct ifreq ifr = {0};
    struct in_addr addr, mask;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

    if (s < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, v->mac, 6);
    if (if_ioctl(s, SIOCSIFHWADDR, &ifr, "mac", err, errlen))
        goto out;
    ifr.ifr_mtu = (int)v->mtu;
    if (if_ioctl(s, SIOCSIFMTU, &ifr, "mtu", err, errlen))
        goto out;
    if (v->ip) {
        if (xg_cfg_ip_parse(v->ip, &addr, &mask) < 0) {
            snprintf(err, errlen, "ip '%s' is not a.b.c.d[/len]", v->ip);
            goto out;
        }
        sin->sin_family = AF_INET;
        sin->sin_addr = addr;
        if (if_ioctl(s, SIOCSIFADDR, &ifr, "address", err, errlen))
            goto out;
        sin->sin_addr = mask;
        if (if_ioctl(s, SIOCSIFNETMASK, &ifr, "netmask", err, errlen))
            goto out;
    }
    if (if_ioctl(s, SIOCGIFFLAGS, &ifr, "flags", err, errlen))
        goto out;
    ifr.ifr_flags |= IFF_UP;
    rc = if_ioctl(s, SIOCSIFFLAGS, &ifr, "up", err, errlen);
out:
    close(s);
    return rc;
}

static int tap_make(const char *name, const struct xg_vif *v, char *err,
                    size_t errlen)
{
    struct ifreq ifr = {0};
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
        return -1;
    }
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (if_ioctl(fd, TUNSETIFF, &ifr, "TUNSETIFF", err, errlen) ||
        tap_config(name, v, err, errlen)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- Step 2: the daemon, a process of the domain ----------------------- */

static int join(pid_t pid, const char *ns, int type, char *err, size_t errlen)
{
    char path[64];
    int fd, rc;

    snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    rc = fd < 0 ? -1 : setns(fd, type);
    if (rc < 0)
        snprintf(err, errlen, "joining the domain's %s namespace: %s", ns,
                 strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc;
}

/* In the grandchild: the domain's credentials, then the daemon. */
static void exec_netfront(const struct guest *g, const char *bin,
                          const struct xg_vif *v, const char *ifname, int tap,
                          int log)
{
    char devid[16], *argv[] = {(char *)bin,    "--devid",  devid, "--ifname",
                               (char *)ifname, "--tap-fd", "3",   NULL};
    int null = open("/dev/null", O_RDONLY);

    snprintf(devid, sizeof(devid), "%u", v->devid);
    if (null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0 ||
        dup2(tap, 3) < 0 || fcntl(3, F_SETFD, 0) < 0 || chdir("/") < 0 ||
        setgroups(0, NULL) < 0 || setgid(g->gid) < 0 || setuid(g->uid) < 0 ||
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        dprintf(log, "xgrant: netfront of vif %u: setting up: %s\n", v->devid,
                strerror(errno));
        _exit(127);
    }
    execve(bin, argv, g->env);
    dprintf(log, "xgrant: netfront of vif %u: %s: %s\n", v->devid, bin,
            strerror(errno));
    _exit(127);
}

/* The child: steps 1 and 2; reports the daemon's pid or an error on
 * `report`, then exits. */
static void child(const struct guest *g, const char *bin,
                  const struct xg_vif *v, int log, int report)
{
    char ifname[IFNAMSIZ], err[256] = "";
    pid_t pid = -1;
    int tap = -1, null;

    snprintf(ifname, sizeof(ifname), "eth%u", v->devid);
    setsid(); /* the CLI's terminal signals are not the daemon's */
    xg_close_others(log, report); /* the CLI's handles stay its own */
    if (join(g->pid, "net", CLONE_NEWNET, err, sizeof(err)) == 0 &&
        (tap = tap_make(ifname, v, err, sizeof(err))) >= 0 &&
        join(g->pid, "pid", CLONE_NEWPID, err, sizeof(err)) == 0 &&
        join(g->pid, "ipc", CLONE_NEWIPC, err, sizeof(err)) == 0 &&
        join(g->pid, "mnt", CLONE_NEWNS, err, sizeof(err)) == 0) {
        pid = fork();
        if (pid == 0)
            exec_netfront(g, bin, v, ifname, tap, log);
        if (pid < 0)
            snprintf(err, sizeof(err), "fork: %s", strerror(errno));
        else
            snprintf(err, sizeof(err), "%d", (int)pid);
    }
    if (write(report, err, strlen(err) + 1) < 0 || tap < 0 || pid <= 0)
        _exit(1);
    /* The daemon's parent stays to reap it: a process of the domain whose
     * parent is outside it must be reaped from outside, else the domain's
     * end waits for whoever inherits it (the host's init). */
    close(report);
    close(log);
    close(tap);
    null = open("/dev/null", O_RDWR); /* the CLI's output is not held open */
    if (null >= 0)
        for (int fd = 0; fd < 3; fd++)
            dup2(null, fd);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    _exit(0);
}

static int start_one(const struct guest *g, const char *bin, unsigned domid,
                     const struct xg_vif *v)
{
    char logp[PATH_MAX], name[64], msg[256] = "";
    int p[2], log;
    pid_t pid;
    ssize_t n;

    snprintf(name, sizeof(name), "xgrant-netfront.%u.%u", domid, v->devid);
    xg_run_file(name, ".log", logp, sizeof(logp));
    log = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log < 0 || pipe2(p, O_CLOEXEC) < 0) {
        xg_err(CMD, "interface %u: %s: %s", v->devid, logp, strerror(errno));
        if (log >= 0)
            close(log);
        return -1;
    }
    pid = fork();
    if (pid == 0)
        child(g, bin, v, log, p[1]);
    close(p[1]);
    close(log);
    n = pid < 0 ? -1 : read(p[0], msg, sizeof(msg) - 1);
    close(p[0]);
    msg[n > 0 ? n : 0] = '\0'; /* the child stays, the daemon's reaper */
    if (!msg[0] || strspn(msg, "0123456789") != strlen(msg)) {
        snprintf(name, sizeof(name), "/proc/%d", (int)g->pid);
        if (access(name, F_OK) < 0) /* the guest's program ended meanwhile */
            return -ESRCH;
        xg_err(CMD, "interface %u: cannot start the guest's netfront: %s",
               v->devid, msg[0] ? msg : strerror(errno));
        return -1;
    }
    fprintf(stderr,
            "xgrant: interface %u: eth%u in domain %u's network namespace, "
            "xgrant-netfront (pid %s); log: %s\n",
            v->devid, v->devid, domid, msg, logp);
    return 0;
}

int xg_netfronts_start(grant_handle_t *h, const struct xg_cfg *cfg,
                       unsigned domid)
{
    char bin[PATH_MAX];
    struct guest g;
    unsigned i;
    int rc;

    if (!cfg->nr_vifs || xg_backends_none())
        return 0;
    rc = guest_find(h, domid, &g);
    if (rc == -ENOENT || rc == -ESRCH) /* gone, or going as it was read */
        rc = -ESRCH;
    else if (rc < 0)
        xg_err(CMD, "domain %u: cannot read its init: %s", domid,
               strerror(-rc));
    else if (same_netns(g.pid)) {
        fprintf(stderr,
                "xgrant: domain %u shares this network namespace (xgrantd "
                "is not root, or does not confine): no netfront started for "
                "its %u interface(s)\n",
                domid, cfg->nr_vifs);
        goto out;
    } else if ((rc = xg_driver_bin("xgrant-netfront", "XGRANT_NETFRONT", bin,
                                   sizeof(bin))) < 0)
        xg_err(CMD,
               "interfaces need the guest's xgrant-netfront: %s: %s (build "
               "it, set XGRANT_NETFRONT, or XGRANT_BACKENDS=none)",
               bin, strerror(-rc));
    for (i = 0; rc == 0 && i < cfg->nr_vifs; i++)
        rc = start_one(&g, bin, domid, &cfg->vifs[i]);
    if (rc == -ESRCH) { /* the guest's program ended: nothing to drive */
        fprintf(stderr,
                "xgrant: domain %u is gone before its interfaces could be "
                "set up\n",
                domid);
        rc = 0;
    }
out:
    guest_free(&g);
    return rc < 0 ? -1 : 0;
}
