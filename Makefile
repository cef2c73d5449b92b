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

SRCS    := $(filter-out ircd/main.c,$(wildcard ircd/*.c)) $(wildcard services/*.c)
OBJS    := $(SRCS:%.c=$(BUILD)/%.o)
LIB     := $(BUILD)/libparley.a
DAEMON  ?= ircd/parleyd
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

DEBS := libev-dev libssl-dev libconfig-dev libmariadb-dev libsqlite3-dev pkg-config \
        openssl python3-pytest python3-pytest-timeout libcmocka-dev mariadb-server mariadb-client

.PHONY: all run test unit protocol asan cert deps clean bench

all: $(DAEMON)

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
	@mkdir -p var
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
	$(MAKE) protocol

# The whole suite against an AddressSanitizer + UndefinedBehaviorSanitizer build.
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
asan: deps
	$(MAKE) BUILD=build/asan DAEMON=build/asan/parleyd OPT="$(ASAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" \
	  build/asan/parleyd unit protocol

# Load benchmarks against Parley and, when installed, ngIRCd and InspIRCd (docs/BENCHMARKS.md).
bench: deps
	$(MAKE) all
	bash tests/bench/run-bench.sh

clean:
	rm -rf build ircd/parleyd

-include $(OBJS:.o=.d) $(BUILD)/ircd/main.d
