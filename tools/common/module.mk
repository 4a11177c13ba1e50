# tools/common: small helpers shared by the CLI and the daemon.
# The socket-path rule (libgrant/lib/sockpath.c) and the xenstore permission
# parser (libgrant/lib/xsperm.c) live once, in libgrant: linked here too.
# The strict number parser, linked alone into the driver libraries too.
XGT_NUM_OBJ := $(B)/obj/tools/common/num.o
TOOLS_COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tools/common/*.c)) \
    $(B)/obj/libgrant/lib/sockpath.o $(B)/obj/libgrant/lib/xsperm.o

# Unit test of the strict number parser (num.c), libc only.
$(B)/tests/unit/test_num: $(B)/obj/tests/unit/test_num.o $(XGT_NUM_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
