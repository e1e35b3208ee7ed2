# The classic sysctls: every knob readable with its default, writable ones
# vm-debug: yes
# take valid values and refuse bad ones (old value kept), read-only ones
# refuse writes, ip_conntrack_max is honoured (early drop, then drops).
. /usr/lib/ipct/lib.sh

NF=/proc/sys/net/ipv4/netfilter
IPV4_MAX=/proc/sys/net/ipv4/ip_conntrack_max
STAT=/proc/net/stat/ip_conntrack
TABLE=/proc/net/ip_conntrack

# knob NAME DEFAULT MIN MAX: the writable knobs (ranges as in src/kmod/sysctl.rs).
WRITABLE="
ip_conntrack_checksum 1 0 1
ip_conntrack_log_invalid 0 0 255
ip_conntrack_tcp_loose 1 0 1
ip_conntrack_tcp_be_liberal 0 0 1
ip_conntrack_tcp_max_retrans 3 0 255
ip_conntrack_tcp_timeout_syn_sent 120 1 2147483647
ip_conntrack_tcp_timeout_syn_recv 60 1 2147483647
ip_conntrack_tcp_timeout_established 432000 1 2147483647
ip_conntrack_tcp_timeout_fin_wait 120 1 2147483647
ip_conntrack_tcp_timeout_close_wait 60 1 2147483647
ip_conntrack_tcp_timeout_last_ack 30 1 2147483647
ip_conntrack_tcp_timeout_time_wait 120 1 2147483647
ip_conntrack_tcp_timeout_close 10 1 2147483647
ip_conntrack_tcp_timeout_max_retrans 300 1 2147483647
ip_conntrack_udp_timeout 30 1 2147483647
ip_conntrack_udp_timeout_stream 120 1 2147483647
ip_conntrack_icmp_timeout 30 1 2147483647
ip_conntrack_generic_timeout 600 1 2147483647
ip_conntrack_acct 0 0 1
"
# The SCTP and DCCP timeouts: entries of the same table of timeouts as
# the ones above (same range, same handler), so their defaults and one
# write each of SCTP and DCCP are checked, not every range again.
SAME_RANGE="
ip_conntrack_sctp_timeout_established 210
ip_conntrack_dccp_timeout_open 43200
ip_conntrack_sctp_timeout_closed 10
ip_conntrack_sctp_timeout_cookie_wait 3
ip_conntrack_sctp_timeout_cookie_echoed 3
ip_conntrack_sctp_timeout_shutdown_sent 3
ip_conntrack_sctp_timeout_shutdown_recd 3
ip_conntrack_sctp_timeout_shutdown_ack_sent 3
ip_conntrack_sctp_timeout_heartbeat_sent 30
ip_conntrack_dccp_timeout_request 240
ip_conntrack_dccp_timeout_respond 480
ip_conntrack_dccp_timeout_partopen 480
ip_conntrack_dccp_timeout_closereq 64
ip_conntrack_dccp_timeout_closing 64
ip_conntrack_dccp_timeout_timewait 240
ip_conntrack_icmpv6_timeout 30
"
MAX_CAP=134217728

# A string of $1 copies of character $2.
repeat() {
    head -c "$1" /dev/zero | tr '\0' "$2"
}
OVERLONG_DIGITS=$(repeat 300 1)
OVERLONG_TEXT=$(repeat 5000 x)

# write FILE VALUE: VALUE and a newline in one write(2), as `echo` does;
# on failure dd names the error (dash's echo only says "I/O error"). A
# here-document, not a pipeline: this runs some 300 times, and each
# process counts on the debug kernel.
write() {
    _werr=$(dd of="$1" bs=64k iflag=fullblock 2>&1 >/dev/null <<EOF
$2
EOF
) && return 0
    # dd's first line names the error; the records counts follow.
    printf '%s\n' "${_werr%%
*}" >&2
    return 1
}

# refuses FILE VALUE DESC: writing VALUE fails with EINVAL, the value stays.
refuses() {
    _name=${1##*/}
    _before=$(cat "$1")
    if _err=$(write "$1" "$2" 2>&1); then
        fail "$_name: $3 accepted"
    else
        case $_err in
        *"Invalid argument"*) pass "$_name: $3 refused (EINVAL)" ;;
        *) fail "$_name: $3 refused, but not with EINVAL: $_err" ;;
        esac
    fi
    check_eq "$_name: value kept after $3" "$(cat "$1")" "$_before"
}

# hex_sum COLUMN: a column of the stat file (1 = entries, 11 = drop,
# 12 = early_drop) summed over the CPUs' rows.
hex_sum() {
    _col=$1
    _s=0
    while read -r _line; do
        set -- $_line
        eval "_v=\${$_col}"
        _s=$((_s + 0x$_v))
    done <<EOF
$(tail -n +2 "$STAT")
EOF
    echo "$_s"
}

check "modprobe ip_conntrack" modprobe ip_conntrack

step "every knob is readable and holds its default"
for name in ip_conntrack_max ip_conntrack_count ip_conntrack_buckets; do
    check_match "$name reads as a number" "$(cat "$NF/$name" 2>&1)" '^[0-9]+$'
done
check_eq "net.ipv4.ip_conntrack_max = net.ipv4.netfilter.ip_conntrack_max" \
    "$(cat "$IPV4_MAX")" "$(cat "$NF/ip_conntrack_max")"
buckets=$(cat "$NF/ip_conntrack_buckets")
default_max=$(cat "$NF/ip_conntrack_max")
check_eq "ip_conntrack_max defaults to 8 x ip_conntrack_buckets" "$default_max" "$((buckets * 8))"
while read -r name def min max; do
    [ -n "$name" ] || continue
    check_eq "$name = $def" "$(cat "$NF/$name" 2>&1)" "$def"
done <<EOF
$WRITABLE
EOF
while read -r name def; do
    [ -n "$name" ] || continue
    check_eq "$name = $def" "$(cat "$NF/$name" 2>&1)" "$def"
done <<EOF
$SAME_RANGE
EOF
for name in ip_conntrack_sctp_timeout_established ip_conntrack_dccp_timeout_open; do
    def=$(cat "$NF/$name")
    if write "$NF/$name" 1 && [ "$(cat "$NF/$name")" = 1 ] && write "$NF/$name" "$def"; then
        pass "$name takes 1 and its default back"
    else
        fail "$name takes 1 and its default back (reads '$(cat "$NF/$name")')"
    fi
    refuses "$NF/$name" 0 "0 (below the range)"
done
check_match "sysctl(8) reads a knob" "$(sysctl net.ipv4.netfilter.ip_conntrack_udp_timeout 2>&1)" \
    '^net\.ipv4\.netfilter\.ip_conntrack_udp_timeout = 30$'
count=$(ls "$NF" | grep -c '^ip_conntrack_')
check_eq "38 knobs under net.ipv4.netfilter" "$count" 38
missing=
for f in "$NF"/ip_conntrack_*; do
    name=$(basename "$f")
    [ "$(stat -c %a "$f")" = 644 ] && [ "$name" != ip_conntrack_max ] || continue
    printf '%s\n' "$WRITABLE" "$SAME_RANGE" | grep -q "^$name " || missing="$missing $name"
done
check_eq "every writable knob but ip_conntrack_max is in the list checked here" "$missing" ""

step "writable knobs take valid values (lowest, highest, other) and keep them"
while read -r name def min max; do
    [ -n "$name" ] || continue
    f=$NF/$name
    for v in "$min" "$max" "$(( (min + max) / 2 ))" "$def"; do
        if write "$f" "$v" 2>/dev/null && [ "$(cat "$f")" = "$v" ]; then
            pass "$name takes $v"
        else
            fail "$name takes $v (reads '$(cat "$f")')"
        fi
    done
done <<EOF
$WRITABLE
EOF
for v in 0 1 "$MAX_CAP" 4096 "$default_max"; do
    if write "$IPV4_MAX" "$v" 2>/dev/null && [ "$(cat "$IPV4_MAX")" = "$v" ] &&
        [ "$(cat "$NF/ip_conntrack_max")" = "$v" ]; then
        pass "ip_conntrack_max takes $v (both paths show it)"
    else
        fail "ip_conntrack_max takes $v (reads '$(cat "$IPV4_MAX")' / '$(cat "$NF/ip_conntrack_max")')"
    fi
done
check "sysctl -w net.ipv4.netfilter.ip_conntrack_max=5000" sysctl -w net.ipv4.netfilter.ip_conntrack_max=5000
check_eq "net.ipv4.ip_conntrack_max follows" "$(cat "$IPV4_MAX")" 5000
check "restore ip_conntrack_max" write "$IPV4_MAX" "$default_max"
check "surrounding blanks are fine" write "$NF/ip_conntrack_udp_timeout" "  31  "
check_eq "ip_conntrack_udp_timeout = 31" "$(cat "$NF/ip_conntrack_udp_timeout")" 31
write "$NF/ip_conntrack_udp_timeout" 30

step "bad values are refused with EINVAL and the old value kept"
while read -r name def min max; do
    [ -n "$name" ] || continue
    f=$NF/$name
    refuses "$f" -1 "-1"
    refuses "$f" abc "abc"
    refuses "$f" "" "an empty line"
    refuses "$f" " " "blanks only"
    refuses "$f" 12abc "12abc"
    refuses "$f" 99999999999999999999 "99999999999999999999"
    refuses "$f" "$OVERLONG_DIGITS" "300 digits"
    refuses "$f" "$OVERLONG_TEXT" "a 5000-character string"
    refuses "$f" "$((max + 1))" "$((max + 1)) (above the range)"
    [ "$min" -eq 0 ] || refuses "$f" "$((min - 1))" "$((min - 1)) (below the range)"
done <<EOF
$WRITABLE
ip_conntrack_max - 0 $MAX_CAP
EOF
refuses "$IPV4_MAX" -1 "-1"
refuses "$IPV4_MAX" abc "abc"
refuses "$IPV4_MAX" "" "an empty line"
refuses "$IPV4_MAX" " " "blanks only"
refuses "$IPV4_MAX" 12abc "12abc"
refuses "$IPV4_MAX" 99999999999999999999 "99999999999999999999"
refuses "$IPV4_MAX" "$OVERLONG_DIGITS" "300 digits"
refuses "$IPV4_MAX" "$OVERLONG_TEXT" "a 5000-character string"
refuses "$IPV4_MAX" "$((MAX_CAP + 1))" "$((MAX_CAP + 1)) (above the range)"

step "read-only knobs refuse writes"
for name in ip_conntrack_count ip_conntrack_buckets; do
    f=$NF/$name
    before=$(cat "$f")
    check_eq "$name is mode 0444" "$(stat -c %a "$f")" 444
    check_fails "writing $name fails" write "$f" 7
    check_fails "sysctl -w $name fails" sysctl -w "net.ipv4.netfilter.$name=7"
    check_eq "$name unchanged" "$(cat "$f")" "$before"
done

step "ip_conntrack_count and the stat file follow the table"
check "topology up" topo_up
ROUTER_MAC=$(router_mac "$ROUTER_CLIENT_IF")
SERVER_SIDE_MAC=$(router_mac "$ROUTER_SERVER_IF")
# Flows between two addresses nobody owns, injected into the router's two
# sides (AF_PACKET, past the namespaces' own hooks): only the router
# tracks them, and nobody answers but us. Static neighbours let the router
# send them on at once to a MAC nobody has (the namespaces drop them before
# their hooks): no packet waits for ARP holding an evicted entry, which
# would count until freed (as in Linux).
GHOST_CLIENT=192.0.2.77
GHOST_SERVER=198.51.100.77
check "static neighbours for the ghost addresses" sh -c "
    ip neigh add $GHOST_SERVER lladdr 02:00:00:00:00:77 dev $ROUTER_SERVER_IF nud permanent &&
    ip neigh add $GHOST_CLIENT lladdr 02:00:00:00:00:78 dev $ROUTER_CLIENT_IF nud permanent"

# send_flows FIRST_PORT N: N one-packet UDP flows GHOST_CLIENT ->
# GHOST_SERVER from source ports FIRST_PORT...
send_flows() {
    in_client sh -c '
        p=$1; end=$(($1 + $2))
        while [ "$p" -lt "$end" ]; do
            pkt --src "$3" --dst "$4" --proto udp --sport "$p" --dport 9 \
                --iface eth0 --dst-mac "$5" >/dev/null || exit 1
            p=$((p + 1))
        done' sh "$1" "$2" "$GHOST_CLIENT" "$GHOST_SERVER" "$ROUTER_MAC" &&
    sleep 0.3
}

# reply_flows FIRST_PORT N: GHOST_SERVER answers each of those flows.
reply_flows() {
    in_server sh -c '
        p=$1; end=$(($1 + $2))
        while [ "$p" -lt "$end" ]; do
            pkt --src "$3" --dst "$4" --proto udp --sport 9 --dport "$p" \
                --iface eth0 --dst-mac "$5" >/dev/null || exit 1
            p=$((p + 1))
        done' sh "$1" "$2" "$GHOST_SERVER" "$GHOST_CLIENT" "$SERVER_SIDE_MAC" &&
    sleep 0.3
}

count() {
    cat "$NF/ip_conntrack_count"
}

# reload ARGS: a fresh module (empty table, default settings).
reload() {
    rmmod ip_conntrack && modprobe ip_conntrack "$@"
}

check "ping client -> server" in_client ping -c 1 -W 2 "$SERVER_IP"
if grep -q "^icmp .*src=$CLIENT_IP dst=$SERVER_IP " "$TABLE"; then
    pass "the router tracks the ping (data path present)"
else
    fail "the router does not track a ping: no data path, ip_conntrack_max not checked"
    topo_down
    exit 1
fi
n=$(wc -l < "$TABLE")
check_eq "ip_conntrack_count = lines of $TABLE ($n)" "$(count)" "$n"
cpus=$(tail -n +2 "$STAT" | wc -l)
check_eq "the stat file's entries column = ip_conntrack_count on every row" \
    "$(hex_sum 1)" "$((n * cpus))"

step "ip_conntrack_max = N: N + k new flows leave at most N entries (early drop)"
# 16 buckets: every new flow finds an unassured victim within early drop's
# 8-bucket reach.
check "reload with hashsize=16" reload hashsize=16
check_eq "ip_conntrack_buckets = 16" "$(cat "$NF/ip_conntrack_buckets")" 16
check_eq "ip_conntrack_max = 128" "$(cat "$IPV4_MAX")" 128
N=24
K=12
check "ip_conntrack_max = $N" write "$IPV4_MAX" "$N"
check "send $N flows" send_flows 20000 "$N"
check_eq "$N entries" "$(count)" "$N"
early0=$(hex_sum 12)
drop0=$(hex_sum 11)
check "send $K more flows" send_flows 21000 "$K"
c=$(count)
if [ "$c" -le "$N" ]; then pass "count $c <= $N"; else fail "count $c > $N"; fi
check_eq "$TABLE has as many lines" "$(wc -l < "$TABLE")" "$c"
early=$(( $(hex_sum 12) - early0 ))
drops=$(( $(hex_sum 11) - drop0 ))
if [ "$early" -gt 0 ] && [ "$((early + drops))" -ge "$K" ]; then
    pass "$K new flows: $early early drops, $drops drops"
else
    fail "$K new flows: $early early drops, $drops drops (want early drops, and one of the two per flow)"
    ipct_show "$(cat "$STAT")"
fi

step "lowering ip_conntrack_max below the count flushes nothing"
before=$(count)
low=$((before / 2))
check "ip_conntrack_max = $low (count $before)" write "$IPV4_MAX" "$low"
sleep 1
check_eq "count unchanged" "$(count)" "$before"
check "send 4 more flows" send_flows 22000 4
c=$(count)
if [ "$c" -le "$before" ]; then pass "count $c did not grow"; else fail "count grew to $c"; fi

step "a full table of ASSURED entries drops new flows"
check "reload with hashsize=16" reload hashsize=16
A=8
check "ip_conntrack_max = $A" write "$IPV4_MAX" "$A"
check "send $A flows" send_flows 23000 "$A"
check "answer them" reply_flows 23000 "$A"
# UDP is ASSURED by a packet after the reply, 2 s after the first packet.
sleep 2.2
check "send again" send_flows 23000 "$A"
check_eq "$A ASSURED entries" "$(grep -c '^udp .*\[ASSURED\]' "$TABLE")" "$A"
klog_mark
drop0=$(hex_sum 11)
check "send 3 new flows" send_flows 24000 3
check_eq "still $A entries" "$(count)" "$A"
check_no_match "none of the new flows got in" "$(cat "$TABLE")" 'sport=2400[0-2] '
drops=$(( $(hex_sum 11) - drop0 ))
if [ "$drops" -ge 3 ]; then
    pass "drop counted $drops packets"
else
    fail "drop counted $drops packets, want >= 3"
    ipct_show "$(cat "$STAT")"
fi
check_match "the kernel log says so" "$(klog_new)" 'ip_conntrack: table full, dropping packet'
check "raise ip_conntrack_max" write "$IPV4_MAX" 128
check "send a new flow" send_flows 24000 1
check_match "it is tracked now" "$(cat "$TABLE")" 'sport=24000 dport=9 '
topo_down

step "unload"
check "rmmod ip_conntrack" rmmod ip_conntrack
check_fails "$NF/ip_conntrack_max is gone" test -e "$NF/ip_conntrack_max"
check_fails "$IPV4_MAX is gone" test -e "$IPV4_MAX"
kmemleak_check
