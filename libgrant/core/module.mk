# libgrant/core: the freestanding grant core, linked into every host.
CORE_SRC := $(wildcard libgrant/core/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(B)/obj/%.o)

# Freestanding proof: compile with no libc include path at all, link the
# objects together (-nostdlib) and allow only the host interface (gh_*)
# and the memcpy/memset/memmove a freestanding compiler may emit.
CORE_FS_FLAGS := -std=c11 -O2 -ffreestanding -nostdinc \
    -isystem $(shell $(CC) -print-file-name=include) \
    -Wall -Wextra -Werror -Wno-missing-field-initializers -Ilibgrant/abi -Ilibgrant/core
CORE_FS := $(B)/freestanding
core-freestanding:
	@rm -rf $(CORE_FS) && mkdir -p $(CORE_FS)/obj
	@set -e; for f in $(CORE_SRC); do \
	    $(CC) $(CORE_FS_FLAGS) -c $$f -o $(CORE_FS)/obj/$$(basename $$f .c).o; done
	@ld -r -nostdlib -o $(CORE_FS)/gcore-linked.o $(CORE_FS)/obj/*.o
	@und=$$(nm -u $(CORE_FS)/gcore-linked.o | awk '{print $$2}' | tr '\n' ' '); \
	bad=$$(for s in $$und; do echo $$s; done | grep -Ev '^(gh_[a-z_]+|memcpy|memset|memmove)$$' || true); \
	if [ -n "$$bad" ]; then echo "core-freestanding: FAIL, the core needs: $$bad"; exit 1; fi; \
	echo "core-freestanding: OK: $(words $(CORE_SRC)) files with -ffreestanding -nostdinc, linked -nostdlib; undefined: $$und"
