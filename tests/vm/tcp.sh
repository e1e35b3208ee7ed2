# TCP tracking on the router, as Linux 6.12 does it: SYN only, the
# vm-debug: yes
# handshake, an orderly close into TIME_WAIT (gone after a short
# timeout), refused connections, RST on an established connection, an
# out-of-window segment (INVALID) and a bulk transfer with window scaling
# through a `--state INVALID -j DROP` firewall (no INVALID packet at all).
#
# Usage: tcp.sh [TRANSFER_BYTES]   (default 50 MiB; 8 MiB on the debug
# kernel, where KASAN makes every packet several times slower)
#
# Crafted connections (pkt) use server ports 7100-7199: both namespaces
# drop them on INPUT so that their kernels neither answer nor reset them;
# the router still tracks them. Real connections (nc, socat) use 8001+.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

C=$CLIENT_IP
S=$SERVER_IP
if [ -e /sys/kernel/debug/kmemleak ]; then XFER_DEFAULT=8388608; else XFER_DEFAULT=52428800; fi
XFER=${1:-$XFER_DEFAULT}

# c2s / s2c PKT_ARGS...: a crafted TCP segment client -> server / server -> client.
c2s() { in_client pkt --src "$C" --dst "$S" "$@"; }
s2c() { in_server pkt --src "$S" --dst "$C" "$@"; }

# ESTABLISHED lasts 5 days (432000 s).
EST_MIN=431990
EST_MAX=432000

ct_setup
step "firewalls"
check "router: -m state --state INVALID -j DROP (counted)" \
    "$IPT" -A FORWARD -m state --state INVALID -m comment --comment tcp-invalid -j DROP
check "server drops crafted connections (dport 7100:7199)" \
    in_server iptables -A INPUT -p tcp --dport 7100:7199 -j DROP
check "client drops crafted connections' replies (sport 7100:7199)" \
    in_client iptables -A INPUT -p tcp --sport 7100:7199 -j DROP

# invalid_now: the invalid column and the rule counter, as "STAT RULE".
invalid_now() {
    echo "$(stat_field invalid) $(ipt_pkts FORWARD tcp-invalid)"
}

# ---------------------------------------------------------------------------
step "SYN only -> SYN_SENT [UNREPLIED]"
K=$(ct_tuple "$C" "$S" 41001 7101)
R=$(ct_tuple "$S" "$C" 7101 41001)
check "client sends a SYN 41001 -> 7101" \
    c2s --sport 41001 --dport 7101 --flags S --seq 1000 --mss 1460 --wscale 7 --sackperm
wait_for 3 ct_present "$K"
ct_check "SYN_SENT line: state, tuples, [UNREPLIED]" "$K" \
    "^tcp +6 [0-9]+ SYN_SENT $(re "$K")\[UNREPLIED\] $(re "$R")mark=0 use=[0-9]+\$"
ct_check_timeout "SYN_SENT counts down from 120 s" "$K" 115 120

# ---------------------------------------------------------------------------
step "crafted handshake -> SYN_RECV -> ESTABLISHED [ASSURED]"
K=$(ct_tuple "$C" "$S" 41002 7102)
R=$(ct_tuple "$S" "$C" 7102 41002)
check "SYN 41002 -> 7102 (seq 1000, wscale 7)" \
    c2s --sport 41002 --dport 7102 --flags S --seq 1000 --window 64240 --mss 1460 --wscale 7 --sackperm
wait_for 3 ct_present "$K" SYN_SENT
check "SYN/ACK 7102 -> 41002 (seq 5000, ack 1001, wscale 7)" \
    s2c --sport 7102 --dport 41002 --flags SA --seq 5000 --ack 1001 --window 65160 --mss 1460 --wscale 7 --sackperm
wait_for 3 ct_present "$K" SYN_RECV
ct_check "after the SYN/ACK: SYN_RECV, replied, not assured" "$K" \
    "^tcp +6 [0-9]+ SYN_RECV $(re "$K")$(re "$R")mark=0 use=[0-9]+\$"
ct_check_timeout "SYN_RECV counts down from 60 s" "$K" 55 60
check "ACK 41002 -> 7102 (seq 1001, ack 5001)" \
    c2s --sport 41002 --dport 7102 --flags A --seq 1001 --ack 5001 --window 502
wait_for 3 ct_present "$K" ESTABLISHED
ct_check "after the ACK: ESTABLISHED [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ ESTABLISHED $(re "$K")$(re "$R")\[ASSURED\] mark=0 use=[0-9]+\$"
ct_check_timeout "ESTABLISHED counts down from 5 days" "$K" "$EST_MIN" "$EST_MAX"

step "in-window segments are not INVALID, an out-of-window one is"
before=$(invalid_now)
check "in-window data 41002 -> 7102 (seq 1001, 5 bytes)" \
    c2s --sport 41002 --dport 7102 --flags PA --seq 1001 --ack 5001 --window 502 --payload hello
# The server acknowledges the data: with data left unacknowledged, Linux
# lowers the timeout to 300 s (timeout_max_retrans).
check "in-window ACK 7102 -> 41002 (seq 5001, ack 1006)" \
    s2c --sport 7102 --dport 41002 --flags A --seq 5001 --ack 1006 --window 509
sleep 0.5
check_eq "in-window segments: invalid column and INVALID rule unchanged" "$(invalid_now)" "$before"
inv0=$(stat_field invalid)
rule0=$(ipt_pkts FORWARD tcp-invalid)
check "segment 2^30 bytes beyond the window (seq 1006 + 2^30)" \
    c2s --sport 41002 --dport 7102 --flags PA --seq $((1006 + 1073741824)) --ack 5001 --window 502 --payload oow
rule_moved() { [ "$(ipt_pkts FORWARD tcp-invalid)" != "$rule0" ]; }
wait_for 3 rule_moved
sleep 0.3
check_eq "out-of-window: invalid column +1" "$(( $(stat_field invalid) - inv0 ))" 1
check_eq "out-of-window: the --state INVALID rule matched it once" \
    "$(( $(ipt_pkts FORWARD tcp-invalid) - rule0 ))" 1
ct_check "out-of-window segment left the entry ESTABLISHED [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ ESTABLISHED $(re "$K")$(re "$R")\[ASSURED\] mark=0 use=[0-9]+\$"
ct_check_timeout "and its countdown at 5 days" "$K" "$EST_MIN" "$EST_MAX"

inv0=$(stat_field invalid)
check "SYN+FIN on the same connection (invalid flag combination)" \
    c2s --sport 41002 --dport 7102 --flags SF --seq 1006 --ack 5001
sleep 0.5
check_eq "SYN+FIN: invalid column +1" "$(( $(stat_field invalid) - inv0 ))" 1

step "crafted RST on the established connection -> CLOSE"
check "RST 41002 -> 7102 (seq 1006, what the server acknowledged)" \
    c2s --sport 41002 --dport 7102 --flags RA --seq 1006 --ack 5001 --window 0
wait_for 3 ct_present "$K" " CLOSE "
ct_check "after the RST: CLOSE, still [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ CLOSE $(re "$K")$(re "$R")\[ASSURED\] mark=0 use=[0-9]+\$"
ct_check_timeout "CLOSE counts down from 10 s" "$K" 5 10

# ---------------------------------------------------------------------------
step "crafted refusal: RST answering a SYN deletes the entry"
K=$(ct_tuple "$C" "$S" 41004 7104)
R=$(ct_tuple "$S" "$C" 7104 41004)
check "SYN 41004 -> 7104 (seq 3000)" c2s --sport 41004 --dport 7104 --flags S --seq 3000
wait_for 3 ct_present "$K"
ct_check "SYN_SENT [UNREPLIED] before the answer" "$K" \
    "^tcp +6 [0-9]+ SYN_SENT $(re "$K")\[UNREPLIED\] $(re "$R")mark=0 use=[0-9]+\$"
check "RST/ACK 7104 -> 41004 (seq 0, ack 3001)" \
    s2c --sport 7104 --dport 41004 --flags RA --seq 0 --ack 3001 --window 0
# CLOSE would keep it 10 s; gone within 2 s means deleted.
ct_check_gone "entry deleted at once (not kept in CLOSE)" 2 "$K"

# ---------------------------------------------------------------------------
step "real stack: handshake -> ESTABLISHED [ASSURED]; SO_LINGER 0 close -> RST -> CLOSE"
K=$(ct_tuple "$C" "$S" 40001 8001)
R=$(ct_tuple "$S" "$C" 8001 40001)
in_server nc -l -p 8001 < /dev/null > /dev/null 2>&1 &
srv=$!
wait_listen "$SERVER_NS" 8001 tcp
ip netns exec "$CLIENT_NS" socat -u "TCP:$S:8001,sourceport=40001,linger=0" OPEN:/dev/null &
cli=$!
wait_for 5 ct_present "$K" ESTABLISHED
ct_check "nc/socat connection: ESTABLISHED [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ ESTABLISHED $(re "$K")$(re "$R")\[ASSURED\] mark=0 use=[0-9]+\$"
ct_check_timeout "ESTABLISHED counts down from 5 days" "$K" "$EST_MIN" "$EST_MAX"
kill -9 "$cli" 2> /dev/null
bg_wait 5 "$cli"
wait_for 5 ct_present "$K" " CLOSE "
ct_check "client killed with SO_LINGER 0 (RST): CLOSE [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ CLOSE $(re "$K")$(re "$R")\[ASSURED\] mark=0 use=[0-9]+\$"
ct_check_timeout "CLOSE counts down from 10 s" "$K" 5 10
bg_wait 5 "$srv"

# ---------------------------------------------------------------------------
step "real stack: orderly FIN close -> TIME_WAIT, gone after a short timeout"
TW=8
ct_set_timeout "short TIME_WAIT timeout" tcp_timeout_time_wait "$TW"
K=$(ct_tuple "$C" "$S" 40002 8002)
R=$(ct_tuple "$S" "$C" 8002 40002)
printf 'reply\n' | in_server nc -N -l -p 8002 > /tmp/fin.srv 2>&1 &
srv=$!
wait_listen "$SERVER_NS" 8002 tcp
got=$(printf 'request\n' | in_client nc -N -w 5 -p 40002 "$S" 8002 2>&1)
bg_wait 10 "$srv"
check_eq "exchange: client got the reply" "$got" reply
check_eq "exchange: server got the request" "$(cat /tmp/fin.srv)" request
wait_for 3 ct_present "$K" TIME_WAIT
t_tw=$(now_ms)
ct_check "after FIN, FIN, ACK: TIME_WAIT [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ TIME_WAIT $(re "$K")$(re "$R")\[ASSURED\] mark=0 use=[0-9]+\$"
ct_check_timeout "TIME_WAIT counts down from $TW s" "$K" $((TW - 3)) "$TW"
ct_check_gone "TIME_WAIT entry gone within $TW s + 4 s" $((TW + 4)) "$K"
gone_after=$(( $(now_ms) - t_tw ))
if [ "$gone_after" -ge $(( (TW - 3) * 1000 )) ]; then
    pass "TIME_WAIT entry lived its timeout (gone ${gone_after} ms after it was seen)"
else
    fail "TIME_WAIT entry vanished early (${gone_after} ms after it was seen, timeout $TW s)"
fi

# ---------------------------------------------------------------------------
step "real stack: refused connection leaves no entry"
K=$(ct_tuple "$C" "$S" 40003 8003)
check_fails "nc to a closed port is refused" in_client nc -w 3 -p 40003 "$S" 8003
ct_check_gone "no entry left for the refused connection" 2 "$K"

# ---------------------------------------------------------------------------
step "bulk transfer, $XFER bytes, window scaling, through --state INVALID -j DROP"
check_eq "client: window scaling on" "$(in_client cat /proc/sys/net/ipv4/tcp_window_scaling)" 1
check_eq "server: window scaling on" "$(in_server cat /proc/sys/net/ipv4/tcp_window_scaling)" 1
K=$(ct_tuple "$C" "$S" 40004 8004)
inv0=$(stat_field invalid)
rule0=$(ipt_pkts FORWARD tcp-invalid)
head -c "$XFER" /dev/zero | in_server nc -N -l -p 8004 > /dev/null 2>&1 &
srv=$!
wait_listen "$SERVER_NS" 8004 tcp
t0=$(now_ms)
(in_client nc -d -w 20 -p 40004 "$S" 8004 | wc -c > /tmp/xfer.count) &
cli=$!
# ss shows the negotiated scale factors while the connection is up.
ssout=
if wait_for 10 sh -c "ip netns exec $CLIENT_NS ss -tin 'sport = :40004' | grep -q 'wscale:'"; then
    ssout=$(in_client ss -tin 'sport = :40004' 2>&1)
fi
bg_wait 90 "$cli"
t1=$(now_ms)
bg_wait 10 "$srv"
check_match "connection negotiated window scaling (ss: wscale:S,R)" "$ssout" 'wscale:[1-9][0-9]*,[1-9][0-9]*'
check_eq "client received all $XFER bytes" "$(tr -d ' ' < /tmp/xfer.count)" "$XFER"
ms=$((t1 - t0))
echo "transfer: $XFER bytes in $ms ms ($(( XFER / 1024 * 1000 / (ms + 1) / 1024 )) MiB/s)"
check_eq "no INVALID packet during the transfer (invalid column)" "$(( $(stat_field invalid) - inv0 ))" 0
check_eq "no packet dropped by the --state INVALID rule" "$(( $(ipt_pkts FORWARD tcp-invalid) - rule0 ))" 0
wait_for 3 ct_present "$K" TIME_WAIT
ct_check "transfer connection closed into TIME_WAIT [ASSURED]" "$K" \
    "^tcp +6 [0-9]+ TIME_WAIT $(re "$K")$(re "$(ct_tuple "$S" "$C" 8004 40004)")\[ASSURED\] mark=0 use=[0-9]+\$"

# ---------------------------------------------------------------------------
ct_finish
step "teardown"
check "flush the router's FORWARD chain" "$IPT" -F FORWARD
topo_down
check "rmmod ip_conntrack with entries in the table" rmmod ip_conntrack
kmemleak_check
