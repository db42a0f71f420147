# bench/live/live.mk — the live benchmark (included by the Makefile).
#
#   sudo make bench-live           no queue / accept-all / nfredactd, flows
#   sudo make bench-live LIVE_SECONDS=3 LIVE_RUNS=3 LIVE_FLOWS=50000
#   sudo make bench-live LIVE_ONLY=latency LIVE_LAT_N=100
#        LIVE_ONLY: only the parts named, of rr (throughput and latency,
#        three modes), hold (hold-back latency), flows (memory per flow),
#        latency (MQTT and HTTP operations against mosquitto and nginx)
#
# Root only (network namespaces); needs iproute2 and nftables (nft); the
# latency part mosquitto (make deps) and nginx (make deps-extra).

LIVE_B       := $(B)/bench/live
LIVE_SECONDS ?= 3
LIVE_RUNS    ?= 3
LIVE_FLOWS   ?= 50000
LIVE_TABLE   ?= 1000000
LIVE_ONLY    ?=
LIVE_LAT_N   ?= 100

$(LIVE_B)/accept-all: bench/live/accept-all.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(NFQ_LIBS)

$(LIVE_B)/rr: bench/live/rr.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lm

$(LIVE_B)/lat: bench/live/lat.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(LIVE_B)/flowmem: bench/live/flowmem.c $(LIBPOLICY)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBPOLICY) $(PKG_LIBS_POLICY)

bench-live-tools: $(LIVE_B)/accept-all $(LIVE_B)/rr $(LIVE_B)/flowmem $(LIVE_B)/lat

bench-live: all bench-live-tools
	$(Q)$(if $(filter 1,$(SANITIZE)),echo "bench-live: SANITIZE=1 figures measure the sanitizers" >&2;) \
	LIVE_SECONDS=$(LIVE_SECONDS) LIVE_RUNS=$(LIVE_RUNS) LIVE_FLOWS=$(LIVE_FLOWS) \
	LIVE_TABLE=$(LIVE_TABLE) LIVE_ONLY="$(LIVE_ONLY)" LIVE_LAT_N=$(LIVE_LAT_N) \
	bench/live/run-live.sh $(B) $(LIVE_B)

.PHONY: bench-live bench-live-tools
