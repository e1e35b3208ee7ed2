# Differential check: the same traffic mix through the router twice in one
# boot, first tracked by the kernel's own nf_conntrack (enable_hooks=1, its
# xt_conntrack/xt_state behind `-m state`), then, after nf_conntrack and
# everything using it are unloaded, by ip_conntrack. Both views must agree:
#
#   table:  /proc/net/nf_conntrack vs /proc/net/ip_conntrack, normalized:
#           no timeouts, use=, mark=, zone=, secctx=, the "ipv4     2 "
#           prefix, line order; so tuples, TCP states, [UNREPLIED] and
#           [ASSURED] are compared;
#   states: the state each packet got, from the counters of identical
#           `-m state --state NEW|ESTABLISHED|RELATED|INVALID` rules (and
#           an all-packets rule) per traffic class and direction, in
#           INPUT, FORWARD and OUTPUT;
#   list:   `conntrack -L -f ipv4` (ctnetlink: nf_conntrack_netlink on
#           the first run, the module's own on the second), normalized
#           like the table;
#   events: per class, the sequence of NEW / UPDATE / DESTROY lines a
#           `conntrack -E` listener printed (started before the mix,
#           stopped once it has read everything; one listener per run,
#           its lines split by class address), timeouts and ids left out.
#   /proc/net/nf_conntrack (6.12's layout, which the module serves too):
#           its IPv4 lines byte for byte but for the seconds left, so
#           prefix, names, padding, mark= and use= too (6.12 counts the
#           reference its reader holds: an idle entry shows use=2 in
#           both); /proc/net/stat/nf_conntrack: the header, the row count
#           and layout, and `entries` = the lines of the table.
#
# Each traffic class has its own client address 192.0.2.(10+k), so every
# packet (ICMP errors too) is counted under its class. Packets are crafted
# with the packet tool as Ethernet frames to the router (fixed ports,
# sequence numbers, ICMP ids); the endpoints drop what is addressed to a
# crafted class so their stacks never answer. One class is a real TCP
# connection (nc): its counters are compared as zero / non-zero, since the
# number of ACKs depends on timing. Every crafted packet is waited for
# (the router's OutTransmits counter) before the next is sent, so nothing
# depends on speed; timeouts are raised far above the test's length.
#
# A difference is either fixed or listed in differential.allow (beside this
# file, at most 5 entries: CLASS VIEWS REASON, VIEWS one view or several
# joined by commas); a listed one is reported as
# "allowed: REASON", any other fails the run, which prints both views.
#
# IPv6 classes (k >= 60, client 2001:db8::K, server 2001:db8:1::77;
# the router reaches both through static neighbours whose MACs nobody
# has, so no endpoint answers) run on both trackers and are compared
# like the others (the table then includes the ipv6 lines of
# /proc/net/nf_conntrack and `conntrack -L -f ipv6`). IPCT_IPV6=0 runs
# them on the reference only.
#
# `scripts/vm-run.sh tests/vm/differential.sh fake` adds a made-up table
# line, a wrong packet count, a made-up event and a made-up
# /proc/net/nf_conntrack line to ip_conntrack's views: the run must then
# fail, four times.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

IPCT_IPV6=${IPCT_IPV6:-1}
# (`differential.sh ipv6` sets it too, for runners that pass no variables.)
[ "${1:-}" != ipv6 ] || IPCT_IPV6=1

S=$SERVER_IP
S6=2001:db8:1::77
ALLOW=/ipct/differential.allow
OUT=/tmp/differential
FAKE=${1:-}
mkdir -p "$OUT"

# Traffic classes: number (client address 192.0.2.(10+k), client port
# 40000+k, server port 7000+k) and name.
CLASSES="1:tcp-fin 2:tcp-rst 3:tcp-halfopen 4:tcp-refused 5:tcp-real
6:udp-oneway 7:udp-twoway 8:udp-stream 9:icmp-echo 10:icmp-echo-router
11:icmp-err-udp 12:icmp-err-tcp 13:icmp-err-unknown 14:proto-253
15:tcp-halfclose 16:tcp-server-close 17:tcp-rst-reply 18:tcp-simopen
19:tcp-midstream 20:tcp-synack-first 21:tcp-out-of-window 22:icmp-reply-alone
23:icmp-timestamp 24:udplite 25:tcp-wscale 26:tcp-reopen 27:fragments
28:tcp-keepalive 29:tcp-retrans 30:icmp-ttl-new 31:icmp-ttl-tracked
32:icmp-err-reverse 33:icmp-err-echo 34:tcp-bad-synack 35:tcp-syn-established
36:tcp-fin-data 37:sctp-assoc 38:sctp-invalid 39:sctp-abort 40:dccp-conn
41:dccp-invalid 42:icmpv6-in-ipv4"
# IPv6 classes: client 2001:db8::K (K read as hexadecimal digits), same
# ports.
CLASSES6="60:v6-tcp-fin 61:v6-tcp-refused 62:v6-udp-twoway 63:v6-echo 64:v6-err-udp
65:v6-err-unknown 66:v6-proto-253 67:v6-ttl 68:v6-exthdr 69:v6-fragments 70:v6-udplite
71:v6-sctp 72:v6-dccp 73:v6-exthdr-long"
# Classes whose endpoints answer for themselves (no drop rules there).
REAL_CLASSES=" 5 10 11 "

# class K: K, its client address, client port and server port in k, CIP,
# CP and SP.
class() {
    k=$1
    CIP=192.0.2.$((10 + k))
    CP=$((40000 + k))
    SP=$((7000 + k))
}
class_nums() { printf '%s\n' $CLASSES | sed 's/:.*//'; }
class6_nums() { printf '%s\n' $CLASSES6 | sed 's/:.*//'; }
# The classes of both families (names and addresses: norm_lines, states).
ALL_CLASSES="$CLASSES $CLASSES6"

# ---- counters, waits -------------------------------------------------------

# sent: the router's Ip OutTransmits into SENT, read by the shell alone
# (it is polled for every packet; starting awk each time would be slow).
OUT_COL=$(awk '$1 == "Ip:" { for (i = 2; i <= NF; i++) if ($i == "OutTransmits") print i; exit }' /proc/net/snmp)
# FAM=6: Ip6OutTransmits of /proc/net/snmp6 instead.
FAM=4
sent() {
    if [ "$FAM" = 6 ]; then
        while read -r _sent_name SENT; do
            [ "$_sent_name" != Ip6OutTransmits ] || return 0
        done < /proc/net/snmp6
        return 1
    fi
    { read -r _sent_head; read -r _sent_vals; } < /proc/net/snmp
    set -- $_sent_vals
    shift $((OUT_COL - 1))
    SENT=$1
}
# reached: SENT reached EXPECT.
reached() {
    sent
    [ "$SENT" -ge "$EXPECT" ]
}

# soon CMD...: CMD succeeds now or within about ten short polls (a packet
# usually takes a few milliseconds; wait_for's 0.2 s steps would dominate).
soon() {
    _soon_i=0
    while [ $_soon_i -lt 10 ]; do
        "$@" && return 0
        sleep 0.02
        _soon_i=$((_soon_i + 1))
    done
    return 1
}

# via N CMD...: run CMD (which sends), then wait until the router has
# transmitted N more IP packets (OutTransmits counts after POST_ROUTING,
# where new entries are confirmed), so each packet is handled before the
# next. The expected value is kept (rebase reads it) rather than read
# before each packet: one counter read per packet in the common case.
# After a packet could not be sent or went missing, the rest of the run's
# packets are skipped (the comparison then fails).
rebase() {
    sent
    EXPECT=$SENT
}
via() {
    [ -z "$BROKEN" ] || return 1
    EXPECT=$((EXPECT + $1))
    shift
    if ! "$@"; then
        fail "sending failed: $*; the rest of this run is skipped"
        BROKEN=1
        return 1
    fi
    if soon reached || wait_for 10 reached; then
        [ "$SENT" -eq "$EXPECT" ] && return 0
        # More than expected: the waits would stop ordering the packets.
        fail "the router sent $((SENT - EXPECT)) packet(s) more than expected after: $*"
        EXPECT=$SENT
        return 1
    fi
    sent
    fail "the router did not pass on the packet(s) of: $* (OutTransmits $SENT, want $EXPECT); the rest of this run is skipped"
    BROKEN=1
}

# settle: wait until the router transmits nothing more for a second (real
# TCP teardown), at most 15 s.
settle() {
    _i=0
    _last=-1
    while [ "$_i" -lt 15 ]; do
        sent
        [ "$SENT" = "$_last" ] && return 0
        _last=$SENT
        sleep 1
        _i=$((_i + 1))
    done
}


# ---- packets ---------------------------------------------------------------

# The packets come from two packet tools in batch mode, one per endpoint
# namespace, fed a line (a packet) at a time through FIFOs on fds 3 and 4:
# no process start per packet, and each packet still waits for the last.
# cline K ARGS...: a frame from class K's client address to the server,
# sent to the router's MAC; sline K ARGS...: from the server to it.
senders_up() {
    rm -f "$OUT/c.fifo" "$OUT/s.fifo"
    mkfifo "$OUT/c.fifo" "$OUT/s.fifo" || return 1
    pkt --batch --netns "$CLIENT_NS" --iface "$NS_IF" --dst-mac "$MAC_C" --src "$CLIENT_IP" --dst "$S" \
        < "$OUT/c.fifo" > "$OUT/c.log" 2>&1 &
    C_PID=$!
    pkt --batch --netns "$SERVER_NS" --iface "$NS_IF" --dst-mac "$MAC_S" --src "$S" --dst "$CLIENT_IP" \
        < "$OUT/s.fifo" > "$OUT/s.log" 2>&1 &
    S_PID=$!
    exec 3> "$OUT/c.fifo" 4> "$OUT/s.fifo"
}
# senders_down TRACKER: end both batches (EOF); each must have sent every
# line.
senders_down() {
    exec 3>&- 4>&-
    for _sd in c:"$C_PID":client s:"$S_PID":server; do
        bg_wait 10 "$(echo "$_sd" | cut -d: -f2)"
        _sd_rc=$?
        _sd_log=$OUT/${_sd%%:*}.log
        if [ "$_sd_rc" -eq 0 ]; then
            pass "$1: the ${_sd##*:}'s packet tool sent every packet"
        else
            fail "$1: the ${_sd##*:}'s packet tool stopped (status $_sd_rc)"
            ipct_show "$(cat "$_sd_log")"
        fi
    done
}
# With FAM=6 the class is an IPv6 one (client 2001:db8::K, server $S6).
cline() {
    _cl_k=$1
    shift
    if [ "$FAM" = 6 ]; then
        echo "--src 2001:db8::$_cl_k --dst $S6 $*" >&3
    else
        echo "--src 192.0.2.$((10 + _cl_k)) $*" >&3
    fi
}
sline() {
    _sl_k=$1
    shift
    if [ "$FAM" = 6 ]; then
        echo "--src $S6 --dst 2001:db8::$_sl_k $*" >&4
    else
        echo "--dst 192.0.2.$((10 + _sl_k)) $*" >&4
    fi
}
# from_c / from_s K ARGS...: one such packet, waited for until passed on.
from_c() { via 1 cline "$@"; }
from_s() { via 1 sline "$@"; }

# TCP segments of class K: tcp_c K FLAGS SEQ ACK [ARGS...] from the
# client, tcp_s K FLAGS SEQ ACK [ARGS...] from the server.
tcp_c() {
    _tc_k=$1 _tc_fl=$2 _tc_seq=$3 _tc_ack=$4
    shift 4
    from_c "$_tc_k" --sport $((40000 + _tc_k)) --dport $((7000 + _tc_k)) \
        --flags "$_tc_fl" --seq "$_tc_seq" --ack "$_tc_ack" "$@"
}
tcp_s() {
    _ts_k=$1 _ts_fl=$2 _ts_seq=$3 _ts_ack=$4
    shift 4
    from_s "$_ts_k" --sport $((7000 + _ts_k)) --dport $((40000 + _ts_k)) \
        --flags "$_ts_fl" --seq "$_ts_seq" --ack "$_ts_ack" "$@"
}

# UDP-Lite, SCTP and DCCP packets of class K: ulite_c / ulite_s K ARGS,
# sctp_c / sctp_s K ARGS, dccp_c / dccp_s K ARGS. UDP-Lite checksums use
# protocol 17 in the pseudo-header, as 6.12's conntrack verifies them.
ulite_c() { _k=$1; shift; from_c $_k --proto udplite --csum-proto 17 --sport $((40000 + _k)) --dport $((7000 + _k)) "$@"; }
ulite_s() { _k=$1; shift; from_s $_k --proto udplite --csum-proto 17 --sport $((7000 + _k)) --dport $((40000 + _k)) "$@"; }
sctp_c() { _k=$1; shift; from_c $_k --proto sctp --sport $((40000 + _k)) --dport $((7000 + _k)) "$@"; }
sctp_s() { _k=$1; shift; from_s $_k --proto sctp --sport $((7000 + _k)) --dport $((40000 + _k)) "$@"; }
dccp_c() { _k=$1; shift; from_c $_k --proto dccp --sport $((40000 + _k)) --dport $((7000 + _k)) "$@"; }
dccp_s() { _k=$1; shift; from_s $_k --proto dccp --sport $((7000 + _k)) --dport $((40000 + _k)) "$@"; }

# p_c / p_s K PROTO ARGS...: a packet of PROTO with class K's ports.
p_c() { _k=$1 _p=$2; shift 2; from_c $_k --proto $_p --sport $((40000 + _k)) --dport $((7000 + _k)) "$@"; }
p_s() { _k=$1 _p=$2; shift 2; from_s $_k --proto $_p --sport $((7000 + _k)) --dport $((40000 + _k)) "$@"; }

# tcp_open K: handshake (client ISN 1000, server ISN 5000) and 5 bytes each
# way, each acknowledged. Client next seq 1006, server 5006.
tcp_open() {
    tcp_c "$1" S 1000 0
    tcp_s "$1" SA 5000 1001
    tcp_c "$1" A 1001 5001
    tcp_c "$1" PA 1001 5001 --payload hello
    tcp_s "$1" A 5001 1006
    tcp_s "$1" PA 5001 1006 --payload world
    tcp_c "$1" A 1006 5006
}

# traffic: the whole mix (same packets under both trackers).
traffic() {
    rebase
    # udp-stream first: its third packet must come more than 2 s after
    # the first (Linux 6.12 makes a UDP flow ASSURED only then); the other
    # classes run in between.
    class 8
    from_c $k --proto udp --sport $CP --dport $SP --payload q1
    stream_t0=$(now_ms)
    from_s $k --proto udp --sport $SP --dport $CP --payload a1

    # tcp-fin: full exchange, orderly FIN teardown (TIME_WAIT, ASSURED).
    class 1
    tcp_open $k
    tcp_c $k FA 1006 5006
    tcp_s $k A 5006 1007
    tcp_s $k FA 5006 1007
    tcp_c $k A 1007 5007

    # tcp-rst: full exchange, then an in-window RST from the client (CLOSE),
    # and an ACK from the server that was already on its way.
    class 2
    tcp_open $k
    tcp_c $k R 1006 0
    tcp_s $k A 5006 1006

    # tcp-halfopen: a SYN and its retransmission, never answered.
    class 3
    tcp_c $k S 1000 0
    tcp_c $k S 1000 0

    # tcp-refused: SYN answered by RST/ACK (the entry goes at once).
    class 4
    tcp_c $k S 1000 0
    tcp_s $k RA 0 1001

    # udp-oneway: two datagrams, no answer.
    class 6
    from_c $k --proto udp --sport $CP --dport $SP --payload one
    from_c $k --proto udp --sport $CP --dport $SP --payload two

    # udp-twoway: a request and its answer.
    class 7
    from_c $k --proto udp --sport $CP --dport $SP --payload query
    from_s $k --proto udp --sport $SP --dport $CP --payload answer

    # icmp-echo: request and reply through the router.
    class 9
    from_c $k --proto icmp --icmp-type 8 --icmp-id 2309 --icmp-seq 1
    from_s $k --proto icmp --icmp-type 0 --icmp-id 2309 --icmp-seq 1

    # icmp-echo-router: the router itself answers (INPUT, OUTPUT).
    class 10
    via 1 cline $k --dst "$ROUTER_CLIENT_IP" --proto icmp --icmp-type 8 --icmp-id 2310 --icmp-seq 1

    # icmp-err-udp: a datagram to a closed server port; the server's own
    # port unreachable comes back (RELATED).
    class 11
    via 2 cline $k --proto udp --sport $CP --dport $SP --payload probe

    # icmp-err-tcp: a SYN, then a crafted host unreachable quoting it.
    class 12
    tcp_c $k S 1000 0
    from_s $k --proto icmp --icmp-type 3 --icmp-code 1 --inner-proto tcp \
        --inner-sport $CP --inner-dport $SP --inner-seq 1000 --inner-flags S

    # icmp-err-unknown: a port unreachable quoting a flow never seen.
    class 13
    from_s $k --proto icmp --icmp-type 3 --icmp-code 3 --inner-proto udp \
        --inner-sport $CP --inner-dport $SP

    # proto-253: an unknown IP protocol, one packet each way.
    class 14
    from_c $k --proto 253 --payload-len 8
    from_s $k --proto 253 --payload-len 8

    # tcp-halfclose: the client closes its side only (CLOSE_WAIT).
    class 15
    tcp_open $k
    tcp_c $k FA 1006 5006
    tcp_s $k A 5006 1007

    # tcp-server-close: the server closes first.
    class 16
    tcp_open $k
    tcp_s $k FA 5006 1006
    tcp_c $k A 1006 5007
    tcp_c $k FA 1006 5007
    tcp_s $k A 5007 1007

    # tcp-rst-reply: an established connection reset by the server.
    class 17
    tcp_open $k
    tcp_s $k R 5006 0
    tcp_c $k PA 1006 5006 --payload late

    # tcp-simopen: SYNs cross (simultaneous open).
    class 18
    tcp_c $k S 1000 0
    tcp_s $k S 5000 0

    # tcp-midstream: picked up in the middle (tcp_loose), answered, then
    # one more segment from the side that started.
    class 19
    tcp_c $k PA 2000 9000 --payload mid
    tcp_s $k A 9000 2003
    tcp_c $k A 2003 9000

    # tcp-synack-first: a SYN/ACK with no SYN before it.
    class 20
    tcp_s $k SA 5000 1001

    # tcp-out-of-window: an established connection, then a segment far
    # beyond the window, then an in-window one.
    class 21
    tcp_open $k
    tcp_c $k PA 3000000 5006 --payload far
    tcp_c $k A 1006 5006

    # icmp-reply-alone: an echo reply nobody asked for.
    class 22
    from_s $k --proto icmp --icmp-type 0 --icmp-id 2322 --icmp-seq 1

    # icmp-timestamp: timestamp request and reply.
    class 23
    from_c $k --proto icmp --icmp-type 13 --icmp-id 2323 --icmp-seq 1 --payload-len 12
    from_s $k --proto icmp --icmp-type 14 --icmp-id 2323 --icmp-seq 1 --payload-len 12

    # udplite: a datagram each way (protocol 136), then one covering its
    # header only (ASSURED at once, no two-second rule), then a coverage
    # below the header (INVALID).
    class 24
    ulite_c $k --payload hi
    ulite_s $k --payload hi
    ulite_c $k --udp-len 8 --payload partial
    ulite_c $k --udp-len 7 --payload short

    # tcp-wscale: window scaling (7) and SACK negotiated; the server
    # advertises 1000 << 7. Then client data 100000 bytes ahead (inside
    # the scaled window), data just past the window's edge (Linux lets an
    # overshoot up to one window pass, tracked, without INVALID) and data
    # far beyond it (INVALID).
    class 25
    tcp_c $k S 1000 0 --wscale 7 --sackperm
    tcp_s $k SA 5000 1001 --wscale 7 --sackperm --window 65535
    tcp_c $k A 1001 5001 --window 1000
    tcp_s $k A 5001 1001 --window 1000
    tcp_c $k PA 101001 5001 --window 1000 --payload far
    tcp_c $k PA 129500 5001 --window 1000 --payload ovr
    tcp_c $k PA 301001 5001 --window 1000 --payload bad

    # tcp-reopen: closed by FINs (TIME_WAIT), then the client opens the
    # same tuple again with a new SYN.
    class 26
    tcp_open $k
    tcp_c $k FA 1006 5006
    tcp_s $k FA 5006 1007
    tcp_c $k A 1007 5007
    tcp_c $k S 900000 0
    tcp_s $k SA 700000 900001
    tcp_c $k A 900001 700001

    # fragments: a protocol-253 datagram in two fragments, reassembled by
    # the router before tracking (one packet, one entry) and sent on as
    # two fragments again (Linux keeps the sizes it received).
    class 27
    cline $k --proto 253 --mf --id 77 --payload-len 16
    via 2 cline $k --proto 253 --frag-offset 2 --id 77 --payload-len 8

    # tcp-keepalive: an idle connection probed (one byte below the next
    # sequence number) and answered.
    class 28
    tcp_open $k
    tcp_c $k A 1005 5006
    tcp_s $k A 5006 1006

    # tcp-retrans: a retransmitted SYN/ACK, data sent twice, a duplicate
    # ACK.
    class 29
    tcp_c $k S 1000 0
    tcp_s $k SA 5000 1001
    tcp_s $k SA 5000 1001
    tcp_c $k A 1001 5001
    tcp_c $k PA 1001 5001 --payload hello
    tcp_c $k PA 1001 5001 --payload hello
    tcp_s $k A 5001 1006
    tcp_s $k A 5001 1006

    # icmp-ttl-new: a first datagram with TTL 1: the router drops it and
    # answers time exceeded (the error inherits the never-confirmed entry).
    class 30
    via 1 cline $k --proto udp --sport $CP --dport $SP --ttl 1 --payload ttl

    # icmp-ttl-tracked: a datagram, then one with TTL 1 on the same flow.
    class 31
    from_c $k --proto udp --sport $CP --dport $SP --payload one
    via 1 cline $k --proto udp --sport $CP --dport $SP --ttl 1 --payload ttl

    # icmp-err-reverse: a UDP exchange, then the client reports the
    # server's datagram unreachable (an error in the original direction
    # about a reply-direction packet).
    class 32
    from_c $k --proto udp --sport $CP --dport $SP --payload query
    from_s $k --proto udp --sport $SP --dport $CP --payload answer
    from_c $k --proto icmp --icmp-type 3 --icmp-code 3 --inner-proto udp \
        --inner-sport $SP --inner-dport $CP

    # icmp-err-echo: an echo request, then time exceeded quoting it.
    class 33
    from_c $k --proto icmp --icmp-type 8 --icmp-id 2333 --icmp-seq 1
    from_s $k --proto icmp --icmp-type 11 --icmp-code 0 --inner-proto icmp \
        --inner-icmp-type 8 --inner-icmp-id 2333 --inner-icmp-seq 1

    # tcp-bad-synack: a SYN/ACK acknowledging what was never sent, then
    # the right one and the handshake's end.
    class 34
    tcp_c $k S 1000 0
    tcp_s $k SA 5000 999999
    tcp_s $k SA 5000 1001
    tcp_c $k A 1001 5001

    # tcp-syn-established: the client reuses the port of a live connection
    # (a new SYN, ignored), the server answers with a challenge ACK, the
    # client resets the old connection and its SYN opens a new one.
    class 35
    tcp_open $k
    tcp_c $k S 50000 0
    tcp_s $k A 5006 1006
    tcp_c $k R 1006 0
    tcp_c $k S 50000 0
    tcp_s $k SA 80000 50001
    tcp_c $k A 50001 80001

    # tcp-fin-data: the last data and the FIN in one segment, answered by
    # one FIN/ACK.
    class 36
    tcp_open $k
    tcp_c $k FPA 1006 5006 --payload bye
    tcp_s $k FA 5006 1010
    tcp_c $k A 1010 5007

    # sctp-assoc: the four-way handshake (DATA bundled with the COOKIE
    # ECHO), data and its SACK, a DATA with the wrong tag (INVALID), and
    # the three-way shutdown.
    class 37
    sctp_c $k --chunk init --init-tag 0xc1c1c1c1
    sctp_s $k --vtag 0xc1c1c1c1 --chunk init-ack --init-tag 0x5e5e5e5e
    sctp_c $k --vtag 0x5e5e5e5e --chunk cookie-echo --chunk data
    sctp_s $k --vtag 0xc1c1c1c1 --chunk cookie-ack
    sctp_c $k --vtag 0x5e5e5e5e --chunk data
    sctp_s $k --vtag 0xc1c1c1c1 --chunk sack
    sctp_c $k --vtag 0xc1c1c1c1 --chunk data
    sctp_c $k --vtag 0x5e5e5e5e --chunk shutdown
    sctp_s $k --vtag 0xc1c1c1c1 --chunk shutdown-ack
    sctp_c $k --vtag 0x5e5e5e5e --chunk shutdown-complete

    # sctp-invalid: out-of-the-blue DATA and ABORT, an INIT with a tag, an
    # INIT bundled with DATA (all INVALID, no entry); then a HEARTBEAT
    # opens an entry (a secondary path) and its ACK establishes it.
    class 38
    sctp_c $k --vtag 5 --chunk data
    sctp_c $k --vtag 5 --chunk abort
    sctp_c $k --vtag 5 --chunk init
    sctp_c $k --chunk init --chunk data
    sctp_c $k --vtag 9 --chunk heartbeat
    sctp_s $k --vtag 8 --chunk heartbeat-ack

    # sctp-abort: INIT, INIT ACK, then the server's ABORT: without the T
    # bit but with the client's tag (INVALID), then with the T bit.
    class 39
    sctp_c $k --chunk init --init-tag 0xa1
    sctp_s $k --vtag 0xa1 --chunk init-ack --init-tag 0xb2
    sctp_s $k --vtag 0xb2 --chunk abort
    sctp_s $k --vtag 0xb2 --chunk abort:t

    # dccp-conn: Request, Response, the Ack of the Response (PARTOPEN,
    # ASSURED), client Data in PARTOPEN (INVALID), DataAcks (OPEN; one
    # whose checksum covers its first 8 bytes only: CsCov 3, counted from
    # the header's start as 6.12 does), a Sync (ignored), CloseReq, Close,
    # Reset.
    class 40
    dccp_c $k --dccp-type request --dccp-seq 100
    dccp_s $k --dccp-type response --dccp-seq 900 --dccp-ack 100
    dccp_c $k --dccp-type ack --dccp-seq 101 --dccp-ack 900
    dccp_c $k --dccp-type data --dccp-seq 102 --payload early
    dccp_s $k --dccp-type dataack --dccp-seq 901 --dccp-ack 101 --payload hi
    dccp_c $k --dccp-type dataack --dccp-seq 103 --dccp-ack 901 --cscov 3 --payload ok
    dccp_c $k --dccp-type sync --dccp-seq 104 --dccp-ack 901
    dccp_s $k --dccp-type closereq --dccp-seq 902 --dccp-ack 104
    dccp_c $k --dccp-type close --dccp-seq 105 --dccp-ack 902
    dccp_s $k --dccp-type reset --dccp-seq 903 --dccp-ack 105

    # dccp-invalid: an Ack with no connection, a Request without 48-bit
    # numbers, one whose coverage exceeds it (all INVALID); then a Request
    # answered only by a Reset (the entry goes at once).
    class 41
    dccp_c $k --dccp-type ack --dccp-seq 1 --dccp-ack 1
    dccp_c $k --dccp-type request --dccp-short
    dccp_c $k --dccp-type request --dccp-seq 10 --cscov 15
    dccp_c $k --dccp-type request --dccp-seq 10
    dccp_s $k --dccp-type reset --dccp-seq 77 --dccp-ack 10

    # icmpv6-in-ipv4: an ICMPv6 echo request and reply carried in IPv4
    # (protocol 58): 6.12 builds an ICMPv6 tuple, then refuses both (its
    # ICMPv6 tracker takes IPv6 only): INVALID, no entry.
    class 42
    from_c $k --proto 58 --payload-hex 8000000009a40001
    from_s $k --proto 58 --payload-hex 8100000009a40001

    class 8
    sleep_until $((stream_t0 + 3000))
    from_c $k --proto udp --sport $CP --dport $SP --payload q2

    # tcp-real: a real connection (nc), data both ways, FIN teardown.
    class 5
    printf 'world\n' | in_server nc -N -l -p $SP > "$OUT/nc-server" 2>&1 &
    srv=$!
    if wait_listen "$SERVER_NS" $SP tcp; then
        printf 'hello\n' | in_client nc -N -w 5 -s $CIP -p $CP "$S" $SP \
            > "$OUT/nc-client" 2>&1 || fail "nc client to $S:$SP failed"
    else
        fail "nc server did not listen on $SP"
    fi
    bg_wait 10 "$srv" > /dev/null 2>&1 || fail "nc server did not finish"

    settle
}

# traffic6: the IPv6 classes (after the others; crafted only).
traffic6() {
    FAM=6
    rebase

    # v6-tcp-fin: handshake, client data, FIN teardown.
    k=60
    tcp_c $k S 1000 0
    tcp_s $k SA 5000 1001
    tcp_c $k A 1001 5001
    tcp_c $k PA 1001 5001 --payload hello
    tcp_s $k A 5001 1006
    tcp_c $k FA 1006 5001
    tcp_s $k FA 5001 1007
    tcp_c $k A 1007 5002

    # v6-tcp-refused: a SYN answered by RST/ACK.
    k=61
    tcp_c $k S 1000 0
    tcp_s $k RA 0 1001

    # v6-udp-twoway: a request and its answer.
    k=62
    p_c $k udp --payload query
    p_s $k udp --payload answer

    # v6-echo: ICMPv6 echo request and reply, then a reply nobody asked
    # for (another id).
    k=63
    from_c $k --proto icmp --icmp-type 128 --icmp-id 2363 --icmp-seq 1
    from_s $k --proto icmp --icmp-type 129 --icmp-id 2363 --icmp-seq 1
    from_s $k --proto icmp --icmp-type 129 --icmp-id 2364 --icmp-seq 1

    # v6-err-udp: a datagram, then port unreachable quoting it (RELATED).
    k=64
    p_c $k udp --payload probe
    from_s $k --proto icmp --icmp-type 1 --icmp-code 4 --inner-proto udp \
        --inner-sport $((40000 + k)) --inner-dport $((7000 + k))

    # v6-err-unknown: port unreachable quoting a flow never seen.
    k=65
    from_s $k --proto icmp --icmp-type 1 --icmp-code 4 --inner-proto udp \
        --inner-sport $((40000 + k)) --inner-dport $((7000 + k))

    # v6-proto-253: an unknown protocol, one packet each way.
    k=66
    from_c $k --proto 253 --payload-len 8
    from_s $k --proto 253 --payload-len 8

    # v6-ttl: a datagram, then one with hop limit 1 on the same flow: the
    # router's time exceeded is RELATED.
    k=67
    p_c $k udp --payload one
    via 1 cline $k --proto udp --sport $((40000 + k)) --dport $((7000 + k)) --ttl 1 --payload ttl

    # v6-exthdr: UDP behind hop-by-hop, destination options and a routing
    # header both ways (tracked through the chain), then an error quoting
    # the client's datagram with its destination options.
    k=68
    p_c $k udp --ext hop --ext dest,len=16 --ext rt,segleft=0 --payload query
    p_s $k udp --ext dest --payload answer
    from_s $k --proto icmp --icmp-type 1 --icmp-code 4 --inner-proto udp \
        --inner-sport $((40000 + k)) --inner-dport $((7000 + k)) --inner-ext dest

    # v6-fragments: a UDP datagram in two fragments, reassembled before
    # tracking (one entry) and sent on as two.
    k=69
    cline $k --proto udp --sport $((40000 + k)) --dport $((7000 + k)) --id 69 --payload-len 64 --frag-slice 0:24
    via 2 cline $k --proto udp --sport $((40000 + k)) --dport $((7000 + k)) --id 69 --payload-len 64 --frag-slice 24:48

    # v6-udplite: a datagram each way, then one covering its header only.
    k=70
    p_c $k udplite --csum-proto 17 --payload hi
    p_s $k udplite --csum-proto 17 --payload hi
    p_c $k udplite --csum-proto 17 --udp-len 8 --payload partial

    # v6-sctp: INIT, INIT ACK, COOKIE ECHO, COOKIE ACK, DATA, ABORT.
    k=71
    p_c $k sctp --chunk init --init-tag 0xc1
    p_s $k sctp --vtag 0xc1 --chunk init-ack --init-tag 0x5e
    p_c $k sctp --vtag 0x5e --chunk cookie-echo
    p_s $k sctp --vtag 0xc1 --chunk cookie-ack
    p_c $k sctp --vtag 0x5e --chunk data
    p_s $k sctp --vtag 0x5e --chunk abort:t

    # v6-dccp: Request, Response, Ack, DataAck, Close, Reset.
    k=72
    p_c $k dccp --dccp-type request --dccp-seq 100
    p_s $k dccp --dccp-type response --dccp-seq 900 --dccp-ack 100
    p_c $k dccp --dccp-type ack --dccp-seq 101 --dccp-ack 900
    p_s $k dccp --dccp-type dataack --dccp-seq 901 --dccp-ack 101 --payload hi
    p_c $k dccp --dccp-type close --dccp-seq 102 --dccp-ack 901
    p_s $k dccp --dccp-type reset --dccp-seq 902 --dccp-ack 102

    # v6-exthdr-long: chains that end past the first 320 bytes (6.12 reads
    # on to the transport header): a SYN behind 1 KB of destination
    # options, the SYN/ACK behind 50 small ones, then port unreachable
    # behind 512 bytes of options quoting the SYN behind 512 of its own.
    k=73
    tcp_c $k S 1000 0 --ext dest,len=1024
    tcp_s $k SA 5000 1001 $(for _i in $(seq 50); do printf -- '--ext dest '; done)
    from_s $k --proto icmp --icmp-type 1 --icmp-code 4 --ext dest,len=512 \
        --inner-proto tcp --inner-sport $((40000 + k)) --inner-dport $((7000 + k)) --inner-ext dest,len=512

    FAM=4
    rebase
}

# ---- setup -----------------------------------------------------------------

# endpoints: class addresses on the client, and drop rules on both
# endpoints for the crafted classes (their stacks must not answer).
endpoints() {
    for k in $(class_nums); do
        echo "address add 192.0.2.$((10 + k))/24 dev $NS_IF"
    done | ip -n "$CLIENT_NS" -batch - || return 1
    for side in client server; do
        {
            echo '*filter'
            for k in $(class_nums); do
                case $REAL_CLASSES in *" $k "*) continue ;; esac
                if [ $side = client ]; then
                    echo "-A INPUT -d 192.0.2.$((10 + k)) -j DROP"
                else
                    echo "-A INPUT -s 192.0.2.$((10 + k)) -j DROP"
                fi
            done
            echo 'COMMIT'
        } | ip netns exec $side iptables-restore || return 1
    done
}

# net6: the router's IPv6 side: forwarding, an address on each link,
# static neighbours (MACs nobody has) for the IPv6 classes' addresses.
net6() {
    sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
    {
        echo "address add 2001:db8::1/64 dev $ROUTER_CLIENT_IF nodad"
        echo "address add 2001:db8:1::1/64 dev $ROUTER_SERVER_IF nodad"
        echo "neighbour add $S6 lladdr 02:00:00:00:00:78 dev $ROUTER_SERVER_IF nud permanent"
        for k in $(class6_nums); do
            echo "neighbour add 2001:db8::$k lladdr 02:00:00:00:00:77 dev $ROUTER_CLIENT_IF nud permanent"
        done
    } | ip -batch -
}

# counting_rules FAMILY: chain DIFF, called from INPUT, FORWARD and
# OUTPUT, one count-only rule per class of FAMILY (4 or 6), direction and
# state (comment "K DIR STATE"), loaded with one iptables-restore (or
# ip6tables-restore).
counting_rules() {
    _nums=$(class_nums)
    [ "$1" = 4 ] || _nums=$(class6_nums)
    {
        echo '*filter'
        echo ':DIFF - [0:0]'
        echo '-A INPUT -j DIFF'
        echo '-A FORWARD -j DIFF'
        echo '-A OUTPUT -j DIFF'
        for k in $_nums; do
            a=192.0.2.$((10 + k))
            [ "$1" = 4 ] || a=2001:db8::$k
            for d in orig reply; do
                sel="-s $a"
                [ $d = orig ] || sel="-d $a"
                echo "-A DIFF $sel -m comment --comment \"$k $d all\""
                for st in NEW ESTABLISHED RELATED INVALID; do
                    echo "-A DIFF $sel -m state --state $st -m comment --comment \"$k $d $st\""
                done
            done
        done
        echo 'COMMIT'
    } | if [ "$1" = 4 ]; then iptables-restore; else ip6tables-restore; fi
}

# timeouts DIR PREFIX: every timeout the mix ends in, far longer than the
# test (defaults as short as 10 s would expire entries before the reading).
timeouts() {
    for t in tcp_timeout_syn_sent tcp_timeout_close tcp_timeout_last_ack tcp_timeout_close_wait \
        tcp_timeout_time_wait udp_timeout udp_timeout_stream icmp_timeout generic_timeout \
        sctp_timeout_closed sctp_timeout_cookie_wait sctp_timeout_cookie_echoed \
        sctp_timeout_established sctp_timeout_shutdown_sent sctp_timeout_shutdown_recd \
        sctp_timeout_shutdown_ack_sent sctp_timeout_heartbeat_sent dccp_timeout_request \
        dccp_timeout_respond dccp_timeout_partopen dccp_timeout_open dccp_timeout_closereq \
        dccp_timeout_closing dccp_timeout_timewait; do
        echo 1800 > "$1/$2$t" || return 1
    done
    [ ! -e "$1/${2}icmpv6_timeout" ] || echo 1800 > "$1/${2}icmpv6_timeout"
}

# ---- views -----------------------------------------------------------------

# norm_lines: table, `conntrack -L` or `conntrack -E` lines (stdin)
# without what may differ legitimately (the event tag kept), each prefixed
# with its class name ("other" if none), in their order. IPv6 addresses
# count in either form (/proc's eight groups, conntrack's compressed).
norm_lines() {
    awk -v classes="$(printf '%s\n' $CLASSES | tr '\n' ' ')" -v classes6="$(printf '%s\n' $CLASSES6 | tr '\n' ' ')" '
        BEGIN {
            n = split(classes, cl, " ")
            for (i = 1; i <= n; i++) {
                split(cl[i], kv, ":")
                ip["192.0.2." (10 + kv[1])] = kv[2]
            }
            n = split(classes6, cl, " ")
            for (i = 1; i <= n; i++) {
                split(cl[i], kv, ":")
                ip["2001:db8::" kv[1]] = kv[2]
                ip["2001:0db8:0000:0000:0000:0000:0000:00" kv[1]] = kv[2]
            }
        }
        {
            sub(/^ *ipv[46] +(2|10) +/, "")
            tag = ""
            if ($1 ~ /^\[[A-Z]+\]$/) { tag = $1 " "; sub(/^ *[^ ]+ +/, "") }
            out = tag $1 " " $2
            name = "other"
            # The timeout (a destroy event may have none).
            i = ($3 ~ /^[0-9]+$/) ? 4 : 3
            for (; i <= NF; i++) {
                if ($i ~ /^(use|mark|zone|secctx|delta-time|id)=/) continue
                out = out " " $i
                if ($i ~ /^(src|dst)=/) {
                    a = substr($i, 5)
                    if (name == "other" && (a in ip)) name = ip[a]
                }
            }
            print name ": " out
        }'
}

# norm_table FILE: FILE's table or `conntrack -L` lines normalized, sorted.
norm_table() {
    norm_lines < "$1" | LC_ALL=C sort
}

# states: per class and direction, the packets each state rule counted.
# Real-connection classes (nc) show counts as 0 / some.
states() {
    { iptables -L DIFF -n -v -x; ip6tables -L DIFF -n -v -x 2> /dev/null; } |
        awk -v classes="$(printf '%s\n' $ALL_CLASSES | tr '\n' ' ')" \
        -v real="$REAL_TCP" '
        BEGIN {
            n = split(classes, cl, " ")
            for (i = 1; i <= n; i++) { split(cl[i], kv, ":"); name[kv[1]] = kv[2] }
        }
        match($0, /\/\* [0-9]+ (orig|reply) [A-Za-z]+ \*\//) {
            split(substr($0, RSTART + 3, RLENGTH - 6), f, " ")
            v = $1
            if (index(" " real " ", " " f[1] " ") && v > 0) v = "some"
            key = name[f[1]] " " f[2]
            if (!(key in line)) order[++m] = key
            line[key] = line[key] " " f[3] "=" v
        }
        END { for (i = 1; i <= m; i++) print order[i] ":" line[order[i]] }'
}
REAL_TCP=5

# The event listener (ct_listening, ct_drained: ct.sh).
listening() {
    ct_listening 1
}
drained() {
    ct_drained
}
# listen_start TRACKER: `conntrack -E` into $OUT/TRACKER.ev.raw, back once
# it has joined the event groups (nf_conntrack gives only entries made
# after that an event cache).
listen_start() {
    conntrack -E > "$OUT/$1.ev.raw" 2> "$OUT/$1.ev.err" &
    EV_PID=$!
    soon listening || wait_for 10 listening || fail "$1: conntrack -E did not join the event groups"
}
# listen_stop TRACKER: once the listener has read every event, stop it; it
# must still be running (a listener that overran its socket would have
# stopped with ENOBUFS).
listen_stop() {
    soon drained || wait_for 10 drained || fail "$1: conntrack -E left events unread"
    if alive "$EV_PID"; then
        pass "$1: the event listener lost nothing and ran to the end"
    else
        fail "$1: the event listener stopped early: $(cat "$OUT/$1.ev.err")"
    fi
    kill "$EV_PID" 2> /dev/null
    wait "$EV_PID" 2> /dev/null
}

# snapshot TRACKER TABLE_FILE: the views of the run into $OUT/TRACKER.*.
snapshot() {
    cat "$2" > "$OUT/$1.raw"
    conntrack -L -f ipv4 > "$OUT/$1.list.raw" 2> "$OUT/$1.list.err" ||
        fail "$1: conntrack -L failed: $(cat "$OUT/$1.list.err")"
    if [ "$RUN6" = 1 ]; then
        # ip_conntrack: its IPv6 entries are in /proc/net/nf_conntrack.
        [ "$2" = /proc/net/nf_conntrack ] || [ ! -r /proc/net/nf_conntrack ] ||
            grep '^ipv6 ' /proc/net/nf_conntrack >> "$OUT/$1.raw"
        conntrack -L -f ipv6 >> "$OUT/$1.list.raw" 2>> "$OUT/$1.list.err" ||
            fail "$1: conntrack -L -f ipv6 failed: $(cat "$OUT/$1.list.err")"
    fi
    norm_table "$OUT/$1.raw" > "$OUT/$1.table"
    norm_table "$OUT/$1.list.raw" > "$OUT/$1.list"
    # How the real connection's close passes FIN_WAIT, CLOSE_WAIT and
    # LAST_ACK depends on whether its stack sent the ACK and FIN apart.
    norm_lines < "$OUT/$1.ev.raw" |
        grep -Ev '^tcp-real: \[UPDATE\] tcp 6 (FIN_WAIT|CLOSE_WAIT|LAST_ACK) ' > "$OUT/$1.events"
    states > "$OUT/$1.states"
}

# run TRACKER: topology, rules, timeouts (already set), traffic, snapshot.
run_mix() {
    check "$1: topology up" topo_up
    check "$1: class addresses and endpoint drop rules" endpoints
    check "$1: counting rules (-m state) loaded" counting_rules 4
    if [ "$RUN6" = 1 ]; then
        check "$1: IPv6 addresses and neighbours on the router" net6
        check "$1: IPv6 counting rules (ip6tables -m state) loaded" counting_rules 6
    fi
    MAC_C=$(router_mac "$ROUTER_CLIENT_IF")
    MAC_S=$(router_mac "$ROUTER_SERVER_IF")
    _rm_t0=$(now_ms)
    BROKEN=
    # A packet tool that stopped must fail the run, not kill the shell.
    trap '' PIPE
    listen_start "$1"
    senders_up
    traffic
    [ "$RUN6" != 1 ] || traffic6
    senders_down "$1"
    listen_stop "$1"
    trap - PIPE
    echo "$1: traffic mix took $(( ($(now_ms) - _rm_t0) / 1000 )) s"
}

# teardown of one run: rules and namespaces.
run_down() {
    iptables -F
    iptables -X
    ip6tables -F
    ip6tables -X
    topo_down
}

# ---- the nf_conntrack run --------------------------------------------------

klog_mark
step "run 1: the kernel's nf_conntrack (enable_hooks=1)"
RUN6=1
check "modprobe nf_conntrack enable_hooks=1" modprobe nf_conntrack enable_hooks=1
check "modprobe nf_conntrack_netlink" modprobe nf_conntrack_netlink
check "nf_conntrack timeouts set above the test's length" timeouts /proc/sys/net/netfilter nf_conntrack_
run_mix nf_conntrack
snapshot nf_conntrack /proc/net/nf_conntrack
cat /proc/net/stat/nf_conntrack > "$OUT/nf_conntrack.nfstat"
check "xt_conntrack or xt_state served -m state" sh -c 'grep -Eq "^xt_(conntrack|state) " /proc/modules'
run_down

# Everything using nf_conntrack (matches, defrag users) goes first.
unload_nf() {
    for _m in xt_state xt_conntrack nf_conntrack_netlink; do
        ! mod_loaded $_m || rmmod $_m || return 1
    done
    modprobe -r nf_conntrack
}
check "nf_conntrack and its users unloaded" unload_nf
check_fails "nf_conntrack is gone" mod_loaded nf_conntrack

# ---- the ip_conntrack run --------------------------------------------------

step "run 2: ip_conntrack (IPv6 classes: IPCT_IPV6=$IPCT_IPV6)"
RUN6=$IPCT_IPV6
check "modprobe ip_conntrack" modprobe ip_conntrack
check "ip_conntrack timeouts set above the test's length" timeouts "$CT_SYSCTL" ip_conntrack_
run_mix ip_conntrack
snapshot ip_conntrack "$CT_TABLE"
# 6.12's two files as the module serves them.
cat /proc/net/nf_conntrack > "$OUT/ip_conntrack.nf.raw"
cat /proc/net/stat/nf_conntrack > "$OUT/ip_conntrack.nfstat"
if [ "$FAKE" = fake ]; then
    echo "tcp-fin: tcp 6 ESTABLISHED src=192.0.2.11 dst=198.51.100.2 sport=1 dport=2 (made up)" \
        >> "$OUT/ip_conntrack.table"
    sed -i 's/^\(udp-oneway orig: all=[0-9]* NEW=\)[0-9]*/\199/' "$OUT/ip_conntrack.states"
    echo "udp-oneway: [DESTROY] udp 17 src=192.0.2.16 dst=198.51.100.2 sport=40006 dport=7006 (made up)" \
        >> "$OUT/ip_conntrack.events"
    sed -i '1s/ use=2$/ use=1/' "$OUT/ip_conntrack.nf.raw"
fi
run_down

# ---- comparison ------------------------------------------------------------

step "comparison"
nf_lines=$(wc -l < "$OUT/nf_conntrack.table")
check "nf_conntrack's table has an entry for most classes ($nf_lines lines)" test "$nf_lines" -ge 10
check_no_match "nothing outside the classes in nf_conntrack's table" "$(cat "$OUT/nf_conntrack.table")" '^other:'
check_no_match "nothing outside the classes in ip_conntrack's table" "$(cat "$OUT/ip_conntrack.table")" '^other:'
nf_events=$(cut -d: -f1 "$OUT/nf_conntrack.events" | sort -u | wc -l)
check "nf_conntrack's listener saw events of most classes ($nf_events)" test "$nf_events" -ge 10
nf_v6=$(grep -c '^v6-' "$OUT/nf_conntrack.table")
check "nf_conntrack's table has IPv6 entries for most IPv6 classes ($nf_v6 lines)" test "$nf_v6" -ge 8
[ "$IPCT_IPV6" = 1 ] || echo "note: the IPv6 classes ran on nf_conntrack only (IPCT_IPV6=0): not compared"
for t in nf_conntrack ip_conntrack; do
    check_no_match "nothing outside the classes in $t's conntrack -L and events" \
        "$(cat "$OUT/$t.list" "$OUT/$t.events")" '^other:'
done

# The allow-list: "CLASS VIEWS REASON...", VIEWS table, states, list or
# events, or several of them joined by commas.
allow=
[ ! -f "$ALLOW" ] || allow=$(grep -v '^[[:space:]]*\(#\|$\)' "$ALLOW")
n_allow=0
[ -z "$allow" ] || n_allow=$(printf '%s\n' "$allow" | wc -l)
check "the allow-list has at most 5 entries ($n_allow)" test "$n_allow" -le 5
bad_allow=$(printf '%s\n' "$allow" | awk 'NF {
    n = split($2, v, ",")
    bad = NF < 3
    for (i = 1; i <= n; i++) if (v[i] !~ /^(table|states|list|events)$/) bad = 1
    if (bad) print }')
check_eq "every allow-list entry names a class, a view and a reason" "$bad_allow" ""

# compare: one line per class and view, "agree NAME VIEW", "allowed NAME
# VIEW REASON" or "differ NAME VIEW", the last two followed by both sides
# ("    nf_conntrack: LINE" / "    ip_conntrack: LINE"); then a note for
# each allow-list entry that matches no difference.
compare() {
    printf '%s\n' "$allow" > "$OUT/allow"
    _cmp=$CLASSES
    [ "$IPCT_IPV6" != 1 ] || _cmp=$ALL_CLASSES
    awk -v classes="$(printf '%s\n' $_cmp | sed 's/^[0-9]*://' | tr '\n' ' ')other" '
        function key(line) { sub(/[: ].*/, "", line); return line }
        FILENAME ~ /allow$/ {
            if (NF >= 3) {
                r = $0; sub(/^[^ ]+ +[^ ]+ +/, "", r)
                nv = split($2, vs, ",")
                for (j = 1; j <= nv; j++) why[$1 " " vs[j]] = r
            }
            next
        }
        {
            np = split(FILENAME, p, "/"); split(p[np], tv, ".")
            k = key($0) " " tv[2]
            text[tv[1], k] = text[tv[1], k] "\n" $0
        }
        END {
            n = split(classes, cl, " ")
            split("table states list events", views, " ")
            for (i = 1; i <= n; i++) for (v = 1; v <= 4; v++) {
                k = cl[i] " " views[v]
                a = text["nf_conntrack", k]; b = text["ip_conntrack", k]
                if (a == b) { print "agree " k; continue }
                if (k in why) { print "allowed: " why[k] " (" k " differs)"; used[k] = 1 } else print "differ " k
                side("nf_conntrack", a); side("ip_conntrack", b)
            }
            for (k in why) if (!(k in used)) print "note: allow-list entry \"" k "\" matches no difference"
        }
        function side(t, s,   m, l, j) {
            if (s == "") { print "    " t ": (nothing)"; return }
            m = split(substr(s, 2), l, "\n")
            for (j = 1; j <= m; j++) print "    " t ": " l[j]
        }' "$OUT/allow" "$OUT/nf_conntrack.table" "$OUT/ip_conntrack.table" \
        "$OUT/nf_conntrack.states" "$OUT/ip_conntrack.states" \
        "$OUT/nf_conntrack.list" "$OUT/ip_conntrack.list" \
        "$OUT/nf_conntrack.events" "$OUT/ip_conntrack.events"
}

# nf_file FILE: the IPv4 lines of a /proc/net/nf_conntrack copy, the
# seconds left replaced by T, sorted; lines of classes the allow-list
# lets differ in the table left out.
nf_file() {
    _nf_skip=$(printf '%s\n' "$allow" | awk -v classes="$(printf '%s\n' $CLASSES | tr '\n' ' ')" '
        BEGIN { n = split(classes, cl, " "); for (i = 1; i <= n; i++) { split(cl[i], kv, ":"); num[kv[2]] = kv[1] } }
        $2 ~ /(^|,)table(,|$)/ && ($1 in num) { printf " src=192.0.2.%d |", 10 + num[$1] }')
    grep '^ipv4 ' "$1" | sed -E 's/^(ipv4 +2 +[a-z]+ +[0-9]+ )[0-9]+ /\1T /' |
        { if [ -n "$_nf_skip" ]; then grep -Ev "${_nf_skip%|}"; else cat; fi; } | LC_ALL=C sort
}
nf_file "$OUT/nf_conntrack.raw" > "$OUT/nf_conntrack.nf"
nf_file "$OUT/ip_conntrack.nf.raw" > "$OUT/ip_conntrack.nf"
if cmp -s "$OUT/nf_conntrack.nf" "$OUT/ip_conntrack.nf"; then
    pass "/proc/net/nf_conntrack: ip_conntrack's $(wc -l < "$OUT/ip_conntrack.nf") lines are nf_conntrack's (but for seconds left)"
else
    fail "/proc/net/nf_conntrack: ip_conntrack's lines differ from nf_conntrack's"
    diff "$OUT/nf_conntrack.nf" "$OUT/ip_conntrack.nf" | sed 's/^/    | /'
fi
check_eq "/proc/net/stat/nf_conntrack: the same header" \
    "$(head -n 1 "$OUT/ip_conntrack.nfstat")" "$(head -n 1 "$OUT/nf_conntrack.nfstat")"
check_eq "/proc/net/stat/nf_conntrack: as many rows" \
    "$(wc -l < "$OUT/ip_conntrack.nfstat")" "$(wc -l < "$OUT/nf_conntrack.nfstat")"
NF_STAT_RE='^[0-9a-f]{8}  ([0-9a-f]{8} ){11}[0-9a-f]{8}  ([0-9a-f]{8} ){3}[0-9a-f]{8}$'
for t in nf_conntrack ip_conntrack; do
    check_eq "/proc/net/stat/nf_conntrack of $t: every row is 6.12's 17 fields" \
        "$(tail -n +2 "$OUT/$t.nfstat" | grep -Evc "$NF_STAT_RE")" 0
done
# stat_sum TRACKER COLUMN: a counter of /proc/net/stat/nf_conntrack
# summed over the CPUs (the rows are hexadecimal).
stat_sum() {
    tail -n +2 "$OUT/$1.nfstat" | awk -v c="$2" '{ print $c }' |
        while read -r h; do echo $((0x$h)); done | awk '{ s += $1 } END { print s + 0 }'
}
# The same traffic counts the same refusals: invalid (5) and icmp_error
# (13), which 6.12 counts instead of invalid for what its ICMP and ICMPv6
# error handlers refuse.
for col in 5:invalid 13:icmp_error; do
    check_eq "/proc/net/stat/nf_conntrack: ${col#*:} summed over the CPUs as nf_conntrack's" \
        "$(stat_sum ip_conntrack "${col%%:*}")" "$(stat_sum nf_conntrack "${col%%:*}")"
done
check_eq "/proc/net/stat/nf_conntrack of ip_conntrack: entries = its table's lines" \
    "$(tail -n +2 "$OUT/ip_conntrack.nfstat" | awk '{ print $1 }' | sort -u)" \
    "$(printf '%08x' "$(wc -l < "$OUT/ip_conntrack.nf.raw")")"

differs=0
compare > "$OUT/report" || fail "the comparison itself failed"
while IFS= read -r line; do
    case $line in
        "agree "*) pass "${line#agree } agrees" ;;
        "differ "*) fail "${line#differ } differs"; differs=1 ;;
        *) echo "$line" ;;
    esac
done < "$OUT/report"

if [ "$differs" -ne 0 ] || [ "$IPCT_FAILED" -gt 0 ]; then
    for v in table states list events; do
        for t in nf_conntrack ip_conntrack; do
            echo "---- $t $v (normalized)"
            sed 's/^/    | /' "$OUT/$t.$v"
        done
        echo "---- diff nf_conntrack ip_conntrack ($v)"
        diff "$OUT/nf_conntrack.$v" "$OUT/ip_conntrack.$v" | sed 's/^/    | /'
    done
    echo "---- kernel log since the start"
    klog_new | tail -n 40 | sed 's/^/    | /'
else
    echo "---- what was compared (nf_conntrack's views; ip_conntrack's agree but where allowed)"
    sed 's/^/    | /' "$OUT/nf_conntrack.table" "$OUT/nf_conntrack.states" "$OUT/nf_conntrack.events"
    echo "---- nf_conntrack's /proc/net/nf_conntrack"
    sed 's/^/    raw| /' "$OUT/nf_conntrack.raw" "$OUT/nf_conntrack.nfstat"
fi

check "rmmod ip_conntrack" rmmod ip_conntrack
