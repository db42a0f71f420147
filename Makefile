# nfredact — one non-recursive GNU Makefile.
#
#   make            build/nfredact and build/libnfredact-policy.a
#   make check      every test the machine allows (SANITIZE=1: ASan+UBSan)
#   make deps       install the Debian packages the build and tests need
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (make fuzz-deps)
#   make bench      engine benchmark (large capture, tcprewrite, pktanon)
#   make recall     detector recall and false positives (tests/recall/)

B        ?= build
CC       ?= cc
PKGS     := libpcre2-8 libsodium
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) libpcap libmnl libnetfilter_queue libnftnl libseccomp 2>/dev/null)
PKG_LIBS_POLICY := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PCAP_LIBS := $(shell pkg-config --libs libpcap 2>/dev/null || echo -lpcap)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wno-unused-parameter -Werror
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -D_GNU_SOURCE -Ipolicy $(PKG_CFLAGS) -MMD -MP
LDFLAGS  ?=
ifeq ($(SANITIZE),1)
B        := build-san
CFLAGS   += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

POLICY_SRC := $(sort $(wildcard policy/*.c))
TOOLS_SRC  := $(sort $(wildcard tools/*.c))
FILTER_SRC := $(sort $(wildcard filter/*.c))
# filter/ code that the nfredact tool links too (rule generation)
SHARED_SRC := $(wildcard filter/rules.c filter/nftrules.c filter/keeper.c filter/log.c filter/notify.c)
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))

POLICY_OBJ := $(POLICY_SRC:%.c=$(B)/%.o)
TOOLS_OBJ  := $(TOOLS_SRC:%.c=$(B)/%.o) $(SHARED_SRC:%.c=$(B)/%.o)
FILTER_OBJ := $(FILTER_SRC:%.c=$(B)/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
LIBPOLICY  := $(B)/libnfredact-policy.a

NFQ_LIBS := $(shell pkg-config --libs libnetfilter_queue libmnl 2>/dev/null || echo -lnetfilter_queue -lmnl)
# the daemon's own nf_tables table (filter/nftrules.c) and its seccomp filter
NFT_LIBS := $(shell pkg-config --libs libnftnl libmnl 2>/dev/null || echo -lnftnl -lmnl)
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)

all: $(B)/nfredact $(LIBPOLICY) $(if $(FILTER_SRC),$(B)/nfredactd)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBPOLICY): $(POLICY_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/nfredact: $(TOOLS_OBJ) $(LIBPOLICY)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(TOOLS_OBJ) $(LIBPOLICY) $(PKG_LIBS_POLICY) $(PCAP_LIBS) $(NFT_LIBS)

$(B)/nfredactd: $(FILTER_OBJ) $(LIBPOLICY)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(FILTER_OBJ) $(LIBPOLICY) $(PKG_LIBS_POLICY) $(NFQ_LIBS) $(NFT_LIBS) $(SECCOMP_LIBS) -lpthread

$(B)/tests/%: $(B)/tests/unit/%.o $(LIBPOLICY)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LIBPOLICY) $(PKG_LIBS_POLICY) $(CMOCKA_LIBS) $(TEST_LIBS)

# tests that build a filter/ source in and need its libraries
$(B)/tests/test_sandbox: TEST_LIBS := $(SECCOMP_LIBS) -lpthread
$(B)/tests/test_rules: TEST_LIBS := $(NFT_LIBS)

# ---- tests -------------------------------------------------------------

check: deps
	$(Q)$(MAKE) --no-print-directory check-run

# tests/e2e/frame.sh speaks MQTT through bench/live/lat
check-run: all $(UNIT_BIN) $(B)/bench/live/lat
	$(Q)B=$(B) tests/run-all.sh $(UNIT_BIN)

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)B=$(B) tools/demo.sh
	$(Q)B=$(B) tools/demo-live.sh

unit: $(UNIT_BIN)
	$(Q)for t in $(UNIT_BIN); do $$t || exit 1; done

# ---- dependencies ------------------------------------------------------

DEB_BUILD := build-essential pkg-config libmnl-dev libnetfilter-queue-dev \
             libpcap-dev libpcre2-dev libsodium-dev libcmocka-dev \
             libnftnl-dev libseccomp-dev
DEB_TEST  := python3 python3-scapy tshark tcpdump iproute2 iptables nftables \
             mosquitto mosquitto-clients rsyslog procps
# the libFuzzer targets (make fuzz); make check's replays need none of it
DEB_FUZZ  := clang libclang-rt-14-dev
# nginx: the HTTP server of make bench-live's latency table
DEB_EXTRA := $(DEB_FUZZ) valgrind tcpreplay pktanon nginx

deps:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_TEST)

deps-extra:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_TEST) $(DEB_EXTRA)

fuzz-deps:
	$(Q)tools/deps.sh $(DEB_BUILD) $(DEB_FUZZ) python3-scapy

clean:
	rm -rf build build-san build-fuzz

-include tests/fuzz/fuzz.mk
-include tests/recall/recall.mk
-include bench/bench.mk
-include bench/live/live.mk

.PHONY: all check check-run unit demo deps deps-extra fuzz-deps clean
.SECONDARY:
-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- install / uninstall -------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=/staging]: the two programs,
# the man pages, the systemd units (their program paths made BINDIR's and
# SBINDIR's), an example policy, and the system user and group nfredact
# the daemon runs as (not under a DESTDIR: the package that is made there
# creates it).  Nothing else: no key, no policy, no run directory.
# uninstall removes what install copied; the user stays (files on the
# system may still belong to it).

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
INSTALL    ?= install
SYSTEMD_UNITS := $(wildcard filter/nfredactd.service filter/nfredact-rules.service)
DAEMON_USER := nfredact

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(SYSCONFDIR)/nfredact
	$(INSTALL) -m 0755 $(B)/nfredact $(DESTDIR)$(BINDIR)/nfredact
	$(INSTALL) -m 0755 $(B)/nfredactd $(DESTDIR)$(SBINDIR)/nfredactd
	$(INSTALL) -m 0644 man/nfredact.8 man/nfredactd.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 man/nfredact.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 examples/policy.conf \
		$(DESTDIR)$(SYSCONFDIR)/nfredact/policy.conf.example
ifneq ($(SYSTEMD_UNITS),)
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	@for u in $(SYSTEMD_UNITS); do \
		echo "  UNIT    $(DESTDIR)$(UNITDIR)/$${u##*/}"; \
		sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' \
		    -e 's|/usr/local/bin/|$(BINDIR)/|g' \
		    -e 's|/etc/nfredact/|$(SYSCONFDIR)/nfredact/|g' \
		    -e 's|/etc/default/|$(SYSCONFDIR)/default/|g' "$$u" \
			>$(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp \
			$(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
endif
ifeq ($(DESTDIR),)
	@if getent passwd $(DAEMON_USER) >/dev/null; then \
		echo "install: user $(DAEMON_USER) exists"; \
	elif getent group $(DAEMON_USER) >/dev/null; then \
		echo "install: creating system user $(DAEMON_USER) (group exists)"; \
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --gid $(DAEMON_USER) \
			$(DAEMON_USER); \
	else \
		echo "install: creating system user and group $(DAEMON_USER)"; \
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin --user-group $(DAEMON_USER); \
	fi
else
	@echo "install: DESTDIR set: the system user $(DAEMON_USER) is not" \
		"created; create it on the target (useradd --system" \
		"--no-create-home --home-dir /nonexistent --shell" \
		"/usr/sbin/nologin --user-group $(DAEMON_USER))"
endif

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/nfredact $(DESTDIR)$(SBINDIR)/nfredactd \
		$(DESTDIR)$(MANDIR)/man8/nfredact.8 \
		$(DESTDIR)$(MANDIR)/man8/nfredactd.8 \
		$(DESTDIR)$(MANDIR)/man5/nfredact.conf.5 \
		$(DESTDIR)$(SYSCONFDIR)/nfredact/policy.conf.example \
		$(DESTDIR)$(UNITDIR)/nfredactd.service \
		$(DESTDIR)$(UNITDIR)/nfredact-rules.service
	rmdir --ignore-fail-on-non-empty $(DESTDIR)$(SYSCONFDIR)/nfredact 2>/dev/null || true

.PHONY: install uninstall
# ---- end install / uninstall ---------------------------------------------
