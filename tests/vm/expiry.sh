# Expiry as users see it, with short timeouts set through the sysctls:
# the countdown in /proc/net/ip_conntrack starts at the timeout, decreases
# with time (accurate to a second), is reset by a new packet, and entries
# vanish from the table once it runs out (neither early nor much later);
# ip_conntrack_count follows. Also: the hashsize= module parameter sets
# net.ipv4.netfilter.ip_conntrack_buckets.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

C=$CLIENT_IP
S=$SERVER_IP
T=8     # the short timeout used for UDP, ICMP and TCP SYN_SENT

# ---------------------------------------------------------------------------
step "hashsize= is honoured"
klog_mark
for hs in 3000 1000; do
    check "modprobe ip_conntrack hashsize=$hs" modprobe ip_conntrack hashsize=$hs
    check_eq "sysctl net.ipv4.netfilter.ip_conntrack_buckets = $hs" \
        "$(sysctl -n net.ipv4.netfilter.ip_conntrack_buckets 2>&1)" "$hs"
    [ "$hs" = 1000 ] || check "rmmod ip_conntrack" rmmod ip_conntrack
done
check_fails "ip_conntrack_buckets is read-only" sh -c "echo 64 > $CT_SYSCTL/ip_conntrack_buckets"
check_eq "ip_conntrack_buckets still 1000" "$(ct_sysctl buckets 2>&1)" 1000

check "topology up" topo_up
check "server drops the test flows (udp/tcp 7400:7499, echo requests)" sh -c "
    ip netns exec $SERVER_NS iptables -A INPUT -p udp --dport 7400:7499 -j DROP &&
    ip netns exec $SERVER_NS iptables -A INPUT -p tcp --dport 7400:7499 -j DROP &&
    ip netns exec $SERVER_NS iptables -A INPUT -p icmp --icmp-type echo-request -j DROP"

# ---------------------------------------------------------------------------
step "short timeouts ($T s)"
ct_set_timeout "UDP" udp_timeout "$T"
ct_set_timeout "ICMP" icmp_timeout "$T"
ct_set_timeout "TCP SYN_SENT" tcp_timeout_syn_sent "$T"
count0=$(ct_count)
check_eq "table empty before the test flows" "$count0" 0

KU=$(ct_tuple "$C" "$S" 42401 7401)
KI=$(ct_icmp_tuple "$C" "$S" 8 0 4401)
KT=$(ct_tuple "$C" "$S" 41402 7402)
t0=$(now_ms)
check "UDP 42401 -> 7401" in_client pkt --src "$C" --dst "$S" --proto udp --sport 42401 --dport 7401
check "echo request id 4401" in_client pkt --src "$C" --dst "$S" --proto icmp --icmp-id 4401
check "SYN 41402 -> 7402" in_client pkt --src "$C" --dst "$S" --sport 41402 --dport 7402 --flags S
t0_end=$(now_ms)
wait_for 3 ct_present "$KU"
wait_for 3 ct_present "$KI"
wait_for 3 ct_present "$KT"
ct_check "UDP entry" "$KU" "^udp +17 [0-9]+ $(re "$KU")\[UNREPLIED\] "
ct_check "ICMP entry" "$KI" "^icmp +1 [0-9]+ $(re "$KI")\[UNREPLIED\] "
ct_check "TCP entry" "$KT" "^tcp +6 [0-9]+ SYN_SENT $(re "$KT")\[UNREPLIED\] "
ct_check_timeout "UDP countdown starts at the $T s timeout" "$KU" $((T - 1)) "$T"
ct_check_timeout "ICMP countdown starts at the $T s timeout" "$KI" $((T - 1)) "$T"
ct_check_timeout "TCP countdown starts at the $T s timeout" "$KT" $((T - 1)) "$T"
check_eq "ip_conntrack_count = 3" "$(ct_sysctl count 2>&1)" 3
check_eq "stat entries = 3" "$(stat_field entries 2>&1)" 3

# ---------------------------------------------------------------------------
step "the countdown decreases, accurate to a second"
c1=$(ct_timeout "$(ct_line "$KT")")
sleep_until $((t0_end + 3000))
c2=$(ct_timeout "$(ct_line "$KT")")
t2=$(now_ms)
# Created between t0 and t0_end (+ up to 1 s of delivery): at t2 the true
# remaining time lies in [T - (t2 - t0) - 1, T - (t2 - t0_end)] seconds,
# printed rounded down.
lo=$(( T - (t2 - t0 + 999) / 1000 - 1 ))
hi=$(( T - (t2 - t0_end) / 1000 ))
if [ -n "$c2" ] && [ "$c2" -lt "${c1:-0}" ] && [ "$c2" -ge "$lo" ] && [ "$c2" -le "$hi" ]; then
    pass "TCP countdown $c1 -> $c2 after $((t2 - t0)) ms (want $lo..$hi)"
else
    fail "TCP countdown $c1 -> ${c2:-none} after $((t2 - t0)) ms (want less than $c1, in $lo..$hi)"
    ct_show
fi
cu=$(ct_timeout "$(ct_line "$KU")")
t_ref=$(now_ms)
check "UDP 42401 -> 7401 again (refreshes it)" in_client pkt --src "$C" --dst "$S" --proto udp \
    --sport 42401 --dport 7401
sleep 0.2
ct_check_timeout "UDP countdown was $cu, reset to $T s by the packet" "$KU" $((T - 1)) "$T"

# ---------------------------------------------------------------------------
step "entries vanish when their countdown runs out"
# All three are polled together (every 0.2 s, up to the timeout + 6 s
# after the last packet); each one's lifetime is judged from its own last
# packet: not before the timeout (- 0.5 s), not more than 3 s after it.
for k in "$KT" "$KI" "$KU"; do
    ct_present "$k" || { fail "not in the table before expiry: $k"; ct_show; }
done
gT=
gI=
gU=
end=$(( t_ref + (T + 6) * 1000 ))
while :; do
    now=$(now_ms)
    tab=$(ct_table)
    case $tab in *"$KT"*) ;; *) gT=${gT:-$now} ;; esac
    case $tab in *"$KI"*) ;; *) gI=${gI:-$now} ;; esac
    case $tab in *"$KU"*) ;; *) gU=${gU:-$now} ;; esac
    [ -z "$gT" ] || [ -z "$gI" ] || [ -z "$gU" ] || break
    [ "$now" -lt "$end" ] || break
    sleep 0.2
done
# judge NAME GONE_MS LAST_PACKET_MS
judge() {
    if [ -z "$2" ]; then
        fail "$1: still there $(( $(now_ms) - $3 )) ms after its last packet (timeout $T s)"
        return
    fi
    _life=$(( $2 - $3 ))
    if [ "$_life" -lt $(( T * 1000 - 500 )) ]; then
        fail "$1: gone early, ${_life} ms after its last packet (timeout $T s)"
    elif [ "$_life" -gt $(( (T + 3) * 1000 )) ]; then
        fail "$1: gone only ${_life} ms after its last packet (timeout $T s; want within 3 s)"
    else
        pass "$1: gone ${_life} ms after its last packet (timeout $T s)"
    fi
}
judge "TCP SYN_SENT" "$gT" "$t0"
judge "ICMP echo" "$gI" "$t0"
judge "UDP (refreshed)" "$gU" "$t_ref"
count_back() { [ "$(ct_sysctl count)" = "$count0" ]; }
if wait_for 10 count_back; then
    pass "ip_conntrack_count back to $count0"
else
    fail "ip_conntrack_count is $(ct_sysctl count 2>&1) 10 s after the last entry vanished (want $count0)"
fi
check_eq "stat entries back to $count0" "$(stat_field entries 2>&1)" "$count0"
check_eq "table empty" "$(ct_count)" 0

ct_finish
step "teardown"
topo_down
check "rmmod ip_conntrack" rmmod ip_conntrack
