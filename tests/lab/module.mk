# tests/lab: `make lab` boots the patched Xen under QEMU (TCG) with a Debian
# PV dom0 and a PV guest and runs tests/lab/tests in both (tests/lab/README.md).
# Not part of `all`: it needs root (debootstrap, chroot) and minutes; CI runs
# it after `make hv`.  A machine that cannot run it skips with the reason.
LAB := $(B)/lab
XLAB_SRC := $(wildcard tests/lab/tests/*.c)
XLAB_OBJ := $(XLAB_SRC:%.c=$(B)/obj/%.o)
XLAB_LIBS := -lxengnttab -lxencall -lxenevtchn -lxenstore -lxentoolcore -lxentoollog -lpthread

# Static: the same binary runs in dom0 and in the guest's busybox initramfs.
$(LAB)/xlab: $(XLAB_OBJ) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -static -o $@ $(XLAB_OBJ) $(LIB_OBJ) $(XLAB_LIBS)

# The driver cases' ping and canary (drv-dom0.sh): static, for dom0 and the
# guest.
LAB_DRV_TOOLS := $(LAB)/drv-ping $(LAB)/drv-canary $(LAB)/drv-forkstress $(LAB)/drv-fpucheck
$(LAB_DRV_TOOLS): $(LAB)/%: tests/lab/%.c
	@mkdir -p $(@D)
	$(CC) -O2 -g -Wall -Wextra -Werror -static -o $@ $<
# tests/integration/lab_ping.sh runs drv-ping on the host.
TESTS += $(LAB)/drv-ping

# xgrant's backends for dom0 (drv-dom0.sh): libgrant and liburing linked in
# (the dom0 root has neither), Xen's libraries from the dom0 root (bookworm's,
# as on the host).  Not static like xlab: Debian's libxenstore.a is built
# without threads, and its watch descriptor then never becomes readable
# (the daemons poll it; the first read fails, EBADF).
LAB_BACKENDS := $(LAB)/xgrant-blkback $(LAB)/xgrant-netback
LAB_XEN_LIBS := -lxengnttab -lxencall -lxenevtchn -lxenstore -lxentoolcore -lxentoollog -lpthread
$(LAB)/xgrant-blkback: $(BLKBACK_OBJ) $(XBE_LIB) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -o $@ $(BLKBACK_OBJ) $(XBE_LIB) $(LIB_OBJ) -l:liburing.a $(LAB_XEN_LIBS)
$(LAB)/xgrant-netback: $(NETBACK_OBJ) $(XBE_LIB) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -o $@ $(NETBACK_OBJ) $(XBE_LIB) $(LIB_OBJ) $(LAB_XEN_LIBS)

# xgrant's frontends for the guest (drv-dom0.sh): linked the same way; the
# guest's initramfs carries the dom0 root's copies of the libraries they
# load (guest-initramfs.sh).
LAB_FRONTENDS := $(LAB)/xlab-blkfront $(LAB)/xgrant-netfront
$(B)/obj/tests/lab/front/xlab-blkfront.o: CPPFLAGS += -Ifrontend/blkfront/include
$(LAB)/xlab-blkfront: $(B)/obj/tests/lab/front/xlab-blkfront.o $(XGBF_LIB) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(XGBF_LIB) $(LIB_OBJ) $(LAB_XEN_LIBS)
$(LAB)/xgrant-netfront: $(B)/obj/frontend/netfront/daemon.o $(XGNF_LIB) $(XFE_LIB) $(LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(XGNF_LIB) $(XFE_LIB) $(LIB_OBJ) $(LAB_XEN_LIBS)

# The guest module's call.c compiled unchanged in user space (kshim/ for the
# kernel headers) and tested against a fake hypervisor: part of `make test`.
KMOD_TEST := $(B)/tests/unit/test_kmod_call
KMOD_TEST_INC := -Itests/lab/unit/kshim -Ilibgrant/kmod
KMOD_TEST_OBJ := $(B)/obj/tests/lab/unit/test_kmod_call.o $(B)/obj/tests/lab/unit/kmod_call.o
TESTS += $(KMOD_TEST)

$(B)/obj/tests/lab/unit/test_kmod_call.o: CPPFLAGS += $(KMOD_TEST_INC)
$(B)/obj/tests/lab/unit/kmod_call.o: libgrant/kmod/call.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(KMOD_TEST_INC) $(CFLAGS) -c $< -o $@
$(KMOD_TEST): $(KMOD_TEST_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# release.c the same way: a closed file's pages freed only once its grants
# are known revoked (none when QUERY_TABLE is refused).
KREL_TEST := $(B)/tests/unit/test_kmod_release
TESTS += $(KREL_TEST)
$(B)/obj/tests/lab/unit/test_kmod_release.o: CPPFLAGS += $(KMOD_TEST_INC)
$(B)/obj/tests/lab/unit/kmod_release.o: libgrant/kmod/release.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(KMOD_TEST_INC) $(CFLAGS) -c $< -o $@
$(KREL_TEST): $(B)/obj/tests/lab/unit/test_kmod_release.o $(B)/obj/tests/lab/unit/kmod_release.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# libgrant's way back from Xen's frames to the handle's pages (frames.c).
FRAMES_TEST := $(B)/tests/unit/test_xen_frames
TESTS += $(FRAMES_TEST)
$(FRAMES_TEST): $(B)/obj/tests/lab/unit/test_xen_frames.o $(B)/obj/libgrant/lib/frames.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

.PHONY: lab lab-deps
# Host packages of the lab only (`make lab` installs them; not in `make deps`).
# checkpolicy: the flask boot's hypervisor (make hv-flask).
LAB_PKGS := qemu-system-x86 qemu-utils debootstrap busybox-static cpio e2fsprogs libxen-dev file checkpolicy
lab-deps:
	@./tools/deps.sh $(LAB_PKGS)
# The boots (run.sh): LAB_BOOTS, "patched stock flask" when unset or empty.
# The hypervisors of the patched and flask boots are built first when their
# stamp is older than the series, a patch, build.sh or the core
# (hv-patches/module.mk; a no-op otherwise), one after the other (the flask
# tree is seeded from the other): a lab never boots a stale Xen.
LAB_BOOT_LIST := $(or $(LAB_BOOTS),patched stock flask)
LAB_HV = $(if $(filter patched,$(LAB_BOOT_LIST)),$(HV_STAMP)) \
          $(if $(filter flask,$(LAB_BOOT_LIST)),$(HV_FLASK_STAMP))
lab: lab-deps
	@for s in $(LAB_HV); do $(MAKE) --no-print-directory $$s || exit 1; done
	@$(MAKE) --no-print-directory B=$(B) $(LAB)/xlab $(LAB_DRV_TOOLS) $(LAB_BACKENDS) $(LAB_FRONTENDS)
	@B=$(B) HV_DIR=$(HV_DIR) HV_FLASK_DIR=$(HV_FLASK_DIR) ./tests/lab/run.sh; rc=$$?; \
	    if [ $$rc -eq 77 ]; then echo "lab: skipped (reason above)"; exit 0; fi; exit $$rc
