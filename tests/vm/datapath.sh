# The data path: connections crossing the router (and loopback traffic on
# it) get entries in /proc/net/ip_conntrack with the right state and
# flags; the count agrees with the list; rmmod under traffic works, 20
# times; nothing leaks (kmemleak, on the debug kernel).
# vm-debug: yes
. /usr/lib/ipct/lib.sh

TABLE=/proc/net/ip_conntrack
COUNT=/proc/sys/net/ipv4/netfilter/ip_conntrack_count
C=$CLIENT_IP
S=$SERVER_IP

# table_line ERE: the first line of the table matching ERE.
table_line() {
    grep -E -- "$1" "$TABLE" | head -n 1
}

check "topology up" topo_up
check "modprobe ip_conntrack" modprobe ip_conntrack

step "TCP: an open connection through the router is ESTABLISHED and ASSURED"
in_server nc -l -p 5001 > /dev/null 2>&1 &
srv=$!
wait_listen "$SERVER_NS" 5001 tcp
# The client keeps the connection open for a few seconds.
(echo hello; sleep 4) | in_client nc -w 6 "$S" 5001 > /dev/null 2>&1 &
cli=$!
sleep 1
line=$(table_line "dport=5001 ")
check_match "tcp line: proto, number, countdown, state, original tuple" "$line" \
    "^tcp +6 [0-9]+ ESTABLISHED src=$C dst=$S sport=[0-9]+ dport=5001 "
check_match "tcp line: reply tuple, ASSURED, use count" "$line" \
    " src=$S dst=$C sport=5001 dport=[0-9]+ \[ASSURED\] (mark=[0-9]+ )?use=[0-9]+\$"
check_no_match "tcp line: not UNREPLIED" "$line" 'UNREPLIED'
secs=$(printf '%s\n' "$line" | awk '{ print $3 }')
check_match "established countdown is near 5 days ($secs s)" "$secs" '^43[0-9]{4}$'
wait "$cli" "$srv" 2>/dev/null

step "TCP: a SYN nobody answers is SYN_SENT and UNREPLIED"
# The server namespace drops it, after the router confirmed the entry.
check "server drops port 5002" in_server iptables -A INPUT -p tcp --dport 5002 -j DROP
in_client nc -w 2 -z "$S" 5002 > /dev/null 2>&1
line=$(table_line "dport=5002 ")
check_match "SYN_SENT line" "$line" \
    "^tcp +6 [0-9]+ SYN_SENT src=$C dst=$S sport=[0-9]+ dport=5002 \[UNREPLIED\] src=$S dst=$C sport=5002 "
check_no_match "SYN_SENT line: not ASSURED" "$line" 'ASSURED'
in_server iptables -D INPUT -p tcp --dport 5002 -j DROP

step "UDP one way is UNREPLIED"
check "server drops UDP port 5003" in_server iptables -A INPUT -p udp --dport 5003 -j DROP
echo one-way | in_client nc -u -w 1 "$S" 5003 > /dev/null 2>&1
line=$(table_line "dport=5003 ")
check_match "udp line" "$line" \
    "^udp +17 (2[0-9]|30) src=$C dst=$S sport=[0-9]+ dport=5003 \[UNREPLIED\] src=$S dst=$C sport=5003 dport=[0-9]+ (mark=[0-9]+ )?use=[0-9]+\$"
in_server iptables -D INPUT -p udp --dport 5003 -j DROP

step "UDP both ways is replied"
reply=$(udp_exchange 5004 ping pong)
check_eq "udp exchange works" "$reply" pong
line=$(table_line "dport=5004 ")
check_match "udp two-way line has no UNREPLIED" "$line" "^udp +17 [0-9]+ src=$C dst=$S sport=[0-9]+ dport=5004 src=$S "

step "ICMP echo"
check "ping through the router" in_client ping -c 1 -W 2 "$S"
line=$(table_line "^icmp .* src=$C dst=$S type=8 ")
check_match "icmp line" "$line" \
    "^icmp +1 (2[0-9]|30) src=$C dst=$S type=8 code=0 id=[0-9]+ src=$S dst=$C type=0 code=0 id=[0-9]+ (mark=[0-9]+ )?use=[0-9]+\$"

step "loopback traffic on the router"
check "ping 127.0.0.1" ping -c 1 -W 2 127.0.0.1
line=$(table_line "^icmp .* src=127\.0\.0\.1 dst=127\.0\.0\.1 type=8 ")
check_match "loopback icmp entry" "$line" "src=127\.0\.0\.1 dst=127\.0\.0\.1 type=0 code=0"
check_eq "one entry for the looped-back ping (tracked once)" \
    "$(grep -cE 'src=127\.0\.0\.1 dst=127\.0\.0\.1 type=8' "$TABLE")" 1

step "fragments are reassembled before tracking"
# invalid_total: the invalid column of /proc/net/stat/ip_conntrack, summed.
invalid_total() {
    tail -n +2 /proc/net/stat/ip_conntrack | awk '{ s += ("0x" $5) + 0 } END { print s + 0 }'
}
before=$(invalid_total)
check "a 3000-byte ping crosses the router in fragments" in_client ping -c 1 -s 3000 -W 2 "$S"
ip link set lo mtu 1500
check "a 3000-byte ping on the router's loopback (fragmented)" ping -c 1 -s 3000 -W 2 127.0.0.1
ip link set lo mtu 65536
check_eq "no fragment was counted INVALID" "$(invalid_total)" "$before"

step "ICMP errors the router generates are RELATED (nf_ct_attach)"
check "OUTPUT: RELATED time-exceeded accepted" \
    iptables -A OUTPUT -p icmp --icmp-type time-exceeded -m state --state RELATED -j ACCEPT
check "OUTPUT: any other time-exceeded dropped" \
    iptables -A OUTPUT -p icmp --icmp-type time-exceeded -j DROP
in_client ping -c 1 -t 1 -W 1 "$S" > /dev/null 2>&1
related=$(iptables -L OUTPUT -v -n -x | awk '/RELATED/ { print $1 }')
check_eq "the router's time-exceeded error matched --state RELATED" "${related:-0}" 1
iptables -F OUTPUT

step "the count agrees with the list"
lines=$(wc -l < "$TABLE")
check_eq "ip_conntrack_count = number of lines ($lines)" "$(cat "$COUNT")" "$lines"
stat=$(sed -n 2p /proc/net/stat/ip_conntrack | awk '{ print $1 }')
check_eq "/proc/net/stat/ip_conntrack entries = lines" "$((0x${stat:-0}))" "$lines"

step "entries are per namespace"
check_eq "the client namespace has its own table (its pings only)" \
    "$(in_client grep -c "dst=$ROUTER_CLIENT_IP" "$TABLE")" 0
check_match "the client namespace saw its flows" "$(in_client cat "$TABLE")" "src=$C dst=$S"

step "rmmod under traffic, 20 times"
in_client ping -i 0.05 -W 1 "$S" > /dev/null 2>&1 &
pinger=$!
in_server nc -l -p 5010 > /dev/null 2>&1 &
sink=$!
wait_listen "$SERVER_NS" 5010 tcp
# A paced stream (a bulk transfer would starve the emulated CPUs).
in_client sh -c "while :; do echo data; sleep 0.02; done | nc $S 5010" > /dev/null 2>&1 &
source=$!
sleep 1
i=1
broken=
while [ "$i" -le 20 ]; do
    if ! out=$(rmmod ip_conntrack 2>&1); then
        broken="rmmod #$i failed: $out"
        break
    fi
    if ! out=$(modprobe ip_conntrack 2>&1); then
        broken="modprobe #$i failed: $out"
        break
    fi
    sleep 0.2
    i=$((i + 1))
done
if [ -z "$broken" ]; then
    pass "rmmod and modprobe 20 times under traffic"
else
    fail "$broken"
fi
check "the transfer is still tracked after the reloads" grep -q "dport=5010 " "$TABLE"
kill "$pinger" "$source" "$sink" 2>/dev/null
wait 2>/dev/null
check "rmmod at the end" rmmod ip_conntrack
check_fails "ip_conntrack is gone" mod_loaded ip_conntrack
topo_down

kmemleak_check
