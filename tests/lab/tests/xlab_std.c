/* SPDX-License-Identifier: MIT */
/*
 * xlab_std.c: Xen's standard grants through libgrant (grant_v1_*), on the
 * patched and on the stock hypervisor alike.  The guest shares three pages
 * read-write and one read-only with v1 refs (gntalloc); dom0 maps the
 * three into one range and checks every byte, writes a marker across the
 * page 1/2 boundary through it, reads a file into page 0 with O_DIRECT
 * (zero-copy I/O into a mapped v1 grant: gntdev's pages are struct
 * pages), maps the read-only page read-only (a write faults), grant-copies
 * from and to the pages, and is refused past a page's end, for a bad ref
 * and for the read-only page.  The guest then finds dom0's bytes in its
 * pages and ends the shares; afterwards dom0's map of the ref fails.
 * With the extension, dom0 also reads a file with O_DIRECT into a mapped
 * extension grant (the module's map windows have struct pages) and reads
 * the page back through /proc/self/mem (get_user_pages, then the kernel's
 * own mapping of it); the guest finds the file's bytes in its page.  The
 * guest's lines go to "v1results".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlab.h"

#define STD_PAGES  3u
#define STD_MARK   "v1-map-marker"
#define STD_MOFF   (2u * 4096u - 5u) /* across the page 1/2 boundary */
#define STD_COPY   "v1-copy-marker"
#define STD_COFF   100u /* in page 2 */
#define STD_FILE   "/xlab/odirect.dat"
#define STD_BADREF 0x7777u

static uint8_t std_byte(uint64_t i)
{
    return xlab_pattern(i + 31u);
}

static uint8_t file_byte(uint64_t i)
{
    return (uint8_t)(i * 13u + 5u);
}

/* ---- dom0 ---------------------------------------------------------------- */

/* Writes STD_FILE (one page) and reads it back with O_DIRECT into dst. */
static int odirect_read(void *dst)
{
    uint8_t buf[4096];
    ssize_t n;
    int fd;

    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = file_byte(i);
    fd = open(STD_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -errno;
    n = write(fd, buf, sizeof(buf));
    if (n != (ssize_t)sizeof(buf) || fsync(fd) < 0) {
        close(fd);
        return n < 0 ? -errno : -EIO;
    }
    close(fd);
    fd = open(STD_FILE, O_RDONLY | O_DIRECT);
    if (fd < 0)
        return -errno;
    n = read(fd, dst, 4096);
    close(fd);
    return n == 4096 ? 0 : n < 0 ? -errno : -EIO;
}

static int try_write_str(uint8_t *p, const char *s)
{
    for (size_t i = 0; s[i]; i++)
        if (!xlab_try_write(p + i, (uint8_t)s[i]))
            return 0;
    return 1;
}

static void std_dom0_map(grant_handle_t *h, unsigned guest,
                         const grant_v1_ref_t *refs, grant_v1_ref_t ro)
{
    uint8_t *m = NULL, *mro = NULL, got = 0;
    uint64_t bad = 0;
    int rc;

    rc = grant_v1_map(h, (grant_domid_t)guest, refs, STD_PAGES, 0, (void **)&m);
    for (uint64_t i = 0; rc == 0 && i < STD_PAGES * 4096u; i++)
        if (!xlab_try_read(m + i, &got, 1) || got != std_byte(i))
            bad++;
    xlab_report("v1_map3", rc == 0 && bad == 0,
                "grant_v1_map of 3 refs into one range: %s, %llu bad bytes",
                grant_strerror(rc), (unsigned long long)bad);
    if (rc < 0)
        return;
    xlab_report("v1_map_write", try_write_str(m + STD_MOFF, STD_MARK),
                "marker across the page 1/2 boundary of the range");
    rc = odirect_read(m);
    xlab_report("v1_odirect", rc == 0,
                "O_DIRECT read of a file into the mapped v1 grant: %s",
                grant_strerror(rc));
    rc = grant_v1_unmap(h, m);
    xlab_report("v1_unmap", rc == 0, "%s", grant_strerror(rc));
    rc = grant_v1_map(h, (grant_domid_t)guest, &ro, 1, GRANT_V1_RDONLY,
                      (void **)&mro);
    xlab_report("v1_map_rdonly",
                rc == 0 && xlab_try_read(mro, &got, 1) && got == std_byte(0) &&
                    !xlab_try_write(mro, 1),
                "read-only map of the read-only ref: %s (read works, a write "
                "faults)",
                grant_strerror(rc));
    if (rc == 0)
        grant_v1_unmap(h, mro);
}

/* One segment between local memory and (guest, ref); its status. */
static int copy_one(grant_handle_t *h, unsigned guest, grant_v1_ref_t ref,
                    uint16_t off, void *local, uint16_t len, int to_ref)
{
    struct grant_v1_ptr r = {
        .granter = (grant_domid_t)guest, .ref = ref, .offset = off};
    struct grant_v1_ptr l = {.local = 1, .ptr = local};
    struct grant_v1_copy_seg s = {
        .src = to_ref ? l : r, .dst = to_ref ? r : l, .len = len};
    int rc = grant_v1_copy(h, &s, 1);

    return rc < 0 ? rc : s.status;
}

static void std_dom0_copy(grant_handle_t *h, unsigned guest,
                          const grant_v1_ref_t *refs, grant_v1_ref_t ro)
{
    uint8_t *buf = NULL;
    int rc = grant_mem_alloc(h, 1, (void **)&buf);

    if (rc == 0)
        rc = copy_one(h, guest, refs[1], 0, buf, 4096, 0);
    /* (its last bytes hold the start of dom0's map marker) */
    for (unsigned i = 0; rc == 0 && 4096 + i < STD_MOFF; i++)
        if (buf[i] != std_byte(4096 + i))
            rc = -EILSEQ;
    xlab_report("v1_copy_from", rc == 0, "4 KiB of the guest's page 1: %s",
                grant_strerror(rc));
    if (!buf)
        return;
    memcpy(buf, STD_COPY, sizeof(STD_COPY));
    rc = copy_one(h, guest, refs[2], STD_COFF, buf, sizeof(STD_COPY), 1);
    xlab_report("v1_copy_to", rc == 0, "marker into page 2: %s",
                grant_strerror(rc));
    rc = copy_one(h, guest, ro, 0, buf, 16, 1);
    xlab_report("v1_copy_rdonly", rc < 0,
                "copy into the read-only ref refused: %s", grant_strerror(rc));
    rc = copy_one(h, guest, refs[0], 4000, buf, 200, 0);
    xlab_report("v1_copy_bounds", rc == -EINVAL,
                "a segment past its page: %s (want EINVAL)",
                grant_strerror(rc));
    rc = copy_one(h, guest, STD_BADREF, 0, buf, 16, 0);
    xlab_report("v1_copy_badref", rc < 0, "ref %#x: %s", STD_BADREF,
                grant_strerror(rc));
    grant_mem_free(h, buf);
}

/* The bytes of the mapping at m as the kernel reads them for another
 * process (/proc/self/mem: get_user_pages, then the kernel's own mapping
 * of the page): 1 if they are the file's. */
static int proc_mem_is_file(const void *m)
{
    uint8_t buf[4096];
    int fd = open("/proc/self/mem", O_RDONLY), ok;

    ok = fd >= 0 && pread(fd, buf, sizeof(buf), (off_t)(uintptr_t)m) ==
                        (ssize_t)sizeof(buf);
    for (unsigned i = 0; ok && i < sizeof(buf); i++)
        ok = buf[i] == file_byte(i);
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Zero-copy I/O into a mapped extension grant (the module's windows have
 * struct pages): O_DIRECT, then the kernel reading the page. */
static void std_dom0_ext_odirect(grant_handle_t *h, unsigned guest)
{
    uint32_t ref = 0;
    void *m = NULL;
    int rc = xlab_xs_wait_u32("xodref", &ref);

    if (rc == 0)
        rc = grant_map(h, (grant_domid_t)guest, ref, 0, 4096, 0, &m);
    if (rc == 0)
        rc = odirect_read(m);
    xlab_report("x_map_odirect", rc == 0,
                "O_DIRECT read of a file into a mapped extension grant: %s",
                grant_strerror(rc));
    if (rc == 0)
        xlab_report("x_map_proc_mem", proc_mem_is_file(m),
                    "the page read through /proc/self/mem (the kernel's "
                    "mapping of it)");
    if (m)
        grant_unmap(h, m);
    xlab_xs_write("xoddone", "%d", rc);
}

void xlab_std_dom0(grant_handle_t *h, unsigned guest)
{
    grant_v1_ref_t refs[STD_PAGES], ro = 0;
    char buf[128];
    void *m = NULL;
    int rc;

    rc = xlab_xs_wait("v1refs", buf, sizeof(buf));
    if (rc == 0 &&
        sscanf(buf, "%u %u %u %u", &refs[0], &refs[1], &refs[2], &ro) != 4)
        rc = -EPROTO;
    if (!xlab_report("v1_refs", rc == 0, "the guest's v1 refs: %s (%s)",
                     grant_strerror(rc), rc == 0 ? buf : "-")) {
        xlab_xs_write("v1done", "1");
        xlab_guest_results("v1results");
        return;
    }
    std_dom0_map(h, guest, refs, ro);
    std_dom0_copy(h, guest, refs, ro);
    if (grant_features(h) & GRANT_FEAT_EXT)
        std_dom0_ext_odirect(h, guest);
    xlab_xs_write("v1done", "1");
    xlab_guest_results("v1results");
    /* The guest ended its shares before it sent its results. */
    rc = grant_v1_map(h, (grant_domid_t)guest, refs, 1, 0, &m);
    xlab_report("v1_map_after_end", rc < 0, "map of an ended ref: %s",
                grant_strerror(rc));
    if (rc == 0)
        grant_v1_unmap(h, m);
}

/* ---- guest ----------------------------------------------------------- */

static int bytes_are(const uint8_t *p, const void *want, size_t len)
{
    return memcmp(p, want, len) == 0;
}

/* An extension grant of one page for dom0's O_DIRECT try; its page. */
static uint8_t *std_guest_ext_page(grant_handle_t *h)
{
    grant_ref_t ref = 0;
    uint8_t *page = NULL;
    int rc = grant_mem_alloc(h, 1, (void **)&page);

    if (rc == 0)
        rc = grant_create_direct(
            h, 0, GRANT_R_READ | GRANT_R_WRITE | GRANT_R_MAP, page, 4096, &ref);
    xlab_xs_write("xodref", rc == 0 ? "%u" : "ERR%d",
                  rc == 0 ? ref : (unsigned)rc);
    return rc == 0 ? page : NULL;
}

static void std_guest_check(const uint8_t *p, const uint8_t *rop)
{
    uint8_t file[4096];
    int ro_ok = 1;

    for (unsigned i = 0; i < sizeof(file); i++)
        file[i] = file_byte(i);
    xlab_report("v1_map_write_seen",
                bytes_are(p + STD_MOFF, STD_MARK, strlen(STD_MARK)),
                "dom0's marker across pages 1/2 of its mapping");
    xlab_report("v1_copy_to_seen",
                bytes_are(p + 2 * 4096 + STD_COFF, STD_COPY, sizeof(STD_COPY)),
                "dom0's grant copy into page 2");
    xlab_report("v1_odirect_seen", bytes_are(p, file, sizeof(file)),
                "the file dom0 read with O_DIRECT is in page 0");
    for (unsigned i = 0; i < 4096; i++)
        ro_ok &= rop[i] == std_byte(i);
    xlab_report("v1_rdonly_unchanged", ro_ok,
                "the read-only page is as shared");
}

void xlab_std_guest(grant_handle_t *h)
{
    grant_v1_ref_t refs[STD_PAGES], ro = 0;
    uint8_t *p = NULL, *rop = NULL, *xpage = NULL;
    char v[16];
    int rc, rc_ro;

    rc = grant_v1_share(h, 0, STD_PAGES, 0, refs, (void **)&p);
    rc_ro = grant_v1_share(h, 0, 1, GRANT_V1_RDONLY, &ro, (void **)&rop);
    for (uint64_t i = 0; rc == 0 && i < STD_PAGES * 4096u; i++)
        p[i] = std_byte(i);
    for (uint64_t i = 0; rc_ro == 0 && i < 4096u; i++)
        rop[i] = std_byte(i);
    xlab_report("v1_share", rc == 0 && rc_ro == 0,
                "3 pages read-write, 1 read-only, to dom0: %s, %s",
                grant_strerror(rc), grant_strerror(rc_ro));
    if (rc == 0 && rc_ro == 0)
        xlab_xs_write("v1refs", "%u %u %u %u", refs[0], refs[1], refs[2], ro);
    else
        xlab_xs_write("v1refs", "ERR%d", rc ? rc : rc_ro);
    if (grant_features(h) & GRANT_FEAT_EXT)
        xpage = std_guest_ext_page(h);
    if (xpage && xlab_xs_wait("xoddone", v, sizeof(v)) == 0)
        xlab_report("x_odirect_seen",
                    xpage[0] == file_byte(0) && xpage[4095] == file_byte(4095),
                    "the file dom0 read with O_DIRECT into its mapping of "
                    "this extension grant is here (dom0: %s)",
                    v);
    if (xlab_xs_wait("v1done", v, sizeof(v)) == 0 && rc == 0 && rc_ro == 0)
        std_guest_check(p, rop);
    rc = p ? grant_v1_end(h, p) : 0;
    rc_ro = rop ? grant_v1_end(h, rop) : 0;
    xlab_report("v1_end", rc == 0 && rc_ro == 0, "%s, %s", grant_strerror(rc),
                grant_strerror(rc_ro));
}
