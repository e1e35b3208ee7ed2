# UDP tracking on the router, as Linux 6.12 does it: one-way traffic stays
# [UNREPLIED] with the unreplied timeout (30 s); a reply clears
# [UNREPLIED]; ASSURED and the stream timeout (120 s) come only with a
# packet seen after the reply and at least 2 s after the entry was created.
#
# Crafted datagrams (pkt) use server ports 7200-7299, dropped on INPUT in
# both namespaces so that no ICMP port unreachable comes back.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

C=$CLIENT_IP
S=$SERVER_IP

# u2s / s2u PKT_ARGS...: a crafted datagram client -> server / server -> client.
u2s() { in_client pkt --src "$C" --dst "$S" --proto udp "$@"; }
s2u() { in_server pkt --src "$S" --dst "$C" --proto udp "$@"; }

# unreplied_re KEY REPLY / replied_re KEY REPLY [ASSURED]: whole-line EREs.
unreplied_re() {
    echo "^udp +17 [0-9]+ $(re "$1")\[UNREPLIED\] $(re "$2")mark=0 use=[0-9]+\$"
}
replied_re() {
    echo "^udp +17 [0-9]+ $(re "$1")$(re "$2")${3:+\[ASSURED\] }mark=0 use=[0-9]+\$"
}

ct_setup
step "defaults and firewalls"
check_eq "ip_conntrack_udp_timeout is 30" "$(ct_sysctl udp_timeout 2>&1)" 30
check_eq "ip_conntrack_udp_timeout_stream is 120" "$(ct_sysctl udp_timeout_stream 2>&1)" 120
check "server drops crafted datagrams (dport 7200:7299)" \
    in_server iptables -A INPUT -p udp --dport 7200:7299 -j DROP
check "client drops crafted replies (sport 7200:7299)" \
    in_client iptables -A INPUT -p udp --sport 7200:7299 -j DROP

# ---------------------------------------------------------------------------
step "one-way -> [UNREPLIED], unreplied timeout"
K=$(ct_tuple "$C" "$S" 42001 7201)
R=$(ct_tuple "$S" "$C" 7201 42001)
t_new=$(now_ms)
check "datagram 42001 -> 7201" u2s --sport 42001 --dport 7201 --payload one
wait_for 3 ct_present "$K"
ct_check "one-way: [UNREPLIED], expected reply tuple" "$K" "$(unreplied_re "$K" "$R")"
ct_check_timeout "counts down from the unreplied timeout (30 s)" "$K" 25 30
sleep_until $((t_new + 4000))
check "another datagram 42001 -> 7201, 4 s later" u2s --sport 42001 --dport 7201 --payload two
sleep 0.3
ct_check "one-way after 4 s: still [UNREPLIED], not [ASSURED]" "$K" "$(unreplied_re "$K" "$R")"
# Without the reset it would show at most 26.
ct_check_timeout "the new packet reset the countdown to 30 s" "$K" 27 30

# ---------------------------------------------------------------------------
step "two-way -> replied at once, ASSURED and stream timeout only after 2 s"
K=$(ct_tuple "$C" "$S" 42002 7202)
R=$(ct_tuple "$S" "$C" 7202 42002)
t_new=$(now_ms)
check "request 42002 -> 7202" u2s --sport 42002 --dport 7202 --payload req
wait_for 3 ct_present "$K"
check "reply 7202 -> 42002" s2u --sport 7202 --dport 42002 --payload rep
wait_for 3 ct_absent "$K" "[UNREPLIED]"
ct_check "after the reply: no [UNREPLIED], not yet [ASSURED]" "$K" "$(replied_re "$K" "$R")"
ct_check_timeout "replied but young: still the 30 s timeout" "$K" 25 30
elapsed=$(( $(now_ms) - t_new ))
if [ "$elapsed" -lt 1500 ]; then
    check "third datagram 42002 -> 7202, ${elapsed} ms after creation" \
        u2s --sport 42002 --dport 7202 --payload early
    sleep 0.2
    ct_check "a packet before 2 s does not assure (Linux 6.12)" "$K" "$(replied_re "$K" "$R")"
    ct_check_timeout "and keeps the 30 s timeout" "$K" 25 30
else
    echo "note: ${elapsed} ms already passed since creation; the before-2-s check is skipped"
fi
sleep_until $((t_new + 2500))
check "datagram 42002 -> 7202, 2.5 s after creation" u2s --sport 42002 --dport 7202 --payload late
wait_for 3 ct_present "$K" "[ASSURED]"
ct_check "a packet 2 s after creation assures it" "$K" "$(replied_re "$K" "$R" assured)"
ct_check_timeout "stream timeout (120 s)" "$K" 115 120
check "reply 7202 -> 42002 again" s2u --sport 7202 --dport 42002 --payload rep2
sleep 0.3
ct_check "still [ASSURED] after the next reply" "$K" "$(replied_re "$K" "$R" assured)"
ct_check_timeout "still on the stream timeout" "$K" 115 120

# ---------------------------------------------------------------------------
step "real sockets (nc): one datagram each way"
K=$(ct_tuple "$C" "$S" 40101 8101)
R=$(ct_tuple "$S" "$C" 8101 40101)
printf 'pong\n' | in_server nc -u -l -p 8101 -W 1 > /tmp/udp.srv 2>&1 &
srv=$!
wait_listen "$SERVER_NS" 8101 udp
got=$(printf 'ping\n' | in_client nc -u -W 1 -w 5 -p 40101 "$S" 8101 2>&1)
bg_wait 10 "$srv"
check_eq "client got the reply" "$got" pong
check_eq "server got the request" "$(cat /tmp/udp.srv)" ping
wait_for 3 ct_absent "$K" "[UNREPLIED]"
ct_check "request and reply: no [UNREPLIED], not [ASSURED] (no third packet)" "$K" \
    "$(replied_re "$K" "$R")"
ct_check_timeout "30 s timeout" "$K" 25 30

ct_finish
step "teardown"
topo_down
check "rmmod ip_conntrack" rmmod ip_conntrack
