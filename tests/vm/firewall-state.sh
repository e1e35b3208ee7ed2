# Stateful firewall on the router with ip_conntrack's iptables matches.
# vm-debug: yes
#
# FORWARD policy DROP; ESTABLISHED,RELATED accepted; NEW accepted only
# from the client side; INVALID dropped. Client -> server TCP, UDP and
# ping work, server -> client new connections are blocked; per-rule
# packet counters (count-only rules in front of the real ones) show which
# state each packet had: NEW, ESTABLISHED, RELATED (an ICMP port
# unreachable about a tracked UDP flow) or INVALID (a TCP segment without
# flags, an ICMP error about an unknown flow).
#
# Run with `-m state` and `-m conntrack --ctstate`, through
# iptables-legacy and iptables-nft. iptables 1.8 sends `-m state` as the
# conntrack match (revision 3, STATE_ALIAS flag); the `state` revision 0
# path is exercised by loading the module with conntrack_match=0, which
# registers only `state`: iptables then falls back to revision 0, as on a
# kernel without xt_conntrack. The conntrack passes also check the entry
# options (--ctproto, --ctorig*/--ctrepl* addresses and ports, --ctstatus,
# --ctexpire, --ctdir).
#
# Also: rmmod refuses while rules use the matches and succeeds once they
# are flushed; rule data the match cannot honour (an empty port or expiry
# range) is refused at insertion with a log line naming the option.
#
# IPv6 (ip6tables-legacy with -m state, ip6tables-nft with -m conntrack;
# one pass on the debug kernel): the same firewall for 2001:db8:1::/64 ->
# 2001:db8:2::/64 through the router: ping6, TCP and UDP through, ICMPv6
# port unreachable RELATED, server -> client blocked, neighbour discovery
# working with an INVALID drop rule and counted by --state UNTRACKED,
# IPv6 entries absent from /proc/net/ip_conntrack, -m conntrack's
# --ctorigsrc with IPv6 prefixes.
#
# On the debug kernel (slow) two passes run: nft + conntrack (entry
# options, nft_compat) and legacy + state revision 0; the rest is the same.
. /usr/lib/ipct/lib.sh

C=$CLIENT_IP
S=$SERVER_IP
# Module parameters of the current load (firewall_pass reloads with them).
MODPARAMS=
DEBUG_KERNEL=
[ -e /sys/kernel/debug/kmemleak ] && DEBUG_KERNEL=1

# ---- helpers --------------------------------------------------------------

# ns_snmp NS GROUP FIELD: a counter of /proc/net/snmp in namespace NS.
ns_snmp() {
    ip netns exec "$1" awk -v g="$2:" -v f="$3" '
        $1 == g && !h { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1; next }
        $1 == g && h { print $c; exit }' /proc/net/snmp
}

client_unreach() {
    ns_snmp "$CLIENT_NS" Icmp InDestUnreachs
}

# listing: the FORWARD chain with exact counters (one iptables call).
listing() {
    "$IPT" -L FORWARD -nvx 2> /dev/null
}

# pkts_of LISTING TAG: packets matched by the rule commented TAG in
# LISTING (-1 if there is no such rule); pkts_of LISTING policy: packets
# the chain's policy decided.
pkts_of() {
    printf '%s\n' "$1" | awk -v t="/* $2 */" -v tag="$2" '
        tag == "policy" && NR == 1 { print $5; f = 1; exit }
        tag != "policy" && index($0, t) { print $1; f = 1; exit }
        END { if (!f) print -1 }'
}

# snap: remember every counter; measure: read them again after traffic;
# delta TAG: packets of TAG (or policy) between the two.
snap() {
    BEFORE=$(listing)
    b_unreach=$(client_unreach)
}

measure() {
    AFTER=$(listing)
}

delta() {
    echo $(( $(pkts_of "$AFTER" "$1") - $(pkts_of "$BEFORE" "$1") ))
}

unreach_delta() {
    echo $(( $(client_unreach) - b_unreach ))
}

unreach_arrived() {
    [ "$(unreach_delta)" -gt 0 ]
}

# wait_until SECS CMD...: run CMD every 0.2 s until it succeeds or SECS pass.
wait_until() {
    _n=$(($1 * 5))
    shift
    while [ "$_n" -gt 0 ]; do
        "$@" > /dev/null 2>&1 && return 0
        sleep 0.2
        _n=$((_n - 1))
    done
    return 1
}

# counters: every delta, for a failure's context.
counters() {
    _s=
    for _t in $TAGS policy; do
        _s="$_s $_t=+$(delta "$_t")"
    done
    echo "counters:$_s"
}

# check_delta DESC TAG OP N: the delta of TAG (since snap, up to measure)
# compares (-eq, -ge) to N.
check_delta() {
    _d=$(delta "$2")
    if [ "$_d" "$3" "$4" ]; then
        pass "$1 ($2 +$_d)"
    else
        fail "$1 ($2 +$_d, want $3 $4)"
        ipct_show "$(counters)"
    fi
}

# st STATES: the state match of the pass (MATCH=state or conntrack).
st() {
    if [ "$MATCH" = conntrack ]; then
        echo "-m conntrack --ctstate $1"
    else
        echo "-m state --state $1"
    fi
}

# add TAG RULE...: append RULE to FORWARD with comment TAG.
add() {
    _tag=$1
    shift
    check "rule $_tag: $*" "$IPT" -A FORWARD "$@" -m comment --comment "$_tag"
}

mod_refs() {
    awk '$1 == "ip_conntrack" { print $3 }' /proc/modules
}

rmmod_eventually() {
    # nf_tables releases a flushed rule's expressions from a work item.
    wait_until 5 rmmod ip_conntrack
}

# reap PID SECS: wait up to SECS seconds for PID to end (its status), else
# kill it (1). A server whose client never got through would wait forever.
reap() {
    _i=$(($2 * 5))
    while kill -0 "$1" 2> /dev/null; do
        if [ "$_i" -le 0 ]; then
            kill "$1" 2> /dev/null
            wait "$1" 2> /dev/null
            return 1
        fi
        sleep 0.2
        _i=$((_i - 1))
    done
    wait "$1"
}

# exchange tcp|udp PORT CLIENT_MSG SERVER_MSG: one request and one answer
# client -> server; prints what the client received, leaves what the
# server received in /tmp/fw-server.PORT. Gives up after 5 s.
exchange() {
    if [ "$1" = tcp ]; then
        printf '%s\n' "$4" | in_server nc -N -l -p "$2" > "/tmp/fw-server.$2" 2>&1 &
    else
        printf '%s\n' "$4" | in_server nc -u -l -p "$2" -W 1 > "/tmp/fw-server.$2" 2>&1 &
    fi
    _srv=$!
    wait_listen "$SERVER_NS" "$2" "$1" || { reap "$_srv" 0; return 1; }
    if [ "$1" = tcp ]; then
        printf '%s\n' "$3" | in_client nc -N -w 5 "$S" "$2"
    else
        printf '%s\n' "$3" | in_client nc -u -W 1 -w 5 "$S" "$2"
    fi
    _rc=$?
    reap "$_srv" 2 || _rc=1
    return "$_rc"
}

# Server -> client attempts (must be blocked).
server_tcp_to_client() {
    echo hi | in_server nc -N -w 2 "$C" 9001
}

# ---- one firewall pass ----------------------------------------------------

# firewall_pass IPT MATCH: the whole firewall check with iptables front end
# IPT and MATCH (state or conntrack).
firewall_pass() {
    IPT=$1
    MATCH=$2
    step "$IPT, -m $MATCH: stateful firewall on the router"
    TAGS="new est rel inv estrel newcli invdrop"
    # shellcheck disable=SC2046 # st prints several words on purpose
    {
        add new $(st NEW)
        add est $(st ESTABLISHED)
        add rel $(st RELATED)
        add inv $(st INVALID)
        if [ "$MATCH" = conntrack ]; then
            conntrack_option_rules
        fi
        add estrel $(st ESTABLISHED,RELATED) -j ACCEPT
        add newcli -i "$ROUTER_CLIENT_IF" $(st NEW) -j ACCEPT
        add invdrop $(st INVALID) -j DROP
    }
    check "policy DROP" "$IPT" -P FORWARD DROP

    check_fails "rmmod ip_conntrack refused while rules use it" rmmod ip_conntrack
    check "ip_conntrack has references ($(mod_refs))" test "$(mod_refs)" -gt 0

    step "$IPT, -m $MATCH: client -> server works"
    snap
    reply=$(exchange tcp 8080 "hello from the client" "hello from the server")
    check_eq "TCP client -> server: client got the reply" "$reply" "hello from the server"
    check_eq "TCP client -> server: server got the request" "$(cat /tmp/fw-server.8080)" "hello from the client"
    measure
    check_delta "the SYN was NEW" new -ge 1
    check_delta "and accepted by the NEW-from-client rule" newcli -ge 1
    check_delta "the rest was ESTABLISHED" est -ge 4
    check_delta "and accepted by ESTABLISHED,RELATED" estrel -ge 4
    check_delta "nothing RELATED" rel -eq 0
    check_delta "nothing INVALID" inv -eq 0
    check_delta "nothing reached the DROP policy" policy -eq 0
    if [ "$MATCH" = conntrack ]; then
        conntrack_option_checks
    fi

    snap
    reply=$(exchange udp 5353 ping pong)
    check_eq "UDP client -> server: client got the reply" "$reply" pong
    measure
    check_delta "the first datagram was NEW, accepted" newcli -eq 1
    check_delta "the answer was ESTABLISHED" estrel -eq 1

    snap
    check "ping client -> server" in_client ping -c 1 -W 2 "$S"
    measure
    check_delta "echo request NEW, accepted" newcli -eq 1
    check_delta "echo reply ESTABLISHED" estrel -eq 1

    step "$IPT, -m $MATCH: server -> client new connections are blocked"
    in_client nc -l -p 9001 > /tmp/fw-client.9001 2>&1 &
    lpid=$!
    wait_listen "$CLIENT_NS" 9001 tcp
    snap
    check_fails "TCP server -> client blocked" server_tcp_to_client
    measure
    check_delta "the SYN was NEW" new -ge 1
    check_delta "but not from the client side" newcli -eq 0
    check_delta "it fell to the DROP policy" policy -ge 1
    reap "$lpid" 0
    check_eq "the client got nothing" "$(cat /tmp/fw-client.9001)" ""
    snap
    check_fails "ping server -> client blocked" in_server ping -c 1 -W 1 "$C"
    measure
    check_delta "the echo request fell to the DROP policy" policy -eq 1

    step "$IPT, -m $MATCH: RELATED: port unreachable about a tracked UDP flow"
    snap
    check "datagram to a closed server port" in_client pkt --src "$C" --dst "$S" \
        --proto udp --sport 40300 --dport 7300 --payload closed
    if wait_until 3 unreach_arrived; then
        pass "the client got the port unreachable"
    else
        fail "the client got no port unreachable"
    fi
    measure
    check_delta "the datagram was NEW, accepted" newcli -eq 1
    check_delta "the ICMP error was RELATED" rel -eq 1
    check_delta "and accepted by ESTABLISHED,RELATED" estrel -eq 1
    check_delta "not ESTABLISHED" est -eq 0

    step "$IPT, -m $MATCH: INVALID packets are dropped"
    snap
    check "TCP segment without flags, unknown flow" in_client pkt --src "$C" --dst "$S" \
        --sport 40400 --dport 7400 --flags none
    check "ICMP port unreachable about a flow nobody sent" in_server pkt --src "$S" --dst "$C" \
        --proto icmp --icmp-type 3 --icmp-code 3 --inner-proto udp --inner-sport 40500 --inner-dport 7500
    sleep 0.5
    measure
    check_delta "both were INVALID" inv -eq 2
    check_delta "and dropped by the INVALID rule" invdrop -eq 2
    check_delta "neither NEW" new -eq 0
    check_delta "neither RELATED" rel -eq 0
    check_eq "the client got no port unreachable" "$(unreach_delta)" 0

    step "$IPT, -m $MATCH: flush, then ip_conntrack unloads"
    check "flush FORWARD" "$IPT" -F FORWARD
    check "policy ACCEPT" "$IPT" -P FORWARD ACCEPT
    check "rmmod ip_conntrack succeeds once no rule uses it" rmmod_eventually
    # shellcheck disable=SC2086 # MODPARAMS: zero or more words
    check "modprobe ip_conntrack $MODPARAMS again" modprobe ip_conntrack $MODPARAMS
}

# ---- the conntrack match's entry options ------------------------------------

conntrack_option_rules() {
    TAGS="$TAGS o_orig o_repl o_wrongport o_range o_lowsrc o_notlowsrc o_unconf o_assured o_seen
        o_expected o_explong o_expshort o_reply o_newreply o_nottcp o_notnet o_icmp"
    add o_orig -m conntrack --ctstate ESTABLISHED --ctproto tcp --ctorigsrc 192.0.2.0/24 \
        --ctorigdst "$S" --ctorigsrcport 1024:65535 --ctorigdstport 8080 --ctdir ORIGINAL
    add o_repl -m conntrack --ctstate ESTABLISHED --ctproto tcp --ctreplsrc "$S" \
        --ctrepldst "$C/32" --ctreplsrcport 8080 --ctdir REPLY
    add o_wrongport -m conntrack --ctproto tcp --ctorigdstport 8081
    add o_range -m conntrack --ctproto tcp --ctorigdstport 8000:8100
    add o_lowsrc -m conntrack --ctproto tcp --ctorigsrcport 1:1023
    add o_notlowsrc -m conntrack --ctproto tcp ! --ctorigsrcport 1:1023
    add o_unconf -m conntrack --ctproto tcp ! --ctstatus CONFIRMED
    add o_assured -m conntrack --ctproto tcp --ctstatus ASSURED
    add o_seen -m conntrack --ctproto tcp --ctstatus SEEN_REPLY
    add o_expected -m conntrack --ctstatus EXPECTED
    add o_explong -m conntrack --ctproto tcp --ctstate ESTABLISHED --ctexpire 100:432000
    add o_expshort -m conntrack --ctproto tcp --ctstate ESTABLISHED --ctexpire 0:5
    add o_reply -m conntrack --ctproto tcp --ctdir REPLY
    add o_newreply -m conntrack --ctstate NEW --ctdir REPLY
    add o_nottcp -m conntrack --ctstate NEW,ESTABLISHED ! --ctproto tcp
    add o_notnet -m conntrack ! --ctorigsrc 192.0.2.0/24 ! --ctorigdst 192.0.2.0/24
    # ICMP: the "ports" are the id and type << 8 | code (echo request 2048).
    add o_icmp -m conntrack --ctproto icmp --ctorigdstport 2048 --ctrepldstport 0
}

# After one TCP connection client:ephemeral -> server:8080.
conntrack_option_checks() {
    check_delta "--ctorig* (addresses, ports, proto, dir ORIGINAL)" o_orig -ge 2
    check_delta "--ctrepl* (addresses, port, dir REPLY)" o_repl -ge 2
    check_delta "--ctorigdstport 8081 never" o_wrongport -eq 0
    check_delta "--ctorigdstport 8000:8100 every packet" o_range -ge 6
    check_delta "--ctorigsrcport 1:1023 never" o_lowsrc -eq 0
    check_delta "! --ctorigsrcport 1:1023 every packet" o_notlowsrc -ge 6
    check_delta "! --ctstatus CONFIRMED: only the SYN" o_unconf -eq 1
    check_delta "--ctstatus ASSURED after the handshake" o_assured -ge 2
    check_delta "--ctstatus SEEN_REPLY" o_seen -ge 4
    check_delta "--ctstatus EXPECTED never (no helpers)" o_expected -eq 0
    check_delta "--ctexpire 100:432000 (established: 5 days)" o_explong -ge 2
    check_delta "--ctexpire 0:5 never" o_expshort -eq 0
    check_delta "--ctdir REPLY" o_reply -ge 2
    check_delta "NEW in the reply direction never" o_newreply -eq 0
    check_delta "! --ctproto tcp: nothing during the TCP exchange" o_nottcp -eq 0
    check_delta "! --ctorigsrc/dst client net: nothing (every flow is from the client)" o_notnet -eq 0
    snap
    check "ping client -> server" in_client ping -c 1 -W 2 "$S"
    measure
    check_delta "ICMP echo: --ctorigdstport 2048 --ctrepldstport 0" o_icmp -eq 2
    check_delta "! --ctproto tcp: the echo request and reply" o_nottcp -eq 2
}

# ---- refusals -------------------------------------------------------------

# refused DESC IPT RULE...: inserting RULE into FORWARD fails.
refused() {
    _d=$1
    shift
    check_fails "$_d" "$@"
}

refusals() {
    IPT=$1
    step "$IPT: rule data the match cannot honour is refused"
    klog_mark
    refused "--ctorigdstport 2000:1000 (empty range) refused" \
        "$IPT" -A FORWARD -m conntrack --ctorigdstport 2000:1000 -j ACCEPT
    check_match "log line names --ctorigdstport" "$(klog_new)" \
        'ip_conntrack: conntrack match: --ctorigdstport 2000:1000 is an empty range'
    klog_mark
    refused "--ctexpire 5:3 (empty range) refused" \
        "$IPT" -A FORWARD -m conntrack --ctexpire 5:3 -j ACCEPT
    check_match "log line names --ctexpire" "$(klog_new)" \
        'ip_conntrack: conntrack match: --ctexpire 5:3 is an empty range'
    check_eq "no rule was added" "$("$IPT" -S FORWARD 2>/dev/null | grep -c conntrack)" 0
    check "--ctstate SNAT,DNAT accepted (never matches: no NAT)" \
        "$IPT" -A FORWARD -m conntrack --ctstate SNAT,DNAT -j DROP
    check "ping through a --ctstate SNAT,DNAT DROP rule" in_client ping -c 1 -W 2 "$S"
    check "flush" "$IPT" -F FORWARD
}

# ---- IPv6 -------------------------------------------------------------------

C6=2001:db8:1::2
S6=2001:db8:2::2

ip6_topo_up() {
    ip addr add 2001:db8:1::1/64 dev "$ROUTER_CLIENT_IF" nodad &&
    ip addr add 2001:db8:2::1/64 dev "$ROUTER_SERVER_IF" nodad &&
    ip -n "$CLIENT_NS" addr add "$C6/64" dev "$NS_IF" nodad &&
    ip -n "$CLIENT_NS" -6 route add default via 2001:db8:1::1 &&
    ip -n "$SERVER_NS" addr add "$S6/64" dev "$NS_IF" nodad &&
    ip -n "$SERVER_NS" -6 route add default via 2001:db8:2::1 &&
    echo 1 > /proc/sys/net/ipv6/conf/all/forwarding
}

# wait_listen6 NS PORT tcp|udp: as wait_listen, for IPv6 sockets.
wait_listen6() {
    _hex=$(printf '%04X' "$2")
    _state=0A
    [ "$3" = tcp ] || _state=07
    wait_until 5 sh -c "ip netns exec '$1' cat /proc/net/${3}6 | awk -v p=':$_hex' -v s=$_state '\$2 ~ p \"\$\" && \$4 == s { f = 1 } END { exit !f }'"
}

# exchange6 tcp|udp PORT CLIENT_MSG SERVER_MSG: exchange over IPv6.
exchange6() {
    if [ "$1" = tcp ]; then
        printf '%s\n' "$4" | in_server nc -6 -N -l -p "$2" > "/tmp/fw6-server.$2" 2>&1 &
    else
        printf '%s\n' "$4" | in_server nc -6 -u -l -p "$2" -W 1 > "/tmp/fw6-server.$2" 2>&1 &
    fi
    _srv=$!
    wait_listen6 "$SERVER_NS" "$2" "$1" || { reap "$_srv" 0; return 1; }
    if [ "$1" = tcp ]; then
        printf '%s\n' "$3" | in_client nc -6 -N -w 5 "$S6" "$2"
    else
        printf '%s\n' "$3" | in_client nc -6 -u -W 1 -w 5 "$S6" "$2"
    fi
    _rc=$?
    reap "$_srv" 2 || _rc=1
    return "$_rc"
}

# snmp6 NS FIELD: a counter of /proc/net/snmp6 in namespace NS.
snmp6() {
    ip netns exec "$1" awk -v f="$2" '$1 == f { print $2 }' /proc/net/snmp6
}

# ip6_pass IPT6 MATCH: the stateful firewall for IPv6.
ip6_pass() {
    IPT=$1
    MATCH=$2
    step "$IPT, -m $MATCH: stateful IPv6 firewall on the router"
    check "policy DROP" "$IPT" -P FORWARD DROP
    # shellcheck disable=SC2046 # st prints several words on purpose
    {
        add invdrop $(st INVALID) -j DROP
        add estrel $(st ESTABLISHED,RELATED) -j ACCEPT
        add newcli -i "$ROUTER_CLIENT_IF" $(st NEW) -j ACCEPT
        check "INPUT INVALID drop" "$IPT" -A INPUT $(st INVALID) -j DROP
        check "INPUT UNTRACKED count" "$IPT" -A INPUT $(st UNTRACKED) -m comment --comment untracked
    }
    if [ "$MATCH" = conntrack ]; then
        # Count-only rules in front: IPv6 prefixes of the original source.
        check "--ctorigsrc 2001:db8:1::/64 rule" \
            "$IPT" -I FORWARD -m conntrack --ctorigsrc 2001:db8:1::/64 -m comment --comment ct6cli
        check "--ctorigsrc 2001:db8:2::/64 --ctdir ORIGINAL rule" \
            "$IPT" -I FORWARD -m conntrack --ctorigsrc 2001:db8:2::/64 --ctdir ORIGINAL -m comment --comment ct6srv
    fi
    # Neighbour discovery must go through the rules again.
    ip -6 neigh flush all
    in_client ip -6 neigh flush all
    in_server ip -6 neigh flush all
    check "ping6 client -> server" in_client ping -6 -c 1 -W 2 "$S6"
    # Fragments are reassembled (nf_defrag_ipv6) before tracking: the
    # echo request is NEW, its fragmented reply ESTABLISHED.
    check "fragmented ping6 (3000 bytes) client -> server" in_client ping -6 -c 1 -W 2 -s 3000 "$S6"
    reply=$(exchange6 tcp 8080 hello world)
    check_eq "tcp client -> server: reply" "$reply" world
    check_eq "tcp client -> server: request" "$(cat /tmp/fw6-server.8080)" hello
    reply=$(exchange6 udp 5353 ping pong)
    check_eq "udp client -> server: reply" "$reply" pong
    # A datagram to a closed port: the server's port unreachable is
    # RELATED and reaches the client.
    before=$(snmp6 "$CLIENT_NS" Icmp6InDestUnreachs)
    echo x | in_client nc -6 -u -W 1 -w 1 "$S6" 9999 > /dev/null 2>&1
    check "port unreachable reached the client (RELATED)" \
        wait_until 3 sh -c "[ \$(ip netns exec '$CLIENT_NS' awk '\$1 == \"Icmp6InDestUnreachs\" { print \$2 }' /proc/net/snmp6) -gt $before ]"
    check_fails "ping6 server -> client blocked" in_server ping -6 -c 1 -W 1 "$C6"
    l=$(listing)
    check "NEW from the client counted" [ "$(pkts_of "$l" newcli)" -gt 0 ]
    check "ESTABLISHED,RELATED counted" [ "$(pkts_of "$l" estrel)" -gt 0 ]
    check "server -> client new packets dropped by the policy" [ "$(pkts_of "$l" policy)" -gt 0 ]
    untracked=$("$IPT" -L INPUT -nvx | awk '/untracked/ { print $1 }')
    check "neighbour discovery to the router counted UNTRACKED" [ "${untracked:-0}" -gt 0 ]
    check_eq "no IPv6 line in /proc/net/ip_conntrack" "$(grep -c 2001:db8 /proc/net/ip_conntrack)" 0
    check "IPv6 entries counted" [ "$(cat /proc/sys/net/ipv4/netfilter/ip_conntrack_count)" -gt 0 ]
    if [ "$MATCH" = conntrack ]; then
        check "--ctorigsrc 2001:db8:1::/64 matched the client's flows" [ "$(pkts_of "$l" ct6cli)" -gt 0 ]
        # The server's blocked pings were NEW from the server: its own
        # flows, original direction.
        check "--ctorigsrc 2001:db8:2::/64 --ctdir ORIGINAL matched the server's ping" [ "$(pkts_of "$l" ct6srv)" -gt 0 ]
        check "and not the client's flows" [ "$(pkts_of "$l" ct6srv)" -lt "$(pkts_of "$l" ct6cli)" ]
    fi
    check "flush" "$IPT" -F
    check "policy ACCEPT" "$IPT" -P FORWARD ACCEPT
    check_fails "the kernel's xt_state did not load" mod_loaded xt_state
    check_fails "nf_conntrack did not load" mod_loaded nf_conntrack
}

# ---- main -----------------------------------------------------------------

check "modprobe ip_conntrack" modprobe ip_conntrack
check "topology up" topo_up
check_match "matches registered: state" "$(cat /proc/net/ip_tables_matches)" '^state$'
check_eq "matches registered: conntrack revisions 1-3" \
    "$(grep -c '^conntrack$' /proc/net/ip_tables_matches)" 3

if [ -n "$DEBUG_KERNEL" ]; then
    firewall_pass iptables-nft conntrack
else
    firewall_pass iptables-legacy state
    firewall_pass iptables-legacy conntrack
    firewall_pass iptables-nft state
    firewall_pass iptables-nft conntrack
fi

refusals iptables-legacy
refusals iptables-nft

check "IPv6 addresses" ip6_topo_up
if [ -n "$DEBUG_KERNEL" ]; then
    ip6_pass ip6tables-nft conntrack
else
    ip6_pass ip6tables-legacy state
    ip6_pass ip6tables-nft conntrack
fi

step "state revision 0: ip_conntrack conntrack_match=0 registers only state"
# As on a kernel without xt_conntrack: the kernel's request_module() for
# the missing conntrack match fails at once (here the usermode modprobe
# would find xt_conntrack.ko and fail slowly on nf_conntrack each time
# iptables probes conntrack's revisions). Every module the passes need is
# loaded by now.
MODPROBE_HELPER=$(cat /proc/sys/kernel/modprobe)
echo /bin/false > /proc/sys/kernel/modprobe
check "rmmod ip_conntrack" rmmod_eventually
MODPARAMS=conntrack_match=0
check "modprobe ip_conntrack conntrack_match=0" modprobe ip_conntrack $MODPARAMS
check_eq "parameter visible" "$(cat /sys/module/ip_conntrack/parameters/conntrack_match)" N
check_match "state registered" "$(cat /proc/net/ip_tables_matches)" '^state$'
check_eq "conntrack not registered" "$(grep -c '^conntrack$' /proc/net/ip_tables_matches)" 0
check_fails "-m conntrack refused (no conntrack match registered)" \
    iptables-legacy -A FORWARD -m conntrack --ctstate NEW -j ACCEPT
check_fails "nf_conntrack did not load" mod_loaded nf_conntrack
firewall_pass iptables-legacy state
[ -n "$DEBUG_KERNEL" ] || firewall_pass iptables-nft state
check_fails "the kernel's xt_state did not load" mod_loaded xt_state
echo "$MODPROBE_HELPER" > /proc/sys/kernel/modprobe
check "rmmod ip_conntrack" rmmod_eventually
MODPARAMS=
check "modprobe ip_conntrack (defaults)" modprobe ip_conntrack
check_eq "conntrack registered again" "$(grep -c '^conntrack$' /proc/net/ip_tables_matches)" 3

topo_down
check "rmmod ip_conntrack" rmmod_eventually
kmemleak_check
