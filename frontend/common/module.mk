# frontend/common: the frontend half of the xenbus device framework
# (xfe.h) and the front half of a shared ring (xfe_ring.h), linked into
# every frontend driver library as a static library.
XFE_SRC := $(wildcard frontend/common/*.c)
XFE_OBJ := $(XFE_SRC:%.c=$(B)/obj/%.o)
XFE_LIB := $(B)/lib/libxfe.a
ALL += $(XFE_LIB)
$(XFE_OBJ): CPPFLAGS += -Ifrontend/common/include
# With the strict number parser (tools/common/num.c) for backend keys.
$(XFE_LIB): $(XFE_OBJ) $(XGT_NUM_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
