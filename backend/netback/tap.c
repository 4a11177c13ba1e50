/* SPDX-License-Identifier: MIT */
/*
 * tap.c: a vif's host side, a multi-queue TAP device with virtio-net
 * headers (IFF_VNET_HDR): one file descriptor per queue, all opened on the
 * same name.  The device lives while a descriptor is open (not
 * persistent), so a daemon that dies leaves no interface behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "private.h"

int nb_tap_open(const char *name, int *fd)
{
    struct ifreq ifr;
    int f, err;

    if (strlen(name) >= IFNAMSIZ)
        return -ENAMETOOLONG;
    f = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (f < 0)
        return -errno;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
    if (ioctl(f, TUNSETIFF, &ifr) < 0) {
        err = -errno;
        close(f);
        return err;
    }
    *fd = f;
    return 0;
}

/* An AF_INET socket for interface ioctls. */
static int ctl_sock(void)
{
    return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static int ifreq_call(int s, unsigned long req, struct ifreq *ifr)
{
    return ioctl(s, req, ifr) < 0 ? -errno : 0;
}

/* Each step is tried whatever the ones before did (a missing bridge does
 * not keep the vif down); the first failure is returned, named in err. */
static void step(int rc, const char *what, int *first, char *err, size_t len)
{
    if (rc < 0 && *first == 0) {
        *first = rc;
        snprintf(err, len, "%s", what);
    }
}

int nb_tap_setup(const char *name, const char *bridge, unsigned mtu, char *err,
                 size_t len)
{
    static const uint8_t fe_mac[6] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff};
    struct ifreq ifr, br;
    int s = ctl_sock(), first = 0, rc;
    char what[IFNAMSIZ + 16];

    if (s < 0)
        return -errno;
    err[0] = '\0';
    /* The host side's address, as Xen's vif scripts set it: the guest's
     * own MAC is the frontend's. */
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    ifr.ifr_hwaddr.sa_family = 1; /* ARPHRD_ETHER */
    memcpy(ifr.ifr_hwaddr.sa_data, fe_mac, sizeof(fe_mac));
    step(ifreq_call(s, SIOCSIFHWADDR, &ifr), "address", &first, err, len);
    if (mtu) {
        ifr.ifr_mtu = (int)mtu;
        step(ifreq_call(s, SIOCSIFMTU, &ifr), "mtu", &first, err, len);
    }
    if (bridge && *bridge) {
        memset(&br, 0, sizeof(br));
        snprintf(br.ifr_name, sizeof(br.ifr_name), "%s", bridge);
        br.ifr_ifindex = (int)if_nametoindex(name);
        snprintf(what, sizeof(what), "bridge %s", bridge);
        step(br.ifr_ifindex ? ifreq_call(s, SIOCBRADDIF, &br) : -ENODEV, what,
             &first, err, len);
    }
    rc = ifreq_call(s, SIOCGIFFLAGS, &ifr);
    ifr.ifr_flags |= IFF_UP;
    if (rc == 0)
        rc = ifreq_call(s, SIOCSIFFLAGS, &ifr);
    step(rc, "bringing it up", &first, err, len);
    close(s);
    return first;
}

int nb_tap_offload(int fd, unsigned flags)
{
    return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -errno : 0;
}

/* Without a connected frontend the host stack sees no carrier and queues
 * nothing for us (kernels without TUNSETCARRIER: packets are read and
 * dropped instead). */
void nb_tap_carrier(int fd, int on)
{
    (void)ioctl(fd, TUNSETCARRIER, &on);
}
