# libgrant/lib: the guest library (shared, symbols pinned by libgrant.map).
LIB_SRC := $(wildcard libgrant/lib/*.c libgrant/lib/*/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)
LIBGRANT := $(B)/lib/libgrant.so.1
ALL += $(LIBGRANT) $(B)/lib/libgrant.so

$(LIBGRANT): $(LIB_OBJ) libgrant/lib/libgrant.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libgrant.so.1 -Wl,--version-script=libgrant/lib/libgrant.map \
	    -Wl,--no-undefined $(LDFLAGS) -o $@ $(LIB_OBJ) -lpthread -lxenstore -lxenevtchn -lxengnttab
$(B)/lib/libgrant.so: $(LIBGRANT)
	ln -sf libgrant.so.1 $@

# How programs link against it (bin/ and tests/*/ both sit one level below lib/ or two).
LINK_LIBGRANT := -L$(B)/lib -lgrant -Wl,-rpath,'$$ORIGIN/../lib' -Wl,-rpath,'$$ORIGIN/../../lib'
