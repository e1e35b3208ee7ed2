# Lifecycle faults: bad hashsize= values refused at load (the largest
# accepted one works in three namespaces); 100 modprobe / rmmod cycles
# while ping, UDP and TCP cross the router (20 on the debug kernel), each
# rmmod with entries in the table; ip_conntrack_max lowered below the
# count under traffic; timeouts changed while entries exist; rmmod with
# /proc and sysctl files open; rmmod while packets parked in a neighbour
# queue hold entries (it waits, then the packets are delivered, or dropped
# with an ICMP error).
# vm-debug: yes
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

COUNT=$CT_SYSCTL/ip_conntrack_count
# The debug kernel (kmemleak on its command line) is several times
# slower: fewer cycles and slower streams there, and the limit and timeout
# checks (no memory safety at stake) only on the normal kernel.
# PACE: seconds between the background streams' packets (every one costs
# a fork there).
DEBUG=
CYCLES=100
PACE=0.05
if grep -q kmemleak /proc/cmdline; then
    DEBUG=1
    CYCLES=20
    PACE=0.2
fi

# A third namespace behind the router, whose ARP answers we switch on and
# off: packets routed to it wait in the router's neighbour queue, holding
# their entries through skb->_nfct, until it answers or resolution fails.
HOLD_NS=hold
HOLD_IF=veth-hold
ROUTER_HOLD_IP=203.0.113.1
HOLD_IP=203.0.113.2
NEIGH=/proc/sys/net/ipv4/neigh/$HOLD_IF

cleanup() {
    touch /tmp/stop-udp /tmp/stop-tcp
    kill $BG_PIDS 2> /dev/null
    ip netns del "$HOLD_NS" 2> /dev/null
    topo_down
}
BG_PIDS=

# ---------------------------------------------------------------------------
step "bad hashsize= values: a clear error at load, nothing loaded"
klog_mark
# VALUE|what the kernel log must say
while IFS='|' read -r v want; do
    [ -n "$want" ] || continue
    # The debug kernel: one value the kernel's parser refuses, one ours does.
    if [ -n "$DEBUG" ]; then
        case $v in abc | 16777216) ;; *) continue ;; esac
    fi
    if out=$(modprobe ip_conntrack "hashsize=$v" 2>&1); then
        fail "modprobe ip_conntrack hashsize='$v' succeeded"
        rmmod ip_conntrack
        continue
    fi
    check_match "hashsize='$v': modprobe says why" "$out" '.+'
    check_fails "hashsize='$v': ip_conntrack not loaded" mod_loaded ip_conntrack
    check_match "hashsize='$v': the kernel log names it" "$(klog_new)" "$want"
    klog_mark
done <<EOF
-1|invalid for parameter .hashsize
abc|invalid for parameter .hashsize
|invalid for parameter .hashsize
12abc|invalid for parameter .hashsize
1099511627776|invalid for parameter .hashsize
4294967296|invalid for parameter .hashsize
4294967295|hashsize=4294967295 is too large \(at most [0-9]+ here
16777217|hashsize=16777217 is too large \(at most [0-9]+ here
16777216|hashsize=16777216 is too large \(at most [0-9]+ here
EOF
check_fails "modprobe ip_conntrack hashsize (no value) fails" modprobe ip_conntrack hashsize
check_fails "ip_conntrack not loaded" mod_loaded ip_conntrack
# Each namespace has a table of its own: hashsize= is bounded by memory.
hs_max=$(dmesg | sed -n 's/.*hashsize=16777216 is too large (at most \([0-9]*\) here.*/\1/p' | tail -n 1)
check_match "the largest hashsize= for this memory is logged ($hs_max)" "$hs_max" '^[0-9]{5,}$'
check "modprobe ip_conntrack hashsize=$hs_max (the largest)" modprobe ip_conntrack "hashsize=$hs_max"
check_eq "ip_conntrack_buckets = $hs_max" "$(ct_sysctl buckets 2>&1)" "$hs_max"
# (Filling such tables is slow under KASAN: the normal kernel's 512 MiB
# guest is where memory is short anyway.)
if [ -z "$DEBUG" ]; then
    check "two more namespaces, each with such a table" sh -c "ip netns add big1 && ip netns add big2"
    check "and they go" sh -c "ip netns del big1 && ip netns del big2"
fi
check "rmmod ip_conntrack" rmmod ip_conntrack
for v in 0 1; do
    check "modprobe ip_conntrack hashsize=$v" modprobe ip_conntrack "hashsize=$v"
    b=$(ct_sysctl buckets 2>&1)
    if [ "$v" = 0 ]; then

        check_match "hashsize=0 is the default size ($b buckets)" "$b" '^[1-9][0-9]+$'
    else
        check_eq "hashsize=1: one bucket" "$b" 1
    fi
    check "rmmod ip_conntrack" rmmod ip_conntrack
done

# ---------------------------------------------------------------------------
step "$CYCLES modprobe / rmmod cycles with ping, UDP and TCP crossing the router"
check "topology up" topo_up
in_client ping -i "$PACE" -W 1 "$SERVER_IP" > /dev/null 2>&1 &
PING_PID=$!
BG_PIDS="$BG_PIDS $!"
in_server socat -u UDP-RECV:5300 OPEN:/tmp/udp-sink,creat,append > /dev/null 2>&1 &
UDP_SRV=$!
BG_PIDS="$BG_PIDS $!"
wait_listen "$SERVER_NS" 5300 udp
# The senders stop when their stop file appears.
rm -f /tmp/stop-udp /tmp/stop-tcp
in_client sh -c "while [ ! -e /tmp/stop-udp ]; do echo dgram; sleep $PACE; done \
    | socat -u - UDP-SENDTO:$SERVER_IP:5300" > /dev/null 2>&1 &
BG_PIDS="$BG_PIDS $!"
in_server nc -l -p 5310 > /tmp/tcp-sink 2>&1 &
BG_PIDS="$BG_PIDS $!"
wait_listen "$SERVER_NS" 5310 tcp
# A paced stream (a bulk transfer would starve the emulated CPUs).
in_client sh -c "while [ ! -e /tmp/stop-tcp ]; do echo data; sleep $PACE; done \
    | nc -N $SERVER_IP 5310" > /dev/null 2>&1 &
BG_PIDS="$BG_PIDS $!"
sleep 1

# entries: true once the router's table has at least one entry (up to 5 s).
entries() {
    _n=0
    while [ "$_n" -lt 100 ]; do
        [ "$(cat "$COUNT" 2> /dev/null || echo 0)" -gt 0 ] && return 0
        sleep 0.05
        _n=$((_n + 1))
    done
    return 1
}
start=$(now_ms)
i=1
broken=
while [ "$i" -le "$CYCLES" ]; do
    if ! out=$(modprobe ip_conntrack 2>&1); then
        broken="modprobe #$i failed: $out"
        break
    fi
    if ! entries; then
        broken="cycle #$i: nothing tracked within 5 s of loading"
        break
    fi
    if ! out=$(rmmod ip_conntrack 2>&1); then
        broken="rmmod #$i failed: $out"
        break
    fi
    i=$((i + 1))
done
if [ -z "$broken" ]; then
    pass "$CYCLES cycles, each unloading a table with entries ($(( ($(now_ms) - start) / 1000 )) s)"
else
    fail "$broken"
fi
check_fails "ip_conntrack unloaded" mod_loaded ip_conntrack
udp0=$(wc -c < /tmp/udp-sink)
tcp0=$(wc -c < /tmp/tcp-sink)
sleep 1
check "UDP still flows after the cycles" test "$(wc -c < /tmp/udp-sink)" -gt "$udp0"
check "TCP still flows after the cycles" test "$(wc -c < /tmp/tcp-sink)" -gt "$tcp0"
check "modprobe ip_conntrack once more" modprobe ip_conntrack
check "the TCP stream is picked up again" wait_for 5 ct_present "dport=5310 "
check "the UDP stream is tracked" wait_for 5 ct_present "dport=5300 "
check "the ping is tracked" wait_for 5 ct_present "icmp "

# ---------------------------------------------------------------------------
# The limit and timeout checks (normal kernel only, see the top).
limits_and_timeouts() {
    step "ip_conntrack_max below the count: entries stay, the count never grows"
    # The TCP stream's entry is ASSURED; one-packet UDP flows to an address
    # nobody owns (a static neighbour: sent on at once, nobody answers) fill
    # the table with unassured entries.
    GHOST=198.51.100.77
    check "static neighbour for $GHOST" \
        ip neigh add "$GHOST" lladdr 02:00:00:00:00:77 dev "$ROUTER_SERVER_IF" nud permanent
    # Sent with AF_PACKET, past the client namespace's own table (which
    # ip_conntrack_max limits too).
    ROUTER_MAC=$(router_mac "$ROUTER_CLIENT_IF")
    ghost_flows() {
        in_client sh -c '
            p=$1; end=$(($1 + $2))
            while [ "$p" -lt "$end" ]; do
                pkt --src "$3" --dst "$4" --proto udp --sport "$p" --dport 9 \
                    --iface eth0 --dst-mac "$5" > /dev/null || exit 1
                p=$((p + 1))
            done' sh "$1" "$2" "$CLIENT_IP" "$GHOST" "$ROUTER_MAC"
}
check "12 unreplied UDP flows" ghost_flows 20000 12
check "they are tracked" wait_for 5 ct_present "sport=20011 dport=9 "
check_match "the TCP stream is ASSURED" "$(ct_line "dport=5310 ")" '\[ASSURED\]'
max0=$(cat /proc/sys/net/ipv4/ip_conntrack_max)
before=$(cat "$COUNT")
low=4
check "ip_conntrack_max = $low (count $before)" ct_sysctl max "$low"
early0=$(stat_field early_drop)
drop0=$(stat_field drop)
peak=$before
tcp0=$(wc -c < /tmp/tcp-sink)
j=0
while [ "$j" -lt 4 ]; do
    ghost_flows $((21000 + j * 4)) 4
    c=$(cat "$COUNT")
    [ "$c" -le "$peak" ] || peak=$c
    j=$((j + 1))
done
sleep 0.5
c=$(cat "$COUNT")
[ "$c" -le "$peak" ] || peak=$c
if [ "$peak" -le "$before" ]; then
    pass "16 new flows: the count stayed at most $before (highest $peak)"
else
    fail "16 new flows: the count grew from $before to $peak with ip_conntrack_max = $low"
fi
early=$(( $(stat_field early_drop) - early0 ))
drops=$(( $(stat_field drop) - drop0 ))
if [ "$((early + drops))" -ge 16 ]; then
    pass "each new flow was early-dropped or dropped ($early early drops, $drops drops)"
else
    fail "16 new flows, only $early early drops and $drops drops"
fi
check_match "the ASSURED TCP entry stayed" "$(ct_line "dport=5310 ")" 'ESTABLISHED .*\[ASSURED\]'
sleep 1
check "the TCP stream still flows" test "$(wc -c < /tmp/tcp-sink)" -gt "$tcp0"
check "ip_conntrack_max back to $max0" ct_sysctl max "$max0"
check "a new flow" ghost_flows 22000 1
check "is tracked once the limit is back" wait_for 5 ct_present "sport=22000 dport=9 "

# ---------------------------------------------------------------------------
step "timeouts changed while entries exist: the deadline moves at the next packet"
# Linux 6.12 (and 2.6) compute an entry's deadline from the timeout in
# force when a packet refreshes it; a sysctl change alone moves nothing.
K=$(ct_tuple "$CLIENT_IP" "$GHOST" 23000 9)
# left_at_most KEY SECS / left_above KEY SECS: the countdown of KEY's line.
left_at_most() {
    _l=$(ct_timeout "$(ct_line "$1")")
    [ -n "$_l" ] && [ "$_l" -le "$2" ]
}
left_above() {
    _l=$(ct_timeout "$(ct_line "$1")")
    [ -n "$_l" ] && [ "$_l" -gt "$2" ]
}
check "a UDP flow" ghost_flows 23000 1
check "it is tracked" wait_for 5 ct_present "$K"
ct_check_timeout "unreplied timeout 30 s" "$K" 25 30
ct_set_timeout "raise the UDP timeout" udp_timeout 300
ct_check_timeout "the existing entry keeps its deadline" "$K" 20 30
check "one more packet of the flow" ghost_flows 23000 1
check "its countdown moves" wait_for 5 left_above "$K" 100
ct_check_timeout "the packet applied the new 300 s timeout" "$K" 290 300
ct_set_timeout "lower the UDP timeout" udp_timeout 3
ct_check_timeout "the entry still has its 300 s deadline" "$K" 280 300
sleep 3
check "still there 3 s later" ct_present "$K"
check "one more packet of the flow" ghost_flows 23000 1
check "its countdown drops to the new 3 s timeout" wait_for 5 left_at_most "$K" 3
ct_check_gone "then it expires" 15 "$K"
ct_set_timeout "restore the UDP timeout" udp_timeout 30
# The stream's next segment applies a new established timeout.
ct_set_timeout "TCP established timeout 100 s" tcp_timeout_established 100
check "the stream's entry follows at its next segment" wait_for 5 left_at_most "dport=5310 " 100
ct_set_timeout "restore it" tcp_timeout_established 432000
ip neigh del "$GHOST" dev "$ROUTER_SERVER_IF"
}

# Only the TCP stream (ASSURED) goes on from here.
kill "$PING_PID"
touch /tmp/stop-udp
[ -n "$DEBUG" ] || limits_and_timeouts

touch /tmp/stop-tcp
kill "$UDP_SRV"
for p in $BG_PIDS; do bg_wait 5 "$p" > /dev/null 2>&1; done
BG_PIDS=
check "rmmod ip_conntrack" rmmod ip_conntrack

# ---------------------------------------------------------------------------
step "rmmod with /proc and sysctl files open (a dump half read)"
check "modprobe ip_conntrack" modprobe ip_conntrack
check "a ping to list" in_client ping -c 1 -W 2 "$SERVER_IP"
exec 3< "$CT_TABLE" 4< "$CT_STAT" 5< "$COUNT" 6<> "$CT_SYSCTL/ip_conntrack_udp_timeout"
check_match "the first bytes of the dump" "$(dd bs=8 count=1 <&3 2> /dev/null)" '^icmp'
check_match "the first bytes of the stat file" "$(dd bs=7 count=1 <&4 2> /dev/null)" '^entries'
check "rmmod ip_conntrack (files open)" rmmod ip_conntrack
check_fails "ip_conntrack unloaded" mod_loaded ip_conntrack
# Linux's procfs and sysctl cut the open files off: EIO, ENOENT.
for fd in 3 4 5 6; do
    out=$(dd bs=100 count=1 <&$fd 2>&1 >/dev/null)
    check_match "reading fd $fd after the unload fails" "$out" 'error|No such file'
done
check_fails "writing the sysctl after the unload fails" sh -c 'echo 40 >&6'
exec 3<&- 4<&- 5<&- 6<&-
check "modprobe ip_conntrack after closing them" modprobe ip_conntrack
check_eq "the UDP timeout is the default" "$(ct_sysctl udp_timeout)" 30
check "rmmod ip_conntrack" rmmod ip_conntrack

# ---------------------------------------------------------------------------
step "rmmod while packets in a neighbour queue hold entries"
check "namespace $HOLD_NS behind the router ($HOLD_IP)" sh -c "
    ip netns add $HOLD_NS &&
    ip link add $HOLD_IF type veth peer name $NS_IF netns $HOLD_NS &&
    ip addr add $ROUTER_HOLD_IP/24 dev $HOLD_IF && ip link set $HOLD_IF up &&
    ip -n $HOLD_NS addr add $HOLD_IP/24 dev $NS_IF &&
    ip -n $HOLD_NS link set $NS_IF arp off &&
    ip -n $HOLD_NS link set $NS_IF up &&
    ip -n $HOLD_NS route add default via $ROUTER_HOLD_IP"

# park FIRST_PORT N: N UDP packets to $HOLD_IP port 7000 (from source ports
# FIRST_PORT...), one flow each; they wait for ARP in the router.
park() {
    in_client sh -c '
        p=$1; end=$(($1 + $2))
        while [ "$p" -lt "$end" ]; do
            pkt --src "$3" --dst "$4" --proto udp --sport "$p" --dport 7000 > /dev/null || exit 1
            p=$((p + 1))
        done' sh "$1" "$2" "$CLIENT_IP" "$HOLD_IP"
}
parked() {
    [ "$(grep -c "dst=$HOLD_IP " "$CT_TABLE")" -ge "$1" ]
}

# park_and_rmmod FIRST_PORT: park 5 packets, start rmmod in the background
# (its pid in rm_pid, output in /tmp/rmmod.out); it must still be waiting
# 2 s later.
park_and_rmmod() {
    check "5 packets parked for $HOLD_IP" park "$1" 5
    check "their 5 entries are in the table" wait_for 5 parked 5
    rmmod ip_conntrack > /tmp/rmmod.out 2>&1 &
    rm_pid=$!
    sleep 2
    if alive "$rm_pid"; then
        pass "rmmod waits while the parked packets hold entries"
    else
        fail "rmmod returned while packets held entries ($(cat /tmp/rmmod.out))"
    fi
}

# (a) The neighbour answers while rmmod waits: the packets are delivered.
# Resolution would go on for a minute (300 probes, 200 ms apart).
echo 300 > "$NEIGH/mcast_solicit"
echo 200 > "$NEIGH/retrans_time_ms"
check "modprobe ip_conntrack" modprobe ip_conntrack
noports0=$(ns_snmp "$HOLD_NS" Udp NoPorts)
park_and_rmmod 24000
check_match "the module is unloading" "$(grep '^ip_conntrack ' /proc/modules)" 'Unloading'
check "the neighbour starts answering" ip -n "$HOLD_NS" link set "$NS_IF" arp on
bg_wait 30 "$rm_pid"
rc=$?
check_eq "rmmod completes once the packets left (status)" "$rc" 0
ipct_show "$(cat /tmp/rmmod.out)"
check_fails "ip_conntrack unloaded" mod_loaded ip_conntrack
delivered() {
    [ "$(ns_snmp "$HOLD_NS" Udp NoPorts)" -ge $((noports0 + 5)) ]
}
check "the 5 packets were delivered" wait_for 5 delivered

# (b) The neighbour never answers; while rmmod waits, resolution is made
# to give up at its next probe: the packets are dropped with an ICMP
# host-unreachable error that inherits their entry (nf_ct_attach) while
# the module is going away.
check "the neighbour stops answering" ip -n "$HOLD_NS" link set "$NS_IF" arp off
ip neigh flush dev "$HOLD_IF"
check "modprobe ip_conntrack" modprobe ip_conntrack
unreach0=$(ns_snmp "$CLIENT_NS" Icmp InDestUnreachs)
park_and_rmmod 25000
check "resolution gives up (one probe allowed)" sh -c "echo 1 > $NEIGH/mcast_solicit"
bg_wait 30 "$rm_pid"
rc=$?
check_eq "rmmod completes once the packets were dropped (status)" "$rc" 0
ipct_show "$(cat /tmp/rmmod.out)"
check_fails "ip_conntrack unloaded" mod_loaded ip_conntrack
unreachable() {
    [ "$(ns_snmp "$CLIENT_NS" Icmp InDestUnreachs)" -gt "$unreach0" ]
}
check "the client got host-unreachable errors for them" wait_for 10 unreachable
check "routing works without the module" in_client ping -c 1 -W 2 "$SERVER_IP"
check "and it loads again" modprobe ip_conntrack
check "and unloads" rmmod ip_conntrack

cleanup
kmemleak_check
