#!/usr/bin/env bash
# run-bench.sh: load benchmarks of Parley against ngIRCd and InspIRCd (issue 8).
#
# Builds the load generator (tests/bench/ircbench), then runs every scenario against each
# server in alternation (A B C, A B C, ... for each scenario, ROUNDS rounds), each run on a
# freshly started server on a private port, and writes docs/BENCHMARKS.md from the RESULT
# lines (medians, min-max, Parley/peer ratios). Peers are installed with apt-get when
# missing and run as root; their configurations are tests/bench/peers/*.conf. Everything a
# server writes at run time goes to a temporary directory, never into the repository.
#
#   bash tests/bench/run-bench.sh           # full run, about 11 minutes
#   QUICK=1 bash tests/bench/run-bench.sh   # one short round, about 2 minutes
#
# Then runs tests/bench/history-bench.sh (message history; docs/HISTORY-BENCHMARKS.md) and
# tests/bench/login-bench.sh (login storms over TLS; docs/LOGIN-BENCHMARKS.md).
#
# Environment: QUICK=1; ROUNDS (3); DURATION (3 s per measuring window); SERVERS
# ("parley ngircd inspircd", those installed); HOLD_SERVERS (servers for the 19,000-client
# run; default "parley inspircd": ngIRCd needs about 110 s to register 19,000 clients);
# REPORT (docs/BENCHMARKS.md; "-" for none, the default with QUICK=1); KEEP=1 keeps the
# temporary directory; TLS=0 skips the TLS runs (tls-* scenarios), TLS=only runs nothing else;
# TLS_IDLE_N (5,000; 2,000 with QUICK=1) idle TLS clients; NGIRCD and INSPIRCD name the
# peers' binaries (default: those on PATH; e.g. an ngircd unpacked with `dpkg -x` from its
# .deb when an installed package conflicts with it); ONLY="id ..." runs only those
# scenarios; WAIT_QUIET=S waits up to S seconds for other work on the machine to stop (under
# 0.25 cores busy) before starting.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH=tests/bench
GEN=$ROOT/$BENCH/ircbench
PARLEYD=$ROOT/ircd/parleyd

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${ROUNDS:-1}
	DURATION=${DURATION:-2}
	IDLE_N=${IDLE_N:-2000}
	TLS_IDLE_N=${TLS_IDLE_N:-2000}
	HOLD_N=${HOLD_N:-0}
else
	ROUNDS=${ROUNDS:-3}
	DURATION=${DURATION:-3}
	IDLE_N=${IDLE_N:-10000}
	TLS_IDLE_N=${TLS_IDLE_N:-5000}
	HOLD_N=${HOLD_N:-19000}
fi
# A quick run prints its summary only; set REPORT to write a file anyway.
if [ "$QUICK" = 1 ]; then REPORT=${REPORT:--}; else REPORT=${REPORT:-docs/BENCHMARKS.md}; fi
HOLD_SERVERS=${HOLD_SERVERS:-parley inspircd}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- build -----------------------------------------------------------------------------
make -s -C "$BENCH" || exit 1
[ -x "$PARLEYD" ] || make -s all || exit 1

# --- peers -----------------------------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }
NGIRCD=${NGIRCD:-ngircd}
INSPIRCD=${INSPIRCD:-inspircd}
if ! have "$NGIRCD" || ! have "$INSPIRCD"; then
	if [ "$(id -u)" = 0 ] && have apt-get; then
		log "installing ngircd and inspircd"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngircd inspircd >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ngircd inspircd >/dev/null 2>&1; } ||
			log "could not install the peers; benchmarking Parley alone"
	else
		log "ngircd/inspircd missing (run as root to install them); benchmarking what is installed"
	fi
fi
# The packages start system instances on 6667; stop them (ours use private ports).
stop_system_instance() {
	local name=$1 pidfile pid
	if have systemctl && systemctl is-active --quiet "$name" 2>/dev/null; then
		systemctl stop "$name" >/dev/null 2>&1
	elif have service; then
		service "$name" stop >/dev/null 2>&1
	fi
	for pidfile in /run/$name/$name.pid /var/run/$name/$name.pid; do
		[ -r "$pidfile" ] || continue
		pid=$(cat "$pidfile" 2>/dev/null)
		[ -n "$pid" ] && kill "$pid" 2>/dev/null
	done
	return 0
}
stop_system_instance ngircd
stop_system_instance inspircd

if [ -z "${SERVERS:-}" ]; then
	SERVERS=parley
	have "$NGIRCD" && SERVERS="$SERVERS ngircd"
	have "$INSPIRCD" && SERVERS="$SERVERS inspircd"
fi

TMP=$(mktemp -d /tmp/parley-bench.XXXXXX)
chmod 755 "$TMP"
# Run a copy: ircd/parleyd may be rebuilt while the benchmark runs. The versions are
# those of the start.
cp "$PARLEYD" "$TMP/parleyd" && PARLEYD=$TMP/parleyd
versions="parley $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- ircd services sql 2>/dev/null || echo ' with uncommitted changes')"
have "$NGIRCD" && versions="$versions; $("$NGIRCD" --version 2>/dev/null | head -1)"
have "$INSPIRCD" && versions="$versions; $("$INSPIRCD" --version 2>/dev/null | head -1)"
RESULTS=$TMP/results.txt
: >"$RESULTS"
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers ---------------------------------------------------------------------------
# shellcheck source=tests/bench/common.sh
. "$ROOT/$BENCH/common.sh" # free_port

# start_server NAME: starts a fresh instance on a free port; sets SPID and SPORT.
start_server() {
	local name=$1 dir
	SPORT=$(free_port)
	dir=$TMP/$name.$SPORT
	mkdir -p "$dir"
	chmod 777 "$dir" # ngIRCd writes its PID file after dropping to the irc user
	case $name in
	parley | parley-history | parley-tls | parley-tls-ecdsa | parley-ws)
		# Like the peers: no cloaking, no connection limits; message history off unless
		# the scenario measures it. The database and journal live in the run directory.
		local history=false tls="" tlsconf=""
		[ "$name" = parley-history ] && history=true
		[ "$name" = parley-ws ] && tls="websocket = true; " # ws://, the IRCv3 WebSocket transport
		if [ "$name" = parley-tls ]; then
			tls="tls = true; "
			tlsconf="tls = { certificate = \"$TMP/tls.crt\"; key = \"$TMP/tls.key\"; };"
		elif [ "$name" = parley-tls-ecdsa ]; then
			tls="tls = true; "
			tlsconf="tls = { certificate = \"$TMP/tls-ec.crt\"; key = \"$TMP/tls-ec.key\"; };"
		fi
		cat >"$dir/parley.conf" <<-EOF
			# Parley benchmark configuration written by tests/bench/run-bench.sh
			server = { name = "bench.parley.local"; };
			limits = { nicklen = 30; registration_timeout = 60; };
			log = { level = "warn"; };
			storage = { backend = "sqlite"; schema_dir = "$ROOT/sql"; sqlite = { path = "$dir/parley.db"; }; };
			history = { enabled = $history; journal = "$dir/history.journal"; };
			privacy = { cloak_default = false; };
			connlimit = { per_ip = 0; per_cidr = 0; rate = 0; };
			$tlsconf
			listen = ( { address = "127.0.0.1"; port = $SPORT; $tls} );
			class = ( {
			  name = "default";
			  sendq = 16777216;
			  ping_frequency = 3600;
			  ping_timeout = 600;
			  max_clients = 100000;
			  flood = { enabled = false; };
			} );
		EOF
		(cd "$dir" && exec "$PARLEYD" -f "$dir/parley.conf" >"$dir/out.log" 2>&1) &
		;;
	ngircd)
		sed -e "s|@PORT@|$SPORT|g" -e "s|@DIR@|$dir|g" "$BENCH/peers/ngircd.conf" >"$dir/ngircd.conf"
		"$NGIRCD" -n -f "$dir/ngircd.conf" >"$dir/out.log" 2>&1 &
		;;
	ngircd-tls)
		# TLS on the measured port (its GnuTLS build); the plaintext listener moves to another
		sed -e "s|@PORT@|$(free_port)|g" -e "s|@DIR@|$dir|g" "$BENCH/peers/ngircd.conf" >"$dir/ngircd.conf"
		printf '[SSL]\n\tCertFile = %s\n\tKeyFile = %s\n\tDHFile = %s\n\tPorts = %s\n' \
			"$TMP/tls.crt" "$TMP/tls.key" "$TMP/dh.pem" "$SPORT" >>"$dir/ngircd.conf"
		"$NGIRCD" -n -f "$dir/ngircd.conf" >"$dir/out.log" 2>&1 &
		;;
	inspircd | inspircd-tls)
		sed -e "s|@PORT@|$SPORT|g" -e "s|@DIR@|$dir|g" "$BENCH/peers/inspircd.conf" >"$dir/inspircd.conf"
		if [ "$name" = inspircd-tls ]; then
			# Debian's InspIRCd 3.15 ships only the GnuTLS module (no m_ssl_openssl)
			sed -i 's|type="clients">|type="clients" sslprofile="Clients">|' "$dir/inspircd.conf"
			printf '<module name="ssl_gnutls">\n<sslprofile name="Clients" provider="gnutls" certfile="%s" keyfile="%s">\n' \
				"$TMP/tls.crt" "$TMP/tls.key" >>"$dir/inspircd.conf"
		fi
		# from its run directory: a core file it leaves (Debian's GnuTLS module crashes at
		# exit) lands there, not in the repository
		(cd "$dir" && exec "$INSPIRCD" --config "$dir/inspircd.conf" --nofork --nopid --runasroot >"$dir/out.log" 2>&1) &
		;;
	esac
	SPID=$!
	local i
	for i in $(seq 100); do
		if ss -Hltn "sport = :$SPORT" 2>/dev/null | grep -q .; then
			sleep 0.1
			return 0
		fi
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	log "$name did not start; see below"
	cat "$dir/out.log" >&2
	stop_server
	return 1
}

stop_server() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	local i
	for i in $(seq 50); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}

# Connections registering at once during setup: ngIRCd's listen backlog is 10 (compiled
# in), so more connects in flight overflow its accept queue; InspIRCd registers clients on
# a one-second tick, so it needs many in flight.
setup_inflight() {
	case $1 in
	ngircd*) echo 10 ;;
	*) echo 1000 ;;
	esac
}

# run ID ROUND NAME ircbench-args...: one measurement on a fresh server.
run() {
	local id=$1 round=$2 name=$3
	shift 3
	start_server "$name" || start_server "$name" || {
		echo "RESULT server=$name scenario=$id status=fail failure=start id=$id round=$round" >>"$RESULTS"
		return
	}
	local out=$TMP/run.$id.$name.$round.out
	grep -q "^$id " "$TMP/commands.txt" 2>/dev/null ||
		echo "$id ircbench --port PORT --pid PID --label $name --setup-inflight $(setup_inflight "$name") $*" >>"$TMP/commands.txt"
	local label=${name%%-*} # parley-history, parley-ws, ngircd-tls ... are parley, ngircd ...
	"$GEN" --port "$SPORT" --pid "$SPID" --label "$label" --setup-inflight "$(setup_inflight "$name")" \
		--extra "id=$id round=$round" "$@" >"$out" 2>&1
	local alive=1
	kill -0 "$SPID" 2>/dev/null || alive=0
	stop_server
	if grep -q '^RESULT' "$out"; then
		grep '^RESULT' "$out" | sed "s/\$/ server_alive=$alive/" >>"$RESULTS"
	else
		echo "RESULT server=$name scenario=$id status=fail failure=generator id=$id round=$round server_alive=$alive" >>"$RESULTS"
	fi
	log "$(grep '^RESULT' "$RESULTS" | tail -1 | cut -c1-220)"
	grep -q 'status=ok' <(tail -1 "$RESULTS") || { log "run output:"; tail -5 "$out" >&2; }
}

COMMON=(--duration "$DURATION" --warmup 1)
# id | arguments. Window runs use 2 generator threads; fixed-rate (latency) runs use 1 so
# the generator and the single-threaded server each have a core. --quickack makes the
# generator's sockets acknowledge at once: on loopback (64 KiB MSS) a server that does not
# set TCP_NODELAY (ngIRCd, InspIRCd) otherwise waits for delayed ACKs (see the report).
# id | servers ("all" or a list) | arguments. Window runs use 2 generator threads;
# fixed-rate (latency) runs use 1 so that the generator and the single-threaded server each
# have a core. --quickack makes the generator's sockets acknowledge at once: on loopback
# (64 KiB MSS) a server that does not set TCP_NODELAY (ngIRCd, InspIRCd) otherwise waits
# for the client's delayed ACKs (see the report). fanout-w16-history is Parley with message
# history on (SQLite), to compare with its fanout-w16; ws-* are Parley's fan-out scenarios
# with every client on WebSocket (ircbench --ws), to compare with the same ids without ws-.
SCENARIOS=(
	"idle|all|--scenario idle --clients $IDLE_N --per-channel 50 --settle 2 --setup-timeout 120"
	"fanout-w16|all|--scenario fanout --clients 100 --senders 10 --inflight 16 --quickack ${COMMON[*]}"
	"fanout-w64|all|--scenario fanout --clients 100 --senders 10 --inflight 64 --quickack ${COMMON[*]}"
	"fanout-w16-noqa|all|--scenario fanout --clients 100 --senders 10 --inflight 16 ${COMMON[*]}"
	"ws-fanout-w16|parley-ws|--ws --scenario fanout --clients 100 --senders 10 --inflight 16 --quickack ${COMMON[*]}"
	"ws-fanout-w64|parley-ws|--ws --scenario fanout --clients 100 --senders 10 --inflight 64 --quickack ${COMMON[*]}"
	"ws-fanout-rate|parley-ws|--ws --scenario fanout --clients 100 --senders 10 --rate 1000 --threads 1 --quickack ${COMMON[*]}"
	"fanout-w16-history|parley-history|--scenario fanout --clients 100 --senders 10 --inflight 16 --quickack ${COMMON[*]}"
	"fanout-rate|all|--scenario fanout --clients 100 --senders 10 --rate 1000 --threads 1 --quickack ${COMMON[*]}"
	"direct-w16|all|--scenario direct --pairs 50 --inflight 16 --quickack ${COMMON[*]}"
	"direct-rate|all|--scenario direct --pairs 50 --rate 20000 --threads 1 --quickack ${COMMON[*]}"
	"connect-p10|all|--scenario connect --parallel 10 ${COMMON[*]}"
	"connect-p50|all|--scenario connect --parallel 50 ${COMMON[*]}"
	"tls-idle|all-tls|--tls --scenario idle --clients $TLS_IDLE_N --per-channel 50 --settle 2 --setup-timeout 120"
	"tls-connect-p10|all-tls|--tls --scenario connect --parallel 10 ${COMMON[*]}"
	"tls-connect-p50|all-tls|--tls --scenario connect --parallel 50 ${COMMON[*]}"
	"tls-connect-p50-resume|all-tls|--tls --resume --scenario connect --parallel 50 ${COMMON[*]}"
	"tls-connect-p50-ecdsa|parley-tls-ecdsa|--tls --scenario connect --parallel 50 ${COMMON[*]}"
	"tls-fanout-w16|parley-tls|--tls --scenario fanout --clients 100 --senders 10 --inflight 16 --quickack ${COMMON[*]}"
)
# tls-*: every server with TLS on its client port and the same certificate, RSA 2048
# self-signed as `make cert` makes (InspIRCd and ngIRCd through GnuTLS, as Debian builds
# them); tls-connect-p50-resume reconnects with the session (ticket) of an earlier connection,
# as clients coming back after a network blip can; tls-connect-p50-ecdsa is Parley with an
# ECDSA P-256 certificate instead.
if [ "${TLS:-1}" != 0 ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
		-keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1 &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
			-keyout "$TMP/tls-ec.key" -out "$TMP/tls-ec.crt" >/dev/null 2>&1 &&
		openssl dhparam -dsaparam -out "$TMP/dh.pem" 2048 >/dev/null 2>&1 &&
		chmod 644 "$TMP"/tls*.key || { log "cannot make the TLS certificates; no TLS runs"; TLS=0; }
fi

# Other work on the machine skews every figure: report it, and optionally wait for quiet.
busy_cores() { # CPU busy over $1 seconds, in cores
	local a b
	a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
	sleep "$1"
	b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat)
	awk -v a="$a" -v b="$b" -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/hz/t}'
}
if [ "${WAIT_QUIET:-0}" -gt 0 ]; then
	waited=0
	while [ "$waited" -lt "$WAIT_QUIET" ]; do
		b=$(busy_cores 5)
		awk -v b="$b" 'BEGIN{exit !(b < 0.25)}' && break
		log "machine busy ($b cores in use by others); waiting"
		waited=$((waited + 5))
	done
fi
log "background load before the run: $(busy_cores 3) cores busy"

START=$(date +%s)
log "servers: $SERVERS; rounds: $ROUNDS; measuring windows of $DURATION s; results in $RESULTS"
for round in $(seq "$ROUNDS"); do
	for entry in "${SCENARIOS[@]}"; do
		id=${entry%%|*}
		[ -n "${ONLY:-}" ] && case " $ONLY " in *" $id "*) ;; *) continue ;; esac
		case $id in
		tls-*) [ "${TLS:-1}" = 0 ] && continue ;;
		*) [ "${TLS:-1}" = only ] && continue ;;
		esac
		rest=${entry#*|}
		who=${rest%%|*}
		read -r -a args <<<"${rest#*|}"
		if [ "$who" = all ] || [ "$who" = all-tls ]; then
			# rotate the order each round so no server always runs first
			read -r -a list <<<"$SERVERS"
			k=$(((round - 1) % ${#list[@]}))
			suffix=""
			[ "$who" = all-tls ] && suffix=-tls
			who=""
			for name in "${list[@]:k}" "${list[@]:0:k}"; do who="$who $name$suffix"; done
		fi
		case " $SERVERS " in
		*" parley "*) ;;
		*) who=$(for n in $who; do case $n in parley*) ;; *) printf '%s ' "$n" ;; esac; done) ;;
		esac
		for name in $who; do
			run "$id" "$round" "$name" "${args[@]}"
		done
	done
done
if [ "$HOLD_N" -gt 0 ] && [ "${TLS:-1}" != only ]; then
	for name in $SERVERS; do
		case " $HOLD_SERVERS " in *" $name "*) ;; *) continue ;; esac
		run hold 1 "$name" --scenario idle --clients "$HOLD_N" --per-channel 50 --settle 5 --setup-timeout 150
	done
fi
ELAPSED=$(($(date +%s) - START))
log "done in $ELAPSED s"

# --- report ----------------------------------------------------------------------------
# TLS=only refreshes the tls-* rows of an existing report and keeps its other rows.
keep=()
[ "${TLS:-1}" = only ] && [ "$REPORT" != "-" ] && [ -f "$REPORT" ] && keep=(--keep-from "$REPORT")
if [ "$REPORT" != "-" ]; then
	/usr/bin/python3 "$BENCH/report.py" "$RESULTS" "${keep[@]}" --commands "$TMP/commands.txt" \
		--servers "$SERVERS" --rounds "$ROUNDS" --duration "$DURATION" --elapsed "$ELAPSED" \
		--quick "$QUICK" --idle-n "$IDLE_N" --tls-idle-n "$TLS_IDLE_N" --hold-n "$HOLD_N" --versions "$versions" \
		--command "$( [ "$QUICK" = 1 ] && echo 'QUICK=1 ')bash tests/bench/run-bench.sh" >"$REPORT.tmp" &&
		mv "$REPORT.tmp" "$REPORT" && log "wrote $REPORT"
fi
/usr/bin/python3 "$BENCH/report.py" "$RESULTS" --summary --servers "$SERVERS"

# Message history (writes on both backends, query latency on a filled store): its own
# script and report. HISTORY_BENCH=0 skips it; QUICK=1 uses a 100,000-message store;
# HISTORY_ROUNDS and HISTORY_DURATION (5 and 5) set its write rounds.
if [ "${HISTORY_BENCH:-1}" = 1 ]; then
	trap - EXIT
	cleanup
	if [ "$QUICK" = 1 ]; then
		HISTORY_ROWS=${HISTORY_ROWS:-100000} ROUNDS=1 DURATION=$DURATION QUERIES=200 REPORT=- \
			bash "$BENCH/history-bench.sh"
	else
		report_dir=$(dirname "$REPORT")
		[ "$REPORT" = "-" ] && hreport=- || hreport=$report_dir/HISTORY-BENCHMARKS.md
		ROUNDS=${HISTORY_ROUNDS:-5} DURATION=${HISTORY_DURATION:-5} REPORT=$hreport bash "$BENCH/history-bench.sh"
	fi
fi

# Login storms (SASL over TLS, cold and warm verification cache, SCRAM): its own script
# and report. LOGIN_BENCH=0 skips it; QUICK=1 uses 2,000 clients.
if [ "${LOGIN_BENCH:-1}" = 1 ]; then
	trap - EXIT
	cleanup 2>/dev/null
	if [ "$QUICK" = 1 ]; then
		LOGIN_N=${LOGIN_N:-2000} REPORT=- bash "$BENCH/login-bench.sh"
	else
		report_dir=$(dirname "$REPORT")
		[ "$REPORT" = "-" ] && lreport=- || lreport=$report_dir/LOGIN-BENCHMARKS.md
		REPORT=$lreport bash "$BENCH/login-bench.sh"
	fi
fi
