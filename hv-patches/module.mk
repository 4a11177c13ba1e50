# hv-patches: `make hv` builds Debian's Xen 4.17 hypervisor with the grant
# core (hv-patches/README.md).  HV_DIR holds the source cache, the build tree
# and the results (xen.gz, xen.elf, xen-syms); tests/lab boots them.
HV_DIR ?= build-hv
# HV_FLASK=1: with XSM/FLASK and a built-in policy (build.sh), in its own HV_DIR.
HV_FLASK ?= 0

.PHONY: hv
hv:
	@HV_DIR=$(HV_DIR) HV_FLASK=$(HV_FLASK) ./hv-patches/build.sh

# The FLASK variant (HV_FLASK=1) in its own tree, which tests/lab's third
# boot runs (`make lab` builds it when LAB_BOOTS has flask, the default).
# Seeded from HV_DIR's source tree when it has none; Xen's objects all
# build again (CONFIG_XSM changes the config header every file includes),
# then it rebuilds only what changed, like HV_DIR.
HV_FLASK_DIR ?= $(HV_DIR)-flask
.PHONY: hv-flask
hv-flask:
	@if [ ! -d $(HV_FLASK_DIR)/xen/work ] && [ -d $(HV_DIR)/xen/work ]; then \
	    echo "make hv-flask: seeding $(HV_FLASK_DIR) from $(HV_DIR)"; \
	    mkdir -p $(HV_FLASK_DIR) && cp -a $(HV_DIR)/xen $(HV_FLASK_DIR)/; fi
	@HV_DIR=$(HV_FLASK_DIR) HV_FLASK=1 ./hv-patches/build.sh
