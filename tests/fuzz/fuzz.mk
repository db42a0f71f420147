# tests/fuzz/fuzz.mk — libFuzzer targets (included by the Makefile).
#
#   make fuzz-deps            install clang, libFuzzer and scapy
#   make fuzz                 replay tests/fuzz/regress/, then run each
#                             target for FUZZ_SECONDS (default 60)
#   make fuzz-build           only build build-fuzz/fuzz_*
#   make fuzz-corpus          regenerate tests/fuzz/corpus/ (needs scapy)
#   make fuzz-fuzz_engine     one target
#   make fuzz-replay          build $(B)/tests/fuzz_*-replay, which make
#                             check runs on regress/ and corpus/
#
# policy/*.c are compiled again with clang and the fuzzer's coverage
# instrumentation into build-fuzz/, apart from build/ and build-san/.
# The replay programs need neither clang nor libFuzzer: each target is
# built with $(CC) and $(CFLAGS), as the unit tests are, around
# tests/fuzz/replay.c.

FUZZ_B       := build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                -fno-omit-frame-pointer
# Other people's code may trip a clang-only warning: show it, do not stop.
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -Ipolicy $(PKG_CFLAGS) \
                $(filter-out -Werror,$(WARN)) -MMD -MP $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link \
                -fsanitize-coverage-ignorelist=tests/fuzz/coverage-ignore.txt
FUZZ_LIBS    := $(PKG_LIBS_POLICY)

FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_NAMES   := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_B)/%)
FUZZ_POLICY_OBJ := $(POLICY_SRC:%.c=$(FUZZ_B)/%.o)
FUZZ_REPLAY  := $(FUZZ_NAMES:%=$(B)/tests/%-replay)

$(FUZZ_B)/policy/%.o: policy/%.c tests/fuzz/coverage-ignore.txt
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_B)/tests/fuzz/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# an archive, so that a target links only the modules it calls
$(FUZZ_B)/libnfredact-policy.a: $(FUZZ_POLICY_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_B)/fuzz_%: $(FUZZ_B)/tests/fuzz/fuzz_%.o $(FUZZ_B)/libnfredact-policy.a
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BIN)

$(FUZZ_REPLAY): $(B)/tests/%-replay: $(B)/tests/fuzz/%.o \
		$(B)/tests/fuzz/replay.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS_POLICY)

fuzz-replay: $(FUZZ_REPLAY)

# make check replays tests/fuzz/regress/ and corpus/ (tests/fuzz/regress.sh)
check-run: $(FUZZ_REPLAY)

# Replay every saved reproducer once (a fixed bug must stay fixed), then
# fuzz from the seed corpus; new inputs go to build-fuzz/corpus/, crashes
# to build-fuzz/artifacts/.  Any crash fails the target.
fuzz-%: $(FUZZ_B)/% FORCE
	$(Q)tests/fuzz/run.sh $< $* $(FUZZ_SECONDS) $(FUZZ_JOBS)

fuzz: $(FUZZ_NAMES:%=fuzz-%)

fuzz-corpus:
	$(Q)/usr/bin/python3 tests/fuzz/make-corpus.py tests/fuzz/corpus

FORCE:

.PHONY: fuzz fuzz-build fuzz-replay fuzz-corpus FORCE

-include $(shell find $(FUZZ_B) -name '*.d' 2>/dev/null)
