# hv-patches: `make hv` builds Debian's Xen 4.17 hypervisor with the grant
# core (hv-patches/README.md).  HV_DIR holds the source cache, the build tree
# and the results (xen.gz, xen.elf, xen-syms); tests/lab boots them.
HV_DIR ?= build-hv
# HV_FLASK=1: with XSM/FLASK and a built-in policy (build.sh), in its own HV_DIR.
HV_FLASK ?= 0

.PHONY: hv
hv:
	@HV_DIR=$(HV_DIR) HV_FLASK=$(HV_FLASK) ./hv-patches/build.sh
