# Races. The DNS A/AAAA pattern: two threads on two CPUs send the first
# vm-debug: yes
# two packets of the same new UDP flow from one socket at the same instant
# (tools/twin), for hundreds of flows: the client, the router and the
# server each see two unconfirmed entries for one flow; the clash is
# resolved (clash_resolve rises), no packet is lost (the server receives
# them all; insert_failed and drop stay 0) and each flow has one entry.
# Then parallel dumps of /proc/net/ip_conntrack while flows are inserted,
# expire and the sysctls change: no torn line, no entry twice; at rest the
# line count is ip_conntrack_count.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

# The debug kernel (KASAN, lockdep, kmemleak) is several times slower; its
# command line names kmemleak (scripts/vm-run.sh).
# There, fewer rules already make a window as wide (see below).
if grep -q kmemleak /proc/cmdline; then
    ROUNDS=50 BATCHES=6 CHURN=400 RULES=1000
else
    ROUNDS=200 BATCHES=15 CHURN=3000 RULES=10000
fi
NF=/proc/sys/net/ipv4/netfilter
FIRST_PORT=20000
DPORT=9
# Churn flows go to an address nobody owns (pktgen frames from the client's
# eth0, seen by the router only), as in procfs-dump.sh.
GHOST_CLIENT=192.0.2.79
GHOST_SERVER=198.51.100.79

count() {
    cat "$NF/ip_conntrack_count"
}

# ns_stat_cols NS: the insert_failed and drop columns of every CPU row of
# namespace NS's /proc/net/stat/ip_conntrack, deduplicated.
ns_stat_cols() {
    ip netns exec "$1" cat "$CT_STAT" | awk 'NR > 1 { print $10, $11 }' | sort -u
}

ct_setup
check "modprobe pktgen" modprobe pktgen
check_eq "two CPUs" "$(grep -c '^processor' /proc/cpuinfo)" 2
check "the server answers" in_client ping -c 1 -W 5 "$SERVER_IP"

step "wider race windows"
# Rules that never match, in the client's OUTPUT and the router's FORWARD
# chains: they run after a packet is tracked and before its entry is
# confirmed, so they widen the window in which the other CPU's packet must
# be tracked to clash (about 0.2 ms in the guest instead of a few us). The
# race stays a race; it just no longer needs both vCPU threads of a busy
# host to be running in the very same microseconds.
rules() {
    echo '*filter'
    awk -v n="$RULES" -v c="$1" 'BEGIN { for (i = 0; i < n; i++)
        printf "-A %s -s 203.0.113.%d/32 -d 203.0.113.255/32 -j DROP\n", c, i % 250 + 1 }'
    echo COMMIT
}
rules OUTPUT > /tmp/rules.output
rules FORWARD > /tmp/rules.forward
check "client: $RULES OUTPUT rules" sh -c "ip netns exec $CLIENT_NS iptables-restore < /tmp/rules.output"
check "router: $RULES FORWARD rules" sh -c "iptables-restore < /tmp/rules.forward"

step "the first two packets of a flow from two CPUs at once"
# Batches of $ROUNDS flows (a source port each) until a clash was seen in
# some namespace, at most $BATCHES batches.
noports0=$(ns_snmp "$SERVER_NS" Udp NoPorts)
flows=0
batch=0
sent_ok=0
clashes=0
while [ "$batch" -lt "$BATCHES" ]; do
    first=$((FIRST_PORT + batch * ROUNDS))
    if out=$(in_client twin "$SERVER_IP" "$DPORT" "$first" "$ROUNDS" 2>&1); then
        sent_ok=$((sent_ok + 1))
    else
        ipct_show "$out"
    fi
    flows=$((flows + ROUNDS))
    batch=$((batch + 1))
    clashes=0
    for ns in "$CLIENT_NS" "" "$SERVER_NS"; do
        c=$(if [ -n "$ns" ]; then ct_ext clash_resolve "$ns"; else ct_ext clash_resolve; fi)
        clashes=$((clashes + ${c:-0}))
    done
    [ "$clashes" -eq 0 ] || break
done
check_eq "twin sent both packets of every flow ($batch batches)" "$sent_ok" "$batch"
echo "    $flows flows, $clashes clashes resolved" \
    "(client $(ct_ext clash_resolve "$CLIENT_NS"), router $(ct_ext clash_resolve)," \
    "server $(ct_ext clash_resolve "$SERVER_NS"))"
if [ "$clashes" -gt 0 ]; then
    pass "the race happened: $clashes clashes resolved in $flows flows"
else
    fail "no clash in $flows flows sent from two CPUs at once"
fi
server_got() {
    [ $(($(ns_snmp "$SERVER_NS" Udp NoPorts) - noports0)) -ge $((2 * flows)) ]
}
wait_for 10 server_got
check_eq "the server received every packet" \
    "$(($(ns_snmp "$SERVER_NS" Udp NoPorts) - noports0))" $((2 * flows))
for ns in "$CLIENT_NS" "$SERVER_NS"; do
    check_eq "$ns: insert_failed and drop are 0" "$(ns_stat_cols "$ns")" "00000000 00000000"
done
check_eq "router: insert_failed and drop are 0" \
    "$(awk 'NR > 1 { print $10, $11 }' "$CT_STAT" | sort -u)" "00000000 00000000"
cat "$CT_TABLE" > /tmp/race.dump
check_eq "router: one entry per flow" \
    "$(grep -c "^udp .* src=$CLIENT_IP dst=$SERVER_IP sport=[0-9]* dport=$DPORT " /tmp/race.dump)" "$flows"
ct_check_dump "router's table after the race" /tmp/race.dump
in_client cat "$CT_TABLE" > /tmp/race.client
check_eq "client: one entry per flow" \
    "$(grep -c "^udp .* src=$CLIENT_IP dst=$SERVER_IP sport=[0-9]* dport=$DPORT " /tmp/race.client)" "$flows"
ct_check_dump "client's table after the race" /tmp/race.client
check "rules removed" sh -c "iptables -F FORWARD && ip netns exec $CLIENT_NS iptables -F OUTPUT"

step "parallel dumps during inserts, expiries and sysctl changes"
pg() {
    in_client sh -c "echo '$2' > /proc/net/pktgen/$1"
}
# $CHURN flows, 2 ms apart, each expiring 1-3 s after it came.
pktgen_setup() {
    pg kpktgend_0 rem_device_all &&
    pg kpktgend_0 "add_device $NS_IF" &&
    pg "$NS_IF" "count $CHURN" &&
    pg "$NS_IF" "clone_skb 0" &&
    pg "$NS_IF" "pkt_size 60" &&
    pg "$NS_IF" "delay 2000000" &&
    pg "$NS_IF" "dst $GHOST_SERVER" &&
    pg "$NS_IF" "src_min $GHOST_CLIENT" &&
    pg "$NS_IF" "src_max $GHOST_CLIENT" &&
    pg "$NS_IF" "dst_mac $(router_mac "$ROUTER_CLIENT_IF")" &&
    pg "$NS_IF" "udp_src_min 1024" &&
    pg "$NS_IF" "udp_src_max $((1024 + CHURN))" &&
    pg "$NS_IF" "udp_dst_min 9" &&
    pg "$NS_IF" "udp_dst_max 10"
}
check "static neighbour for $GHOST_SERVER" \
    ip neigh add "$GHOST_SERVER" lladdr 02:00:00:00:00:79 dev "$ROUTER_SERVER_IF" nud permanent
check "pktgen: $CHURN churn flows" pktgen_setup
ct_set_timeout "short UDP timeout" udp_timeout 2
rm -f /tmp/gen.done /tmp/par.*
{ pg pgctrl start; touch /tmp/gen.done; } &
# Sysctl writers: timeouts and the limit flip while entries come and go
# (the limit between a value far above the count and one that may force
# early drops).
{
    i=0
    while [ ! -e /tmp/gen.done ]; do
        echo $((1 + i % 3)) > "$NF/ip_conntrack_udp_timeout"
        echo $((30 + i % 7)) > "$NF/ip_conntrack_icmp_timeout"
        echo $((3600 + i)) > "$NF/ip_conntrack_tcp_timeout_established"
        if [ $((i % 2)) -eq 0 ]; then m=65536; else m=1500; fi
        echo "$m" > /proc/sys/net/ipv4/ip_conntrack_max
        i=$((i + 1))
        sleep 0.1
    done
    echo "$i" > /tmp/par.writes
} &
# Readers with different read sizes, each keeping its last 3 dumps.
reader() {
    _r=0
    while [ ! -e /tmp/gen.done ]; do
        case $1 in
        cat) cat "$CT_TABLE" ;;
        *) dd if="$CT_TABLE" bs="$1" 2> /dev/null ;;
        esac > "/tmp/par.$1.$((_r % 3))"
        _r=$((_r + 1))
    done
    echo "$_r" > "/tmp/par.n.$1"
}
start=$(now_ms)
for size in cat 1000 4096; do
    reader "$size" &
done
wait
echo "    churn: $(($(now_ms) - start)) ms, $(cat /tmp/par.n.* | awk '{ s += $1 } END { print s }') dumps," \
    "$(cat /tmp/par.writes) rounds of sysctl writes"
check "the sysctl writer ran" test "$(cat /tmp/par.writes)" -gt 3
n=0
for f in /tmp/par.cat.* /tmp/par.1000.* /tmp/par.4096.*; do
    [ -e "$f" ] || continue
    ct_check_dump "dump ${f#/tmp/par.}" "$f"
    n=$((n + 1))
done
check "dumps were taken during the churn ($n kept)" test "$n" -ge 6
churn=$(cat /tmp/par.cat.* /tmp/par.1000.* /tmp/par.4096.* 2> /dev/null | grep -c "src=$GHOST_CLIENT ")
check "the dumps listed churn flows ($churn lines)" test "$churn" -gt 0
rm -f /tmp/par.*

step "at rest: the line count is ip_conntrack_count"
check "ip_conntrack_max back to 65536" sh -c "echo 65536 > /proc/sys/net/ipv4/ip_conntrack_max"
ct_check_gone "every churn flow expired" 30 "src=$GHOST_CLIENT "
lines_match_count() {
    [ "$(wc -l < "$CT_TABLE")" -eq "$(count)" ]
}
# A retry only covers an entry expiring between the two reads.
if wait_for 10 lines_match_count; then
    pass "lines = ip_conntrack_count ($(count))"
else
    fail "lines $(wc -l < "$CT_TABLE") != ip_conntrack_count $(count)"
fi
cat "$CT_TABLE" > /tmp/rest.dump
ct_check_dump "dump at rest" /tmp/rest.dump
ct_finish
topo_down
check "rmmod ip_conntrack" rmmod ip_conntrack
kmemleak_check
