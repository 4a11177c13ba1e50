# tools/xgrant-guest: a scriptable guest program (demo, tests, debugging).
GUEST_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tools/xgrant-guest/*.c))
ALL += $(B)/bin/xgrant-guest

$(B)/bin/xgrant-guest: $(GUEST_OBJ) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(GUEST_OBJ) $(LINK_LIBGRANT)
