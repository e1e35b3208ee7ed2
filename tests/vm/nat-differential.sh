# NAT differential check: the same traffic classes through MASQUERADE, a
# SNAT port range, DNAT and REDIRECT on nat-lib.sh's home router, then
# hostile packets at the NAT mappings, in one boot: first under the
# kernel's nf_conntrack with nf_nat, iptable_nat, xt_nat, xt_MASQUERADE and
# xt_REDIRECT, then, once those are unloaded, under ip_conntrack. Compared
# per class:
#
#   table:   the router's /proc/net/nf_conntrack vs /proc/net/ip_conntrack
#            (protocol, TCP state, both tuples, [UNREPLIED], [ASSURED]);
#   seen:    the address and port each end reports (the peer services and
#            the SO_ORIGINAL_DST proxy);
#   states:  the state every packet got, from the counters of identical
#            `-m state --state NEW|ESTABLISHED|RELATED|INVALID` rules per
#            class and direction in mangle PREROUTING and OUTPUT (after
#            tracking, before NAT: the packets as they arrive).
#
# Source ports are pinned; a mapped port the NAT core picks at random (a
# second host on a taken port, a SNAT range) is compared by its shape:
# "kept", "in 40000-40001" or "moved". TCP classes use real connections,
# whose ACK count depends on timing: their counts are compared as 0 / some.
#
# Hostile classes follow (their counters in a chain of their own): bad
# UDP and TCP checksums on a mapping's reply tuple and on the forwarded
# port, an ICMP error with a truncated quote, errors about an unknown flow,
# about a flow that is not NATed and, from a third host, about a NATed one,
# and a fragmented datagram on a port-forward mapping. Within each run the
# NATed entries' tuples must be the same before and after them.
#
# A difference is fixed or listed in nat-differential.allow (at most 5
# entries: CLASS VIEWS REASON, VIEWS table, seen, states, hostile or after,
# or several joined by commas).
#
# `scripts/vm-run.sh tests/vm/nat-differential.sh fake` adds a made-up
# entry, a wrong answer and a wrong count to ip_conntrack's views: the run
# must then fail, three times.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh
. /usr/lib/ipct/nat-lib.sh

OUT=/tmp/nat-differential
ALLOW=/ipct/nat-differential.allow
IPT=iptables
FAKE=${1:-}
mkdir -p "$OUT"
start_ms=$(now_ms)

# Classes: "NAME PROTO CLIENT CPORT" (the original tuple's protocol,
# source and source port or ICMP id: what names a table line), then the
# -m state selectors of the original and the reply direction, as the
# packets arrive at the router.
CLASSES="masq-tcp tcp $H1 40001
masq-tcp-h2 tcp $H2 40001
masq-udp udp $H1 41003
masq-udp-h2 udp $H2 41003
masq-icmp icmp $H1 4005
snat-range udp $H1 45061
snat-range udp $H1 45062
snat-range udp $H2 45063
dnat-tcp tcp $SRV 44007
dnat-udp udp $SRV 44008
redirect tcp $H1 44009
icmp-err udp $H1 42010
hx-not-natted udp $SRV 44016"
SELECTORS="masq-tcp|-s $H1 -p tcp --sport 40001|-s $SRV -p tcp --sport 7001 --dport 40001
masq-tcp-h2|-s $H2 -p tcp --sport 40001|-s $SRV -p tcp --sport 7001 ! --dport 40001
masq-udp|-s $H1 -p udp --sport 41003|-s $SRV -p udp --sport 7003 --dport 41003
masq-udp-h2|-s $H2 -p udp --sport 41003|-s $SRV -p udp --sport 7003 ! --dport 41003
masq-icmp|-s $H1 -p icmp --icmp-type 8|-s $SRV -p icmp --icmp-type 0
snat-range|-p udp --dport 7006|-s $SRV -p udp --sport 7006
dnat-tcp|-s $SRV -p tcp --sport 44007|-s $H1 -p tcp --sport 80
dnat-udp|-s $SRV -p udp --sport 44008|-s $H1 -p udp --sport 53
redirect|-s $H1 -p tcp --sport 44009|-p tcp --sport 3128
icmp-err|-s $H1 -p udp --sport 42010|-s $SRV -p icmp --icmp-type 3/3"
# Hostile classes: selectors unique among the packets of that phase.
HOSTILE="hx-csum-udp|-s $SRV -p udp --sport 7003|-d $SRV -p udp --dport 7003
hx-csum-tcp|-s $SRV -p tcp --sport 7001|-d $SRV -p tcp --dport 7001
hx-csum-dnat|-s $SRV -p udp --sport 44018|-d $SRV -p udp --dport 44018
hx-quote-cut|-s $SRV -p icmp --icmp-type 3/0|-d $SRV -p icmp --icmp-type 3/0
hx-err-unknown|-s $SRV -p icmp --icmp-type 3/1|-d $SRV -p icmp --icmp-type 3/1
hx-not-natted|-s $SRV -p udp --sport 44016|-d $SRV -p icmp --icmp-type 3/3
hx-err-not-natted|-s $SRV -p icmp --icmp-type 3/2|-d $SRV -p icmp --icmp-type 3/2
hx-err-third|-s $FAR -p icmp --icmp-type 11|-d $FAR -p icmp
hx-fragments|-s $SRV -p udp --sport 44008|-s $H1 -p udp --sport 53"
# TCP classes over real connections: counts compared as 0 / some.
REAL=" masq-tcp masq-tcp-h2 dnat-tcp redirect "

# ---- rules ------------------------------------------------------------------

# count_chain CHAIN SELECTORS: CHAIN in the router's mangle table, one
# count-only rule per class, direction and state (comment "NAME DIR STATE").
count_chain() {
    printf '%s\n' "$2" | while IFS='|' read -r name orig reply; do
        for d in orig reply; do
            eval "sel=\$$d"
            echo "-A $1 $sel -m comment --comment \"$name $d all\""
            for st in NEW ESTABLISHED RELATED INVALID; do
                echo "-A $1 $sel -m state --state $st -m comment --comment \"$name $d $st\""
            done
        done
    done
}

# rules: NAT, the firewall of nat-lib.sh, the counting chains (DIFF
# hooked into PREROUTING and OUTPUT; HOSTILE replaces it later).
rules() {
    {
        echo '*mangle'
        echo ':DIFF - [0:0]'
        echo ':HOSTILE - [0:0]'
        echo '-A PREROUTING -j DIFF'
        echo '-A OUTPUT -j DIFF'
        count_chain DIFF "$SELECTORS"
        count_chain HOSTILE "$HOSTILE"
        echo 'COMMIT'
        echo '*nat'
        echo "-A POSTROUTING -o wan -p udp --dport 7006 -j SNAT --to-source $RT_WAN:40000-40001"
        echo '-A POSTROUTING -o wan -j MASQUERADE'
        echo "-A PREROUTING -i wan -p tcp --dport 8080 -j DNAT --to-destination $H1:80"
        echo "-A PREROUTING -i wan -p udp --dport 5353 -j DNAT --to-destination $H1:53"
        echo '-A PREROUTING -i lan+ -p tcp --dport 81 -j REDIRECT --to-ports 3128'
        echo 'COMMIT'
    } | on rt iptables-restore || return 1
    on rt iptables -A FORWARD -i wan -o lan+ -d "$H1" -p udp --dport 53 -m state --state NEW -j ACCEPT
}

# timeouts: nothing the mix makes may expire before the table is read.
timeouts() {
    # nf_conntrack's are per namespace, ip_conntrack's global.
    case $NAT_WITH in
        nf_conntrack) _d=/proc/sys/net/netfilter _p=nf_conntrack_ _on="on rt" ;;
        *) _d=$CT_SYSCTL _p=ip_conntrack_ _on= ;;
    esac
    for _t in udp_timeout icmp_timeout tcp_timeout_close tcp_timeout_syn_sent; do
        $_on sh -c "echo 600 > $_d/$_p$_t" || return 1
    done
}

# ---- traffic -----------------------------------------------------------------

# seen CLASS PORT ANSWER: what an end reported, into the run's file; PORT
# is the one the answer shows when the mapping kept it.
seen() {
    printf '%s %s %s\n' "$1" "$2" "$(printf '%s' "$3" | tr '\n' ' ')" >> "$OUT/$NAT_WITH.seen.raw"
}

# ask NS DST PORT SPORT: ask_udp, waiting up to 5 s for the answer (a
# loaded machine may take longer than ask_udp's 2 s to run the peer).
ask() {
    echo probe | on "$1" nc -u -W 1 -w 5 -p "$4" "$2" "$3" 2>&1
}

# idle PID: the peer server PID has no child left. socat's UDP-RECVFROM
# fork hands each datagram to a child, and a child still running reads
# the next datagram from the shared socket and swallows it (seen on a
# loaded machine): the next ask waits for this.
idle() {
    ! grep -qs "^PPid:[[:space:]]*$1\$" /proc/[0-9]*/status
}

# ask_idle PID NS DST PORT SPORT: ask, then wait until the peer PID idles.
ask_idle() {
    _pid=$1
    shift
    ask "$@"
    wait_for 10 idle "$_pid"
}

# lan_pkt NS / srv_pkt: crafted frames to the router (lan0, lan1, wan).
lan_pkt() {
    pkt --netns h1 --iface eth0 --dst-mac "$(on rt cat /sys/class/net/lan0/address)" "$@"
}
srv_pkt() {
    pkt --netns srv --iface eth0 --dst-mac "$(on rt cat /sys/class/net/wan/address)" "$@"
}

# rx NS: the packets NS's eth0 received (for waiting on a crafted one).
rx() {
    on "$1" cat /sys/class/net/eth0/statistics/rx_packets
}

traffic() {
    peer_tcp srv 7001
    peer_udp srv 7003
    U7003=${NAT_BG##* }
    peer_udp srv 7006
    U7006=${NAT_BG##* }
    peer_tcp h1 80 h1
    peer_udp h1 53
    U53=${NAT_BG##* }
    nat_bg rt origdst 3128 1 > "$OUT/origdst.out"
    wait_listen rt 3128 tcp

    seen masq-tcp 40001 "$(ask_tcp h1 "$SRV" 7001 40001)"
    seen masq-tcp-h2 40001 "$(ask_tcp h2 "$SRV" 7001 40001)"
    seen masq-udp 41003 "$(ask_idle $U7003 h1 "$SRV" 7003 41003)"
    seen masq-udp-h2 41003 "$(ask_idle $U7003 h2 "$SRV" 7003 41003)"
    # An echo with a fixed id (busybox ping picks its own); the server
    # answers, h1's stack drops the reply it did not ask for.
    _r=$(rx h1)
    lan_pkt --src "$H1" --dst "$SRV" --proto icmp --icmp-type 8 --icmp-id 4005 --icmp-seq 1
    wait_for 3 sh -c "[ \$(ip netns exec h1 cat /sys/class/net/eth0/statistics/rx_packets) -gt $_r ]"
    for _p in 45061 45062; do
        seen snat-range "$_p" "$(ask_idle $U7006 h1 "$SRV" 7006 $_p)"
    done
    seen snat-range 45063 "$(ask_udp h2 "$SRV" 7006 45063)"
    seen dnat-tcp 44007 "$(ask_tcp srv "$RT_WAN" 8080 44007)"
    seen dnat-udp 44008 "$(ask_idle $U53 srv "$RT_WAN" 5353 44008)"
    # The proxy answers with the original destination: port 81 kept.
    seen redirect 81 "$(ask_tcp h1 "$SRV" 81 44009)"
    seen icmp-err 42010 "$(ask_udp h1 "$SRV" 9 42010)"
    sleep 1
}

# hostile: crafted packets at the mappings; the NATed entries before and
# after must be the same.
hostile() {
    on rt iptables -t mangle -R PREROUTING 1 -j HOSTILE &&
    on rt iptables -t mangle -R OUTPUT 1 -j HOSTILE || return 1
    table_now > "$OUT/$NAT_WITH.before"
    _r=$(rx srv)
    _t=$(on h1 cat /sys/class/net/eth0/statistics/tx_packets)
    _q="--src $SRV --dst $RT_WAN --proto icmp --icmp-type 3"
    {
        # Bad checksums on masq-udp's and masq-tcp's reply tuples, and
        # towards the forwarded UDP port (which would create a mapping).
        echo "--proto udp --sport 7003 --dport 41003 --payload-len 8 --bad-csum"
        echo "--proto tcp --sport 7001 --dport 40001 --flags A --seq 1 --ack 1 --bad-csum"
        echo "--proto udp --sport 44018 --dport 5353 --payload-len 8 --bad-csum"
        # masq-udp's mapping quoted, the quote cut inside the UDP header.
        echo "$_q --icmp-code 0 --inner-proto udp --inner-src $RT_WAN --inner-dst $SRV --inner-sport 41003 --inner-dport 7003 --inner-truncate 22"
        # A flow nobody has (the mapping's neighbour port).
        echo "$_q --icmp-code 1 --inner-proto udp --inner-src $RT_WAN --inner-dst $SRV --inner-sport 41999 --inner-dport 7003"
        # A flow to the router itself, not NATed, then an error about it.
        echo "--proto udp --sport 44016 --dport 9 --payload-len 8"
    } | srv_pkt --src "$SRV" --dst "$RT_WAN" --batch || return 1
    # The router's port unreachable about 44016 has come back to srv.
    wait_for 3 sh -c "[ \$(ip netns exec srv cat /sys/class/net/eth0/statistics/rx_packets) -gt $_r ]"
    {
        echo "$_q --icmp-code 2 --inner-proto udp --inner-src $RT_WAN --inner-dst $SRV --inner-sport 9 --inner-dport 44016"
        # From a third host (the ISP's far side): time exceeded about
        # masq-udp's mapping.
        echo "--src $FAR --proto icmp --icmp-type 11 --inner-proto udp --inner-src $RT_WAN --inner-dst $SRV --inner-sport 41003 --inner-dport 7003"
        # dnat-udp's mapping in two fragments.
        echo "--proto udp --sport 44008 --dport 5353 --payload-len 24 --id 4242 --frag-slice 0:16"
        echo "--proto udp --sport 44008 --dport 5353 --payload-len 24 --id 4242 --frag-slice 16:16"
    } | srv_pkt --src "$SRV" --dst "$RT_WAN" --batch || return 1
    # h1's peer answers the reassembled datagram; its answer is counted
    # once it has crossed the router.
    wait_for 10 sh -c "[ \$(ip netns exec h1 cat /sys/class/net/eth0/statistics/tx_packets) -gt $_t ]"
    wait_for 10 idle "$U53"
    sleep 1
    table_now > "$OUT/$NAT_WITH.after"
}

# ---- views -------------------------------------------------------------------

# norm: table lines (stdin) as "CLASS: proto state tuples flags", sorted;
# timeouts, use=, mark=, zone= and the family prefix left out, a mapped
# port or id other than the original one given by its shape.
norm() {
    awk -v classes="$CLASSES" '
        BEGIN {
            n = split(classes, cl, "\n")
            for (i = 1; i <= n; i++) { split(cl[i], f, " "); name[f[2] " " f[3] " " f[4]] = f[1] }
        }
        function shape(v, o) {
            if (v == o) return v
            if (v >= 40000 && v <= 40001) return "<40000-40001>"
            return "<moved>"
        }
        /^ipv6 / { next }
        {
            sub(/^ *ipv4 +2 +/, "")
            out = $1 " " $2
            i = ($3 ~ /^[0-9]+$/) ? 4 : 3
            s = 0; src = ""; p = ""
            for (; i <= NF; i++) {
                if ($i ~ /^(use|mark|zone|secctx)=/) continue
                if ($i ~ /^src=/) s++
                if (s == 1 && $i ~ /^src=/) src = substr($i, 5)
                if (s == 1 && $i ~ /^(sport|id)=/) p = substr($i, index($i, "=") + 1)
                if (s == 2 && $i ~ /^(dport|id)=/) {
                    k = substr($i, 1, index($i, "="))
                    $i = k shape(substr($i, length(k) + 1), p)
                }
                out = out " " $i
            }
            c = name[$1 " " src " " p]
            print (c == "" ? "other" : c) ": " out
        }' | LC_ALL=C sort
}

table_now() {
    nat_ct | norm
}

# states CHAIN: per class and direction, the packets each state rule
# counted ("NAME DIR: all=N NEW=N ...").
states() {
    on rt iptables -t mangle -L "$1" -n -v -x | awk -v real="$REAL" '
        match($0, /\/\* [^*]+ \*\//) {
            split(substr($0, RSTART + 3, RLENGTH - 6), f, " ")
            v = $1
            if (index(real, " " f[1] " ") && v > 0) v = "some"
            key = f[1] " " f[2]
            if (!(key in line)) order[++m] = key
            line[key] = line[key] " " f[3] "=" v
        }
        END { for (i = 1; i <= m; i++) print order[i] ":" line[order[i]] }'
}

# seen_norm: what the ends reported, the port by its shape.
seen_norm() {
    awk '{
        c = $1; p = $2; $1 = ""; $2 = ""; a = substr($0, 3)
        if (match(a, /:[0-9]+$/)) {
            v = substr(a, RSTART + 1)
            if (v != p) v = (v >= 40000 && v <= 40001) ? "<40000-40001>" : "<moved>"
            a = substr(a, 1, RSTART) v
        }
        print c ": " a
    }' "$OUT/$NAT_WITH.seen.raw" | LC_ALL=C sort
}

# ---- one run -------------------------------------------------------------------

run() {
    NAT_WITH=$1
    step "run under $1"
    _t0=$(now_ms)
    : > "$OUT/$1.seen.raw"
    nat_tracker_up
    check "$1: topology up" nat_topo_up
    check "$1: timeouts above the test's length" timeouts
    nat_firewall
    check "$1: NAT and counting rules" rules
    traffic
    # Context for a difference: the tracker's counters, the server's UDP.
    echo "$1: router $(for _f in found new invalid ignore insert insert_failed drop; do printf '%s=%s ' $_f "$(nat_stat $_f)"; done)"
    echo "$1: server Udp $(for _f in InDatagrams OutDatagrams NoPorts InErrors; do printf '%s=%s ' $_f "$(ns_snmp srv Udp $_f)"; done)"
    # NAT rewrites headers: every end must have found its checksums right.
    _bad=$(for _ns in h1 h2 srv; do for _g in Tcp Udp Icmp; do
        printf '%s.%s=%s ' $_ns $_g "$(ns_snmp $_ns $_g InCsumErrors)"; done; done)
    check_no_match "$1: no end saw a bad checksum" "$_bad" '=[1-9]'
    table_now > "$OUT/$1.table"
    states DIFF > "$OUT/$1.states"
    seen_norm > "$OUT/$1.seen"
    check "$1: hostile packets sent" hostile
    states HOSTILE > "$OUT/$1.hostile"
    # The NATed entries (a reply tuple that is not the original's mirror
    # shows as a mapped address) must not change.
    # Tuples only: the fragments' datagram may make an entry ASSURED.
    sed -i 's/ \[ASSURED\]//' "$OUT/$1.before"
    grep -v '^hx-' "$OUT/$1.after" | sed 's/ \[ASSURED\]//' > "$OUT/$1.after.nat"
    if cmp -s "$OUT/$1.before" "$OUT/$1.after.nat"; then
        pass "$1: hostile packets changed no mapping ($(wc -l < "$OUT/$1.before") entries)"
    else
        fail "$1: hostile packets changed the table"
        ipct_show "$(diff "$OUT/$1.before" "$OUT/$1.after.nat")"
    fi
    echo "$1: run took $((($(now_ms) - _t0) / 1000)) s"
    nat_stop
    for _ns in $NAT_NS; do ip netns del "$_ns"; done
}

klog_mark
run nf_conntrack
unload_nf() {
    for _m in xt_state xt_conntrack xt_REDIRECT xt_MASQUERADE xt_nat iptable_nat nf_nat; do
        ! mod_loaded "$_m" || rmmod "$_m" || return 1
    done
    modprobe -r nf_conntrack
}
if wait_for 10 unload_nf; then
    pass "nf_conntrack, nf_nat and their users unloaded"
else
    fail "nf_conntrack, nf_nat and their users unloaded"
    ipct_show "$(unload_nf 2>&1; grep -E '^(nf_|xt_|iptable)' /proc/modules)"
fi
run ip_conntrack
if [ "$FAKE" = fake ]; then
    echo "masq-udp: udp 17 src=$H1 dst=$SRV sport=1 dport=2 (made up)" >> "$OUT/ip_conntrack.table"
    sed -i 's/^masq-tcp: .*/masq-tcp: 198.51.100.99:1/' "$OUT/ip_conntrack.seen"
    sed -i 's/^\(hx-csum-udp orig: all=1 NEW=0 ESTABLISHED=0 RELATED=0 INVALID=\)1/\10/' "$OUT/ip_conntrack.hostile"
fi

# ---- comparison ------------------------------------------------------------------

step "comparison"
allow=
[ ! -f "$ALLOW" ] || allow=$(grep -v '^[[:space:]]*\(#\|$\)' "$ALLOW")
n_allow=0
[ -z "$allow" ] || n_allow=$(printf '%s\n' "$allow" | wc -l)
check "the allow-list has at most 5 entries ($n_allow)" test "$n_allow" -le 5
check_no_match "every table line belongs to a class (nf_conntrack)" "$(cat "$OUT/nf_conntrack.after")" '^other:'
check_no_match "every table line belongs to a class (ip_conntrack)" "$(cat "$OUT/ip_conntrack.after")" '^other:'

# compare VIEW: per class, the two runs' lines of VIEW; a difference fails
# unless "CLASS VIEW" is allow-listed.
compare() {
    _names=$(cat "$OUT/nf_conntrack.$1" "$OUT/ip_conntrack.$1" | sed 's/[: ].*//' | sort -u)
    for _c in $_names; do
        _a=$(grep "^$_c[: ]" "$OUT/nf_conntrack.$1")
        _b=$(grep "^$_c[: ]" "$OUT/ip_conntrack.$1")
        if [ "$_a" = "$_b" ]; then
            pass "$_c $1 agrees"
            continue
        fi
        _why=$(printf '%s\n' "$allow" | awk -v c="$_c" -v v="$1" '$1 == c && index("," $2 ",", "," v ",") { $1 = ""; $2 = ""; print substr($0, 3) }')
        if [ -n "$_why" ]; then
            echo "allowed: $_c $1 differs: $_why"
        else
            fail "$_c $1 differs"
        fi
        ipct_show "$(printf '%s\n' "$_a" | sed 's/^/nf_conntrack: /')
$(printf '%s\n' "$_b" | sed 's/^/ip_conntrack: /')"
    done
}
for v in table seen states hostile after; do
    compare $v
done

check "rmmod ip_conntrack" wait_for 10 rmmod ip_conntrack
kmemleak_check
if [ "$IPCT_FAILED" -gt 0 ]; then
    echo "---- kernel log since the start"
    klog_new | tail -n 40 | sed 's/^/    | /'
else
    echo "---- what was compared (nf_conntrack's views)"
    sed 's/^/    | /' "$OUT/nf_conntrack.table" "$OUT/nf_conntrack.seen" "$OUT/nf_conntrack.states" \
        "$OUT/nf_conntrack.hostile" "$OUT/nf_conntrack.after"
fi
echo "---- guest time for the checks: $((($(now_ms) - start_ms) / 1000)) s"
