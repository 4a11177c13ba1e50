# tests: cmocka unit tests of the core (tests/unit/test_*.c, each linked
# with the core and the test host), integration programs
# (tests/integration/*.c, linked with libgrant and tests/integration/common/),
# integration scripts (tests/integration/*.sh), benchmarks (tests/bench/*.c).
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
TESTHOST_OBJ := $(B)/obj/tests/unit/testhost.o
TESTS += $(UNIT_BIN)

$(B)/tests/unit/%: $(B)/obj/tests/unit/%.o $(TESTHOST_OBJ) $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The property test: the core against a reference model (tests/unit/model*).
# `make model MODEL_SECONDS=N` runs seeds for N seconds (make test: a few).
MODEL_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/unit/model_*.c))
$(B)/tests/unit/test_model: $(B)/obj/tests/unit/test_model.o $(MODEL_OBJ) $(TESTHOST_OBJ) $(CORE_OBJ)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka
MODEL_SECONDS ?= 60
.PHONY: model
model: $(B)/tests/unit/test_model
	MODEL_SECONDS=$(MODEL_SECONDS) $(B)/tests/unit/test_model

ITEST_COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/integration/common/*.c))
ITEST_SRC := $(wildcard tests/integration/*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(B)/tests/integration/%)
TESTS += $(ITEST_BIN)

$(B)/tests/integration/%: $(B)/obj/tests/integration/%.o $(ITEST_COMMON_OBJ) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(ITEST_COMMON_OBJ) $(LINK_LIBGRANT) -lpthread

BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/tests/bench/%)
BENCH += $(BENCH_BIN)

$(B)/tests/bench/%: $(B)/obj/tests/bench/%.o $(TESTHOST_OBJ) $(CORE_OBJ) $(ITEST_COMMON_OBJ) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(TESTHOST_OBJ) $(CORE_OBJ) $(ITEST_COMMON_OBJ) $(LINK_LIBGRANT) -lpthread -lm

.SECONDARY:

# libFuzzer over the core (clang): `make fuzz FUZZ_SECONDS=N`.
FUZZ_SECONDS ?= 60
FUZZ_BIN := $(B)/fuzz/fuzz_core
$(FUZZ_BIN): tests/unit/fuzz_core.c tests/unit/testhost.c $(CORE_SRC)
	@mkdir -p $(@D)/corpus
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -I. -Ilibgrant/include -Ilibgrant/abi -Ilibgrant/core \
	    tests/unit/fuzz_core.c tests/unit/testhost.c $(CORE_SRC) -o $@
.PHONY: fuzz
fuzz: $(FUZZ_BIN)
	@set -o pipefail; $(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	    -print_final_stats=1 $(B)/fuzz/corpus 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY|INFO: fuzzing)' || exit 1; \
	echo "fuzz: core survived $(FUZZ_SECONDS) s of libFuzzer"

# libFuzzer over the drivers' peer-facing parsing (clang):
# `make fuzz-drivers FUZZ_SECONDS=N`: xgrant-blkback's requests against a
# model of libgrant (tests/unit/fuzz_blkback.c), seeded from
# tests/unit/fuzz-blkback-seeds.
FUZZ_BLKBACK := $(B)/fuzz/fuzz_blkback
$(FUZZ_BLKBACK): tests/unit/fuzz_blkback.c backend/blkback/req.c backend/blkback/pgrant.c backend/common/ring.c
	@mkdir -p $(@D)/corpus-blkback
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -I. -Ilibgrant/include -Ibackend/common/include \
	    $(filter %.c,$^) -o $@ -luring
.PHONY: fuzz-drivers
fuzz-drivers: $(FUZZ_BLKBACK)
	@cp -n tests/unit/fuzz-blkback-seeds/* $(B)/fuzz/corpus-blkback/
	@set -o pipefail; $(FUZZ_BLKBACK) -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	    -print_final_stats=1 $(B)/fuzz/corpus-blkback 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY|INFO: fuzzing)' || exit 1; \
	echo "fuzz-drivers: blkback survived $(FUZZ_SECONDS) s of libFuzzer"

# The store tests link the real libxenstore, and the store-socket rule
# (libgrant/lib/sockpath.c, internal to libgrant).
STORE_ITEST := $(B)/tests/integration/store_proto $(B)/tests/integration/store_fuzz
$(STORE_ITEST): $(B)/tests/integration/%: $(B)/obj/tests/integration/%.o $(ITEST_COMMON_OBJ) $(B)/obj/libgrant/lib/sockpath.o $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(ITEST_COMMON_OBJ) $(B)/obj/libgrant/lib/sockpath.o $(LINK_LIBGRANT) -lxenstore -lpthread

# The store's tree and names (tools/xgrantd/store/tree.c, store/path.c), libc only.
$(B)/tests/unit/test_store_tree: $(B)/obj/tests/unit/test_store_tree.o $(B)/obj/tools/xgrantd/store/tree.o $(B)/obj/tools/xgrantd/store/path.o $(B)/obj/libgrant/lib/xsperm.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The shared-ring halves of the driver frameworks (backend/common,
# frontend/common), libc only.
$(B)/obj/tests/unit/test_xring.o: CPPFLAGS += -Ibackend/common/include -Ifrontend/common/include
$(B)/tests/unit/test_xring: $(B)/obj/tests/unit/test_xring.o $(B)/obj/backend/common/ring.o $(B)/obj/frontend/common/ring.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The driver frameworks against a private xgrantd: backend and frontend
# halves, a toy device, a frontend for every broken rule.
$(B)/obj/tests/integration/xenbus_dev.o: CPPFLAGS += -Ibackend/common/include -Ifrontend/common/include
# The shell stand-ins' conditional writes in one transaction
# (integration/stub/xs-txn.c), used by common/stub-back.sh.
XS_TXN := $(B)/tests/xs-txn
TESTS += $(XS_TXN)
$(XS_TXN): $(B)/obj/tests/integration/stub/xs-txn.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< -lxenstore

$(B)/tests/integration/xenbus_dev: $(B)/obj/tests/integration/xenbus_dev.o $(ITEST_COMMON_OBJ) $(XBE_LIB) $(XFE_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(ITEST_COMMON_OBJ) $(XBE_LIB) $(XFE_LIB) $(LINK_LIBGRANT) -lxenstore -lpthread
# blkfront's tests: libxgblkfront against a blkif backend of their own on
# backend/common (tests/integration/blkfront/), and against xgrant-blkback
# (started as the blk_* tests do: blk/rawfront.c).
XGBF_TESTS := $(patsubst tests/integration/%.c,$(B)/tests/integration/%,$(wildcard tests/integration/blkfront_*.c))
XGBF_TESTBE := $(patsubst %.c,$(B)/obj/%.o,$(wildcard tests/integration/blkfront/*.c))
$(XGBF_TESTBE) $(XGBF_TESTS:$(B)/tests/%=$(B)/obj/tests/%.o): CPPFLAGS += -Itests/integration -Ibackend/common/include -Ifrontend/common/include -Ifrontend/blkfront/include
$(XGBF_TESTS): $(B)/tests/integration/%: $(B)/obj/tests/integration/%.o $(XGBF_TESTBE) $(B)/obj/tests/integration/blk/rawfront.o $(ITEST_COMMON_OBJ) $(XBE_LIB) $(XGBF_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(XGBF_TESTBE) $(B)/obj/tests/integration/blk/rawfront.o $(ITEST_COMMON_OBJ) $(XBE_LIB) $(XGBF_LIB) $(LINK_LIBGRANT) -lxenstore -lpthread
# The map check (tools/xgrantd/mapcheck.c), libc only.
$(B)/tests/unit/test_mapcheck: $(B)/obj/tests/unit/test_mapcheck.o $(B)/obj/tools/xgrantd/mapcheck.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka

# The blk_* tests: xgrant-blkback against a raw blkif frontend
# (tests/integration/blk/rawfront.c, on xfe_ring and libgrant).
BLK_ITEST_OBJ := $(B)/obj/tests/integration/blk/rawfront.o $(B)/obj/frontend/common/ring.o
$(B)/obj/tests/integration/blk/%.o: CPPFLAGS += -Ifrontend/common/include
$(B)/obj/tests/integration/blk_%.o: CPPFLAGS += -Ifrontend/common/include
$(B)/tests/integration/blk_%: $(B)/obj/tests/integration/blk_%.o $(BLK_ITEST_OBJ) $(ITEST_COMMON_OBJ) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(BLK_ITEST_OBJ) $(ITEST_COMMON_OBJ) $(LINK_LIBGRANT) -lxenstore -lpthread
# blk_iohelper runs blkback's helper loop as a hostile helper of its own.
$(B)/tests/integration/blk_iohelper: $(B)/obj/backend/blkback/helper.o
$(B)/tests/integration/blk_iohelper: BLK_ITEST_OBJ += $(B)/obj/backend/blkback/helper.o
# The block benchmark: the raw frontend of the blk tests, the blkfront
# library and its nbdkit plugin against xgrant-blkback.
$(B)/obj/tests/bench/blk-bench.o: CPPFLAGS += -Ifrontend/common/include -Ifrontend/blkfront/include
$(B)/tests/bench/blk-bench: $(B)/obj/tests/bench/blk-bench.o $(BLK_ITEST_OBJ) $(ITEST_COMMON_OBJ) $(XGBF_LIB) $(LIBGRANT) $(B)/lib/libgrant.so
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(BLK_ITEST_OBJ) $(ITEST_COMMON_OBJ) $(XGBF_LIB) $(LINK_LIBGRANT) -lxenstore -lpthread -lm
