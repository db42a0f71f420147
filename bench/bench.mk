# bench/bench.mk — the engine benchmark (included by the Makefile).
#
#   make bench                 capture, timed runs, callgrind breakdown,
#                              then the cost of checksum verification
#   make bench BENCH_PACKETS=2000000 BENCH_RUNS=5 BENCH_CALLGRIND=0
#   make bench-csum            the checksum verification part alone
#
# Not part of `make check`.  Needs tcprewrite, pktanon and valgrind:
# `make deps-extra` installs them.

BENCH_B       := $(B)/bench
BENCH_PACKETS ?= 1000000
BENCH_SLICE   ?= 20000
BENCH_SEED    ?= 1
BENCH_CAPTURE := $(BENCH_B)/capture-$(BENCH_PACKETS)-$(BENCH_SEED).pcap
BENCH_SLICE_PCAP := $(BENCH_B)/slice-$(BENCH_SLICE)-$(BENCH_SEED).pcap

$(BENCH_B)/gen-capture: bench/gen-capture.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BENCH_B)/csum-bench: bench/csum-bench.c $(B)/tools/linklayer.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/tools/linklayer.o \
		$(LIBPOLICY) $(PCAP_LIBS)

# cached: made again only when the generator changes (a pattern rule
# with two targets would mean one recipe makes both: two rules)
$(BENCH_B)/capture-%-$(BENCH_SEED).pcap: $(BENCH_B)/gen-capture
	@echo "  GEN     $@"
	$(Q)$< -n $* -s $(BENCH_SEED) $@.tmp && mv $@.tmp $@

$(BENCH_B)/slice-%-$(BENCH_SEED).pcap: $(BENCH_B)/gen-capture
	@echo "  GEN     $@"
	$(Q)$< -n $* -s $(BENCH_SEED) $@.tmp && mv $@.tmp $@

bench-deps-check:
	@missing=; for t in tcprewrite pktanon valgrind callgrind_annotate; do \
		command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "bench: missing$$missing; run 'make deps-extra' first" >&2; \
		exit 1; fi

BENCH_CSUM := bench/run-csum.sh $(B)/nfredact $(BENCH_B)/csum-bench \
	$(BENCH_CAPTURE) $(BENCH_SLICE_PCAP) $(BENCH_B)

bench: bench-deps-check $(B)/nfredact $(BENCH_B)/csum-bench $(BENCH_CAPTURE) $(BENCH_SLICE_PCAP)
	$(Q)$(if $(filter 1,$(SANITIZE)),echo "bench: SANITIZE=1 figures measure the sanitizers" >&2;) \
	bench/run-engine.sh $(B)/nfredact $(BENCH_CAPTURE) $(BENCH_SLICE_PCAP) $(BENCH_B) && \
	$(BENCH_CSUM)

# the checksum verification part alone (needs valgrind only)
bench-csum: $(B)/nfredact $(BENCH_B)/csum-bench $(BENCH_CAPTURE) $(BENCH_SLICE_PCAP)
	$(Q)$(if $(filter 1,$(SANITIZE)),echo "bench: SANITIZE=1 figures measure the sanitizers" >&2;) \
	$(BENCH_CSUM)

.PHONY: bench bench-csum bench-deps-check

# How long a key holder needs to sweep a /16 back from a pseudonym
# (README, "Keys and forward secrecy"): make bench-keysweep
$(BENCH_B)/key-sweep: bench/key-sweep.c $(LIBPOLICY)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBPOLICY) $(PKG_LIBS_POLICY)

bench-keysweep: $(BENCH_B)/key-sweep
	$(Q)d=$$(mktemp -d) && chmod 700 $$d && \
	$(B)/nfredact keygen --ratchet $$d/state --epoch 1d >/dev/null && \
	for mode in "map 100.64.0.0/10" "permute 16"; do \
		printf 'key state\nservice syslog {\n\tlisten udp 514\n\taddress ipv4 %s\n}\n' "$$mode" >$$d/p.conf; \
		echo "address ipv4 $$mode:"; $< $$d/p.conf 10.1 5; \
	done; rc=$$?; rm -rf $$d; exit $$rc
.PHONY: bench-keysweep
