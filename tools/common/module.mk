# tools/common: small helpers shared by the CLI and the daemon.
TOOLS_COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tools/common/*.c))
