# common.sh: helpers shared by run-bench.sh and history-bench.sh (sourced).

# A port below the ephemeral range (the generator's own connections use that range) that
# no socket uses.
free_port() {
	local p lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	while :; do
		p=$((10000 + RANDOM % (lo - 10000)))
		ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}
