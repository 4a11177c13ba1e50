# frontend/blkfront: libxgblkfront (a guest program's vbd on blkif,
# include/xgblkfront.h; frontend/common is inside it: link this library,
# libgrant, -lxenstore and -lpthread), and the nbdkit plugin exporting it
# over NBD (nbdkit-xgrant-plugin.so, plugin name "xgrant").
XGBF_SRC := $(wildcard frontend/blkfront/*.c)
XGBF_OBJ := $(XGBF_SRC:%.c=$(B)/obj/%.o)
XGBF_LIB := $(B)/lib/libxgblkfront.a
ALL += $(XGBF_LIB)
$(XGBF_OBJ): CPPFLAGS += -Ifrontend/common/include -Ifrontend/blkfront/include
$(XGBF_LIB): $(XGBF_OBJ) $(XFE_OBJ) $(XGT_NUM_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# The nbdkit plugin, when nbdkit-plugin-dev is installed (make deps).
ifneq ($(wildcard /usr/include/nbdkit-plugin.h),)
XGBF_NBDKIT := $(B)/lib/nbdkit-xgrant-plugin.so
ALL += $(XGBF_NBDKIT)
$(B)/obj/frontend/blkfront/nbdkit/plugin.o: CPPFLAGS += -Ifrontend/blkfront/include
$(XGBF_NBDKIT): $(B)/obj/frontend/blkfront/nbdkit/plugin.o $(XGBF_LIB) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $< $(XGBF_LIB) -L$(B)/lib -lgrant -Wl,-rpath,'$$ORIGIN' -lxenstore -lpthread
endif
