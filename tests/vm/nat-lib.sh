# Helpers for the NAT scenarios: a home router between a LAN and its ISP,
# with either tracker behind the same rules. POSIX sh (dash in the guest),
# sourced after lib.sh and ct.sh:
#
#   . /usr/lib/ipct/lib.sh
#   . /usr/lib/ipct/ct.sh
#   . /usr/lib/ipct/nat-lib.sh
#
# Topology (nat_topo_up), one namespace per box:
#
#   h1  eth0 192.0.2.2 <-veth-> lan0 \   rt: 192.0.2.1 on lan0 and lan1
#                                     >  (proxy ARP: the hosts see one /24),
#   h2  eth0 192.0.2.3 <-veth-> lan1 /   wan 203.0.113.1, default via srv
#                                        |
#   srv eth0 203.0.113.2 <-veth-> wan ---+   no route to 192.0.2.0/24;
#       isp0 198.51.100.1/24, MTU 1280: the ISP's next hop (srv forwards,
#       so TTL-limited and oversized DF packets get ICMP errors from it).
#
# The test kernel has no bridge or macvlan, so the LAN is two point-to-
# point links and the router answers ARP for either host on the other's.
#
# NAT_WITH picks the tracker: ip_conntrack (the default: our module and
# its nat table) or nf_conntrack (the kernel's nf_conntrack, nf_nat,
# iptable_nat and the xt targets: the reference).

NAT_WITH=${NAT_WITH:-ip_conntrack}
H1=192.0.2.2
H2=192.0.2.3
RT_LAN=192.0.2.1
RT_WAN=203.0.113.1
SRV=203.0.113.2
FAR=198.51.100.9
NAT_NS="h1 h2 rt srv"
# Background servers, killed by nat_stop.
NAT_BG=

# on NS CMD [ARG...]: run CMD in namespace NS.
on() {
    _ns=$1
    shift
    ip netns exec "$_ns" "$@"
}

# ---- tracker --------------------------------------------------------------

# nat_tracker_up: load the tracker NAT_WITH names, as a check; sets
# NAT_CT and NAT_STAT (its table and statistics files).
nat_tracker_up() {
    case $NAT_WITH in
        ip_conntrack)
            NAT_CT=/proc/net/ip_conntrack
            NAT_STAT=/proc/net/stat/ip_conntrack
            check "modprobe ip_conntrack" modprobe ip_conntrack
            ;;
        nf_conntrack)
            NAT_CT=/proc/net/nf_conntrack
            NAT_STAT=/proc/net/stat/nf_conntrack
            for _m in nf_conntrack nf_nat iptable_nat xt_nat xt_MASQUERADE xt_REDIRECT xt_state; do
                check "modprobe $_m" modprobe "$_m"
            done
            ;;
        *)
            fail "NAT_WITH must be ip_conntrack or nf_conntrack, got '$NAT_WITH'"
            exit 1
            ;;
    esac
}

# nat_ct: the router's table. nat_ct_line ERE: its lines matching ERE.
nat_ct() {
    on rt cat "$NAT_CT"
}

nat_ct_line() {
    nat_ct | grep -E -- "$1"
}

# nat_ct_check DESC ERE: some line of the router's table matches ERE.
nat_ct_check() {
    check_match "$1" "$(nat_ct)" "$2"
}

# nat_stat NAME: column NAME of the router's statistics (hex per CPU row),
# summed, in decimal.
nat_stat() {
    on rt cat "$NAT_STAT" | awk -v name="$1" '
        function hex(s,   i, v) {
            v = 0
            s = tolower(s)
            for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
            return v
        }
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
        col && NF >= col { sum += hex($col); rows++ }
        END { if (!rows) exit 1; printf "%d\n", sum }'
}

# ---- topology -------------------------------------------------------------

# nat_link NS_A IF_A NS_B IF_B: a veth pair between two namespaces, up.
nat_link() {
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3" &&
    ip -n "$1" link set "$2" up &&
    ip -n "$3" link set "$4" up
}

# nat_topo_up: the namespaces and links drawn at the top.
nat_topo_up() {
    for _ns in $NAT_NS; do
        ip netns add "$_ns" && ip -n "$_ns" link set lo up || return 1
    done
    nat_link h1 eth0 rt lan0 &&
    nat_link h2 eth0 rt lan1 &&
    nat_link srv eth0 rt wan &&
    nat_link srv isp0 srv isp1 &&
    ip -n h1 addr add "$H1/24" dev eth0 &&
    ip -n h1 route add default via "$RT_LAN" &&
    ip -n h2 addr add "$H2/24" dev eth0 &&
    ip -n h2 route add default via "$RT_LAN" &&
    ip -n rt addr add "$RT_LAN/32" dev lan0 &&
    ip -n rt addr add "$RT_LAN/32" dev lan1 &&
    ip -n rt route add "$H1/32" dev lan0 &&
    ip -n rt route add "$H2/32" dev lan1 &&
    ip -n rt addr add "$RT_WAN/24" dev wan &&
    ip -n rt route add default via "$SRV" &&
    on rt sysctl -qw net.ipv4.ip_forward=1 \
        net.ipv4.conf.lan0.proxy_arp=1 net.ipv4.conf.lan1.proxy_arp=1 &&
    ip -n srv addr add "$SRV/24" dev eth0 &&
    ip -n srv addr add 198.51.100.1/24 dev isp0 &&
    ip -n srv link set isp0 mtu 1280 &&
    ip -n srv neigh add "$FAR" lladdr 02:00:00:00:00:09 dev isp0 nud permanent &&
    on srv sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
}

# nat_firewall: the router's FORWARD policy, as a home router has it:
# DROP, but replies and related errors, new connections from the LAN to
# the WAN, and the forwarded port (from the WAN and, hairpinned, from the
# LAN). IPT picks the front end.
nat_firewall() {
    check "FORWARD policy DROP" on rt "$IPT" -P FORWARD DROP
    check "ESTABLISHED,RELATED accepted" on rt "$IPT" -A FORWARD \
        -m state --state ESTABLISHED,RELATED -m comment --comment estrel -j ACCEPT
    check "NEW from the LAN to the WAN accepted" on rt "$IPT" -A FORWARD -i lan+ -o wan \
        -m state --state NEW -m comment --comment lan-out -j ACCEPT
    check "NEW to the forwarded port accepted" on rt "$IPT" -A FORWARD -i wan -o lan+ \
        -d "$H1" -p tcp --dport 80 -m state --state NEW -m comment --comment fwd-in -j ACCEPT
    check "NEW hairpinned to the forwarded port accepted" on rt "$IPT" -A FORWARD -i lan+ -o lan+ \
        -d "$H1" -p tcp --dport 80 -m state --state NEW -m comment --comment fwd-hairpin -j ACCEPT
}

# ---- services and clients -------------------------------------------------

# nat_bg NS CMD...: start CMD in namespace NS in the background, to be
# stopped by nat_stop (ip netns exec execs CMD: $! is its pid).
nat_bg() {
    ip netns exec "$@" &
    NAT_BG="$NAT_BG $!"
}

# nat_stop: stop the background servers.
nat_stop() {
    for _p in $NAT_BG; do kill "$_p" 2> /dev/null; done
    for _p in $NAT_BG; do wait "$_p" 2> /dev/null; done
    NAT_BG=
}

# The answer of the peer servers: the client's address and port as the
# server sees them (socat sets SOCAT_PEER*), after NAT_TAG if set.
NAT_PEER=/tmp/nat-peer
nat_peer_script() {
    [ -x "$NAT_PEER" ] && return 0
    printf '%s\n' '#!/bin/sh' 'echo ${NAT_TAG:+$NAT_TAG }$SOCAT_PEERADDR:$SOCAT_PEERPORT' > "$NAT_PEER" &&
    chmod 0755 "$NAT_PEER"
}

# peer_tcp NS PORT [TAG]: a TCP server in NS answering every connection
# with "[TAG ]ADDR:PORT", the peer it sees.
peer_tcp() {
    nat_peer_script
    nat_bg "$1" env NAT_TAG="${3:-}" socat TCP-LISTEN:"$2",fork,reuseaddr EXEC:"$NAT_PEER"
    wait_listen "$1" "$2" tcp
}

# peer_udp NS PORT: the same for every UDP datagram.
peer_udp() {
    nat_peer_script
    nat_bg "$1" socat UDP-RECVFROM:"$2",fork EXEC:"$NAT_PEER"
    wait_listen "$1" "$2" udp
}

# ask_tcp NS DST PORT [SPORT]: connect, print what the server said.
ask_tcp() {
    on "$1" socat -T 8 -t 8 - "TCP:$2:$3,connect-timeout=5${4:+,sourceport=$4}" < /dev/null 2>&1
}

# ask_udp NS DST PORT SPORT: one datagram from SPORT, print the one reply
# (nothing after 4 s: the peer forks a shell per datagram, slow on a
# loaded debug kernel).
ask_udp() {
    echo probe | on "$1" nc -u -W 1 -w 4 -p "$4" "$2" "$3" 2>&1
}
