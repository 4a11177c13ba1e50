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
