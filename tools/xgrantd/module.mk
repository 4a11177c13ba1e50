# tools/xgrantd: the embedded hypervisor (host #1 of libgrant/core).
XGRANTD_SRC := $(wildcard tools/xgrantd/*.c tools/xgrantd/*/*.c)
XGRANTD_OBJ := $(XGRANTD_SRC:%.c=$(B)/obj/%.o)
ALL += $(B)/bin/xgrantd

$(B)/bin/xgrantd: $(XGRANTD_OBJ) $(CORE_OBJ) $(TOOLS_COMMON_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -luring -lseccomp
