# tools/common: small helpers shared by the CLI and the daemon.
# The socket-path rule lives once, in libgrant/lib/sockpath.c: linked here too.
TOOLS_COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tools/common/*.c)) \
    $(B)/obj/libgrant/lib/sockpath.o
