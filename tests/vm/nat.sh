# NAT on a home router (tests/vm/nat-lib.sh draws it): two LAN hosts
# behind one public address, a server with no route back to the LAN, a
# policy-DROP FORWARD firewall with -m state. MASQUERADE for TCP, UDP and
# ping; two hosts on one source port; a 2-port SNAT range that drops the
# third flow; a port forward; hairpin NAT; REDIRECT to a proxy reading
# SO_ORIGINAL_DST; ICMP errors about NATed flows; a fragmented datagram;
# MASQUERADE through iptables-nft.
#
# The tracker: NAT_WITH=ip_conntrack (default) or nf_conntrack (the
# reference), or the first argument. `NAT_WITH=nf_conntrack
# scripts/vm-tests.sh nat` or `scripts/vm-run.sh tests/vm/nat.sh nf_conntrack`.
# vm-debug: yes
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh
. /usr/lib/ipct/nat-lib.sh

[ -z "${1:-}" ] || NAT_WITH=$1
IPT=iptables
start_ms=$(now_ms)

# rule_pkts TABLE CHAIN TAG: the router's packet counter of the rule
# tagged TAG (-m comment), through $IPT.
rule_pkts() {
    on rt "$IPT" -t "$1" -L "$2" -v -x -n 2> /dev/null \
        | awk -v t="/* $3 */" 'index($0, t) { print $1; f = 1; exit } END { exit !f }'
}

# icmp_in NS FIELD: an Icmp counter of /proc/net/snmp in NS.
icmp_in() {
    ns_snmp "$1" Icmp "$2"
}

# moved NS FIELD BASE: the counter went past BASE (for wait_for).
moved() {
    [ "$(icmp_in "$1" "$2")" -gt "$3" ]
}

# icmp_snap: remember the ICMP counters of both hosts; icmp_delta NS
# FIELD: how much one moved since.
icmp_snap() {
    for _f in InDestUnreachs InTimeExcds InErrors; do
        eval "h1_$_f=\$(icmp_in h1 $_f) h2_$_f=\$(icmp_in h2 $_f)"
    done
}

icmp_delta() {
    eval "echo \$((\$(icmp_in $1 $2) - ${1}_$2))"
}

# send_udp NS DST DPORT SPORT BYTES [SOCAT_OPTS]: one datagram of BYTES
# bytes from a connected UDP socket kept open 1 s for errors; prints what
# socat reported (the error the kernel gave the socket, if any).
send_udp() {
    head -c "$5" /tmp/blob | on "$1" socat -t 1 -b 65536 - "UDP:$2:$3,sourceport=$4${6:+,$6}" 2>&1 > /dev/null
}

# route_mtu NS DST: the path MTU NS has learnt for DST (empty if none).
route_mtu() {
    ip -n "$1" route get "$2" | sed -n 's/.* mtu \([0-9]*\).*/\1/p'
}

# other_port ANSWER TAKEN: a check that a peer server's ANSWER is the
# router's WAN address with a port other than TAKEN; sets P2 to the port.
other_port() {
    P2=${1#"$RT_WAN:"}
    case $P2 in
        '' | *[!0-9]*) fail "h2's mapping: no port in '$1'" ;;
        "$2") fail "h2's mapping took h1's port $2" ;;
        *) pass "h2's mapping has another port ($P2)" ;;
    esac
}

# two_hosts LABEL ASK DPORT SPORT: h1, then h2, from the same SPORT to the
# server's peer service on DPORT (ASK: ask_tcp or ask_udp). h1 keeps its
# port, h2 gets another; both entries' reply tuples go to the router.
two_hosts() {
    _rk="src=$SRV dst=$RT_WAN sport=$3"
    got=$($2 h1 "$SRV" "$3" "$4")
    check_eq "$1 h1:$4: the server sees the router, the port kept" "$got" "$RT_WAN:$4"
    nat_ct_check "its entry's reply tuple is src=$SRV dst=$RT_WAN" \
        "src=$H1 dst=$SRV sport=$4 dport=$3 .*$_rk dport=$4 "
    got=$($2 h2 "$SRV" "$3" "$4")
    other_port "$got" "$4"
    nat_ct_check "$1 h2:$4: its entry maps to that port" "src=$H2 dst=$SRV sport=$4 dport=$3 .*$_rk dport=$P2 "
}

# reply_port LINE: the destination port of a table line's reply tuple.
reply_port() {
    printf '%s\n' "$1" | sed -n 's/.*dport=[0-9]* .*src=.* dport=\([0-9]*\) .*/\1/p' | head -n 1
}

klog_mark
step "tracker $NAT_WITH, home router topology, firewall"
nat_tracker_up
check "topology up" nat_topo_up
nat_firewall

# ---------------------------------------------------------------------------
step "without NAT the server cannot answer the LAN"
check_fails "h1's ping gets no reply (the server has no route back)" on h1 ping -c 1 -W 1 "$SRV"

# ---------------------------------------------------------------------------
step "MASQUERADE: TCP, UDP and ping; two hosts on one source port"
check "MASQUERADE out of wan" on rt "$IPT" -t nat -A POSTROUTING -o wan \
    -m comment --comment masq -j MASQUERADE
peer_tcp srv 80
peer_udp srv 5300

two_hosts TCP ask_tcp 80 40000
two_hosts UDP ask_udp 5300 41000
# The same source keeps its mapping towards another service, although
# its own port is free there (nf_nat's bysource table).
peer_udp srv 5301
check_eq "UDP h2:41000 to another service keeps its mapping ($P2)" "$(ask_udp h2 "$SRV" 5301 41000)" "$RT_WAN:$P2"

check "h1 pings the server" on h1 ping -c 1 -W 2 "$SRV"
nat_ct_check "the echo entry's reply tuple is src=$SRV dst=$RT_WAN" \
    "src=$H1 dst=$SRV type=8 code=0 id=[0-9]+ .*src=$SRV dst=$RT_WAN type=0 code=0 id=[0-9]+ "
check_eq "MASQUERADE saw the six flows" "$(rule_pkts nat POSTROUTING masq)" 6

# ---------------------------------------------------------------------------
step "SNAT to a 2-port range: two flows fit, the third is dropped"
check "SNAT udp/5400 to $RT_WAN:40000-40001" on rt "$IPT" -t nat -I POSTROUTING 1 -o wan \
    -p udp --dport 5400 -m comment --comment snat2 -j SNAT --to-source "$RT_WAN:40000-40001"
peer_udp srv 5400
failed0=$(nat_stat insert_failed)
a=$(ask_udp h1 "$SRV" 5400 45001)
b=$(ask_udp h1 "$SRV" 5400 45002)
c=$(ask_udp h2 "$SRV" 5400 45003)
check_eq "the first two flows got the range's two ports" \
    "$(printf '%s\n' "$a" "$b" | sort | tr '\n' ' ')" "$RT_WAN:40000 $RT_WAN:40001 "
check_eq "the third got no answer" "$c" ""
check_eq "the SNAT rule saw three flows" "$(rule_pkts nat POSTROUTING snat2)" 3
check_eq "the tracker dropped the third (insert_failed +1)" "$(($(nat_stat insert_failed) - failed0))" 1
check_no_match "no entry for the third flow" "$(nat_ct)" "src=$H2 dst=$SRV sport=45003 "

# ---------------------------------------------------------------------------
step "DNAT: port 8080 of the WAN address forwarded to h1:80"
peer_tcp h1 80 h1
check_fails "before the rule the router refuses 8080" ask_tcp srv "$RT_WAN" 8080
check "DNAT wan tcp/8080 to $H1:80" on rt "$IPT" -t nat -A PREROUTING -i wan -p tcp --dport 8080 \
    -m comment --comment fwd -j DNAT --to-destination "$H1:80"
got=$(ask_tcp srv "$RT_WAN" 8080 44000)
check_eq "the server reaches h1's service, which sees the server" "$got" "h1 $SRV:44000"
nat_ct_check "its entry's reply tuple is src=$H1 dst=$SRV" \
    "src=$SRV dst=$RT_WAN sport=44000 dport=8080 .*src=$H1 dst=$SRV sport=80 dport=44000 "

# ---------------------------------------------------------------------------
step "hairpin: h2 reaches the forwarded port through the public address"
check "DNAT from the LAN to $RT_WAN:8080" on rt "$IPT" -t nat -A PREROUTING -i lan+ -d "$RT_WAN" \
    -p tcp --dport 8080 -m comment --comment hairpin-dnat -j DNAT --to-destination "$H1:80"
check "MASQUERADE of the hairpinned flow" on rt "$IPT" -t nat -A POSTROUTING -o lan+ \
    -s 192.0.2.0/24 -d "$H1" -p tcp --dport 80 -m comment --comment hairpin-snat -j MASQUERADE
got=$(ask_tcp h2 "$RT_WAN" 8080 44100)
check_match "h2 gets h1's service, which sees the router's LAN address" "$got" \
    "^h1 $(re "$RT_LAN"):[0-9]+\$"
nat_ct_check "its entry's reply tuple is src=$H1 dst=$RT_LAN" \
    "src=$H2 dst=$RT_WAN sport=44100 dport=8080 .*src=$H1 dst=$RT_LAN sport=80 dport=[0-9]+ "

# ---------------------------------------------------------------------------
step "REDIRECT to a local proxy reading SO_ORIGINAL_DST"
check "REDIRECT LAN tcp/81 to port 3128" on rt "$IPT" -t nat -A PREROUTING -i lan+ -p tcp --dport 81 \
    -m comment --comment proxy -j REDIRECT --to-ports 3128
nat_bg rt origdst 3128 1 > /tmp/origdst.out
wait_listen rt 3128 tcp
got=$(ask_tcp h1 "$SRV" 81 44200)
check_eq "the proxy answered with the original destination" "$got" "$SRV:81"
nat_ct_check "its entry's reply tuple is src=$RT_LAN dst=$H1 sport=3128" \
    "src=$H1 dst=$SRV sport=44200 dport=81 .*src=$RT_LAN dst=$H1 sport=3128 dport=44200 "

# ---------------------------------------------------------------------------
step "ICMP errors about NATed flows reach the right host and socket"
# Each error must reach h1 (not h2, which holds the same source port where
# it can) with its quote translated back: h1's UDP socket is found from the
# quote (else Icmp InErrors counts it), and for fragmentation needed h1
# learns the path MTU.
awk 'BEGIN { for (i = 0; i < 3000; i++) printf "%c", 65 + i % 26 }' > /tmp/blob
icmp_snap
got=$(send_udp h1 "$SRV" 9 42500 5)
check_match "UDP to a closed server port: h1's socket gets connection refused" "$got" 'Connection refused'
check_eq "port unreachable reached h1" "$(icmp_delta h1 InDestUnreachs)" 1
check_eq "its quote matched h1's socket (no Icmp InErrors)" "$(icmp_delta h1 InErrors)" 0
check_eq "h2 got nothing" "$(icmp_delta h2 InDestUnreachs)" 0

icmp_snap
check_eq "h2 sends to $FAR (the ISP hop forwards it) from port 42600" \
    "$(send_udp h2 "$FAR" 33434 42600 5)" ""
got=$(send_udp h1 "$FAR" 33434 42600 5 ip-ttl=2)
wait_for 3 moved h1 InTimeExcds "$h1_InTimeExcds"
check_eq "h1's datagram with TTL 2 from port 42600: time exceeded reached h1" "$(icmp_delta h1 InTimeExcds)" 1
check_eq "its quote matched h1's socket (no Icmp InErrors)" "$(icmp_delta h1 InErrors)" 0
check_eq "h2 got nothing" "$(icmp_delta h2 InTimeExcds)" 0
l1=$(nat_ct_line "src=$H1 dst=$FAR sport=42600 dport=33434 ")
l2=$(nat_ct_line "src=$H2 dst=$FAR sport=42600 dport=33434 ")
if [ -n "$l1" ] && [ -n "$l2" ] && [ "$(reply_port "$l1")" != "$(reply_port "$l2")" ]; then
    pass "the two flows have two mappings ($(reply_port "$l2"), $(reply_port "$l1"))"
else
    fail "the two flows should have two mappings"
    ipct_show "$l1
$l2"
fi

icmp_snap
check_eq "h2 sends to $FAR from port 42700" "$(send_udp h2 "$FAR" 33435 42700 5)" ""
got=$(send_udp h1 "$FAR" 33435 42700 1400 ip-mtu-discover=2)
check_match "h1's 1400 bytes with DF from port 42700 (the ISP hop's MTU is 1280): h1's socket is told" \
    "$got" 'Message too long'
check_eq "fragmentation needed reached h1" "$(icmp_delta h1 InDestUnreachs)" 1
check_eq "its quote matched h1's socket (no Icmp InErrors)" "$(icmp_delta h1 InErrors)" 0
check_eq "h1 learnt the path MTU to $FAR" "$(route_mtu h1 "$FAR")" 1280
check_eq "h2 got nothing" "$(icmp_delta h2 InDestUnreachs)" 0
check_eq "h2 learnt no path MTU" "$(route_mtu h2 "$FAR")" ""

# The router's own error about a NATed flow: its WAN MTU made small while
# h1's flow to the server is established.
check_eq "h1's flow from port 42900 to the server's UDP peer service" "$(ask_udp h1 "$SRV" 5300 42900)" "$RT_WAN:42900"
check "the router's WAN MTU set to 1280" ip -n rt link set wan mtu 1280
icmp_snap
got=$(send_udp h1 "$SRV" 5300 42900 1400 ip-mtu-discover=2)
check_match "h1's 1400 bytes with DF on that flow: h1's socket is told" "$got" 'Message too long'
check_eq "fragmentation needed from the router reached h1" "$(icmp_delta h1 InDestUnreachs)" 1
check_eq "its quote matched h1's socket (no Icmp InErrors)" "$(icmp_delta h1 InErrors)" 0
check_eq "h1 learnt the path MTU to the server" "$(route_mtu h1 "$SRV")" 1280
check "the router's WAN MTU back to 1500" ip -n rt link set wan mtu 1500

# ---------------------------------------------------------------------------
step "a fragmented UDP datagram through MASQUERADE arrives whole"
fc=$(ns_snmp h1 Ip FragCreates)
ro=$(ns_snmp srv Ip ReasmOKs)
printf 'whole\n' | on srv nc -u -l -p 5600 -W 1 > /tmp/blob.srv 2>&1 &
srv_pid=$!
wait_listen srv 5600 udp
got=$(on h1 nc -u -W 1 -w 3 -p 42800 "$SRV" 5600 < /tmp/blob 2>&1)
bg_wait 5 "$srv_pid"
check "the server received the 3000 bytes as sent" cmp /tmp/blob /tmp/blob.srv
check_eq "h1 got the server's answer" "$got" whole
check "h1 sent fragments" [ "$(($(ns_snmp h1 Ip FragCreates) - fc))" -ge 2 ]
check_eq "the server reassembled one datagram" "$(($(ns_snmp srv Ip ReasmOKs) - ro))" 1

# ---------------------------------------------------------------------------
step "the other front end: MASQUERADE through iptables-nft"
check "legacy nat rules flushed" on rt iptables -t nat -F
check_fails "without NAT h1's ping gets no reply" on h1 ping -c 1 -W 1 "$SRV"
IPT=iptables-nft
check "iptables-nft MASQUERADE out of wan" on rt "$IPT" -t nat -A POSTROUTING -o wan \
    -m comment --comment masq-nft -j MASQUERADE
got=$(ask_tcp h1 "$SRV" 80 40100)
check_eq "TCP h1:40100: the server sees the router" "$got" "$RT_WAN:40100"
nat_ct_check "its entry's reply tuple is src=$SRV dst=$RT_WAN" \
    "src=$H1 dst=$SRV sport=40100 dport=80 .*src=$SRV dst=$RT_WAN sport=80 dport=40100 "
got=$(ask_udp h2 "$SRV" 5300 41100)
check_eq "UDP h2:41100: the server sees the router" "$got" "$RT_WAN:41100"
check "h2 pings the server" on h2 ping -c 1 -W 2 "$SRV"
check_eq "the nft rule saw the three flows" "$(rule_pkts nat POSTROUTING masq-nft)" 3
check_match "iptables-nft-save lists the rule" "$(on rt iptables-nft-save -t nat 2> /dev/null)" \
    '^-A POSTROUTING -o wan -m comment --comment masq-nft -j MASQUERADE$'

# ---------------------------------------------------------------------------
step "MASQUERADE's connections go with a route to another device, wan's address, wan itself"
# gone ERE: no line of the router's table matches ERE within 3 s (the
# kernel's nf_nat flushes from a work item).
gone() {
    for _i in $(seq 30); do
        nat_ct_line "$1" > /dev/null || return 0
        sleep 0.1
    done
    return 1
}
check_eq "UDP h1:41300: masqueraded" "$(ask_udp h1 "$SRV" 5300 41300)" "$RT_WAN:41300"
check "the route to the server moved to lan0" ip -n rt route add "$SRV/32" dev lan0
send_udp h1 "$SRV" 5300 41300 10
check "a packet of that flow leaving by lan0 ends its entry" gone "src=$H1 dst=$SRV sport=41300 "
check "the route back" ip -n rt route del "$SRV/32" dev lan0
check "h2's masqueraded UDP flow is in the table" nat_ct_line "src=$H2 dst=$SRV sport=41100 .*dst=$RT_WAN "
check "wan's address removed" ip -n rt addr del "$RT_WAN/24" dev wan
check "that flow's entry is gone" gone "src=$H2 dst=$SRV sport=41100 "
check "wan's address back" ip -n rt addr add "$RT_WAN/24" dev wan
check "the default route back" ip -n rt route add default via "$SRV"
check_eq "UDP h1:41200: masqueraded again" "$(ask_udp h1 "$SRV" 5300 41200)" "$RT_WAN:41200"
check "wan down" ip -n rt link set wan down
check "that flow's entry is gone" gone "src=$H1 dst=$SRV sport=41200 "
check "wan up" ip -n rt link set wan up

nat_stop
if [ "$IPCT_FAILED" -gt 0 ]; then
    echo "---- the router's table, nat rules and kernel log (failures above)"
    nat_ct | sed 's/^/    | /'
    on rt iptables-save -t nat | sed 's/^/    | /'
    on rt iptables-nft-save -t nat 2> /dev/null | sed 's/^/    | /'
    klog_new | tail -n 40 | sed 's/^/    | /'
fi
echo "---- guest time for the checks: $((($(now_ms) - start_ms) / 1000)) s ($NAT_WITH)"
