# Router failover with state sync: Debian's unmodified conntrackd 1.4.7
# (FTFW over UDP on a dedicated link) keeps a backup router's table in
# step with the primary's through the module's ctnetlink. A TCP connection
# through the primary survives the primary's failure when the backup
# commits its external cache before it takes the route, and breaks when
# it does not (tcp_loose=0 and a policy-DROP `-m state` firewall on both
# routers: mid-stream packets of an unknown connection are INVALID). The
# last run has both routers MASQUERADE out of the WAN side: NATed
# connections survive the same way, the committed entries carrying the
# primary's mappings (ctnetlink's CTA_NAT_SRC and CTA_NAT_DST, from
# conntrackd): masqueraded connections out, a port forward in. An IPv6
# entry made on the primary is synced and committed on the backup too.
#
#   client eth0 192.0.2.2 ---- lan0 192.0.2.1     ra  wan0 198.51.100.1 ---- eth0 198.51.100.2 server
#          eth1 192.0.2.2 ---- lan0 (192.0.2.1)   rb  wan0 (198.51.100.1) -- eth1 198.51.100.2
#                          ra sync0 203.0.113.1 ---- rb sync0 203.0.113.2
#
# An active/backup pair as keepalived runs it: the LAN gateway and the
# public address are virtual addresses of the active router, moved to the
# backup when it takes over (the failed primary keeps them on its downed
# links). The test kernel has no bridge, so each router has its own links
# and the client and server route through one at a time (their routes
# name the interface); under NAT the server has no route to the LAN.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

C=192.0.2.2
S=198.51.100.2
GW_C=192.0.2.1
GW_S=198.51.100.1
# Lines sent at once at the end: many full segments, through the backup's
# window tracking (TCPWindowTracking yes) from a committed entry.
BURST=5000
NAT=no
# The NAT run's second connection's port.
SIDE=7004
# Its port forward: the public address's port FWD to the client's FWD_TO.
FWD=8005
FWD_TO=7005

# table R: router R's table as /proc/net/ip_conntrack shows it; under
# nf_conntrack, `conntrack -L` (the same layout).
table() {
    if [ "$BACKEND" = ip_conntrack ]; then
        ip netns exec "$1" cat "$CT_TABLE"
    else
        ip netns exec "$1" conntrack -L 2> /dev/null
    fi
}

# ctd R ARG...: conntrackd's client on router R's daemon.
ctd() {
    _r=$1
    shift
    ip netns exec "$_r" conntrackd -C "/tmp/ctd-$_r.conf" "$@"
}

# ctd_conf R LOCAL PEER: router R's configuration: README.md's, with
# paths of its own, a log, and the purge after `-t` 1 s away. With
# TCPWindowTracking no (the default) conntrackd commits TCP entries with
# window checks off (the BE_LIBERAL flag); with yes the backup checks
# windows from the committed entry on.
ctd_conf() {
    cat > "/tmp/ctd-$1.conf" << EOF
Sync {
    Mode FTFW { PurgeTimeout 1 }
    UDP {
        IPv4_address $2
        IPv4_Destination_Address $3
        Port 3780
        Interface sync0
    }
    Options { TCPWindowTracking $WT }
}
General {
    LogFile /tmp/ctd-$1.log
    Syslog off
    LockFile /tmp/ctd-$1.lock
    UNIX { Path /tmp/ctd-$1.sock }
    Filter From Userspace {
        Protocol Accept { TCP }
        Address Ignore { IPv4_address 203.0.113.0/24 }
    }
}
EOF
}

# router R SYNC_IP: namespace R with its three links' far ends set up,
# forwarding, mid-stream pickup off (nf_conntrack's sysctl is per
# namespace; ip_conntrack's is global) and the stateful firewall.
router() {
    ip -n "$1" link set lo up &&
    ip -n "$1" addr add "$2/24" dev sync0 &&
    for i in lan0 wan0 sync0; do ip -n "$1" link set "$i" up || return 1; done &&
    ip netns exec "$1" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward' &&
    { [ "$BACKEND" = ip_conntrack ] ||
        ip netns exec "$1" sh -c 'echo 0 > /proc/sys/net/netfilter/nf_conntrack_tcp_loose'; } &&
    printf '%s\n' '*filter' ':FORWARD DROP' \
        '-A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT' \
        '-A FORWARD -i lan0 -o wan0 -p tcp --syn -m state --state NEW -j ACCEPT' \
        '-A FORWARD -i wan0 -o lan0 -p tcp --syn -m conntrack --ctstate DNAT -j ACCEPT' \
        '-A FORWARD -m state --state INVALID -m comment --comment invalid -j DROP' COMMIT \
        | ip netns exec "$1" iptables-restore
}

topology() {
    for n in client server ra rb; do ip netns add "$n" || return 1; done &&
    ip link add eth0 netns client type veth peer name lan0 netns ra &&
    ip link add eth1 netns client type veth peer name lan0 netns rb &&
    ip link add eth0 netns server type veth peer name wan0 netns ra &&
    ip link add eth1 netns server type veth peer name wan0 netns rb &&
    ip link add sync0 netns ra type veth peer name sync0 netns rb &&
    router ra 203.0.113.1 && router rb 203.0.113.2 &&
    for n in client server; do
        ip -n "$n" link set lo up && ip -n "$n" link set eth0 up && ip -n "$n" link set eth1 up || return 1
    done &&
    ip -n client addr add "$C/24" dev eth0 &&
    ip -n client addr add "$C/24" dev eth1 noprefixroute &&
    ip -n server addr add "$S/24" dev eth0 &&
    ip -n server addr add "$S/24" dev eth1 noprefixroute &&
    via ra
}

# via R: router R holds the virtual addresses and the client and server
# route through it (eth0: ra, eth1: rb); without NAT the server's default
# route is R, with it the server has only the public address's route.
via() {
    _if=eth0
    if [ "$1" = ra ]; then
        vips rb del 2> /dev/null
        vips ra replace || return 1
    else
        _if=eth1
        vips rb replace || return 1
    fi
    ip -n client route replace default via "$GW_C" dev "$_if" onlink &&
    ip -n server route replace "$GW_S" dev "$_if" &&
    if [ "$NAT" = yes ]; then
        { ip -n server route del default 2> /dev/null || true; }
    else
        ip -n server route replace default via "$GW_S" dev "$_if" onlink
    fi
}

# vips R add|replace|del: router R's virtual addresses.
vips() {
    ip -n "$1" addr "$2" "$GW_C/24" dev lan0 && ip -n "$1" addr "$2" "$GW_S/24" dev wan0
}

# nat_rules PORT: both routers MASQUERADE out of wan0: connections to
# PORT to ports 20000-29999 (mapped: conntrackd sends the port too), the
# rest as usual (the client's port kept: conntrackd sends the address
# alone); and forward the public address's port $FWD to the client's
# $FWD_TO (destination NAT: the address and port).
nat_rules() {
    for r in ra rb; do
        printf '%s\n' '*nat' \
            "-A PREROUTING -i wan0 -p tcp --dport $FWD -j DNAT --to-destination $C:$FWD_TO" \
            "-A POSTROUTING -o wan0 -p tcp --dport $1 -j MASQUERADE --to-ports 20000-29999" \
            '-A POSTROUTING -o wan0 -j MASQUERADE' COMMIT | ip netns exec "$r" iptables-restore || return 1
    done
}

# quiet_start WHAT LISTENER LPORT SENDER SRC DST DPORT REPLY: a quiet
# connection from SENDER (address SRC) to DST port DPORT, LISTENER's
# LPORT behind it, that sends "one" now and "two" once /tmp/stop.LPORT
# exists; ra's entry must have the reply tuple REPLY (@ for the sender's
# port). Sets q_key and q_reply (its tuples), q_srv and q_cli (its jobs).
quiet_start() {
    stream "$3" "echo one; while [ ! -e /tmp/stop.$3 ]; do sleep 0.1; done; echo two" "$2" "$4" "$6" "$7"
    q_srv=$stream_srv
    q_cli=$stream_cli
    check "$m: $1 is ESTABLISHED [ASSURED] on ra" wait_for 10 assured_on ra "dport=$7 "
    _sp=$(sport_to "$7")
    q_key="src=$5 dst=$6 sport=$_sp dport=$7 "
    q_reply=$(echo "$8" | sed "s/@/$_sp/")
    check_match "$m: ra's entry for $1" "$(table ra | grep -F "$q_key")" "$(re "$q_key$q_reply")"
}

# quiet_finish WHAT LPORT SRV CLI: the quiet connection's last line,
# through rb.
quiet_finish() {
    touch "/tmp/stop.$2"
    bg_wait 10 "$4"
    check_eq "$m: $1: the sender ends cleanly" "$?$(cat "/tmp/cli.$2")" 0
    bg_wait 10 "$3"
    check_eq "$m: $1: the receiver ends cleanly" "$?" 0
    check_eq "$m: $1: both lines arrived" "$(tr '\n' ' ' < "/tmp/rcv.$2")" "one two "
}

# stream PORT SCRIPT [LISTENER SENDER DST DPORT]: LISTENER (the server)
# listens on PORT, writing what it gets to /tmp/rcv.PORT; SENDER (the
# client) sends SCRIPT's output to DST port DPORT (the server, PORT) and
# closes (FIN) at its end. Sets stream_srv and stream_cli (the jobs).
stream() {
    rm -f "/tmp/stop.$1" "/tmp/rcv.$1"
    ip netns exec "${3:-server}" nc -l -p "$1" < /dev/null > "/tmp/rcv.$1" 2> /dev/null &
    stream_srv=$!
    wait_listen "${3:-server}" "$1" tcp
    ip netns exec "${4:-client}" sh -c "$2" \
        | ip netns exec "${4:-client}" nc -N "${5:-$S}" "${6:-$1}" > /dev/null 2> "/tmp/cli.$1" &
    stream_cli=$!
}

# sport_to PORT: the source port of the connection to PORT, from ra's
# table.
sport_to() {
    table ra | sed -n "s/.* sport=\([0-9]*\) dport=$1 .*/\1/p" | head -n 1
}

# ra_links up|down: the primary's client and server links.
ra_links() {
    ip -n ra link set lan0 "$1" && ip -n ra link set wan0 "$1"
}

# restore: ra up, and the route through it.
restore() {
    ra_links up && via ra
}

# invalid R: packets router R's firewall dropped as INVALID.
invalid() {
    ip netns exec "$1" iptables -L FORWARD -v -x -n | awk '/\/\* invalid \*\// { print $1 }'
}

# run PORT commit|nocommit: a line-by-line TCP stream client -> server
# through ra; once the backup's external cache holds it, ra fails, rb
# (after `conntrackd -c` when told) takes the route, and the client goes
# on sending.
run() {
    port=$1
    m="$BACKEND, $2, TCPWindowTracking $WT"
    [ "$NAT" = no ] || m="$m, MASQUERADE"
    check "$m: the route through ra" restore
    stream "$port" "i=1; while [ ! -e /tmp/stop.$port ]; do echo line \$i; i=\$((i + 1)); sleep 0.05; done; seq $BURST | sed 's/^/burst /'; echo end"
    srv=$stream_srv
    cli=$stream_cli
    check "$m: the connection is ESTABLISHED [ASSURED] on ra" wait_for 10 assured_on ra "dport=$port "
    sport=$(sport_to "$port")
    key="src=$C dst=$S sport=$sport dport=$port "
    # The reply tuple: the inverse, or to the public address and the
    # mapped port.
    reply="src=$S dst=$C sport=$port dport=$sport "
    if [ "$NAT" = yes ]; then
        check_match "$m: ra masquerades it to $GW_S, a port in 20000-29999" "$(table ra | grep -F "$key")" \
            "$(re "$key")src=$(re "$S") dst=$(re "$GW_S") sport=$port dport=2[0-9]{4} "
        mport=$(table ra | sed -n "s/^.* sport=$port dport=\([0-9]*\) .*/\1/p" | head -n 1)
        reply="src=$S dst=$GW_S sport=$port dport=$mport "
        check_match "$m: the server's peer is $GW_S:$mport" \
            "$(in_server ss -Htn state established "( sport = :$port )")" " $(re "$GW_S:$mport") *\$"
    fi
    if [ "$NAT" = yes ]; then
        quiet_start "a second connection (port $SIDE)" server "$SIDE" client "$C" "$S" "$SIDE" \
            "src=$S dst=$GW_S sport=$SIDE dport=@ "
        side_key=$q_key side_reply=$q_reply side_srv=$q_srv side_cli=$q_cli
        quiet_start "a forwarded connection (port $FWD to the client's $FWD_TO)" client "$FWD_TO" server "$S" "$GW_S" "$FWD" \
            "src=$C dst=$S sport=$FWD_TO dport=@ "
        fwd_key=$q_key fwd_reply=$q_reply fwd_srv=$q_srv fwd_cli=$q_cli
    fi
    check "$m: rb's external cache has it, ESTABLISHED" wait_for 10 external_has "$key"
    if [ "$NAT" = yes ]; then
        check "$m: and the second one" wait_for 10 external_has "$side_key"
        check "$m: and the forwarded one" wait_for 10 external_has "$fwd_key"
    fi
    check_eq "$m: rb's kernel table does not" "$(table rb | grep -cF "$key")" 0
    check "$m: lines arrive through ra" wait_for 5 received "$port" 10
    inv0=$(invalid rb)

    step "$m: ra fails"
    if [ "$NAT" = yes ]; then
        # Its links going down drop its MASQUERADE entries (6.12's
        # masquerade notifier) and its daemon would sync the deletions;
        # a failed router sends nothing, so its sync link goes first.
        check "$m: ra's sync link down" ip -n ra link set sync0 down
        check "$m: ra's links down" ra_links down
        check "$m: ra's masqueraded entry went with its WAN link" wait_for 5 gone_from ra "$key"
    else
        check "$m: ra's links down" ra_links down
    fi
    if [ "$2" = commit ]; then
        check "$m: rb commits its external cache (conntrackd -c)" ctd rb -c
        committed=$(table rb | grep -F "$key")
        check_match "$m: the committed entry in rb's table ($(ct_timeout "$committed") s left)" "$committed" \
            "^tcp +6 [0-9]+ ESTABLISHED $(re "$key$reply")\[ASSURED\] mark=0 use=[0-9]+\$"
        if [ "$NAT" = yes ]; then
            # Through ctnetlink: the status bits say source NAT done
            # (what conntrack's filters and conntrackd's -R read).
            check_match "$m: conntrack -L --src-nat on rb lists the stream" \
                "$(ip netns exec rb conntrack -L --src-nat 2> /dev/null)" "$(re "$key$reply")"
            check_eq "$m: conntrack -L --dst-nat on rb does not list the stream" \
                "$(ip netns exec rb conntrack -L --dst-nat 2> /dev/null | grep -cF "$key")" 0
            check_match "$m: the second connection's committed entry, the client's port kept" \
                "$(table rb | grep -F "$side_key")" \
                "^tcp +6 [0-9]+ ESTABLISHED $(re "$side_key$side_reply")\[ASSURED\] mark=0 use=[0-9]+\$"
            check_match "$m: the forwarded connection's committed entry (CTA_NAT_DST)" \
                "$(table rb | grep -F "$fwd_key")" \
                "^tcp +6 [0-9]+ ESTABLISHED $(re "$fwd_key$fwd_reply")\[ASSURED\] mark=0 use=[0-9]+\$"
            check_match "$m: conntrack -L --dst-nat on rb lists the forwarded one" \
                "$(ip netns exec rb conntrack -L --dst-nat 2> /dev/null)" "$(re "$fwd_key$fwd_reply")"
        fi
        # The rest of conntrackd's primary-backup.sh for a new primary.
        check "$m: rb flushes its caches, resyncs from its table, sends in bulk (-f, -R, -B)" become_primary
        check "$m: rb's internal cache has it, from its kernel table" wait_for 5 cache_has rb -i "$key"
    fi
    check "$m: rb takes the route" via rb
    at=$(lines "$port")
    if [ "$2" = commit ]; then
        check "$m: lines arrive through rb" wait_for 10 received "$port" $((at + 20))
        touch "/tmp/stop.$port"
        bg_wait 10 "$cli"
        check_eq "$m: the sender ends cleanly (no reset)" "$?$(cat "/tmp/cli.$port")" 0
        bg_wait 10 "$srv"
        check_eq "$m: the receiver ends cleanly (FIN seen)" "$?" 0
        check_eq "$m: every line arrived in order, then a burst of $BURST, then the end" \
            "$(in_order "/tmp/rcv.$port")" ok
        check_eq "$m: rb dropped nothing as INVALID" "$(($(invalid rb) - inv0))" 0
        check_match "$m: rb tracked the connection to its end" "$(table rb | grep -F "$key")" \
            "^tcp +6 [0-9]+ (FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE) "
        if [ "$NAT" = yes ]; then
            quiet_finish "the second connection" "$SIDE" "$side_srv" "$side_cli"
            quiet_finish "the forwarded connection" "$FWD_TO" "$fwd_srv" "$fwd_cli"
        fi
        check "$m: ra, now the backup, schedules the purge of its table (-t)" ctd ra -t
        # (Under NAT it went with ra's WAN link already.)
        [ "$NAT" = yes ] || check "$m: ra's stale entry is purged (PurgeTimeout 1 s)" wait_for 5 gone_from ra "$key"
    else
        # The client's retransmission timer backs off during the outage.
        check "$m: rb drops the client's packets as INVALID" wait_for 15 invalid_above rb "$inv0"
        check_eq "$m: no line arrives through rb" "$(lines "$port")" "$at"
        check_eq "$m: rb has no entry for it" "$(table rb | grep -cF "$key")" 0
        touch "/tmp/stop.$port"
        kill_nc
        wait "$cli" "$srv" 2> /dev/null
    fi
}

# kill_nc: the stuck stream's nc processes, in the client and server
# namespaces (the stream's jobs end with them).
kill_nc() {
    for p in $(ip netns pids client) $(ip netns pids server); do
        [ "$(cat "/proc/$p/comm" 2> /dev/null)" != nc ] || kill "$p" 2> /dev/null
    done
}

# assured_on R KEY: router R has an ESTABLISHED [ASSURED] entry with KEY.
assured_on() {
    table "$1" | grep -F "$2" | grep -q 'ESTABLISHED.*ASSURED'
}

# external_has KEY: rb's external cache holds KEY, ESTABLISHED.
external_has() {
    cache_has rb -e "$1"
}

# cache_has R -e|-i KEY: router R's external or internal cache holds KEY,
# ESTABLISHED.
cache_has() {
    ctd "$1" "$2" | grep -F "$3" | grep -q ESTABLISHED
}

become_primary() {
    ctd rb -f && ctd rb -R && ctd rb -B
}

# gone_from R KEY: router R's table has no entry with KEY.
gone_from() {
    ! table "$1" | grep -qF "$2"
}

# invalid_above R N: router R dropped more than N packets as INVALID.
invalid_above() {
    [ "$(invalid "$1")" -gt "$2" ]
}

# received PORT N: the server got N lines or more.
received() {
    [ "$(lines "$1")" -ge "$2" ]
}

# in_order FILE: "ok" if FILE is "line 1".."line K", "burst 1".."burst
# $BURST", "end"; else where it went wrong.
in_order() {
    awk -v b="$BURST" '
        $0 == "end" { if (s == "burst" && n == b) ok = 1; else bad = "end after " s " " n; exit }
        !s && $0 == "line " n + 1 { n++; next }
        !s && $0 == "burst 1" { s = "burst"; n = 1; next }
        s && $0 == "burst " n + 1 { n++; next }
        { bad = "after " (s ? s : "line") " " n ": " $0; exit }
        END { print (ok ? "ok" : bad ? bad : "no end") }' "$1"
}

# lines PORT: lines the server got so far.
lines() {
    wc -l < "/tmp/rcv.$1" | tr -d ' '
}

# daemons: (re)start conntrackd on both routers, TCPWindowTracking $WT.
daemons() {
    stop_daemons
    ctd_conf ra 203.0.113.1 203.0.113.2
    ctd_conf rb 203.0.113.2 203.0.113.1
    check "$BACKEND: conntrackd on ra" ctd ra -d
    check "$BACKEND: conntrackd on rb" ctd rb -d
    check "$BACKEND: both daemons answer" wait_for 5 sh -c \
        "conntrackd -C /tmp/ctd-ra.conf -s && conntrackd -C /tmp/ctd-rb.conf -s"
}

# stop_daemons: conntrackd -k on both routers, if running.
stop_daemons() {
    for r in ra rb; do
        [ ! -e "/tmp/ctd-$r.lock" ] || ctd "$r" -k > /dev/null 2>&1
    done
    wait_for 5 sh -c '! [ -e /tmp/ctd-ra.lock ] && ! [ -e /tmp/ctd-rb.lock ]'
}

# sync6: an IPv6 TCP entry made on ra reaches rb's external cache, and
# rb's commit creates it in rb's table through ctnetlink (IPv6 tuples in
# CT_NEW); then gone from both.
sync6() {
    _k="src=2001:db8::2 dst=2001:db8:1::2 sport=7100 dport=80"
    check "$BACKEND: -I an IPv6 TCP entry on ra" ip netns exec ra conntrack -I -p tcp -s 2001:db8::2 \
        -d 2001:db8:1::2 --sport 7100 --dport 80 -t 120 --state ESTABLISHED -u SEEN_REPLY,ASSURED
    check "$BACKEND: rb's external cache has it" wait_for 10 external_has "$_k"
    check "$BACKEND: rb commits it (conntrackd -c)" ctd rb -c
    check_match "$BACKEND: rb's table has it" "$(ip netns exec rb conntrack -L -f ipv6 2> /dev/null)" \
        "^tcp +6 [0-9]+ ESTABLISHED $_k src=2001:db8:1::2 dst=2001:db8::2 sport=80 dport=7100 \\[ASSURED\\]"
    ip netns exec ra conntrack -D -f ipv6 > /dev/null 2>&1
    ip netns exec rb conntrack -D -f ipv6 > /dev/null 2>&1
    check "$BACKEND: and leaves rb's external cache with ra's" wait_for 10 sh -c \
        "! conntrackd -C /tmp/ctd-rb.conf -e | grep -qF '$_k'"
}

# scenario: the runs, under $BACKEND.
scenario() {
    step "$BACKEND: routers, firewall, conntrackd"
    check "$BACKEND: topology up" topology
    WT=yes
    daemons
    step "$BACKEND: an IPv6 flow synced and committed"
    sync6
    step "$BACKEND: without the commit the backup drops the connection"
    run 7001 nocommit
    step "$BACKEND: with the commit the connection survives"
    run 7002 commit
    WT=no
    daemons
    step "$BACKEND: the same with the default TCPWindowTracking no, behind MASQUERADE"
    check "$BACKEND: MASQUERADE and port forward rules" nat_rules 7003
    NAT=yes
    run 7003 commit
    NAT=no
    # Both daemons report the downed sync link of the NAT run's failure
    # ("no dedicated links available!"), nothing else.
    for r in ra rb; do
        check_no_match "$BACKEND: no other error or warning in $r's conntrackd log" \
            "$(grep -vF 'no dedicated links available' "/tmp/ctd-$r.log")" '\[(ERROR|error|WARNING|warning)\]'
    done
    if [ "$IPCT_FAILED" -gt 0 ]; then
        for r in ra rb; do
            echo "---- $BACKEND: $r's table and conntrackd log"
            table "$r" | sed 's/^/    | /'
            sed 's/^/    | /' "/tmp/ctd-$r.log"
        done
    fi
    stop_daemons
    for n in client server ra rb; do ip netns del "$n"; done
    rm -f /tmp/ctd-r?.* /tmp/rcv.* /tmp/cli.* /tmp/stop.*
}

klog_mark
BACKEND=ip_conntrack
check "modprobe ip_conntrack" modprobe ip_conntrack
check "mid-stream pickup off (ip_conntrack_tcp_loose=0)" ct_sysctl tcp_loose 0
scenario
check "rmmod ip_conntrack" wait_for 10 rmmod ip_conntrack

# The reference: the same with the kernel's nf_conntrack and its ctnetlink.
BACKEND=nf_conntrack
check "modprobe nf_conntrack enable_hooks=1, nf_conntrack_netlink, iptable_nat, xt_MASQUERADE" sh -c \
    "modprobe nf_conntrack enable_hooks=1 && modprobe nf_conntrack_netlink && modprobe iptable_nat && modprobe xt_MASQUERADE"
scenario
if [ "$IPCT_FAILED" -gt 0 ]; then
    echo "---- kernel log"
    klog_new | tail -n 40 | sed 's/^/    | /'
fi
