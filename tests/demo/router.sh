# The demo (scripts/demo.sh, `make demo`): the guest routes between a
# client and a server namespace with ip_conntrack loaded; a ping, a TCP
# and a UDP exchange cross it, then the module's table and limit are shown.
. /usr/lib/ipct/lib.sh

step "topology: client $CLIENT_IP -- router $ROUTER_CLIENT_IP / $ROUTER_SERVER_IP -- server $SERVER_IP"
check "namespaces, veth pairs, forwarding" topo_up

step "modprobe ip_conntrack"
check "modprobe ip_conntrack" modprobe ip_conntrack
lsmod | grep -E '^(Module|ip_conntrack|nf_defrag)' || true

step "ping client -> server"
in_client ping -c 3 -W 2 "$SERVER_IP"
check "ping through the router" test $? -eq 0

step "TCP (nc) client -> server:8080"
reply=$(tcp_exchange 8080 "hello over TCP from the client" "hello over TCP from the server")
echo "client sent:     hello over TCP from the client"
echo "server received: $(cat /tmp/tcp-server.8080)"
echo "client received: $reply"
check_eq "TCP exchange" "$reply" "hello over TCP from the server"

step "UDP (nc -u) client -> server:5353"
reply=$(udp_exchange 5353 "ping over UDP" "pong over UDP")
echo "client sent:     ping over UDP"
echo "server received: $(cat /tmp/udp-server.5353)"
echo "client received: $reply"
check_eq "UDP exchange" "$reply" "pong over UDP"

step "cat /proc/net/ip_conntrack"
cat /proc/net/ip_conntrack
check "table readable" test -r /proc/net/ip_conntrack

step "sysctl net.ipv4.ip_conntrack_max"
sysctl net.ipv4.ip_conntrack_max
check "limit readable" sysctl net.ipv4.ip_conntrack_max

step "rmmod ip_conntrack"
check "rmmod ip_conntrack" rmmod ip_conntrack
topo_down
