# ICMP tracking on the router behind a stateful firewall: an echo request
# creates an entry, the reply answers it (and, as in Linux 6.12, the entry
# stays until its 30 s timeout); an ICMP error about a tracked flow is
# RELATED and passes an ESTABLISHED,RELATED rule; an ICMP error about an
# unknown flow is INVALID (dropped, counted in the icmp_error column
# alone, as 6.12's ICMP error handler counts it).
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

C=$CLIENT_IP
S=$SERVER_IP

# to_client PKT_ARGS...: a crafted ICMP message server -> client.
to_client() { in_server pkt --src "$S" --dst "$C" --proto icmp "$@"; }

# Rule counters by tag, "tag=N ..." for a failure's context.
TAGS="icmp-related icmp-estrel icmp-invalid icmp-new icmp-rest"
counters() {
    for t in $TAGS; do printf '%s=%s ' "$t" "$(ipt_pkts FORWARD "$t")"; done
}
# delta TAG: packets the rule TAG matched since `snap`.
snap() {
    for t in $TAGS; do eval "base_$(echo "$t" | tr - _)=\$(ipt_pkts FORWARD $t)"; done
    base_unreach=$(ns_snmp "$CLIENT_NS" Icmp InDestUnreachs)
    base_timeexc=$(ns_snmp "$CLIENT_NS" Icmp InTimeExcds)
}
delta() {
    eval "echo \$(( \$(ipt_pkts FORWARD $1) - \$base_$(echo "$1" | tr - _) ))"
}
unreach_delta() { echo $(( $(ns_snmp "$CLIENT_NS" Icmp InDestUnreachs) - base_unreach )); }
timeexc_delta() { echo $(( $(ns_snmp "$CLIENT_NS" Icmp InTimeExcds) - base_timeexc )); }
unreach_moved() { [ "$(unreach_delta)" -gt 0 ]; }

ct_setup
step "stateful firewall on the router"
check_eq "ip_conntrack_icmp_timeout is 30" "$(ct_sysctl icmp_timeout 2>&1)" 30
check "RELATED counted" "$IPT" -A FORWARD -m state --state RELATED -m comment --comment icmp-related
check "ESTABLISHED,RELATED accepted" \
    "$IPT" -A FORWARD -m state --state ESTABLISHED,RELATED -m comment --comment icmp-estrel -j ACCEPT
check "INVALID dropped" "$IPT" -A FORWARD -m state --state INVALID -m comment --comment icmp-invalid -j DROP
check "NEW from the client accepted" \
    "$IPT" -A FORWARD -s 192.0.2.0/24 -m state --state NEW -m comment --comment icmp-new -j ACCEPT
check "the rest dropped" "$IPT" -A FORWARD -m comment --comment icmp-rest -j DROP

# ---------------------------------------------------------------------------
step "ping through the firewall"
check "client pings the server" in_client ping -c 1 -W 3 "$S"
ct_check "echo entry: answered, not [UNREPLIED], not [ASSURED]" "src=$C dst=$S type=8 " \
    "^icmp +1 [0-9]+ $(re "src=$C dst=$S type=8 code=0 id=")([0-9]+) $(re "src=$S dst=$C type=0 code=0 id=")\\1 mark=0 use=[0-9]+\$"
ct_check_timeout "kept after the reply, counting down from 30 s" "src=$C dst=$S type=8 " 25 30

# ---------------------------------------------------------------------------
step "crafted echo: request -> [UNREPLIED], reply answers it"
check "server drops echo requests (so only the crafted reply answers)" \
    in_server iptables -A INPUT -p icmp --icmp-type echo-request -j DROP
K=$(ct_icmp_tuple "$C" "$S" 8 0 4660)
R=$(ct_icmp_tuple "$S" "$C" 0 0 4660)
check "echo request id 4660" in_client pkt --src "$C" --dst "$S" --proto icmp \
    --icmp-type 8 --icmp-id 4660 --icmp-seq 1
wait_for 3 ct_present "$K"
ct_check "echo request: [UNREPLIED], reply tuple type=0" "$K" \
    "^icmp +1 [0-9]+ $(re "$K")\[UNREPLIED\] $(re "$R")mark=0 use=[0-9]+\$"
ct_check_timeout "counts down from 30 s" "$K" 25 30
snap
check "echo reply id 4660" to_client --icmp-type 0 --icmp-id 4660 --icmp-seq 1
wait_for 3 ct_absent "$K" "[UNREPLIED]"
ct_check "after the reply: no [UNREPLIED], entry kept" "$K" \
    "^icmp +1 [0-9]+ $(re "$K")$(re "$R")mark=0 use=[0-9]+\$"
ct_check_timeout "kept until its 30 s timeout" "$K" 25 30
check_eq "the reply was ESTABLISHED (accepted by ESTABLISHED,RELATED)" "$(delta icmp-estrel)" 1
check "server accepts echo requests again" \
    in_server iptables -D INPUT -p icmp --icmp-type echo-request -j DROP

# ---------------------------------------------------------------------------
step "ICMP errors about tracked flows are RELATED"
KU=$(ct_tuple "$C" "$S" 42301 7301)
RU=$(ct_tuple "$S" "$C" 7301 42301)
snap
check "datagram 42301 -> 7301 (no listener: the server answers port unreachable)" \
    in_client pkt --src "$C" --dst "$S" --proto udp --sport 42301 --dport 7301 --payload probe
wait_for 3 unreach_moved
check_eq "the server's port unreachable reached the client" "$(unreach_delta)" 1
check_eq "it was RELATED" "$(delta icmp-related)" 1
check_eq "it passed the ESTABLISHED,RELATED rule" "$(delta icmp-estrel)" 1
check_eq "nothing INVALID, nothing fell through" "$(delta icmp-invalid) $(delta icmp-rest)" "0 0"
ct_check "the error does not answer the flow: still [UNREPLIED]" "$KU" \
    "^udp +17 [0-9]+ $(re "$KU")\[UNREPLIED\] $(re "$RU")mark=0 use=[0-9]+\$"

check "server drops TCP to 7302 (the flow stays SYN_SENT)" \
    in_server iptables -A INPUT -p tcp --dport 7302 -j DROP
KT=$(ct_tuple "$C" "$S" 41302 7302)
check "SYN 41302 -> 7302" in_client pkt --src "$C" --dst "$S" --sport 41302 --dport 7302 --flags S --seq 1000
wait_for 3 ct_present "$KT" SYN_SENT
snap
check "crafted host unreachable quoting that SYN" to_client --icmp-type 3 --icmp-code 1 \
    --inner-proto tcp --inner-sport 41302 --inner-dport 7302 --inner-seq 1000 --inner-flags S
wait_for 3 unreach_moved
check_eq "error about the TCP flow: RELATED" "$(delta icmp-related)" 1
check_eq "passed ESTABLISHED,RELATED and reached the client" "$(delta icmp-estrel) $(unreach_delta)" "1 1"

# A fresh echo flow: the one above may be near its 30 s end on a slow guest.
KE=$(ct_icmp_tuple "$C" "$S" 8 0 4661)
check "echo request id 4661" in_client pkt --src "$C" --dst "$S" --proto icmp \
    --icmp-type 8 --icmp-id 4661 --icmp-seq 1
wait_for 3 ct_present "$KE"
snap
check "crafted time exceeded quoting the echo request id 4661" to_client --icmp-type 11 --icmp-code 0 \
    --inner-proto icmp --inner-icmp-type 8 --inner-icmp-id 4661 --inner-icmp-seq 1
sleep 0.5
check_eq "error about the echo flow: RELATED" "$(delta icmp-related)" 1
check_eq "passed ESTABLISHED,RELATED and reached the client" "$(delta icmp-estrel) $(timeexc_delta)" "1 1"
check_no_match "ICMP errors create no entries" "$(ct_table)" '^icmp .* type=(3|11) '

# ---------------------------------------------------------------------------
step "an ICMP error about an unknown flow is INVALID"
snap
inv0=$(stat_field invalid)
err0=$(stat_field icmp_error)
count0=$(ct_count)
check "crafted port unreachable quoting 42399 -> 7399 (never seen)" to_client --icmp-type 3 --icmp-code 3 \
    --inner-proto udp --inner-sport 42399 --inner-dport 7399
sleep 0.5
check_eq "matched --state INVALID (dropped)" "$(delta icmp-invalid)" 1
check_eq "not RELATED, not accepted, not fallen through" \
    "$(delta icmp-related) $(delta icmp-estrel) $(delta icmp-rest)" "0 0 0"
check_eq "did not reach the client" "$(unreach_delta)" 0
check_eq "icmp_error column +1" "$(( $(stat_field icmp_error) - err0 ))" 1
check_eq "invalid column unchanged" "$(( $(stat_field invalid) - inv0 ))" 0
check_eq "no entry created" "$(ct_count)" "$count0"
[ "$IPCT_FAILED" -eq 0 ] || echo "rule counters: $(counters)"

ct_finish
step "teardown"
check "flush the router's FORWARD chain" "$IPT" -F FORWARD
topo_down
check "rmmod ip_conntrack with entries in the table" rmmod ip_conntrack
kmemleak_check
