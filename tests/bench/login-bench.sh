#!/usr/bin/env bash
# login-bench.sh: a login storm (issue 18). N clients connect over TLS at once and log in
# with SASL during registration; the time until every one of them is registered is
# measured:
#   cold    the daemon just started: every login runs scrypt (N=16384) on the crypto pool
#   warm    the same daemon again: every login hits the verification cache
#   scram   SASL SCRAM-SHA-256 on a freshly started daemon (no cache involved)
#   cold-1  (LOGIN_ONE_THREAD=1) cold with accounts.crypto_threads = 1, the old behaviour
# The accounts (L0 .. L<N-1>) are written into the store beforehand by login-prefill.py.
# The peer, in the same session and alternating with Parley (login-peer.sh): InspIRCd 3
# with Atheme 7.2 services checking SASL PLAIN (Argon2d), the same generator, N, TLS
# certificate and accounts:
#   inspircd-cold   InspIRCd and Atheme just started, N clients at once
#   inspircd-warm   the same processes again (Atheme keeps no cache of verifications)
#   inspircd-paced  the same with LOGIN_PEER_INFLIGHT (100) logins in flight instead of N:
#                   Atheme drops a SASL session it has not advanced for 30-60 s, which a
#                   storm queued behind its one hashing thread outlasts
# ngIRCd has no SASL: its answer to CAP LS and AUTHENTICATE is recorded instead.
#
#   bash tests/bench/login-bench.sh               # LOGIN_N=10000 clients
#   LOGIN_N=2000 bash tests/bench/login-bench.sh
#
# Environment: LOGIN_N (10000); LOGIN_ONE_THREAD=1 adds the cold-1 run; LOGIN_PEER=0
# skips the peers (see login-peer.sh for theirs); REPORT (docs/LOGIN-BENCHMARKS.md; "-"
# prints the results only); KEEP=1 keeps the directory; LOGIN_REPORT_FROM=DIR writes the
# report again from such a kept directory, without running anything.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH=tests/bench
GEN=$ROOT/$BENCH/ircbench
N=${LOGIN_N:-10000}
REPORT=${REPORT:-docs/LOGIN-BENCHMARKS.md}
PASSWORD=login-storm-password

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

make -s -C "$BENCH" || exit 1
[ -x ircd/parleyd ] || make -s all || exit 1
TMP=$(mktemp -d /tmp/parley-login-bench.XXXXXX)
cp ircd/parleyd "$TMP/parleyd"
SPID=""
cleanup() {
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
	declare -F peer_stop >/dev/null && peer_stop
	if [ "${KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck source=tests/bench/common.sh
. "$ROOT/$BENCH/common.sh"

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
	-keyout "$TMP/tls.key" -out "$TMP/tls.crt" >/dev/null 2>&1 || { log "openssl failed"; exit 1; }

# start_server THREADS: a fresh daemon on the store in $TMP; sets SPID and SPORT.
start_server() {
	SPORT=$(free_port)
	cat >"$TMP/parley.conf" <<-EOF2
		server = { name = "bench.parley.local"; };
		limits = { nicklen = 30; registration_timeout = 600; };
		log = { level = "warn"; };
		storage = { backend = "sqlite"; schema_dir = "$ROOT/sql"; sqlite = { path = "$TMP/parley.db"; }; };
		history = { enabled = false; journal = "$TMP/history.journal"; };
		privacy = { cloak_default = false; };
		connlimit = { per_ip = 0; per_cidr = 0; rate = 0; };
		accounts = { crypto_threads = $1; max_failed_logins = 1000; };
		tls = { certificate = "$TMP/tls.crt"; key = "$TMP/tls.key"; };
		listen = ( { address = "127.0.0.1"; port = $SPORT; tls = true; } );
		class = ( { name = "default"; sendq = 16777216; ping_frequency = 3600; ping_timeout = 600;
		            max_clients = 100000; flood = { enabled = false; }; } );
	EOF2
	(cd "$TMP" && exec "$TMP/parleyd" -f "$TMP/parley.conf" >>"$TMP/out.log" 2>&1) &
	SPID=$!
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$SPORT" 2>/dev/null | grep -q . && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	log "parleyd did not start:"
	cat "$TMP/out.log" >&2
	exit 1
}

stop_server() {
	kill -TERM "$SPID" 2>/dev/null
	local i
	for i in $(seq 100); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}

RESULTS=$TMP/results.txt
: >"$RESULTS"
# run ID ircbench-args...: N clients logging in at once on the running daemon.
# PLAIN in lockstep (--sasl-wait), as irssi and WeeChat log in and as the peer needs.
run() {
	local id=$1 load
	shift
	load=$(awk '{print $1}' /proc/loadavg)
	log "$id: $N clients (load $load)"
	"$GEN" --port "$SPORT" --pid "$SPID" --label parley --tls --scenario idle --clients "$N" \
		--per-channel 1000 --setup-inflight "$N" --settle 0 --setup-timeout 1200 \
		--sasl "$PASSWORD" --sasl-wait --extra "id=$id load=$load" "$@" >"$TMP/$id.out" 2>&1
	grep '^RESULT' "$TMP/$id.out" >>"$RESULTS" || echo "RESULT id=$id status=fail" >>"$RESULTS"
	log "$(grep '^RESULT' "$RESULTS" | tail -1 | grep -o 'status=[a-z]*\|setup_s=[0-9.]*\|errors=[0-9]*\|registered=[0-9]*' | tr '\n' ' ')"
	sleep 2 # the daemon closes the N connections
}

if [ -n "${LOGIN_REPORT_FROM:-}" ]; then
	# only the report, from the results a KEEP=1 run left in that directory
	RESULTS=$LOGIN_REPORT_FROM/results.txt
	NGIRCD_TXT=$LOGIN_REPORT_FROM/ngircd-sasl.txt
	# shellcheck source=/dev/null
	. "$LOGIN_REPORT_FROM/run.env" || exit 1
else
	load=$(awk '{print $1}' /proc/loadavg)
	# the schema: one start applies the migrations
	start_server 0
	stop_server
	/usr/bin/python3 "$BENCH/login-prefill.py" "$TMP/parley.db" "$N" "$PASSWORD" || exit 1
	cpus=$(getconf _NPROCESSORS_ONLN)
	PEER=0
	PEER_INFLIGHT=${LOGIN_PEER_INFLIGHT:-100}
	if [ "${LOGIN_PEER:-1}" != 0 ]; then
		# shellcheck source=tests/bench/login-peer.sh
		. "$ROOT/$BENCH/login-peer.sh"
		peer_setup && PEER=1
		peer_ngircd_probe
	fi
	if [ "${LOGIN_ONE_THREAD:-0}" = 1 ]; then
		start_server 1
		run cold-1
		stop_server
	fi
	# Parley and the peer alternate; Parley idles (no clients) while the peer runs and the
	# other way round.
	start_server 0
	run cold
	[ "$PEER" = 1 ] && peer_start && peer_run inspircd-cold
	run warm
	if [ -n "${IPID:-}" ]; then
		peer_run inspircd-warm
		peer_run inspircd-paced --setup-inflight "$PEER_INFLIGHT"
		peer_stop
	fi
	stop_server
	start_server 0
	run scram --scram
	stop_server
	NGIRCD_TXT=$TMP/ngircd-sasl.txt
	DAY=$(date -u +%Y-%m-%d)
	REV=$(git rev-parse --short HEAD 2>/dev/null)
	PEER_VERSIONS="$("${INSPIRCD:-inspircd}" --version 2>/dev/null | head -1) with $("${ATHEME:-atheme-services}" -v 2>/dev/null | grep -o 'atheme [0-9.]*' | head -1 | sed 's/atheme/Atheme/')"
	# what the report needs besides the results (LOGIN_REPORT_FROM)
	{
		echo "N=$N load=$load cpus=$cpus PEER=$PEER PEER_INFLIGHT=$PEER_INFLIGHT"
		echo "ARGON2_MEMORY=${ARGON2_MEMORY:-} ARGON2_TIME=${ARGON2_TIME:-}"
		echo "DAY=$DAY REV=$REV"
		printf 'PEER_VERSIONS=%q\n' "$PEER_VERSIONS"
	} >"$TMP/run.env"
fi

field() { grep "id=$1\b" "$RESULTS" | grep -o " $2=[0-9.]*" | head -1 | cut -d= -f2; }
# logged in: registered, minus failures (904/906), minus logins Atheme undid afterwards
ok_of() {
	local reg err out
	reg=$(field "$1" registered)
	err=$(field "$1" errors)
	out=$(field "$1" logged_out)
	echo $((${reg:-0} - ${err:-0} - ${out:-0}))
}
rate_of() { awk -v n="$(ok_of "$1")" -v s="$(field "$1" setup_s)" 'BEGIN{ if (s > 0) printf "%.0f", n / s; else print "-" }'; }
{
	echo "# Login storm benchmark"
	echo
	echo "Written by \`bash tests/bench/login-bench.sh\` (LOGIN_N=$N) on $DAY, $cpus CPUs,"
	echo "load average $load before the run. Parley $REV."
	if [ "$PEER" = 1 ]; then
		echo "Peer: $PEER_VERSIONS"
		echo "services (Debian \`inspircd\`, \`atheme-services\`), in the same session, alternating."
	fi
	echo
	echo "$N clients connect over TLS at once (RSA 2048 certificate) and log in with SASL during"
	echo "registration (CAP REQ sasl, NICK, USER, AUTHENTICATE PLAIN; the credentials after the"
	echo "server's \`AUTHENTICATE +\`, CAP END after 903, as irssi and WeeChat do it). The figure is"
	echo "the time from the first connect until every client has its 001 (and joined its channel)."
	echo "Parley's passwords are scrypt N=16384, r=8, p=1; SCRAM keys 4096 iterations. The generator"
	echo "shares the two cores with the server (its CPU is shown); other CPU is the rest of"
	echo "the machine (other processes): with it above zero the figures are upper bounds."
	echo "Load is the 1-minute load average just before each run."
	echo
	echo "| run | server | clients | in flight | logged in | failed | seconds | logins/s | server CPU (cores) | services CPU (cores) | generator CPU (cores) | other CPU (cores) | load |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for id in cold-1 cold inspircd-cold warm inspircd-warm inspircd-paced scram; do
		grep -q "id=$id\b" "$RESULTS" || continue
		s=$(field "$id" setup_s)
		ok=$(ok_of "$id")
		status=$(grep "id=$id\b" "$RESULTS" | grep -o 'status=[a-z]*' | cut -d= -f2)
		srv=$(field "$id" server_cpu)
		svc=$(field "$id" services_cpu)
		gen=$(field "$id" gen_cpu)
		other=$(field "$id" other_cpu)
		# Atheme's CPU is in the generator's "other" figure: take it out
		[ -n "$svc" ] && other=$(awk -v o="${other:-0}" -v s="$svc" 'BEGIN{ d = o - s; printf "%.2f", (d > 0 ? d : 0) }')
		inflight=$(field "$id" setup_inflight)
		case $id in inspircd*) server="InspIRCd + Atheme" ;; *) server=Parley ;; esac
		echo "| $id${status:+ ($status)} | $server | $N | ${inflight:-?} | $ok | $((N - ok)) | ${s:-?} | $(rate_of "$id") | ${srv:-?} | ${svc:--} | ${gen:-?} | ${other:-?} | $(field "$id" load) |"
	done
	echo
	echo "- cold: after a restart, empty verification cache: every login runs scrypt on the"
	echo "  crypto pool (accounts.crypto_threads = 0: one thread per CPU)."
	echo "- warm: the same daemon again: each account's password is in the verification cache"
	echo "  (accounts.login_cache_seconds), no scrypt."
	echo "- scram: SASL SCRAM-SHA-256 after a restart; the server's proof check is a few HMACs"
	echo "  (the client's PBKDF2 is computed once by the generator and reused)."
	echo "- cold-1: cold with accounts.crypto_threads = 1, as before the crypto pool."
	if [ "$PEER" = 1 ]; then
		echo "- inspircd-cold: InspIRCd 3 and Atheme just started (m_sasl, m_services_account,"
		echo "  m_ssl_gnutls: Debian builds no m_ssl_openssl; Atheme linked as a U-lined server,"
		echo "  saslserv/plain); every login is an Argon2d check (Atheme's crypto/argon2d, memory"
		echo "  $((1 << ARGON2_MEMORY)) KiB, $ARGON2_TIME passes, the least it accepts; its default is 32) in"
		echo "  Atheme's single thread. \"failed\" counts 904/906 replies, clients not registered, and"
		echo "  logins Atheme undid afterwards (\`got illegit login\` in its log: it had dropped the"
		echo "  session before the user's introduction reached it)."
		echo "- inspircd-warm: the same processes again. Atheme keeps no cache of verifications:"
		echo "  every login runs Argon2d again."
		echo "- inspircd-paced: the same processes, $PEER_INFLIGHT logins in flight instead of $N: no"
		echo "  session waits long enough to be dropped; this is the rate Atheme sustains."
		echo "- services CPU: Atheme's own CPU over the run (the server CPU is InspIRCd's)."
		echo
		echo "Parley / InspIRCd + Atheme, from the runs above (logins/s, higher is better; time,"
		echo "lower is better):"
		echo
		echo "| Parley run | InspIRCd + Atheme run | logins/s ratio | time ratio (InspIRCd / Parley) | InspIRCd + Atheme logged in |"
		echo "| --- | --- | ---: | ---: | ---: |"
		for pair in cold:inspircd-cold warm:inspircd-warm cold:inspircd-paced warm:inspircd-paced scram:inspircd-paced; do
			a=${pair%%:*}
			b=${pair#*:}
			grep -q "id=$a\b" "$RESULTS" && grep -q "id=$b\b" "$RESULTS" || continue
			# a time ratio only when both logged every client in (a storm that loses
			# logins ends early)
			tr=-
			[ "$(ok_of "$a")" = "$N" ] && [ "$(ok_of "$b")" = "$N" ] &&
				tr=$(awk -v x="$(field "$a" setup_s)" -v y="$(field "$b" setup_s)" 'BEGIN{ if (x > 0) printf "%.1fx", y / x; else print "-" }')
			echo "| $a | $b | $(awk -v x="$(rate_of "$a")" -v y="$(rate_of "$b")" 'BEGIN{ if (y > 0) printf "%.1fx", x / y; else print "-" }') | $tr | $(ok_of "$b") of $N |"
		done
		cpu_ms=$(awk -v c="$(field inspircd-paced services_cpu_s)" -v n="$N" 'BEGIN{ if (c > 0) printf "%.0f", c * 1000 / n; else print "?" }')
		echo
		echo "Atheme's CPU per login in the paced run: $cpu_ms ms (one Argon2d check and the"
		echo "session's messages)."
	fi
	if [ -s "$NGIRCD_TXT" ]; then
		echo
		echo "ngIRCd: no figure; it has no SASL. $(head -1 "$NGIRCD_TXT" | sed 's/-.*//') answered CAP LS 302, then"
		echo "AUTHENTICATE PLAIN after registration (before it, AUTHENTICATE gets no reply), with:"
		echo
		echo "    $(tail -1 "$NGIRCD_TXT")"
	fi
} >"$TMP/report.md"
cat "$RESULTS"
if [ "$REPORT" = "-" ]; then cat "$TMP/report.md"; else cp "$TMP/report.md" "$REPORT" && log "wrote $REPORT"; fi
