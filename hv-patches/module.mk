# hv-patches: `make hv` builds Debian's Xen 4.17 hypervisor with the grant
# core (hv-patches/README.md).  HV_DIR holds the source cache, the build tree
# and the results (xen.gz, xen.elf, xen-syms); tests/lab boots them.
HV_DIR ?= build-hv
# HV_FLASK=1: with XSM/FLASK and a built-in policy (build.sh), in its own HV_DIR.
HV_FLASK ?= 0
# The FLASK variant in its own tree, which tests/lab's third boot runs.
HV_FLASK_DIR ?= $(HV_DIR)-flask

# What build.sh builds from: the series and the patches it names, build.sh,
# libgrant/core and the hypervisor's libgrant/abi headers (copied in
# unchanged), the FLASK policy modules; the folders too (a file added or
# removed changes their time).  build.sh leaves a stamp, .xgrant-made-flask0
# or -flask1, after each run that succeeded (built, or found up to date);
# `make lab` runs build.sh for a boot whose stamp is older than any of these
# (`make -n lab` shows it).  build.sh compares their content itself (a key
# in the build tree): a touched but unchanged file costs one "up to date"
# run of under a second, and only the Xen objects whose sources changed
# build again.
HV_SERIES := $(shell sed -e 's/\#.*//' -e '/^[[:space:]]*$$/d' hv-patches/series 2>/dev/null)
HV_INPUTS := hv-patches/series hv-patches/build.sh $(wildcard $(HV_SERIES:%=hv-patches/%)) \
             libgrant/core $(wildcard libgrant/core/*.c libgrant/core/*.h) \
             libgrant/abi $(filter-out libgrant/abi/sim_wire.h,$(wildcard libgrant/abi/*.h)) \
             hv-patches/flask $(wildcard hv-patches/flask/*.te)
HV_STAMP := $(HV_DIR)/.xgrant-made-flask0
HV_FLASK_STAMP := $(HV_FLASK_DIR)/.xgrant-made-flask1

# The FLASK tree is seeded from HV_DIR's source tree when it has none; Xen's
# objects all build again (CONFIG_XSM changes the config header every file
# includes), then it rebuilds only what changed, like HV_DIR.
define hv_flask_build
	@if [ ! -d $(HV_FLASK_DIR)/xen/work ] && [ -d $(HV_DIR)/xen/work ]; then \
	    echo "make hv-flask: seeding $(HV_FLASK_DIR) from $(HV_DIR)"; \
	    mkdir -p $(HV_FLASK_DIR) && cp -a $(HV_DIR)/xen $(HV_FLASK_DIR)/; fi
	@HV_DIR=$(HV_FLASK_DIR) HV_FLASK=1 ./hv-patches/build.sh
endef

# `make hv` and `make hv-flask` always run build.sh (its content check).
.PHONY: hv hv-flask
hv:
	@HV_DIR=$(HV_DIR) HV_FLASK=$(HV_FLASK) ./hv-patches/build.sh
$(HV_STAMP): $(HV_INPUTS)
	@HV_DIR=$(HV_DIR) HV_FLASK=0 ./hv-patches/build.sh
hv-flask:
	$(hv_flask_build)
$(HV_FLASK_STAMP): $(HV_INPUTS)
	$(hv_flask_build)
