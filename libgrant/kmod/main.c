// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * main.c: /dev/xgrant, the xgrant extension for a Xen guest's user space.
 *
 * Each open file owns its grant memory: XGRANT_IOC_SETUP allocates it, mmap
 * shows it (pages are inserted on fault and stay allocated until the file
 * is released, which the kernel does only after the last mapping is gone),
 * XGRANT_IOC_INFO names the domain, and XGRANT_IOC_CALL (call.c) issues the
 * extension's grant-table sub-op with the addresses translated.  mmap past
 * XGRANT_MAP_OFFSET makes a map window (map.c) instead.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <xen/xen.h>
#include <xen/xenbus.h>

#include "gntx_xen.h"
#include "xgrant.h"
#include "xgrant_uapi.h"

static long xg_setup(struct xg_file *f, struct address_space *mapping,
                     void __user *uarg)
{
    struct xgrant_ioc_setup s;
    unsigned long i;

    if (copy_from_user(&s, uarg, sizeof(s)))
        return -EFAULT;
    if (s.nr_pages == 0 || s.nr_pages > XGRANT_MAX_PAGES)
        return -EINVAL;
    if (f->pages)
        return -EBUSY;
    f->pages = kvcalloc(s.nr_pages, sizeof(*f->pages), GFP_KERNEL);
    if (!f->pages)
        return -ENOMEM;
    for (i = 0; i < s.nr_pages; i++) {
        f->pages[i] = alloc_page(GFP_KERNEL | __GFP_ZERO);
        if (!f->pages[i])
            break;
        f->nr_pages = i + 1;
    }
    if (f->nr_pages == s.nr_pages && !xg_prot_init(f, mapping))
        return 0;
    xg_pages_free(f, false); /* never shown to anyone */
    return -ENOMEM;
}

static int xg_domid(unsigned int *domid)
{
    if (xen_initial_domain()) {
        *domid = 0;
        return 0;
    }
    return xenbus_scanf(XBT_NIL, "domid", "", "%u", domid) == 1 ? 0 : -EIO;
}

static long xg_info(struct xg_file *f, void __user *uarg)
{
    struct xgrant_ioc_info info = {0};
    unsigned int domid;
    int rc;

    rc = xg_domid(&domid);
    if (rc < 0)
        return rc;
    info.domid = domid;
    info.nr_pages = f->nr_pages;
    return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long xg_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
    struct xg_file *f = file->private_data;
    void __user *uarg = (void __user *)arg;
    long rc;

    mutex_lock(&f->lock);
    switch (cmd) {
    case XGRANT_IOC_SETUP:
        rc = xg_setup(f, file->f_mapping, uarg);
        break;
    case XGRANT_IOC_INFO:
        rc = xg_info(f, uarg);
        break;
    case XGRANT_IOC_CALL:
        rc = f->pages ? xg_call(f, uarg) : -ENXIO;
        break;
    case XGRANT_IOC_FRAMES:
        rc = f->pages ? xg_frames(f, uarg) : -ENXIO;
        break;
    default:
        rc = -ENOTTY;
    }
    mutex_unlock(&f->lock);
    return rc;
}

static vm_fault_t xg_fault(struct vm_fault *vmf)
{
    struct xg_file *f = vmf->vma->vm_file->private_data;

    /* pages never changes while a mapping exists (setup is once, release
     * runs after the last munmap), so no lock is needed here. */
    if (vmf->pgoff >= f->nr_pages)
        return VM_FAULT_SIGBUS;
    vmf->page = f->pages[vmf->pgoff];
    get_page(vmf->page);
    return 0;
}

/*
 * Every first write to a page comes here (a shared mapping with
 * page_mkwrite starts read-only).  A page dropped for a protection
 * (prot.c) is writable only if Xen gives its direct map back: while the
 * page is protected against writes Xen refuses, records the fault on the
 * ring, and the writer gets SIGBUS.
 */
static vm_fault_t xg_mkwrite(struct vm_fault *vmf)
{
    struct xg_file *f = vmf->vma->vm_file->private_data;
    int rc;

    if (vmf->pgoff >= f->nr_pages)
        return VM_FAULT_SIGBUS;
    rc = xg_prot_restore(f, vmf->pgoff);
    if (rc) {
        pr_info_ratelimited("xgrant: page %lu: writable mapping refused (%d)\n",
                            vmf->pgoff, rc);
        return VM_FAULT_SIGBUS;
    }
    lock_page(vmf->page); /* no page->mapping: the caller wants it locked */
    return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct xg_vm_ops = {
    .fault = xg_fault,
    .page_mkwrite = xg_mkwrite,
};

static int xg_mmap(struct file *file, struct vm_area_struct *vma)
{
    struct xg_file *f = file->private_data;
    unsigned long pages = vma_pages(vma);
    int rc = 0;

    if (vma->vm_pgoff >= (XGRANT_MAP_OFFSET >> PAGE_SHIFT))
        return xg_win_mmap(f, vma); /* a map window (map.c) */
    mutex_lock(&f->lock);
    if (!(vma->vm_flags & VM_SHARED) || vma->vm_pgoff > f->nr_pages ||
        pages > f->nr_pages - vma->vm_pgoff)
        rc = -EINVAL;
    mutex_unlock(&f->lock);
    if (rc)
        return rc;
    vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP | VM_DONTCOPY;
    vma->vm_ops = &xg_vm_ops;
    return 0;
}

static int xg_open(struct inode *inode, struct file *file)
{
    struct xg_file *f;

    if (!xen_domain())
        return -ENODEV;
    f = kzalloc(sizeof(*f), GFP_KERNEL);
    if (!f)
        return -ENOMEM;
    mutex_init(&f->lock);
    file->private_data = f;
    return 0;
}

static int xg_release(struct inode *inode, struct file *file)
{
    struct xg_file *f = file->private_data;

    xg_pages_free(f, true); /* its grants go before its pages do */
    kvfree(f->scratch);
    kfree(f);
    return 0;
}

static const struct file_operations xg_fops = {
    .owner = THIS_MODULE,
    .open = xg_open,
    .release = xg_release,
    .unlocked_ioctl = xg_ioctl,
    .mmap = xg_mmap,
};

static struct miscdevice xg_dev = {
    .minor = MISC_DYNAMIC_MINOR,
    .name = "xgrant",
    .fops = &xg_fops,
    .mode = 0600,
};

static int __init xg_init(void)
{
    if (!xen_domain())
        return -ENODEV;
    return misc_register(&xg_dev);
}

static void __exit xg_exit(void)
{
    misc_deregister(&xg_dev);
}

module_init(xg_init);
module_exit(xg_exit);
MODULE_DESCRIPTION("xgrant: byte-granular grants for Xen guests' user space");
MODULE_LICENSE("Dual MIT/GPL");
