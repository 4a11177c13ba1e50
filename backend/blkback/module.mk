# backend/blkback: xgrant-blkback, the block backend daemon (Xen's blkif
# over xbe), I/O through io_uring (Debian's liburing).
BLKBACK_SRC := $(wildcard backend/blkback/*.c)
BLKBACK_OBJ := $(BLKBACK_SRC:%.c=$(B)/obj/%.o)
ALL += $(B)/bin/xgrant-blkback
$(BLKBACK_OBJ): CPPFLAGS += -Ibackend/common/include
$(B)/bin/xgrant-blkback: $(BLKBACK_OBJ) $(XBE_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(BLKBACK_OBJ) $(XBE_LIB) $(LINK_LIBGRANT) -luring -lxenstore -lpthread
