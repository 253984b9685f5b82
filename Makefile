# borough - build, run, test and benchmark. `make run` and `make test` are
# all a newcomer needs; both install missing Debian packages first (deps).

CC      ?= cc
PKGS    := lua5.4 sqlite3 libuv libpq
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wvla -Wno-unused-parameter
OPT     ?= -O2 -g
SAN     ?=
CFLAGS  := -std=c11 -D_GNU_SOURCE $(OPT) $(SAN) $(WARN) -MMD -MP
LIBS     = -lhttp_parser -lmbedtls -lmbedx509 -lmbedcrypto -largon2 -lpthread -lm

# pkg-config is asked only when building, so `make deps` works on a bare machine.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

BUILD   ?= build
SRCS    := $(wildcard core/*.c)
OBJS    := $(SRCS:core/%.c=$(BUILD)/%.o)
LIBOBJS := $(filter-out $(BUILD)/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNITS   := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/%)
# Fuzz harnesses (tests/fuzz/<name>.c): `make test` replays their kept inputs
# with the normal build (build/test_fuzz_<name>); `make fuzz` runs libFuzzer.
FUZZ_NAMES := $(filter-out replay,$(basename $(notdir $(wildcard tests/fuzz/*.c))))
REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/test_fuzz_%)

APPS    ?= apps
LISTEN  ?= 127.0.0.1:8080
DATA    ?= data

.PHONY: all deps run test test-postgres unit asan fuzz fuzz-build fuzz-merge bench bench-tls bench-shielding bench-grants bench-live bench-sitrep clean
.DELETE_ON_ERROR:

all: deps
	@$(MAKE) --no-print-directory borough

# Replaced by rename, so a running server keeps its (old) binary.
borough: $(BUILD)/borough
	$(Q)cp $< $@.tmp && mv -f $@.tmp $@

# V=1 shows the full commands.
Q = $(if $(V),,@)

$(BUILD)/borough: $(OBJS)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) $(LIBS)

$(BUILD)/%.o: core/%.c | $(BUILD)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/test_%: tests/unit/test_%.c $(LIBOBJS) | $(BUILD)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -Icore -o $@ $< $(LIBOBJS) $(PKG_LIBS) $(LIBS)

$(BUILD)/fuzz_replay.o: tests/fuzz/replay.c | $(BUILD)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/test_fuzz_%: tests/fuzz/%.c $(BUILD)/fuzz_replay.o $(LIBOBJS) | $(BUILD)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -Icore -DFUZZ_ROOT='"$(CURDIR)"' -o $@ $< \
	  $(BUILD)/fuzz_replay.o $(LIBOBJS) $(PKG_LIBS) $(LIBS)

$(BUILD):
	mkdir -p $@

deps:
	@tools/deps.sh

run: all
	./borough serve $(APPS) --listen $(LISTEN) --data $(DATA)

unit: all
	@$(MAKE) --no-print-directory $(UNITS) $(REPLAYS)

# The whole suite: C unit tests, Lua tests and end-to-end tests against the
# real server on SQLite, then the suites that exercise the platform's
# storage again on PostgreSQL (a throwaway cluster the suite starts itself).
# BOROUGH names the binary under test. ENGINE=sqlite or ENGINE=postgres
# runs one engine only; SUITES="a b" picks suites.
test: all
	@$(MAKE) --no-print-directory $(UNITS) $(REPLAYS)
	@BOROUGH=$(CURDIR)/borough BUILD=$(BUILD) tests/run $(if $(ENGINE),--$(ENGINE)) $(SUITES)

# The storage suites on PostgreSQL alone.
test-postgres: all
	@$(MAKE) --no-print-directory $(UNITS)
	@BOROUGH=$(CURDIR)/borough BUILD=$(BUILD) tests/run --postgres $(SUITES)

# The same suite with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" build-asan/borough \
	  $(UNIT_SRCS:tests/unit/%.c=build-asan/%) $(FUZZ_NAMES:%=build-asan/test_fuzz_%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  BOROUGH=$(CURDIR)/build-asan/borough BUILD=build-asan SANITIZED=1 tests/run $(if $(ENGINE),--$(ENGINE)) $(SUITES)

# Both tables of docs/performance.md: plain HTTP (run.sh), then HTTPS (tls.sh).
bench: all
	tools/bench/run.sh
	tools/bench/tls.sh

bench-tls: all
	tools/bench/tls.sh

# The shielding app with 23,000 residents and 100,000 calls (docs/performance.md, "Shielding").
bench-shielding: all
	tools/bench/shielding.py

# The grants app: 3,800 invitations, 10,000 applications, a payment run of 3,800 (docs/performance.md, "Grants").
bench-grants: all
	tools/bench/grants.py

# Live updates and the data feed: one publish to 500 event streams, 12,000 rows paged (docs/performance.md, "Live updates").
bench-live: all
	tools/bench/live.py

# The situation report: its dashboard over 12,000 updates, 500 event streams, the data feed (docs/performance.md, "SitRep").
bench-sitrep: all
	tools/bench/sitrep.py

# libFuzzer with AddressSanitizer and UndefinedBehaviorSanitizer (Debian's
# clang): each harness in turn for FUZZ_SECONDS, new inputs kept under
# build-fuzz/corpus/, crashes under build-fuzz/crashes/ (tools/fuzz.sh).
# FUZZ_TARGETS picks harnesses: make fuzz FUZZ_TARGETS="http csv".
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) $(WARN) -MMD -MP
FUZZ_OBJS    := $(filter-out build-fuzz/obj/main.o,$(SRCS:core/%.c=build-fuzz/obj/%.o))

# Debian's clang, its libFuzzer and sanitizer runtimes (libclang-rt-dev) and
# llvm-symbolizer (llvm) for readable stacks: needed by make fuzz alone.
fuzz:
	@tools/deps.sh clang libclang-rt-dev llvm
	@$(MAKE) --no-print-directory fuzz-build
	@tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=build-fuzz/%)

# The minimised corpus kept in tests/fuzz/corpus/ from a run's findings.
fuzz-merge: fuzz-build
	@tools/fuzz.sh merge $(FUZZ_TARGETS)

# Pattern-rule objects would otherwise be deleted as intermediates.
.SECONDARY: $(FUZZ_OBJS) $(BUILD)/fuzz_replay.o

build-fuzz/obj/%.o: core/%.c
	@mkdir -p $(@D)
	@$(if $(V),,echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

build-fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	@$(if $(V),,echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -Icore -DFUZZ_ROOT='"$(CURDIR)"' -o $@ $< \
	  $(FUZZ_OBJS) $(PKG_LIBS) $(LIBS)

clean:
	rm -rf build build-asan build-fuzz borough

-include $(OBJS:.o=.d) $(UNITS:=.d) $(REPLAYS:=.d) $(FUZZ_OBJS:.o=.d)
