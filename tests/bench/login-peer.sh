# shellcheck shell=bash
# login-peer.sh: the peers of the login-storm benchmark (issue 18), sourced by
# login-bench.sh, which alternates these runs with Parley's in one session.
#
# InspIRCd checks SASL only through services linked to it as a server: here Atheme 7.2
# (Debian `atheme-services`), its SaslServ with PLAIN, passwords hashed by its Argon2d
# module (crypto/argon2d; memory 2^LOGIN_PEER_ARGON2_MEMORY KiB, LOGIN_PEER_ARGON2_TIME
# passes). InspIRCd 3.15 (Debian `inspircd`) loads m_sasl, m_services_account, m_cap,
# m_spanningtree and, for TLS, m_ssl_gnutls (Debian builds no m_ssl_openssl), with the
# limits of tests/bench/peers/inspircd.conf; Atheme's configuration is
# tests/bench/peers/atheme.conf. The accounts L0..L<N-1> go into Atheme's flat-file
# database: L0 is registered through NickServ by the running services, then its hash is
# copied to every account (login-peer.py fill).
#
# ngIRCd has no SASL at all: peer_ngircd_probe records its answer to CAP LS 302 and
# AUTHENTICATE.
#
# Functions (they use TMP, ROOT, BENCH, GEN, N, PASSWORD, RESULTS, log and free_port of
# login-bench.sh): peer_setup, peer_start, peer_run ID ARGS..., peer_stop, peer_ngircd_probe.
# Environment: LOGIN_PEER=0 skips the peers; INSPIRCD, NGIRCD name the binaries;
# LOGIN_PEER_ARGON2_MEMORY (14: 16 MiB, as Parley's scrypt N=16384, r=8), LOGIN_PEER_ARGON2_TIME
# (4, the least Atheme accepts; its default is 32).

INSPIRCD=${INSPIRCD:-inspircd}
NGIRCD=${NGIRCD:-ngircd}
ATHEME=${ATHEME:-atheme-services}
ARGON2_MEMORY=${LOGIN_PEER_ARGON2_MEMORY:-14}
ARGON2_TIME=${LOGIN_PEER_ARGON2_TIME:-4}
PDIR=$TMP/peer
IPID=""
APID=""

peer_have() { command -v "$1" >/dev/null 2>&1; }

# Installs InspIRCd and Atheme when missing (as root, with apt-get); fails when they
# cannot be had.
peer_install() {
	peer_have "$INSPIRCD" && peer_have "$ATHEME" && return 0
	if [ "$(id -u)" = 0 ] && peer_have apt-get; then
		log "installing inspircd and atheme-services"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq inspircd atheme-services >/dev/null 2>&1 ||
			{ apt-get update -qq >/dev/null 2>&1 &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq inspircd atheme-services >/dev/null 2>&1; }
	fi
	peer_have "$INSPIRCD" && peer_have "$ATHEME"
}

# The configurations, then L0 registered through the running services and the other
# accounts written into their database.
peer_setup() {
	peer_install || { log "no inspircd/atheme-services (run as root to install them): no peer figures"; return 1; }
	# the packages start system instances; ours use private ports
	local name
	for name in inspircd atheme-services; do
		if peer_have systemctl && systemctl is-active --quiet "$name" 2>/dev/null; then
			systemctl stop "$name" >/dev/null 2>&1
		elif peer_have service; then
			service "$name" stop >/dev/null 2>&1
		fi
	done
	mkdir -p "$PDIR"
	IPORT=$(free_port)
	LPORT=$(free_port)
	while [ "$LPORT" = "$IPORT" ]; do LPORT=$(free_port); done
	# the InspIRCd of run-bench.sh, with a registration timeout as long as Parley's here,
	# TLS on its client port and the services linked
	# (and no ping timeout on the services' link: their one thread hashes for minutes)
	sed -e "s|@PORT@|$IPORT|g" -e "s|@DIR@|$PDIR|g" -e 's|timeout="60"|timeout="600"|' \
		-e 's|type="clients">|type="clients" sslprofile="Clients">|' -e 's|<options |<options serverpingfreq="3600" |' \
		"$BENCH/peers/inspircd.conf" >"$PDIR/inspircd.conf"
	cat >>"$PDIR/inspircd.conf" <<-EOF
		<module name="ssl_gnutls">
		<sslprofile name="Clients" provider="gnutls" certfile="$TMP/tls.crt" keyfile="$TMP/tls.key">
		<module name="cap">
		<module name="sasl">
		<module name="services_account">
		<module name="spanningtree">
		<bind address="127.0.0.1" port="$LPORT" type="servers">
		<link name="services.bench.local" ipaddr="127.0.0.1" port="$LPORT" allowmask="127.0.0.0/8"
		      sendpass="bench-link" recvpass="bench-link">
		<uline server="services.bench.local" silent="yes">
		<sasl target="services.bench.local">
	EOF
	sed -e "s|@LINKPORT@|$LPORT|g" -e "s|@DIR@|$PDIR|g" -e "s|@ARGON2_MEMORY@|$ARGON2_MEMORY|" \
		-e "s|@ARGON2_TIME@|$ARGON2_TIME|" "$BENCH/peers/atheme.conf" >"$PDIR/atheme.conf"
	rm -f "$PDIR/services.db"
	peer_start || return 1
	/usr/bin/python3 "$BENCH/login-peer.py" register "$IPORT" "$PASSWORD" || { peer_stop; return 1; }
	peer_stop # Atheme writes its database when it exits
	/usr/bin/python3 "$BENCH/login-peer.py" fill "$PDIR/services.db" "$N" || return 1
	log "atheme: $N accounts, argon2d memory 2^$ARGON2_MEMORY KiB, time $ARGON2_TIME"
}

# InspIRCd, then Atheme; returns when the services have linked and synchronized.
peer_start() {
	(cd "$PDIR" && exec "$INSPIRCD" --config "$PDIR/inspircd.conf" --nofork --nopid --runasroot \
		>>"$PDIR/inspircd.out" 2>&1) &
	IPID=$!
	local _
	for _ in $(seq 100); do
		ss -Hltn "sport = :$LPORT" 2>/dev/null | grep -q . && break
		kill -0 "$IPID" 2>/dev/null || break
		sleep 0.1
	done
	: >"$PDIR/atheme.log"
	(cd "$PDIR" && exec "$ATHEME" -n -c "$PDIR/atheme.conf" -D "$PDIR" -l "$PDIR/atheme.log" \
		-p "$PDIR/atheme.pid" >>"$PDIR/atheme.out" 2>&1) &
	APID=$!
	for _ in $(seq 300); do
		grep -q 'finished synching with uplink' "$PDIR/atheme.log" 2>/dev/null && return 0
		kill -0 "$APID" 2>/dev/null && kill -0 "$IPID" 2>/dev/null || break
		sleep 0.1
	done
	log "inspircd + atheme did not start; see below"
	tail -20 "$PDIR/inspircd.out" "$PDIR/inspircd.log" "$PDIR/atheme.out" >&2
	peer_stop
	return 1
}

peer_stop() {
	local pid _
	for pid in $APID $IPID; do
		kill -TERM "$pid" 2>/dev/null # Debian's InspIRCd crashes at exit (in its GnuTLS module)
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	APID=""
	IPID=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# Waits until Atheme has worked through its queue (no CPU for 2 s): the logins it has
# still to process, and the user introductions after them.
peer_wait_idle() {
	local a b _
	for _ in $(seq 600); do
		a=$(cpu_ticks "$APID")
		sleep 2
		b=$(cpu_ticks "$APID")
		[ "$a" = "$b" ] && return 0
	done
}

# peer_run ID ircbench-args...: N clients log in to InspIRCd at once (or as the arguments
# say) with SASL PLAIN, in lockstep as irssi and WeeChat do (InspIRCd drops AUTHENTICATE
# data sent before its "AUTHENTICATE +" and registers on CAP END without waiting).
# Adds to the RESULT line: services_cpu (Atheme's CPU over the run, cores), services_cpu_s
# (its CPU seconds), logged_out (logins that succeeded, then Atheme undid when the user's
# introduction reached it after it had dropped the session: "got illegit login" in its
# log), link_lost (InspIRCd lost the services' link: "Netsplit complete" in its log), load
# (the 1-minute load average before the run).
peer_run() {
	local id=$1 load a0 a1 t0 t1 illegit0 illegit1 splits0 splits1
	shift
	load=$(awk '{print $1}' /proc/loadavg)
	log "$id: $N clients (load $load)"
	illegit0=$(grep -c 'got illegit login' "$PDIR/atheme.log")
	splits0=$(grep -c 'Netsplit complete' "$PDIR/inspircd.log")
	a0=$(cpu_ticks "$APID")
	t0=$(date +%s.%N)
	"$GEN" --port "$IPORT" --pid "$IPID" --label inspircd --tls --scenario idle --clients "$N" \
		--per-channel 1000 --setup-inflight "$N" --settle 0 --setup-timeout 1800 \
		--sasl "$PASSWORD" --sasl-wait --extra "id=$id load=$load" "$@" >"$TMP/$id.out" 2>&1
	t1=$(date +%s.%N)
	a1=$(cpu_ticks "$APID")
	peer_wait_idle
	illegit1=$(grep -c 'got illegit login' "$PDIR/atheme.log")
	splits1=$(grep -c 'Netsplit complete' "$PDIR/inspircd.log")
	local extra
	extra=$(awk -v a0="$a0" -v a1="$a1" -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" \
		-v lo=$((illegit1 - illegit0)) -v sp=$((splits1 - splits0)) \
		'BEGIN{ printf " services_cpu=%.2f services_cpu_s=%.1f logged_out=%d link_lost=%d", (a1-a0)/hz/(t1-t0), (a1-a0)/hz, lo, sp }')
	if grep -q '^RESULT' "$TMP/$id.out"; then
		grep '^RESULT' "$TMP/$id.out" | sed "s/\$/$extra/" >>"$RESULTS"
	else
		echo "RESULT id=$id status=fail load=$load$extra" >>"$RESULTS"
	fi
	log "$(tail -1 "$RESULTS" | grep -o 'status=[a-z]*\|setup_s=[0-9.]*\|errors=[0-9]*\|registered=[0-9]*\|services_cpu=[0-9.]*\|logged_out=[0-9]*' | tr '\n' ' ')"
	sleep 2 # the server closes the N connections
}

# ngIRCd's answer to CAP LS 302 and to AUTHENTICATE PLAIN (before and after registration),
# into $TMP/ngircd-sasl.txt. Uses NGIRCD or the ngircd on PATH; else, as root, unpacks
# Debian's package into TMP (installing it would replace InspIRCd: both provide ircd).
peer_ngircd_probe() {
	local bin=$NGIRCD dir=$TMP/ngircd port pid
	if ! peer_have "$bin"; then
		if [ "$(id -u)" = 0 ] && peer_have apt-get; then
			mkdir -p "$dir/deb"
			(cd "$dir/deb" && apt-get download ngircd >/dev/null 2>&1 && dpkg -x ngircd_*.deb "$dir/x") ||
				{ apt-get update -qq >/dev/null 2>&1 &&
				  (cd "$dir/deb" && apt-get download ngircd >/dev/null 2>&1 && dpkg -x ngircd_*.deb "$dir/x"); }
			bin=$dir/x/usr/sbin/ngircd
		fi
		[ -x "$bin" ] || { log "no ngircd: no ngIRCd probe"; return 1; }
	fi
	mkdir -p "$dir/run"
	chmod 711 "$TMP" "$dir"
	chmod 777 "$dir/run" # it writes its PID file after dropping to the irc user
	port=$(free_port)
	sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir/run|g" "$BENCH/peers/ngircd.conf" >"$dir/run/ngircd.conf"
	"$bin" -n -f "$dir/run/ngircd.conf" >"$dir/run/out.log" 2>&1 &
	pid=$!
	local _
	for _ in $(seq 50); do
		ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
		sleep 0.1
	done
	{
		"$bin" --version 2>/dev/null | head -1
		/usr/bin/python3 "$BENCH/login-peer.py" capls "$port"
	} >"$TMP/ngircd-sasl.txt"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	log "ngircd: $(tail -1 "$TMP/ngircd-sasl.txt")"
}
