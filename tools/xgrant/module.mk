# tools/xgrant: the xl-like CLI.
XGRANT_SRC := $(wildcard tools/xgrant/*.c)
XGRANT_OBJ := $(XGRANT_SRC:%.c=$(B)/obj/%.o)
ALL += $(B)/bin/xgrant

$(B)/bin/xgrant: $(XGRANT_OBJ) $(TOOLS_COMMON_OBJ) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(XGRANT_OBJ) $(TOOLS_COMMON_OBJ) $(LINK_LIBGRANT) -lxlutil -lxenlight -lxenstore
