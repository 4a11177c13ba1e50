# xgrant: one non-recursive GNU Makefile; each directory adds its part
# through the fragment it owns (*/module.mk).
#   make                 build everything into build/
#   make deps            install the Debian packages the project needs
#   make test            build, then run every test (last line: N passed, N failed)
#   make demo            the main job: domains grant, delegate, copy, revoke
#   make bench           benchmarks, printing ratios against peers
#   make core-freestanding   prove libgrant/core needs no libc
#   make lab             boot Xen under QEMU, run the extension's tests in it (root)
#   make hv              Debian's Xen 4.17 with the grant core in it (hv-patches/)
#   SANITIZE=1           build with ASan + UBSan (separate build dir)

.DEFAULT_GOAL := all
SHELL := /bin/bash

ifeq ($(SANITIZE),1)
B ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B ?= build
SAN :=
endif

CC ?= cc
OPT ?= -O2
CFLAGS := -std=gnu11 $(OPT) -g -fPIC -Wall -Wextra -Werror -Wshadow \
          -Wno-missing-field-initializers -MMD -MP $(SAN) $(EXTRA_CFLAGS)
CPPFLAGS := -D_GNU_SOURCE -I. -Ilibgrant/include -Ilibgrant/abi -Ilibgrant/core
LDFLAGS := $(SAN) $(EXTRA_LDFLAGS)
RPATH := -Wl,-rpath,'$$ORIGIN/../lib'

ALL :=
TESTS :=
BENCH :=
CLEAN :=

# Compile any source into $(B)/obj/<same path>.o
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

include libgrant/core/module.mk
include tools/common/module.mk
include libgrant/lib/module.mk
include backend/common/module.mk
include frontend/common/module.mk
include backend/blkback/module.mk
include frontend/blkfront/module.mk
include tools/xgrantd/module.mk
include tools/xgrant/module.mk
include tools/xgrant-guest/module.mk
include tests/module.mk
include backend/netback/module.mk
include frontend/netfront/module.mk
include tests/lab/module.mk
include hv-patches/module.mk

.PHONY: all deps test bench demo clean core-freestanding format check-format hv
all: $(ALL)

deps:
	@./tools/deps.sh

test: all $(TESTS)
	@B=$(B) ./tests/run-tests.sh

demo: all
	@B=$(B) ./tools/demo.sh

bench: all $(BENCH)
	@B=$(B) ./tests/bench/run-bench.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san

-include $(shell find $(B) -path '$(B)/lab' -prune -o -path '$(B)/xen' -prune -o -name '*.d' -type f -print 2>/dev/null)
