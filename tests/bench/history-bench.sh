#!/usr/bin/env bash
# history-bench.sh: message history benchmarks (issue 6, part 7; run by run-bench.sh).
#
# 1. Writes: the fan-out load (100 members, 10 senders, 16 messages in flight each) with
#    history off, on SQLite and on MariaDB, alternated for ROUNDS rounds. After each run the
#    stored rows are counted: every message sent must be in history.
# 2. Reads: for each backend and each store size in HISTORY_ROWS, the store is filled with
#    synthetic messages (prefill.py; 4 in 5 in #hist) and histbench times, one query at a
#    time: CHATHISTORY LATEST #hist * 100, CHATHISTORY BEFORE at random times, SEARCH for
#    a rare word and for the most common word.
#
#   bash tests/bench/history-bench.sh                                  # 1 M rows
#   HISTORY_ROWS="1000000 10000000" bash tests/bench/history-bench.sh  # both sizes (about 40 min)
#
# Environment: HISTORY_ROWS ("1000000"); ROUNDS (5); DURATION (5); BACKENDS ("sqlite
# mariadb"); QUERIES (1000 per query kind); REPORT (docs/HISTORY-BENCHMARKS.md, "-" for
# none); KEEP=1 keeps the temporary directory; RESULTS_IN (below); PARLEYD_BIN (another
# build to measure, ircd/parleyd); HISTORY_CONF (extra history.* settings, e.g.
# "batch_ms = 100;"); GEN_FLAGS (generator flags, "--quickack"; Parley sets TCP_NODELAY,
# so GEN_FLAGS="" also measures it fairly, with less generator CPU). MariaDB runs privately (own data directory and socket) with a 2 GiB
# buffer pool and default durability (a log flush per commit).
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
BENCH=tests/bench
HISTORY_ROWS=${HISTORY_ROWS:-1000000}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
BACKENDS=${BACKENDS:-sqlite mariadb}
QUERIES=${QUERIES:-1000}
REPORT=${REPORT:-docs/HISTORY-BENCHMARKS.md}

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

make -s -C "$BENCH" || exit 1
[ -x ircd/parleyd ] || make -s all || exit 1
TMP=$(mktemp -d /tmp/parley-hbench.XXXXXX)
cp "${PARLEYD_BIN:-ircd/parleyd}" "$TMP/parleyd" # PARLEYD_BIN: another build to measure
PARLEYD=$TMP/parleyd
RESULTS=$TMP/results.txt
: >"$RESULTS"
# RESULTS_IN=FILE: RESULT lines of an earlier partial run to report together with these
# (e.g. SKIP_WRITES=1 BACKENDS=mariadb re-measures one backend's reads).
[ -n "${RESULTS_IN:-}" ] && grep '^RESULT' "$RESULTS_IN" >>"$RESULTS"
SPID="" MPID=""
cleanup() {
	[ -n "$SPID" ] && kill -9 "$SPID" 2>/dev/null
	[ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=tests/bench/common.sh
. "$ROOT/$BENCH/common.sh" # free_port

# --- a private MariaDB -----------------------------------------------------------------
MDIR=$TMP/mariadb
msql() { mariadb --no-defaults -uroot --socket="$MDIR/sock" "$@"; }
start_mariadb() {
	command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || { log "no mariadbd: MariaDB skipped"; return 1; }
	mkdir -p "$MDIR"
	mariadb-install-db --no-defaults --datadir="$MDIR/data" --user="$(id -un)" \
		--auth-root-authentication-method=socket --skip-test-db >"$MDIR/install.log" 2>&1 || return 1
	PATH=$PATH:/usr/sbin mariadbd --no-defaults --datadir="$MDIR/data" --socket="$MDIR/sock" --skip-networking \
		--pid-file="$MDIR/pid" --user="$(id -un)" --innodb-buffer-pool-size=2G --innodb-log-file-size=512M \
		--max-allowed-packet=64M --local-infile=1 --skip-name-resolve --log-error="$MDIR/err.log" &
	MPID=$!
	local i
	for i in $(seq 120); do
		msql -e "SELECT 1" >/dev/null 2>&1 && {
			msql -e "CREATE USER 'parley'@'localhost' IDENTIFIED BY 'parleypw';
			         GRANT ALL ON \`parley\\_%\`.* TO 'parley'@'localhost';"
			return 0
		}
		sleep 0.5
	done
	log "mariadbd did not start"; cat "$MDIR/err.log" >&2
	return 1
}

# --- Parley ------------------------------------------------------------------------------
# start_parley BACKEND HISTORY(true|false) NAME: a fresh daemon on its own port and store
# (the store persists across calls with the same NAME); sets SPID, SPORT, SDIR.
start_parley() {
	local backend=$1 history=$2 name=$3 storage
	SPORT=$(free_port)
	SDIR=$TMP/$name
	mkdir -p "$SDIR"
	if [ "$backend" = mariadb ]; then
		msql -e "CREATE DATABASE IF NOT EXISTS parley_$name CHARACTER SET utf8mb4" || return 1
		storage="storage = { backend = \"mariadb\"; schema_dir = \"$ROOT/sql\"; mariadb = { socket = \"$MDIR/sock\";
		  user = \"parley\"; password = \"parleypw\"; database = \"parley_$name\"; }; };"
	else
		storage="storage = { backend = \"sqlite\"; schema_dir = \"$ROOT/sql\"; sqlite = { path = \"$SDIR/parley.db\"; }; };"
	fi
	cat >"$SDIR/parley.conf" <<-EOF
		server = { name = "bench.parley.local"; };
		limits = { nicklen = 30; registration_timeout = 60; };
		log = { level = "warn"; };
		$storage
		history = { enabled = $history; journal = "$SDIR/history.journal"; replay_lines = 0; ${HISTORY_CONF:-} };
		privacy = { cloak_default = false; };
		connlimit = { per_ip = 0; per_cidr = 0; rate = 0; };
		listen = ( { address = "127.0.0.1"; port = $SPORT; } );
		class = ( { name = "default"; sendq = 16777216; ping_frequency = 3600; ping_timeout = 600;
		            max_clients = 100000; flood = { enabled = false; }; } );
	EOF
	"$PARLEYD" -f "$SDIR/parley.conf" >>"$SDIR/out.log" 2>&1 &
	SPID=$!
	local i
	for i in $(seq 100); do
		ss -Hltn "sport = :$SPORT" 2>/dev/null | grep -q . && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	log "parleyd did not start:"; cat "$SDIR/out.log" >&2
	return 1
}

stop_parley() {
	[ -n "$SPID" ] || return 0
	kill -TERM "$SPID" 2>/dev/null
	wait "$SPID" 2>/dev/null
	SPID=""
}

count_rows() { # BACKEND NAME
	if [ "$1" = mariadb ]; then
		msql -N -e "SELECT COUNT(*) FROM parley_$2.messages"
	else
		/usr/bin/python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT COUNT(*) FROM messages').fetchone()[0])" "$TMP/$2/parley.db"
	fi
}

HAVE_MARIADB=0
case " $BACKENDS " in *" mariadb "*) start_mariadb && HAVE_MARIADB=1 ;; esac
backends() { for b in $BACKENDS; do [ "$b" = mariadb ] && [ "$HAVE_MARIADB" = 0 ] && continue; echo "$b"; done; }

# --- 1. writes ---------------------------------------------------------------------------
[ "${SKIP_WRITES:-0}" = 1 ] && WRITE_ROUNDS=0 || WRITE_ROUNDS=$ROUNDS
for round in $(seq "$WRITE_ROUNDS"); do
	for mode in off $(backends); do
		name=w_${mode}_$round
		backend=$mode history=true
		[ "$mode" = off ] && backend=sqlite history=false
		start_parley "$backend" "$history" "$name" || continue
		out=$TMP/$name.out
		"$BENCH/ircbench" --port "$SPORT" --pid "$SPID" --label parley --scenario fanout --clients 100 --senders 10 \
			--inflight 16 ${GEN_FLAGS---quickack} --duration "$DURATION" --warmup 1 \
			--extra "id=history-writes history=$mode round=$round" >"$out" 2>&1
		# what the writer had stored when the load stopped (one batch interval later), and
		# whether it ever fell behind far enough to spill to the journal: the shutdown drain
		# below would hide a writer that did not keep up
		live=-1 spilled=-1
		if [ "$mode" != off ]; then
			sleep 0.1
			live=$(count_rows "$backend" "$name")
			grep -q "messages go to the journal" "$SDIR/out.log" && spilled=1 || spilled=0
		fi
		stop_parley
		line=$(grep '^RESULT' "$out" || echo "RESULT server=parley scenario=fanout status=fail history=$mode round=$round")
		stored=-1
		[ "$mode" != off ] && stored=$(count_rows "$backend" "$name")
		echo "$line stored=$stored stored_live=$live spilled=$spilled" >>"$RESULTS"
		log "$(tail -1 "$RESULTS" | grep -o 'history=[a-z]*\|deliveries_per_s=[0-9]*\|sent=[0-9]*\|stored=[-0-9]*\|stored_live=[-0-9]*\|spilled=[-0-9]*\|status=[a-z]*' | tr '\n' ' ')"
		[ "$backend" = mariadb ] && msql -e "DROP DATABASE parley_$name"
		rm -rf "${TMP:?}/$name"
	done
done

# --- 2. reads ----------------------------------------------------------------------------
queries() { # name|query|count
	echo "latest|CHATHISTORY LATEST #hist * 100|$QUERIES"
	echo "before|CHATHISTORY BEFORE #hist %T 100|$QUERIES"
	echo "search-rare|SEARCH in=#hist;text=needle;limit=100|$((QUERIES / 5))"
	echo "search-common|SEARCH in=#hist;text=alpha;limit=100|$((QUERIES / 5))"
}
for backend in $(backends); do
	name=r_$backend
	have=0
	for rows in $HISTORY_ROWS; do
		# the daemon creates the schema; the store is grown while it is stopped
		start_parley "$backend" true "$name" || break
		stop_parley
		log "filling $backend to $rows rows"
		if [ "$backend" = mariadb ]; then
			span=$(/usr/bin/python3 "$BENCH/prefill.py" mariadb "$MDIR/sock" "parley_$name" --rows "$rows" --start "$have")
		else
			span=$(/usr/bin/python3 "$BENCH/prefill.py" sqlite "$TMP/$name/parley.db" --rows "$rows" --start "$have")
		fi || { log "prefill failed"; break; }
		have=$rows
		from=${span#from_ms=}; from=${from%% *}; to=${span##*to_ms=}
		start_parley "$backend" true "$name" || break
		queries | while IFS='|' read -r qname query count; do
			"$BENCH/histbench" --port "$SPORT" --channel '#hist' --query "$query" --count "$count" \
				--warmup 20 --from-ms "$from" --to-ms "$to" --name "$qname" \
				--extra "id=history-reads backend=$backend rows=$rows rss_kib=$(awk '/VmRSS/{print $2}' /proc/$SPID/status)" \
				>"$TMP/q.out" 2>&1
			grep '^RESULT' "$TMP/q.out" >>"$RESULTS" || echo "RESULT scenario=$qname status=fail backend=$backend rows=$rows" >>"$RESULTS"
			log "$backend $rows rows: $(head -1 "$TMP/q.out")"
		done
		stop_parley
	done
done

# --- report ------------------------------------------------------------------------------
if [ "$REPORT" != "-" ]; then
	/usr/bin/python3 "$BENCH/history-report.py" "$RESULTS" --rounds "$ROUNDS" --duration "$DURATION" \
		--rows "$HISTORY_ROWS" --commit "$(git rev-parse --short HEAD 2>/dev/null)" >"$REPORT.tmp" &&
		mv "$REPORT.tmp" "$REPORT" && log "wrote $REPORT"
fi
cat "$RESULTS"
