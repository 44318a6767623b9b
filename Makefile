# liaison: one non-recursive GNU Makefile.
#
#   make            build everything into build/        (installs missing packages first)
#   make test       build, then run every test (unit, then system)
#   make unit       build, then run tests/unit/: no relay process
#   make system     build, then run tests/system/: real liaison-relay processes,
#                   the programs driven as people drive them
#   make demo       build, then run the whole story on a local relay
#   make asan       build into build-asan/ with ASan+UBSan and run every test
#   make fuzz       build every tests/fuzz/fuzz_*.c with clang+libFuzzer into
#                   build-fuzz/ and run each FUZZ_SECONDS (60) over its corpus
#   make bench      build bench/*.c into $(BUILD)/bench/ and run each
#                   (figure/ratio lines; BENCH_ROUNDS=n for a short run)
#   make soak       the delivery invariant under chaos for SOAK_SECONDS (60):
#                   three relays, a hostile peer, a full store, kill -9
#   make install    PREFIX=/usr/local
#   make clean      remove every build folder (build, build-asan, build-fuzz,
#                   build-scan and $(BUILD))
#   make deps       check the libraries; install them with apt-get as root
#
# Library flags come from pkg-config, read from $(BUILD)/config.mk, which
# `deps` writes after the libraries are known to be present: make rebuilds an
# included makefile first and restarts, so a fresh machine needs no second run.

# The project's version: liaison.pc (from liaison.pc.in) carries it.
VERSION  := 0.1

BUILD    ?= build
PREFIX   ?= /usr/local
SANITIZE ?=

PKGS  := libsodium libzmq libprotobuf-c lmdb jansson cmocka
DEBS  := libsodium-dev libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
         liblmdb-dev libjansson-dev libcmocka-dev pkgconf clang libclang-rt-14-dev

CC       ?= cc
WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla
HARDEN   := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS   ?= -O2 -g
ifneq ($(SANITIZE),)
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
HARDEN   := -fPIE
endif
# make fuzz: clang with libFuzzer's coverage instrumentation on every object
# (only the fuzz targets link the fuzzer itself) and the same sanitizers.
ifeq ($(SANITIZE),fuzz)
CC       := clang
CFLAGS   := -O1 -g -fno-omit-frame-pointer \
            -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
endif
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -DLSN_VERSION='"$(VERSION)"' $(HARDEN) \
              -I. -Iinclude -I$(BUILD)/gen \
              $(PKG_CFLAGS)
LDFLAGS  += -pie -Wl,-z,relro,-z,now

NEEDS_CONFIG := $(filter-out clean distclean deps,$(or $(MAKECMDGOALS),all))
ifneq ($(NEEDS_CONFIG),)
-include $(BUILD)/config.mk
endif

# ------------------------------------------------------------------ sources

GEN_C    := $(BUILD)/gen/proto/liaison.pb-c.c
GEN_H    := $(BUILD)/gen/proto/liaison.pb-c.h

PROTO_SRC  := $(wildcard proto/*.c)
KEYS_SRC   := $(wildcard keys/*.c)
KEYS_CLI   := $(wildcard keys/cli/*.c)
CLIENT_SRC := $(wildcard client/*.c)
CLIENT_CLI := $(wildcard client/cli/*.c)
RELAY_SRC  := $(filter-out relay/main.c,$(wildcard relay/*.c))
RELAY_MAIN := $(wildcard relay/main.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
SYSTEM_SRC := $(wildcard tests/system/test_*.c)
SYSTEM_SH  := $(sort $(wildcard tests/system/*.sh))
TESTLIB_SRC:= $(wildcard tests/lib/*.c)
BENCH_SRC  := $(wildcard bench/*.c)
BENCHLIB_SRC := $(wildcard bench/lib/*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZFIX_SRC:= tests/fuzz/fuzzfix.c tests/lib/sealfix.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_PROTO  := $(BUILD)/lib/libproto.a
LIB_KEYS   := $(BUILD)/lib/libkeys.a
LIB_CLIENT := $(BUILD)/lib/libclient.a
LIB_RELAY  := $(BUILD)/lib/librelay.a
LIB_TEST   := $(BUILD)/lib/libtest.a
LIB_BENCH  := $(BUILD)/lib/libbench.a
LIB_FUZZFIX:= $(BUILD)/lib/libfuzzfix.a

BIN_KEYS   := $(BUILD)/bin/liaison-keys
BIN_CLIENT := $(if $(CLIENT_CLI),$(BUILD)/bin/liaison)
BIN_RELAY  := $(if $(RELAY_MAIN),$(BUILD)/bin/liaison-relay)
BINS       := $(BIN_KEYS) $(BIN_CLIENT) $(BIN_RELAY)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SYSTEM_BINS:= $(patsubst tests/system/%.c,$(BUILD)/tests/%,$(SYSTEM_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

ALL_LIBS_LINK = $(LIB_RELAY) $(LIB_CLIENT) $(LIB_KEYS) $(LIB_PROTO)

# The public library for automated systems: client, keys and proto in one
# archive, with its header, the error list and a pkg-config file.
LIB_LIAISON := $(BUILD)/lib/libliaison.a
PUB_ERR_H   := $(BUILD)/gen/liaison/err.h

.PHONY: all deps test unit system asan demo bench soak install clean distclean \
        fuzz fuzz-build fuzz-run fuzz-corpus fuzz-gen
.DEFAULT_GOAL := all
# Keep every object: test objects are otherwise deleted as intermediates.
.SECONDARY:

all: $(BINS) $(UNIT_BINS) $(SYSTEM_BINS) $(BENCH_BINS) $(LIB_LIAISON)

# ------------------------------------------------------------------ deps

# Written only once every library is present; its contents are the flags.
$(BUILD)/config.mk: Makefile
	@$(MAKE) --no-print-directory deps
	@mkdir -p $(BUILD)
	@{ echo "PKG_CFLAGS := $$(pkg-config --cflags $(PKGS))"; \
	   echo "PKG_LIBS := $$(pkg-config --libs libsodium libzmq libprotobuf-c lmdb jansson)"; \
	   echo "CMOCKA_LIBS := $$(pkg-config --libs cmocka)"; } > $@.tmp && mv $@.tmp $@

deps:
	@missing=""; \
	for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || missing="$$missing $$p"; done; \
	command -v protoc-c >/dev/null 2>&1 || missing="$$missing protoc-c"; \
	command -v clang >/dev/null 2>&1 && \
	  echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return d[0] + n; }' | \
	  clang -fsanitize=fuzzer -x c -o /dev/null - >/dev/null 2>&1 || \
	  missing="$$missing clang+libFuzzer"; \
	if [ -z "$$missing" ]; then echo "deps: all libraries present"; exit 0; fi; \
	echo "deps: missing:$$missing"; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "deps: installing $(DEBS)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(DEBS) || exit 1; \
	else \
	  echo "deps: run this, then make again:"; \
	  echo "  sudo apt-get update && sudo apt-get install -y $(DEBS)"; exit 1; \
	fi

# ------------------------------------------------------------------ generated code

$(GEN_C) $(GEN_H) &: proto/liaison.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen proto/liaison.proto

# The error list is installed as <liaison/err.h>; proto/err.h stays its
# only source.
$(PUB_ERR_H): proto/err.h
	@mkdir -p $(dir $@)
	cp proto/err.h $@

# Generated code is exempt from -Werror (not ours to fix), not from warnings.
$(BUILD)/obj/gen/liaison.pb-c.o: $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Wall -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(GEN_H) $(PUB_ERR_H)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(WARN) -MMD -MP -c -o $@ $<

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ------------------------------------------------------------------ libraries

$(LIB_PROTO): $(call obj,$(PROTO_SRC)) $(BUILD)/obj/gen/liaison.pb-c.o
$(LIB_KEYS): $(call obj,$(KEYS_SRC))
$(LIB_CLIENT): $(call obj,$(CLIENT_SRC))
$(LIB_RELAY): $(call obj,$(RELAY_SRC))
$(LIB_TEST): $(call obj,$(TESTLIB_SRC))
$(LIB_BENCH): $(call obj,$(BENCHLIB_SRC))
$(LIB_LIAISON): $(call obj,$(CLIENT_SRC) $(KEYS_SRC) $(PROTO_SRC)) $(BUILD)/obj/gen/liaison.pb-c.o
$(LIB_FUZZFIX): $(call obj,$(FUZZFIX_SRC))

$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# ------------------------------------------------------------------ programs

$(BIN_KEYS): $(call obj,$(KEYS_CLI)) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

ifneq ($(BIN_CLIENT),)
$(BIN_CLIENT): $(call obj,$(CLIENT_CLI)) $(LIB_CLIENT) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
endif

ifneq ($(BIN_RELAY),)
$(BIN_RELAY): $(call obj,$(RELAY_MAIN)) $(LIB_RELAY) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)
endif

# Tests may use every layer (the dependency rule binds production code).
# Unit and system test programs both land in $(BUILD)/tests/.
TEST_LINK = $(LIB_TEST) $(ALL_LIBS_LINK) $(PKG_LIBS) $(CMOCKA_LIBS)

$(UNIT_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB_TEST) $(ALL_LIBS_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_LINK)

$(SYSTEM_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/system/%.o $(LIB_TEST) $(ALL_LIBS_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(TEST_LINK)

# Benchmarks: the relay test fixtures drive real relays, bench/lib/ holds
# the baselines and drivers they share.
$(BENCH_BINS): $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB_BENCH) $(LIB_TEST) \
                                 $(LIB_CLIENT) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $< $(LIB_BENCH) $(LIB_TEST) $(LIB_CLIENT) \
	    $(LIB_KEYS) $(LIB_PROTO) $(PKG_LIBS)

# The soak test's hostile peer relay (tests/soak/junk_peer.c).
SOAK_PEER := $(BUILD)/soak/junk_peer
$(SOAK_PEER): $(BUILD)/obj/tests/soak/junk_peer.o $(LIB_TEST) $(ALL_LIBS_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB_TEST) $(ALL_LIBS_LINK) $(PKG_LIBS)

# ------------------------------------------------------------------ fuzzing
#
# Every tests/fuzz/fuzz_<name>.c is a libFuzzer target with its seed corpus
# in tests/fuzz/corpus/<name>/: adding a target is those two and nothing
# here.  A target named fuzz_relay_* also links the relay library.  Built
# only under SANITIZE=fuzz (make fuzz sets it), into build-fuzz/.

# fuzzfix.o is linked whole, not only as the archive's member, so that its
# default LLVMFuzzerInitialize reaches a target that calls nothing else
# of it (libFuzzer's reference to it is weak and pulls in no member).
FUZZ_LINK = $(BUILD)/obj/tests/fuzz/fuzzfix.o $(LIB_FUZZFIX) $(LIB_CLIENT) \
            $(LIB_KEYS) $(LIB_PROTO) $(PKG_LIBS)

$(BUILD)/fuzz/fuzz_relay_%: $(BUILD)/obj/tests/fuzz/fuzz_relay_%.o $(LIB_FUZZFIX) \
                            $(LIB_RELAY) $(LIB_CLIENT) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_RELAY) $(FUZZ_LINK)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(LIB_FUZZFIX) \
                      $(LIB_CLIENT) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LINK)

# The seed generator: an ordinary program over the same fixtures.
$(BUILD)/fuzz/gen_corpus: $(BUILD)/obj/tests/fuzz/gen_corpus.o $(LIB_FUZZFIX) \
                          $(LIB_CLIENT) $(LIB_KEYS) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(FUZZ_LINK)

FUZZ_SECONDS ?= 60
# Per input: a unit slower than FUZZ_TIMEOUT seconds is a finding.
FUZZ_TIMEOUT ?= 10
FUZZ_FLAGS   ?= -timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=2048 -print_final_stats=1

fuzz:
	$(MAKE) --no-print-directory BUILD=build-fuzz SANITIZE=fuzz fuzz-run

fuzz-build: $(FUZZ_BINS)

# Each target runs over a copy of its corpus (new inputs stay in
# $(BUILD)/fuzz-work/<name>/, never in the tree); any crash, leak, timeout,
# out-of-memory or sanitizer report fails the run and leaves its input in
# $(BUILD)/fuzz-work/<name>/artifacts/.
fuzz-run: $(FUZZ_BINS)
	@fail=0; for t in $(FUZZ_BINS); do \
	  n=$${t##*/fuzz_}; w=$(BUILD)/fuzz-work/$$n; \
	  rm -rf $$w; mkdir -p $$w/corpus $$w/artifacts; \
	  if [ -d tests/fuzz/corpus/$$n ]; then cp tests/fuzz/corpus/$$n/* $$w/corpus/; \
	  else echo "fuzz: no seed corpus tests/fuzz/corpus/$$n/"; fi; \
	  echo "== fuzz $$n for $(FUZZ_SECONDS) s"; \
	  if $$t $(FUZZ_FLAGS) -max_total_time=$(FUZZ_SECONDS) \
	       -artifact_prefix=$$w/artifacts/ $$w/corpus >$$w/log 2>&1 && \
	     ! grep -q -e 'ERROR: ' -e 'runtime error:' $$w/log; then \
	    grep -h -e '^stat::number_of_executed_units' -e '^stat::peak_rss_mb' $$w/log | \
	      sed 's/^/   /'; \
	  else fail=1; tail -n 40 $$w/log; echo "FAILED: fuzz $$n (log: $$w/log)"; fi; \
	done; \
	if [ $$fail = 0 ]; then echo "all fuzz targets ran clean"; else exit 1; fi

# Rewrites the committed seed corpus from tests/fuzz/gen_corpus.c.
fuzz-corpus:
	$(MAKE) --no-print-directory BUILD=build-fuzz SANITIZE=fuzz fuzz-gen

fuzz-gen: $(BUILD)/fuzz/gen_corpus
	$(BUILD)/fuzz/gen_corpus tests/fuzz/corpus

# ------------------------------------------------------------------ running

# Tests find the programs and vectors through these variables.
TEST_ENV = LSN_BIN=$(abspath $(BUILD)/bin) LSN_VECTORS=$(abspath tests/vectors) \
           LSN_TMP=$(abspath $(BUILD)/tmp) \
           LSN_MAKEVARS="BUILD=$(BUILD) SANITIZE=$(SANITIZE)" \
           LSN_SANFLAGS="$(if $(SANITIZE),-fsanitize=address$(comma)undefined)"
comma := ,

# Runs every program and shell script given, each once, whatever the ones
# before it gave, and says how long each took; fails if any failed.
run_tests = @mkdir -p $(BUILD)/tmp; \
	fail=0; for t in $(1); do \
	  echo "== $$t"; start=$$(date +%s); \
	  case $$t in *.sh) $(TEST_ENV) sh $$t;; *) $(TEST_ENV) $$t;; esac || \
	    { fail=1; echo "FAILED: $$t"; }; \
	  echo "-- $$t: $$(( $$(date +%s) - start )) s"; \
	done; \
	if [ $$fail = 0 ]; then echo "all tests passed"; else echo "some tests FAILED"; exit 1; fi

test: all
	@sh tests/structure/layers.sh $(BUILD)/obj
	$(call run_tests,$(UNIT_BINS) $(SYSTEM_BINS) $(SYSTEM_SH))

unit: all
	$(call run_tests,$(UNIT_BINS))

system: all
	$(call run_tests,$(SYSTEM_BINS) $(SYSTEM_SH))

asan:
	$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 test

demo: all
	@sh tests/demo.sh $(abspath $(BUILD)/bin)

SOAK_SECONDS ?= 60
soak: all $(SOAK_PEER)
	@mkdir -p $(BUILD)/tmp
	$(TEST_ENV) LSN_SOAK_PEER=$(abspath $(SOAK_PEER)) SOAK_SECONDS=$(SOAK_SECONDS) \
	    sh tests/soak/soak.sh

# Each program prints "figure" and "ratio" lines (docs/bench.md); relays run
# from $(BUILD)/bin, their stores and the fdatasync baseline in $(BUILD)/tmp.
BENCH_ROUNDS ?=
bench: all
	@mkdir -p $(BUILD)/tmp
	@status=0; for b in $(BENCH_BINS); do \
	  echo "== $${b##*/}"; \
	  $(TEST_ENV) $(if $(BENCH_ROUNDS),LSN_BENCH_ROUNDS=$(BENCH_ROUNDS)) $$b || status=1; \
	done; exit $$status

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/liaison \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/liaison
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 relay/relay.conf.example $(DESTDIR)$(PREFIX)/share/liaison/
	install -m 0644 include/liaison.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(PUB_ERR_H) $(DESTDIR)$(PREFIX)/include/liaison/err.h
	install -m 0644 $(LIB_LIAISON) $(DESTDIR)$(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@LIBS@|$(PKG_LIBS)|' liaison.pc.in \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/liaison.pc

# Every folder a build makes: the default, make asan's, make fuzz's,
# docs/hardening.md's scan-build one, and any other BUILD given.
clean:
	rm -rf build build-asan build-fuzz build-scan $(BUILD)

distclean: clean
