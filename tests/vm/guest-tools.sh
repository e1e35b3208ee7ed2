# The guest itself: the tools scenarios rely on are the real ones and work
# through the router (no ip_conntrack involved).
. /usr/lib/ipct/lib.sh

step "shell and tools"
check_eq "/bin/sh is dash" "$(readlink -f /bin/sh)" /usr/bin/dash
check_match "ip is iproute2" "$(ip -V 2>&1)" 'iproute2'
check_match "nc is OpenBSD netcat" "$(nc -h 2>&1)" 'OpenBSD netcat'
check "socat runs" socat -V
check_match "iptables is legacy" "$(iptables -V 2>&1)" 'legacy'
check "iptables-legacy lists the filter table" iptables-legacy -L -n
check "iptables-nft lists the filter table" iptables-nft -L -n
check "iptables-legacy loads an extension (comment)" \
    iptables-legacy -A INPUT -m comment --comment probe -j ACCEPT
check "iptables-legacy -D" iptables-legacy -D INPUT -m comment --comment probe -j ACCEPT
check "pkt runs" pkt --help
check "kmemleak-scan runs" "$KMEMLEAK_SCAN" 0

step "modprobe follows modules.dep"
for m in ip_conntrack nf_conntrack; do
    deps=$(mod_deps "$m")
    check "modprobe $m" modprobe "$m"
    for d in $deps; do
        check "$m pulled in its dependency $d" mod_loaded "$d"
    done
    check "modprobe -r $m" modprobe -r "$m"
done

step "router topology"
check "topology up" topo_up
check_match "ip netns lists both namespaces" "$(ip netns list)" "$CLIENT_NS"
check "client pings its router" in_client ping -c 1 -W 2 "$ROUTER_CLIENT_IP"
check "client pings the server through the router" in_client ping -c 2 -W 2 "$SERVER_IP"
reply=$(tcp_exchange 8080 "hello from the client" "hello from the server")
check_eq "TCP exchange: client got the reply" "$reply" "hello from the server"
check_eq "TCP exchange: server got the request" "$(cat /tmp/tcp-server.8080)" "hello from the client"
reply=$(udp_exchange 5353 ping pong)
check_eq "UDP exchange: client got the reply" "$reply" pong
check_eq "UDP exchange: server got the request" "$(cat /tmp/udp-server.5353)" ping
in_server socat -T 5 TCP-LISTEN:8081,reuseaddr SYSTEM:'echo socat-ok' &
wait_listen "$SERVER_NS" 8081 tcp
check_eq "socat TCP through the router" "$(in_client socat -T 5 - TCP:$SERVER_IP:8081 < /dev/null 2>&1)" socat-ok
wait

# enable_hooks has no sysfs file: see it work instead.
check "modprobe passes parameters (nf_conntrack enable_hooks=1)" modprobe nf_conntrack enable_hooks=1
check "ping with nf_conntrack's hooks active" in_client ping -c 1 -W 2 "$SERVER_IP"
check_match "enable_hooks=1 took effect: nf_conntrack tracked the ping" \
    "$(cat /proc/net/nf_conntrack 2>&1)" "icmp .*src=$CLIENT_IP dst=$SERVER_IP"
check "modprobe -r nf_conntrack" modprobe -r nf_conntrack

step "packet tool: crafted datagrams reach the server"
# udp_recv PORT: a server receiving one datagram into /tmp/pkt.PORT.
udp_recv() {
    in_server nc -u -l -p "$1" -W 1 > "/tmp/pkt.$1" 2>&1 &
    wait_listen "$SERVER_NS" "$1" udp
}
udp_recv 7001
check "raw socket UDP send" in_client pkt --src "$CLIENT_IP" --dst "$SERVER_IP" \
    --proto udp --sport 40001 --dport 7001 --payload raw-ok
wait
check_eq "server got the raw-socket datagram" "$(cat /tmp/pkt.7001)" raw-ok

mac=$(router_mac "$ROUTER_CLIENT_IF")
udp_recv 7002
check "AF_PACKET UDP send (--iface, router MAC $mac)" in_client pkt --iface "$NS_IF" \
    --dst-mac "$mac" --src "$CLIENT_IP" --dst "$SERVER_IP" --proto udp --sport 40002 \
    --dport 7002 --payload frame-ok
wait
check_eq "server got the AF_PACKET datagram" "$(cat /tmp/pkt.7002)" frame-ok

before=$(in_server awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $8 }' /proc/net/snmp)
udp_recv 7003
check "send a datagram with a bad checksum" in_client pkt --src "$CLIENT_IP" --dst "$SERVER_IP" \
    --proto udp --dport 7003 --payload bad --bad-csum
check "then a good one" in_client pkt --src "$CLIENT_IP" --dst "$SERVER_IP" \
    --proto udp --dport 7003 --payload good
wait
check_eq "server got only the good one" "$(cat /tmp/pkt.7003)" good
after=$(in_server awk '/^Udp:/ { n++ } /^Udp:/ && n == 2 { print $8 }' /proc/net/snmp)
check_eq "server counted one checksum error (InCsumErrors)" "$((after - before))" 1

check "a SYN with every flag letter is sent" in_client pkt --src "$CLIENT_IP" --dst "$SERVER_IP" \
    --flags FSRPAUEC --count 3
check "an ICMP error quoting an inner UDP header is sent" in_client pkt --src "$CLIENT_IP" \
    --dst "$SERVER_IP" --proto icmp --icmp-type 3 --icmp-code 3 --inner-proto udp
check "a fragment is sent" in_client pkt --src "$CLIENT_IP" --dst "$SERVER_IP" --proto udp \
    --mf --id 99 --payload-len 64
check_fails "an IHL beyond the packet is refused by the raw socket" in_client pkt \
    --src "$CLIENT_IP" --dst "$SERVER_IP" --ihl 15 --truncate 40
topo_down
