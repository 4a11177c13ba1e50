# frontend/blkfront: libxgblkfront (a guest program's vbd on blkif,
# include/xgblkfront.h; frontend/common is inside it: link this library,
# libgrant, -lxenstore and -lpthread), and the nbdkit plugin exporting it
# over NBD (nbdkit-xgrant-plugin.so, plugin name "xgrant").
XGBF_SRC := $(wildcard frontend/blkfront/*.c)
XGBF_OBJ := $(XGBF_SRC:%.c=$(B)/obj/%.o)
XGBF_LIB := $(B)/lib/libxgblkfront.a
ALL += $(XGBF_LIB)
$(XGBF_OBJ): CPPFLAGS += -Ifrontend/common/include -Ifrontend/blkfront/include
$(XGBF_LIB): $(XGBF_OBJ) $(XFE_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^
