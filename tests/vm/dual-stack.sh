# A dual-stack router with a stateful firewall for both families.
# vm-debug: yes
#
# The firewall as a user would set it up: unmodified iptables/ip6tables
# (legacy, then nft) with policy DROP on INPUT and FORWARD, `-m state
# --state ESTABLISHED,RELATED -j ACCEPT`, `--state INVALID -j DROP` and
# neighbour discovery let in as UNTRACKED. Each front end runs twice in
# the same boot: under the kernel's nf_conntrack (the reference: same
# rules, the hooks its matches ask for) and under ip_conntrack. Every run
# asserts the outcomes (TCP, UDP, ping through; a NEW packet the filter
# drops leaves no entry; ICMPv6 port unreachable, packet too big and time
# exceeded RELATED; neighbour discovery works; a fragmented datagram is
# one entry; `-m conntrack --ctorigsrc` on IPv6 prefixes), then hostile
# IPv6 (extension header chains cut short or overlong, hop-by-hop not
# first, bad payload lengths, overlapping and lone fragments, ICMPv6
# errors quoting nothing known or cut short) is sent and counted. Both
# trackers' views are compared: every rule counter, what each hostile
# class changed (the tracker's invalid and icmp_error counts, the INVALID
# rule, the stack's discards, what was routed on), and the table as /proc/net/nf_conntrack and
# `conntrack -L -f ipv6` show it wherever both sides have that view.
#
# ip_conntrack runs both halves and both are compared. IPCT_IPV6=0
# leaves its IPv6 half out (scripts/vm-run.sh passes the variable to the
# guest), to tell an IPv4 failure from an IPv6 one. On the debug kernel only
# ip_conntrack's run with the legacy front end (its own checks, no
# reference, no comparison), then kmemleak.
#
# `scripts/vm-run.sh tests/vm/dual-stack.sh ref` runs the reference twice
# instead (the second run in ip_conntrack's place, IPv6 included): the
# views must then agree, which shows they do not depend on timing.
#
#   lan netns (client)         router netns                 server netns
#   eth0 192.0.2.2        <->  lan0 192.0.2.1
#        2001:db8::2/64             2001:db8::1/64
#                              srv0 198.51.100.1       <->  eth0 198.51.100.2
#                                   2001:db8:1::1/64  (MTU      2001:db8:1::2/64
#                                                      1280)
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

IPCT_IPV6=${IPCT_IPV6:-1}
# (`dual-stack.sh ipv6` sets it too, for runners that pass no variables.)
[ "${1:-}" != ipv6 ] || IPCT_IPV6=1

# The second run: ip_conntrack (its IPv6 half when IPCT_IPV6=1), or the
# reference again.
SECOND=ip_conntrack
V6_2=$IPCT_IPV6
if [ "${1:-}" = ref ]; then
    SECOND=nf_conntrack2
    V6_2=1
fi

OUT=/tmp/dual-stack
mkdir -p "$OUT"
ROUTER_NS=router
C4=$CLIENT_IP
S4=$SERVER_IP
C6=2001:db8::2
R6C=2001:db8::1
S6=2001:db8:1::2
# Nobody owns this one: the router reaches it through a static neighbour
# whose MAC nobody has, so hostile packets get no answers.
G6=2001:db8:1::77

FRONTENDS="legacy nft"
DEBUG=
if grep -q kmemleak /proc/cmdline; then
    DEBUG=1
    FRONTENDS=legacy
fi

in_router() { ip netns exec "$ROUTER_NS" "$@"; }

# ---- topology ----------------------------------------------------------------

topo6_up() {
    for ns in "$CLIENT_NS" "$ROUTER_NS" "$SERVER_NS"; do
        ip netns add "$ns" &&
            ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
                net.ipv6.conf.default.accept_dad=0 net.ipv6.icmp.ratelimit=0 || return 1
    done
    ip -n "$ROUTER_NS" -batch - <<EOF || return 1
link add lan0 type veth peer name eth0 netns $CLIENT_NS
link add srv0 type veth peer name eth0 netns $SERVER_NS
link set lo up
link set lan0 up
link set srv0 mtu 1280 up
address add 192.0.2.1/24 dev lan0
address add 198.51.100.1/24 dev srv0
address add $R6C/64 dev lan0 nodad
address add 2001:db8:1::1/64 dev srv0 nodad
neighbour add $G6 lladdr 02:00:00:00:00:77 dev srv0 nud permanent
EOF
    ip -n "$CLIENT_NS" -batch - <<EOF || return 1
link set lo up
link set eth0 up
address add $C4/24 dev eth0
address add $C6/64 dev eth0 nodad
route add default via 192.0.2.1
route add default via $R6C
EOF
    ip -n "$SERVER_NS" -batch - <<EOF || return 1
link set lo up
link set eth0 mtu 1280 up
address add $S4/24 dev eth0
address add $S6/64 dev eth0 nodad
route add default via 198.51.100.1
route add default via 2001:db8:1::1
EOF
    in_router sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
    # A process in the router's namespace: its /proc/PID/net is read
    # without a process per read (a simple command, so $! is its pid).
    ip netns exec "$ROUTER_NS" sleep 100000 > /dev/null 2>&1 &
    RPID=$!
    RNET=/proc/$RPID/net
    MAC_R=$(in_router cat /sys/class/net/lan0/address)
}

topo6_down() {
    kill "$RPID" 2> /dev/null
    wait "$RPID" 2> /dev/null
    for ns in "$CLIENT_NS" "$ROUTER_NS" "$SERVER_NS"; do
        ip netns del "$ns" 2> /dev/null
    done
    return 0
}

# ---- the firewall -------------------------------------------------------------

# Rules without a target only count (their comment names them). The
# state rules every user writes come first in each chain; ahead of them,
# count-only rules tell RELATED errors apart by type. In FORWARD no rule
# before the INVALID one names a protocol: ip6tables drops a packet whose
# extension headers it cannot walk at the first rule that does (hotdrop
# in ip6_packet_match), and the hostile packets must reach the tracker's
# verdict instead.
rules4() {
    cat <<'EOF'
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state ESTABLISHED,RELATED -m comment --comment in-estrel -j ACCEPT
-A INPUT -m state --state INVALID -m comment --comment in-invalid -j DROP
-A INPUT -i lan0 -p icmp --icmp-type echo-request -m state --state NEW -m comment --comment in-ping -j ACCEPT
-A FORWARD -m state --state ESTABLISHED,RELATED -m comment --comment fw-estrel -j ACCEPT
-A FORWARD -m state --state INVALID -m comment --comment fw-invalid -j DROP
-A FORWARD -i lan0 -p tcp --dport 9 -m state --state NEW -m comment --comment fw-blocked -j DROP
-A FORWARD -i lan0 -p tcp --dport 8100 -m state --state NEW -m comment --comment fw-tcp -j ACCEPT
-A FORWARD -i lan0 -p udp --dport 8101 -m state --state NEW -m comment --comment fw-udp -j ACCEPT
-A FORWARD -i lan0 -p icmp --icmp-type echo-request -m state --state NEW -m comment --comment fw-ping -j ACCEPT
COMMIT
EOF
}

rules6() {
    cat <<EOF
*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m state --state ESTABLISHED,RELATED -m comment --comment in-estrel -j ACCEPT
-A INPUT -m state --state INVALID -m comment --comment in-invalid -j DROP
-A INPUT -p ipv6-icmp -m state --state UNTRACKED -m comment --comment in-untracked -j ACCEPT
-A INPUT -i lan0 -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -m state --state NEW -m comment --comment in-ping -j ACCEPT
-A FORWARD -m state --state RELATED -m comment --comment fw-rel-unreach
-A FORWARD -m state --state ESTABLISHED,RELATED -m comment --comment fw-estrel -j ACCEPT
-A FORWARD -m state --state INVALID -m comment --comment fw-invalid -j DROP
-A FORWARD -m state --state UNTRACKED -m comment --comment fw-untracked
-A FORWARD -i lan0 -d $G6 -m state --state NEW -m comment --comment fw-new-hostile -j ACCEPT
-A FORWARD -i lan0 -p tcp --dport 9 -m state --state NEW -m comment --comment fw-blocked -j DROP
-A FORWARD -i lan0 -p tcp --dport 8000 -m state --state NEW -m comment --comment fw-tcp -j ACCEPT
-A FORWARD -i lan0 -p udp --dport 8001:8099 -m state --state NEW -m comment --comment fw-udp -j ACCEPT
-A FORWARD -i lan0 -p ipv6-icmp -m icmp6 --icmpv6-type echo-request -m state --state NEW -m comment --comment fw-ping -j ACCEPT
-A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type packet-too-big -m state --state RELATED -m comment --comment out-rel-ptb
-A OUTPUT -p ipv6-icmp -m icmp6 --icmpv6-type time-exceeded -m state --state RELATED -m comment --comment out-rel-ttl
-A OUTPUT -p ipv6-icmp -m state --state UNTRACKED -m comment --comment out-untracked
-A OUTPUT -m state --state INVALID -m comment --comment out-invalid
COMMIT
EOF
}

# rules6_ct: -m conntrack on IPv6 addresses, inserted after the first
# FORWARD rule by a second restore (a refusal then costs only these).
rules6_ct() {
    cat <<EOF
*filter
-I FORWARD 2 -m conntrack --ctstate ESTABLISHED --ctproto udp --ctorigdst $S6/128 --ctorigdstport 8001 --ctdir REPLY -m comment --comment fw-ct-udp-reply
-I FORWARD 2 -m conntrack --ctorigsrc 2001:db8:1::/64 -m comment --comment fw-ctorigsrc-srv
-I FORWARD 2 -m conntrack --ctorigsrc 2001:db8::/64 -m comment --comment fw-ctorigsrc-lan
COMMIT
EOF
}

# counters FE FAMILY: "FAMILY TAG PACKETS" for every commented rule.
counters() {
    _t=iptables
    [ "$2" = 4 ] || _t=ip6tables
    in_router "$_t-$1" -L -v -x -n | awk -v f="$2" '
        match($0, /\/\* [^ ]+ \*\//) { print f " " substr($0, RSTART + 3, RLENGTH - 6) " " $1 }'
}

# cnt FE FAMILY TAG: one rule's packet counter.
cnt() {
    counters "$1" "$2" | awk -v t="$3" '$2 == t { print $3; f = 1 } END { exit !f }'
}
# cnt_ge FE FAMILY TAG N: the counter has reached N.
cnt_ge() {
    _v=$(cnt "$1" "$2" "$3") && [ "$_v" -ge "$4" ]
}

# Counters of real traffic (their packet counts depend on timing and
# retransmissions) are compared as 0 / some; the others exactly.
EXACT=" fw-blocked fw-rel-unreach out-rel-ptb out-rel-ttl fw-invalid in-invalid out-invalid fw-ct-udp-reply fw-ctorigsrc-srv fw-untracked "
norm_counters() {
    awk -v exact="$EXACT" '{ v = $3; if (!index(exact, " " $2 " ") && v > 0) v = "some"; print $1 " " $2 " " v }'
}

# ---- the table, as each tracker shows it ------------------------------------

# view_proc: IPv6 lines of the router's /proc/net/nf_conntrack; status 1
# if the file does not exist. view_list: `conntrack -L -f ipv6`; status 1
# if it fails.
view_proc() {
    [ -r "$RNET/nf_conntrack" ] || return 1
    grep '^ipv6 ' "$RNET/nf_conntrack"
    return 0
}
view_list() {
    in_router conntrack -L -f ipv6 2> /dev/null
}
# norm_view: no timeouts, use=, mark=, ids; icmpv6 ids (ping's are the
# pid's) as id=*; sorted.
norm_view() {
    sed -E 's/^ipv6 +10 +//; s/ (use|mark|zone|secctx|id)=[0-9]+//g; s/^([a-z0-9-]+ +[0-9]+) [0-9]+ /\1 /; s/ +/ /g' |
        sed -E '/^icmpv6/ s/ id=[0-9]+/ id=*/g' | LC_ALL=C sort
}

# entries6 KEY: the number of IPv6 entries whose line contains KEY, from
# whichever view this tracker has; "n/a" when it has none.
entries6() {
    if _v=$(view_proc); then
        :
    elif _v=$(view_list); then
        :
    else
        echo n/a
        return
    fi
    printf '%s\n' "$_v" | tr -s ' ' | grep -cF -- "$1"
}
# entries4 KEY: the same for IPv4 (/proc/net/ip_conntrack under
# ip_conntrack, the ipv4 lines of /proc/net/nf_conntrack under the
# reference).
entries4() {
    if [ -r "$RNET/ip_conntrack" ]; then
        grep -cF -- "$1" "$RNET/ip_conntrack"
    else
        grep '^ipv4 ' "$RNET/nf_conntrack" | grep -cF -- "$1"
    fi
}

# check_entries DESC FAMILY KEY WANT: the number of entries with KEY
# (the description names the view it was read from).
check_entries() {
    _n=$(entries$2 "$3")
    if [ "$_n" = n/a ]; then
        echo "note: $T has no IPv6 table view (/proc/net/nf_conntrack, conntrack -L -f ipv6): '$1' not checked"
        return
    fi
    _view=/proc/net/nf_conntrack
    if [ "$2" = 4 ] && [ -r "$RNET/ip_conntrack" ]; then
        _view=/proc/net/ip_conntrack
    elif [ "$2" = 6 ] && [ ! -r "$RNET/nf_conntrack" ]; then
        _view="conntrack -L -f ipv6"
    fi
    check_eq "$T/$FE: $1 ($_view)" "$_n" "$4"
}

# ---- traffic ---------------------------------------------------------------------

# listening NS FILE PORT: a socket in NS, in /proc/net/FILE (tcp6, udp6,
# tcp, udp), bound to PORT (TCP: listening).
listening() {
    _hex=$(printf '%04X' "$3")
    _st=07
    case $2 in tcp*) _st=0A ;; esac
    ip netns exec "$1" cat "/proc/net/$2" |
        awk -v p=":$_hex" -v s="$_st" '$2 ~ p "$" && $4 == s { f = 1 } END { exit !f }'
}

# tcp_through FAMILY SRC DST SPORT DPORT: one nc connection with a line
# each way; prints the client's reply.
tcp_through() {
    echo "from-server" | in_server nc "-$1" -N -l -p "$5" > "$OUT/tcp.$5" 2>&1 &
    _srv=$!
    wait_for 5 listening "$SERVER_NS" "tcp${1#4}" "$5" || { kill "$_srv"; return 1; }
    echo "from-client" | in_client nc -N -w 5 -s "$2" -p "$4" "$3" "$5"
    bg_wait 10 "$_srv" > /dev/null && [ "$(cat "$OUT/tcp.$5")" = from-client ]
}

# udp_through FAMILY SRC DST SPORT DPORT: one datagram each way.
udp_through() {
    echo "answer" | in_server nc "-$1" -u -l -p "$5" -W 1 > "$OUT/udp.$5" 2>&1 &
    _srv=$!
    wait_for 5 listening "$SERVER_NS" "udp${1#4}" "$5" || { kill "$_srv"; return 1; }
    echo "query" | in_client nc -u -W 1 -w 5 -s "$2" -p "$4" "$3" "$5"
    bg_wait 10 "$_srv" > /dev/null && [ "$(cat "$OUT/udp.$5")" = query ]
}

# cpkt ARGS...: a packet from the client through its own stack (raw
# socket); fpkt ARGS...: a frame from the client straight to the router.
cpkt() { pkt --netns "$CLIENT_NS" "$@"; }
fpkt() { pkt --netns "$CLIENT_NS" --iface eth0 --dst-mac "$MAC_R" "$@"; }

# snmp6 NAME: a counter of the router's /proc/net/snmp6.
snmp6() {
    awk -v n="$1" '$1 == n { print $2 }' "$RNET/snmp6"
}

run_ipv4() {
    step "$T/$FE: IPv4 through the firewall"
    check "$T/$FE: TCP through" tcp_through 4 "$C4" "$S4" 41100 8100
    check "$T/$FE: UDP through" udp_through 4 "$C4" "$S4" 41101 8101
    check "$T/$FE: ping through" in_client ping -c 1 -W 2 "$S4"
    check "$T/$FE: the router answers ping" in_client ping -c 1 -W 2 192.0.2.1
    check "$T/$FE: a SYN to a closed port goes out" cpkt --src "$C4" --dst "$S4" --sport 41109 --dport 9
    check "$T/$FE: the filter counted it NEW" wait_for 5 cnt_ge "$FE" 4 fw-blocked 1
    check_entries "the SYN the filter dropped left no IPv4 entry" 4 "sport=41109 dport=9 " 0
    check_entries "the TCP connection is one IPv4 entry" 4 "sport=41100 dport=8100 " 1
}

run_ipv6() {
    step "$T/$FE: IPv6 through the firewall; neighbour discovery"
    check "$T/$FE: ping6 to the router (neighbour discovery to it)" in_client ping -6 -c 1 -W 2 "$R6C"
    check "$T/$FE: ping6 through (neighbour discovery on both links)" in_client ping -6 -c 1 -W 2 "$S6"
    check_match "$T/$FE: the router resolved the client" "$(in_router ip -6 neigh show dev lan0)" "^$C6 lladdr"
    check_match "$T/$FE: the router resolved the server" "$(in_router ip -6 neigh show dev srv0)" "^$S6 lladdr"
    check "$T/$FE: neighbour discovery to the router counted UNTRACKED" cnt_ge "$FE" 6 in-untracked 1
    check "$T/$FE: the router's own solicitations and advertisements UNTRACKED" cnt_ge "$FE" 6 out-untracked 1
    check "$T/$FE: TCP through" tcp_through 6 "$C6" "$S6" 41000 8000
    check "$T/$FE: UDP through" udp_through 6 "$C6" "$S6" 41001 8001
    check_entries "the TCP connection is one entry" 6 "sport=41000 dport=8000 " 1
    check_entries "the UDP exchange is one entry" 6 "sport=41001 dport=8001 " 1

    step "$T/$FE: IPv6: what the filter drops leaves nothing"
    check "$T/$FE: a SYN to a closed port goes out" cpkt --src "$C6" --dst "$S6" --sport 41009 --dport 9
    check "$T/$FE: the filter counted it NEW" wait_for 5 cnt_ge "$FE" 6 fw-blocked 1
    check_entries "the SYN the filter dropped left no entry" 6 "sport=41009 dport=9 " 0

    step "$T/$FE: ICMPv6 errors about tracked flows are RELATED"
    check "$T/$FE: UDP to a closed server port" cpkt --src "$C6" --dst "$S6" --proto udp --sport 41002 --dport 8002 --payload probe
    check "$T/$FE: the server's port unreachable is RELATED in FORWARD" wait_for 5 cnt_ge "$FE" 6 fw-rel-unreach 1
    # A one-way flow (to an address nobody answers: a flow that saw a
    # reply would become ASSURED or not depending on how fast this runs).
    U="--src $C6 --dst $G6 --proto udp --sport 41003 --dport 8003"
    check "$T/$FE: a datagram opens a UDP flow" cpkt $U --payload one
    check "$T/$FE: 1400 bytes on it (the server link's MTU is 1280)" cpkt $U --payload-len 1400
    check "$T/$FE: the router's packet too big is RELATED in OUTPUT" wait_for 5 cnt_ge "$FE" 6 out-rel-ptb 1
    check "$T/$FE: hop limit 1 on it" cpkt $U --ttl 1 --payload ttl
    check "$T/$FE: the router's time exceeded is RELATED in OUTPUT" wait_for 5 cnt_ge "$FE" 6 out-rel-ttl 1

    step "$T/$FE: a fragmented datagram is one entry"
    in_server nc -6 -u -l -p 8004 -W 1 > "$OUT/frag" 2>&1 &
    _srv=$!
    check "$T/$FE: the server listens" wait_for 5 listening "$SERVER_NS" udp6 8004
    printf -- '--frag-slice %s\n' 0:1000 1000:608 |
        fpkt --batch --src "$C6" --dst "$S6" --proto udp --sport 41004 --dport 8004 --id 9 --payload-len 1600
    bg_wait 5 "$_srv" > /dev/null
    check_eq "$T/$FE: the server got the whole datagram (bytes)" "$(wc -c < "$OUT/frag" | tr -d ' ')" 1600
    check_entries "the datagram is one entry" 6 "sport=41004 dport=8004 " 1

    step "$T/$FE: -m conntrack on IPv6 tuples"
    check "$T/$FE: --ctorigsrc 2001:db8::/64 matched the LAN's flows" cnt_ge "$FE" 6 fw-ctorigsrc-lan 1
    check_eq "$T/$FE: --ctorigsrc 2001:db8:1::/64 matched nothing" "$(cnt "$FE" 6 fw-ctorigsrc-srv)" 0
    check_eq "$T/$FE: --ctstate/--ctproto/--ctorigdst/--ctorigdstport/--ctdir REPLY matched the UDP answer" \
        "$(cnt "$FE" 6 fw-ct-udp-reply)" 1
    for c in in-invalid fw-invalid out-invalid fw-untracked; do
        check_eq "$T/$FE: nothing of this was INVALID or forwarded untracked ($c)" "$(cnt "$FE" 6 $c)" 0
    done
    if [ -r "$RNET/ip_conntrack" ]; then
        check_no_match "$T/$FE: /proc/net/ip_conntrack shows no IPv6 entry" "$(cat "$RNET/ip_conntrack")" 'src=[0-9a-f]*:'
        check_match "$T/$FE: /proc/net/ip_conntrack shows the IPv4 entries" "$(cat "$RNET/ip_conntrack")" "src=$C4 "
    fi
}

# ---- hostile IPv6 --------------------------------------------------------------

# stat_col NAME: a column of the tracker's statistics in the router's
# namespace, summed over the CPUs (invalid; icmp_error, which 6.12
# counts for ICMP errors it cannot use).
stat_col() {
    _f=$RNET/stat/nf_conntrack
    [ -r "$_f" ] || _f=$RNET/stat/ip_conntrack
    awk 'function hex(s,   i, v) { v = 0; s = tolower(s)
             for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
             return v }
         NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i; next }
         c { s += hex($c) } END { print s + 0 }' n="$1" "$_f"
}
# stack_drops: what the router's IPv6 stack discarded before any tracker.
stack_drops() {
    awk '$1 ~ /^Ip6(In(HdrErrors|TruncatedPkts|Discards|AddrErrors|NoRoutes|TooBigErrors)|ReasmFails)$/ { s += $2 } END { print s + 0 }' "$RNET/snmp6"
}
# The hostile classes, a packet a line, "K|DESC|OPTIONS" (two lines: two
# packets), sent from the client's MAC straight to the router, to G6,
# from port 42000+K unless the line says otherwise. Class 7's TCP header
# is read as hop-by-hop options: port 12345 (0x3039) names protocol 48
# (0x30) with a length (0x39) beyond the packet.
hostile_classes() {
    cat <<'EOF'
1|chain cut short|--proto 59 --ext dest,next=60
2|chain looping|--proto 59 --ext dest,next=60 --ext dest,next=60 --ext dest,next=60
3|no next header|--proto 59 --ext dest
4|destination options overlong|--proto udp --ext dest,hdrlen=200
5|hop-by-hop overlong|--proto udp --ext hop,hdrlen=200
6|hop-by-hop not first|--proto udp --ext dest --ext hop
7|a header naming one not there|--ext dest,next=0 --sport 12345
8|payload length beyond the frame|--proto udp --payload-len 16 --payload-length 200
9|payload length short of the UDP header|--proto udp --payload-len 16 --payload-length 4
10|overlapping fragments|--proto udp --payload-len 64 --id 10 --frag-slice 0:24
10|overlapping fragments|--proto udp --payload-len 64 --id 10 --frag-slice 16:48
11|a later fragment alone|--proto udp --payload-len 64 --id 11 --frag-slice 24:40
12|an ICMPv6 error about an unknown flow|--proto icmp --icmp-type 1 --icmp-code 4 --inner-proto udp --inner-sport 9 --inner-dport 9
13|an ICMPv6 error quoting half a header|--proto icmp --icmp-type 1 --icmp-code 4 --inner-proto udp --inner-sport 42001 --inner-dport 80 --inner-truncate 20
14|an ICMPv6 message of 4 bytes|--proto icmp --icmp-type 1 --truncate 44 --payload-length 4
15|an ICMPv6 echo with a bad checksum|--proto icmp --icmp-id 15 --bad-csum
16|an ICMPv6 error quoting an ICMPv6 error|--proto icmp --icmp-type 1 --inner-proto icmp --inner-icmp-type 1
EOF
}

# hostile_send [K]: class K's packets (every class's without K) in one
# batch, then an echo request to the router, both on one CPU (its
# backlog keeps them in order); waits until the echo is answered.
hostile_send() {
    _e0=$(snmp6 Icmp6OutEchoReplies)
    hostile_classes | awk -F '|' -v k="${1:-}" 'k == "" || $1 == k { print "--sport " (42000 + $1) " " $3 }' |
        taskset 1 pkt --netns "$CLIENT_NS" --iface eth0 --dst-mac "$MAC_R" --batch --src "$C6" --dst "$G6" &&
        taskset 1 pkt --netns "$CLIENT_NS" --iface eth0 --dst-mac "$MAC_R" \
            --src "$C6" --dst "$R6C" --proto icmp --icmp-id 4242 --icmp-seq "${1:-99}" < /dev/null ||
        fail "$T/$FE: hostile ${1:-classes}: the packet tool failed"
    wait_for 5 eval '[ "$(snmp6 Icmp6OutEchoReplies)" -gt "$_e0" ]' ||
        fail "$T/$FE: hostile ${1:-classes}: the echo after them got no answer"
}

# hostile_counts: the tracker's invalid and icmp_error counts, the
# FORWARD INVALID rule's and the stack's drops, the packets routed to be
# forwarded (Ip6OutForwDatagrams counts them before FORWARD's rules);
# hostile_delta BEFORE AFTER: their changes as
# "invalid=N icmp_error=N rule=N stack=N fwd=N".
hostile_counts() {
    echo "$(stat_col invalid) $(stat_col icmp_error) $(cnt "$FE" 6 fw-invalid) $(stack_drops) $(snmp6 Ip6OutForwDatagrams)"
}
hostile_delta() {
    printf '%s %s\n' "$1" "$2" |
        awk '{ printf "invalid=%d icmp_error=%d rule=%d stack=%d fwd=%d\n", $6 - $1, $7 - $2, $8 - $3, $9 - $4, $10 - $5 }'
}

run_hostile6() {
    step "$T/$FE: hostile IPv6"
    _rec=$OUT/$T.$FE.hostile
    if [ -n "$DEBUG" ]; then
        # Processes cost several times more here: every class at once, as
        # one sum (of the classes' records on the normal kernel).
        _b=$(hostile_counts)
        hostile_send
        echo "all: $(hostile_delta "$_b" "$(hostile_counts)")" > "$_rec"
        check_eq "$T/$FE: all hostile classes at once, counted as 6.12 does" \
            "$(cat "$_rec")" "all: invalid=5 icmp_error=5 rule=10 stack=2 fwd=12"
    else
        : > "$_rec"
        for k in $(hostile_classes | cut -d '|' -f 1 | uniq); do
            _b=$(hostile_counts)
            hostile_send "$k"
            echo "$k $(hostile_classes | awk -F '|' -v k="$k" '$1 == k { print $2; exit }'):" \
                "$(hostile_delta "$_b" "$(hostile_counts)")" >> "$_rec"
        done
        sed 's/^/    /' "$_rec"
        # What 6.12 does, as tools/pkt/README.md's table says (and as the
        # reference shows here): asked of either tracker.
        for want in "1 .*invalid=1 .* rule=1" "2 .*invalid=1 .* rule=1" "3 .*invalid=1 .* rule=1" \
            "4 .*invalid=1 .* rule=1" "5 .*invalid=0 .* rule=0 stack=1" "10 .*invalid=0 .* rule=0 .* fwd=0" \
            "11 .*invalid=0 icmp_error=0 rule=0 stack=0 fwd=0"; do
            check_match "$T/$FE: hostile ${want%% *} as 6.12 does" "$(cat "$_rec")" "^$want"
        done
    fi
    check_entries "a header naming one not there: tracked as protocol 48" 6 "unknown 48 " 1
}

# ---- one run ----------------------------------------------------------------------

# load_rules TOOL RULES [OPTION]: TOOL-FE-restore in the router takes
# what RULES prints; a refusal fails (and shows why).
load_rules() {
    if _err=$($2 | in_router "$1-$FE-restore" ${3:-} 2>&1); then
        pass "$T/$FE: $1-$FE-restore loaded $2"
    else
        fail "$T/$FE: $1-$FE-restore refused $2 (checks that need it are skipped or fail)"
        ipct_show "$_err"
        return 1
    fi
}

# run T FE V6: topology, both families' firewalls through front end FE,
# the checks, the views into $OUT/T.FE.*.
run() {
    T=$1 FE=$2
    _v6=$3
    # Not through check: the topology's variables must stay set.
    if topo6_up; then
        pass "$T/$FE: topology up"
    else
        fail "$T/$FE: topology up"
    fi
    load_rules iptables rules4 || { topo6_down; return; }
    [ "$_v6" = 0 ] || load_rules ip6tables rules6 || _v6=0
    [ "$_v6" = 0 ] || load_rules ip6tables rules6_ct --noflush
    run_ipv4
    if [ "$_v6" = 1 ]; then
        run_ipv6
        [ "$FE" != legacy ] || run_hostile6
    fi
    { counters "$FE" 4; [ "$_v6" = 0 ] || counters "$FE" 6; } | norm_counters > "$OUT/$T.$FE.counters"
    if _v=$(view_proc); then printf '%s\n' "$_v" | norm_view > "$OUT/$T.$FE.proc"; fi
    if _v=$(view_list); then printf '%s\n' "$_v" | norm_view > "$OUT/$T.$FE.list"; fi
    topo6_down
}

# compare FE VIEW: the two trackers' VIEW of front end FE agree (views
# only one side has are noted, not compared).
compare() {
    _a=$OUT/nf_conntrack.$1.$2 _b=$OUT/$SECOND.$1.$2
    if [ ! -f "$_b" ]; then
        echo "note: $SECOND has no $2 view ($1): not compared"
        return
    fi
    if [ ! -f "$_a" ]; then
        fail "$1: nf_conntrack has no $2 view"
        return
    fi
    if _d=$(diff "$_a" "$_b"); then
        pass "$1: both trackers' $2 agree ($(wc -l < "$_a") lines)"
    else
        fail "$1: the trackers' $2 differ (< nf_conntrack, > $SECOND)"
        ipct_show "$_d"
    fi
}

# ---- the reference ---------------------------------------------------------------

unload_nf() {
    for _m in xt_state xt_conntrack nf_conntrack_netlink; do
        ! mod_loaded $_m || rmmod $_m 2> /dev/null || return 1
    done
    modprobe -r nf_conntrack
}

klog_mark
if [ -z "$DEBUG" ]; then
    step "reference: nf_conntrack"
    check "modprobe nf_conntrack nf_conntrack_netlink" modprobe -a nf_conntrack nf_conntrack_netlink
    for fe in $FRONTENDS; do
        run nf_conntrack "$fe" 1
    done
    # Namespaces are cleaned up asynchronously: their rules let go of the
    # matches a moment later.
    if wait_for 10 unload_nf; then
        pass "nf_conntrack and its users unloaded"
    else
        fail "nf_conntrack and its users unloaded"
        ipct_show "$(grep -E '^(nf|xt|nft)_' /proc/modules)"
    fi
fi

step "$SECOND (IPv6 checks: $V6_2)"
if [ "$SECOND" = ip_conntrack ]; then
    check "modprobe ip_conntrack" modprobe ip_conntrack
else
    check "modprobe nf_conntrack nf_conntrack_netlink" modprobe -a nf_conntrack nf_conntrack_netlink
fi
for fe in $FRONTENDS; do
    run "$SECOND" "$fe" "$V6_2"
    if [ "$V6_2" = 0 ]; then
        # Only the IPv4 half ran: compare that much.
        grep '^4 ' "$OUT/nf_conntrack.$fe.counters" > "$OUT/nf_conntrack.$fe.counters4"
        mv "$OUT/$SECOND.$fe.counters" "$OUT/$SECOND.$fe.counters4"
        rm -f "$OUT/$SECOND.$fe.proc" "$OUT/$SECOND.$fe.list"
    fi
done

step "comparison"
[ -z "$DEBUG" ] || echo "note: the debug kernel runs ip_conntrack alone: nothing compared"
for fe in $([ -n "$DEBUG" ] || echo "$FRONTENDS"); do
    if [ "$V6_2" = 0 ]; then
        compare "$fe" counters4
    else
        compare "$fe" counters
        compare "$fe" proc
        compare "$fe" list
        [ "$fe" != legacy ] || compare "$fe" hostile
    fi
done
if [ "$SECOND" = ip_conntrack ]; then
    check "rmmod ip_conntrack" wait_for 10 rmmod ip_conntrack
else
    check "nf_conntrack unloaded" wait_for 10 unload_nf
fi
[ -z "$DEBUG" ] || kmemleak_check
if [ "$IPCT_FAILED" -gt 0 ]; then
    echo "---- kernel log since the start"
    klog_new | tail -n 40 | sed 's/^/    | /'
fi
