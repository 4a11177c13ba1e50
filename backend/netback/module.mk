# backend/netback: xgrant-netback, the vif backend daemon (TAP devices),
# over the backend framework (libxbe).
NETBACK_SRC := $(wildcard backend/netback/*.c)
NETBACK_OBJ := $(NETBACK_SRC:%.c=$(B)/obj/%.o)
ALL += $(B)/bin/xgrant-netback
$(NETBACK_OBJ): CPPFLAGS += -Ibackend/common/include
$(B)/bin/xgrant-netback: $(NETBACK_OBJ) $(XBE_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(NETBACK_OBJ) $(XBE_LIB) $(LINK_LIBGRANT) -lxenstore

# The integration test: a raw netif frontend on xfe against the daemon.
$(B)/obj/tests/integration/net_backend.o: CPPFLAGS += -Ifrontend/common/include
$(B)/tests/integration/net_backend: $(B)/obj/tests/integration/net_backend.o $(ITEST_COMMON_OBJ) $(XFE_LIB) $(LIBGRANT) $(B)/lib/libgrant.so $(B)/bin/xgrant-netback
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(ITEST_COMMON_OBJ) $(XFE_LIB) $(LINK_LIBGRANT) -lxenstore -lpthread

# Unit test of the header walk and checksums (csum.c), libc only.
$(B)/obj/tests/unit/test_nb_csum.o: CPPFLAGS += -Ibackend/common/include
$(B)/tests/unit/test_nb_csum: $(B)/obj/tests/unit/test_nb_csum.o $(B)/obj/backend/netback/csum.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# Unit test of the guarded copy (guard.c), libc only (threads: its first use racing, its sigaction slowed).
$(B)/obj/tests/unit/test_nb_guard.o: CPPFLAGS += -Ibackend/common/include
$(B)/tests/unit/test_nb_guard: $(B)/obj/tests/unit/test_nb_guard.o $(B)/obj/backend/netback/guard.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -Wl,--wrap=sigaction -o $@ $^ -lcmocka -lpthread
