# vm-debug: yes
# Tracking is per network namespace: a flow crossing three namespaces
# (client, router, server) gets one entry in each, never a shared one;
# each namespace's /proc shows only its own (/proc/net/nf_conntrack too,
# the same entries in 6.12's layout); a `--state INVALID -j DROP`
# firewall inside a container namespace drops nothing of its ordinary
# traffic; deleting a namespace frees its entries.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

check "topology up" topo_up
check "modprobe ip_conntrack" modprobe ip_conntrack

# count_in NS: entries in NS's table (root namespace when NS is "-").
count_in() {
    if [ "$1" = - ]; then
        grep -c . /proc/net/ip_conntrack
    else
        ip netns exec "$1" grep -c . /proc/net/ip_conntrack
    fi
}

step "every namespace starts empty"
check_eq "router table empty" "$(count_in -)" 0
check_eq "client table empty" "$(count_in "$CLIENT_NS")" 0
check_eq "server table empty" "$(count_in "$SERVER_NS")" 0

step "stateful firewalls inside the client and server namespaces"
for ns in "$CLIENT_NS" "$SERVER_NS"; do
    check "$ns: INVALID dropped on INPUT" ip netns exec "$ns" iptables -A INPUT -m state --state INVALID -j DROP
    check "$ns: INVALID dropped on OUTPUT" ip netns exec "$ns" iptables -A OUTPUT -m state --state INVALID -j DROP
done

step "traffic through all three namespaces"
check "ping client -> server" in_client ping -c 2 -W 2 "$SERVER_IP"
got=$(tcp_exchange 7301 hello-from-client hello-from-server)
check_eq "TCP exchange through the router" "$got" hello-from-server
check_eq "server got the client's message" "$(cat /tmp/tcp-server.7301)" hello-from-client
got=$(udp_exchange 7302 ping-udp pong-udp)
check_eq "UDP exchange through the router" "$got" pong-udp

invalid_drops() {
    ip netns exec "$1" iptables -L INPUT -v -n -x | awk '/INVALID/ { s += $1 } END { print s + 0 }'
}
check_eq "client firewall dropped no INVALID packet" "$(invalid_drops "$CLIENT_NS")" 0
check_eq "server firewall dropped no INVALID packet" "$(invalid_drops "$SERVER_NS")" 0

step "one entry per namespace for the same flow"
NETNS_NORM='s/^([a-z]+ +[0-9]+ )[0-9]+ /\1T /; s/ use=[0-9]+$//'
for ns in - "$CLIENT_NS" "$SERVER_NS"; do
    if [ "$ns" = - ]; then
        table=$(cat /proc/net/ip_conntrack)
        where=router
    else
        table=$(ip netns exec "$ns" cat /proc/net/ip_conntrack)
        where=$ns
    fi
    check_eq "$where: exactly one line for the TCP flow" \
        "$(printf '%s\n' "$table" | grep -c "dport=7301 ")" 1
    check_match "$where: the TCP flow is assured" "$table" "dport=7301 .*\[ASSURED\]"
    check_match "$where: the ICMP flow is there" "$table" "^icmp +1 .*src=$CLIENT_IP dst=$SERVER_IP type=8 "
    # 6.12's file lists the same entries (seconds left and use= aside:
    # read at another instant, and 6.12's counts its reader).
    nf=$(if [ "$ns" = - ]; then cat /proc/net/nf_conntrack; else ip netns exec "$ns" cat /proc/net/nf_conntrack; fi)
    check_eq "$where: /proc/net/nf_conntrack lists the same entries" \
        "$(printf '%s\n' "$nf" | sed -E 's/^ipv4     2 //' | sed -E "$NETNS_NORM" | sort)" \
        "$(printf '%s\n' "$table" | sed -E "$NETNS_NORM" | sort)"
done
router_count=$(count_in -)
check_eq "router count sysctl matches its table" "$(cat /proc/sys/net/ipv4/netfilter/ip_conntrack_count)" "$router_count"

step "loopback traffic in a namespace stays in that namespace"
before=$(count_in -)
check "client pings itself" in_client ping -c 1 -W 2 "$CLIENT_IP"
check_match "client table has the loopback echo" "$(ip netns exec "$CLIENT_NS" cat /proc/net/ip_conntrack)" \
    "src=$CLIENT_IP dst=$CLIENT_IP type=8 "
check_eq "router table did not grow" "$(count_in -)" "$before"

step "deleting the namespaces frees their entries and rules"
ip netns del "$SERVER_NS"
ip netns del "$CLIENT_NS"
check_eq "router table unchanged by the deletions" "$(count_in -)" "$before"
# The namespaces' rules pin the module until the kernel has finished
# tearing the namespaces down (asynchronously).
check "rmmod ip_conntrack once the namespaces are gone" wait_for 20 rmmod ip_conntrack
kmemleak_check
