# backend/common: the backend half of the xenbus device framework (xbe.h)
# and the back half of a shared ring (xbe_ring.h), linked into every
# backend driver as a static library.
XBE_SRC := $(wildcard backend/common/*.c)
XBE_OBJ := $(XBE_SRC:%.c=$(B)/obj/%.o)
XBE_LIB := $(B)/lib/libxbe.a
ALL += $(XBE_LIB)
$(XBE_OBJ): CPPFLAGS += -Ibackend/common/include
# The strict number parser (tools/common/num.c) rides along: the backend
# daemons parse their options with it too.
$(XBE_LIB): $(XBE_OBJ) $(XGT_NUM_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
