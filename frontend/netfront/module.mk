# frontend/netfront: libxgnetfront (xgnetfront.h, a netif frontend over
# xfe) and xgrant-netfront, the guest's daemon pumping frames between it
# and a TAP named eth0 in the guest's network namespace.
XGNF_SRC := $(addprefix frontend/netfront/,device.c tx.c rx.c csum.c)
XGNF_OBJ := $(XGNF_SRC:%.c=$(B)/obj/%.o)
XGNF_LIB := $(B)/lib/libxgnetfront.a
XGNF_BIN := $(B)/bin/xgrant-netfront
ALL += $(XGNF_LIB) $(XGNF_BIN)
XGNF_CPPFLAGS := -Ifrontend/common/include -Ifrontend/netfront/include
$(XGNF_OBJ) $(B)/obj/frontend/netfront/daemon.o: CPPFLAGS += $(XGNF_CPPFLAGS)
$(XGNF_LIB): $(XGNF_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^
$(XGNF_BIN): $(B)/obj/frontend/netfront/daemon.o $(XGNF_LIB) $(XFE_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(XGNF_LIB) $(XFE_LIB) $(LINK_LIBGRANT) -lxenstore

# Its test against a loopback backend written on xbe (tests/integration).
NF_ITEST := $(B)/tests/integration/netfront_ring
$(B)/obj/tests/integration/netfront_ring.o: CPPFLAGS += -Ibackend/common/include $(XGNF_CPPFLAGS)
$(NF_ITEST): $(B)/obj/tests/integration/netfront_ring.o $(ITEST_COMMON_OBJ) $(XBE_LIB) $(XGNF_LIB) $(XFE_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(ITEST_COMMON_OBJ) $(XBE_LIB) $(XGNF_LIB) $(XFE_LIB) $(LINK_LIBGRANT) -lxenstore -lpthread

# csum.c alone, libc only (tests/unit/test_netfront_csum.c).
$(B)/obj/tests/unit/test_netfront_csum.o: CPPFLAGS += $(XGNF_CPPFLAGS)
$(B)/tests/unit/test_netfront_csum: $(B)/obj/tests/unit/test_netfront_csum.o $(B)/obj/frontend/netfront/csum.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
