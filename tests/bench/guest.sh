# In-guest benchmarks: no tracker, nf_conntrack and ip_conntrack back to
# back in one boot (scripts/bench.sh runs this through scripts/vm-run.sh).
#
#   sh guest.sh quick|full [all|forward|ctnl|nat|mem]
#   sh guest.sh profile [PACKETS [FLOWS [flush|list|nat|natnew|natfull]]]
#
# profile (scripts/profile.sh): per configuration, PACKETS packets (default
# 50000) over FLOWS established flows (default 1) between two `sync` calls,
# which open and close the profiling plugin's window; then the module
# symbols, for the host to fold addresses to functions.
#
# Prints one line per measurement:
#   BENCH CONFIG METRIC FLOWS ROUND VALUE UNIT
# (scripts/bench-report.py adds the vCPU count, medians and spreads).
# Nothing here asserts a timing; the few checks only catch a broken setup.
#
# Configurations: none (no tracker), nf (nf_conntrack), ip (ip_conntrack),
# and with MASQUERADE on the router's server side: nfnat (nf_conntrack +
# nf_nat, iptable_nat, xt_MASQUERADE) and ipnat (ip_conntrack's own nat
# table and target). Phases all, forward and nat measure the five; nat
# runs only the forwarding and new-connection phases, without the dump;
# mem only the memory per entry of both families (nf and ip).
#
# Traffic: pktgen in the client namespace (one thread per CPU, clone_skb 0)
# sends 60-byte UDP packets past the client's own hooks to the router's
# MAC; the router forwards them to a static neighbour whose MAC nobody has,
# so the server drops them before its hooks. Only the router tracks, and
# every flow stays UNREPLIED: the steady state the forwarding rounds
# measure is one lookup and timeout update of an existing entry per packet.
. /usr/lib/ipct/lib.sh

MODE=${1:-quick}
PHASES=${2:-all}
MARK=                   # set around profiled sends only (phase_profile)
case $MODE in
profile)
    PACKETS=${2:-50000}
    PROFILE_FLOWS=${3:-1}
    PROFILE_OP=${4:-send}   # flush / list: profile `conntrack -F` / `-L` instead;
                            # nat: sends under MASQUERADE; natnew: PACKETS
                            # new flows under MASQUERADE; natfull: the same
                            # into a table full of FLOWS mapped flows whose
                            # ports the new ones reuse (early drop and port
                            # search, as phase_new's full-table send);
                            # new / full: the same two without NAT;
                            # new6: new IPv6 flows without NAT
    _op_flag=F
    [ "$PROFILE_OP" != list ] || _op_flag=L
    PHASES=profile
    ;;
quick)
    ROUNDS=3            # forwarding rounds per configuration and flow count
    PACKETS=50000       # packets per forwarding round
    NEW_ROUNDS=2        # fills of 100k new flows per configuration
    DUMP_ROUNDS=1       # timed dumps at 100k entries (nf_conntrack's are slow)
    DUMP_CAP=30         # seconds (guest time) a dump may take
    FULL_PACKETS=50000  # new flows sent into the full table
    GC_ROUNDS=1
    CTNL_ROUNDS=1       # ctnetlink rounds (dump, flush, listener)
    MEM_ROUNDS=1        # fills of 100k flows per tracker and family (phase_mem)
    ;;
full)
    ROUNDS=5
    PACKETS=200000
    NEW_ROUNDS=3
    DUMP_ROUNDS=2
    DUMP_CAP=300
    FULL_PACKETS=100000
    GC_ROUNDS=2
    CTNL_ROUNDS=2
    MEM_ROUNDS=2
    ;;
*)
    echo "usage: guest.sh quick|full [all|forward|ctnl|nat|mem] | profile [PACKETS [FLOWS]]" >&2
    exit 2
    ;;
esac
CONFIGS="none nf ip nfnat ipnat"
[ "$PHASES" != nat ] || DUMP_ROUNDS=0
if [ "$MODE" = profile ]; then
    CONFIGS="none nf ip"
    case $PROFILE_OP in
    nat)
        # Established packets under MASQUERADE.
        CONFIGS="none nfnat ipnat"
        PROFILE_OP=send
        ;;
    natnew|natfull) CONFIGS="none nfnat ipnat" ;;
    esac
fi
FLOW_COUNTS="1 100 10000 100000"
HASHSIZE=16384          # buckets of both trackers (a multiple of nf's 512)
MAX=131072              # their maximum while filling (both)
FULL=100000             # the maximum for the full-table phase
GC_TIMEOUT=20           # UDP timeout of the entries the GC phase expires
                        # (longer than a fill takes, so none expires before)
CTNL_FLOWS=100          # established flows forwarded with and without a
                        # conntrack -E listener
GHOST_SERVER=198.51.100.77
# IPv6 (phase_mem): the client side's prefix (pktgen's source addresses)
# and the server side's, where the router has a static neighbour too.
CLIENT6_NET=2001:db8::
ROUTER6_SERVER_IP=2001:db8:1::1
GHOST6_SERVER=2001:db8:1::77
FAMILY=4                # of the packets send builds (4 or 6)
IPV6_UP=                # set once ipv6_up has run
THREADS=$(nproc)
NF=/proc/sys/net/netfilter
IPNF=/proc/sys/net/ipv4/netfilter
TX=/sys/class/net/$ROUTER_SERVER_IF/statistics/tx_packets

emit() {
    echo "BENCH $*"
}

# ns: monotonic nanoseconds (busybox date has no %N).
ns() {
    sed -n 's/^now at \([0-9]*\) nsecs$/\1/p; 3q' /proc/timer_list
}

# ---- trackers -------------------------------------------------------------

# load CONF MAX UDP_TIMEOUT: load tracker CONF (none, nf, ip, nfnat,
# ipnat) with HASHSIZE buckets, the given maximum and unreplied-UDP
# timeout; the nat ones with MASQUERADE out of the server side.
load() {
    case $1 in
    none) ;;
    nfnat)
        load nf "$2" "$3" &&
        modprobe nf_nat && modprobe iptable_nat && modprobe xt_MASQUERADE &&
        masquerade
        ;;
    ipnat)
        load ip "$2" "$3" && masquerade
        ;;
    nf)
        modprobe nf_conntrack enable_hooks=1 hashsize=$HASHSIZE &&
        echo "$2" > $NF/nf_conntrack_max &&
        echo "$3" > $NF/nf_conntrack_udp_timeout
        ;;
    ip)
        modprobe ip_conntrack hashsize=$HASHSIZE &&
        echo "$2" > $IPNF/ip_conntrack_max &&
        echo "$3" > $IPNF/ip_conntrack_udp_timeout
        ;;
    esac
}

masquerade() {
    iptables -t nat -A POSTROUTING -o "$ROUTER_SERVER_IF" -j MASQUERADE
}

# rmmod_retry MODULE: rmmod, retried for up to 10 s while the module is
# busy (seen once for nf_nat right after 100k MASQUERADEd entries).
rmmod_retry() {
    _i=0
    until rmmod "$1" 2> /dev/null; do
        [ "$_i" -lt 100 ] || { rmmod "$1"; return; }
        sleep 0.1
        _i=$((_i + 1))
    done
}

unload() {
    case $1 in
    nfnat)
        iptables -t nat -F && rmmod xt_MASQUERADE iptable_nat && rmmod_retry nf_nat && unload nf
        ;;
    ipnat)
        iptables -t nat -F && unload ip
        ;;
    nf)
        { ! mod_loaded nf_conntrack_netlink || rmmod nf_conntrack_netlink; } &&
        modprobe -r nf_conntrack
        ;;
    ip) rmmod ip_conntrack ;;
    esac
    ! mod_loaded nf_conntrack && ! mod_loaded ip_conntrack
}

# tracker CONF: the tracker under CONF (nf, ip or none).
tracker() {
    case $1 in
    nf | nfnat) echo nf ;;
    ip | ipnat) echo ip ;;
    *) echo none ;;
    esac
}

set_max() {
    case $(tracker "$1") in
    nf) echo "$2" > $NF/nf_conntrack_max ;;
    ip) echo "$2" > $IPNF/ip_conntrack_max ;;
    esac
}

# entries CONF: the tracker's entry count (0 without one). Not with the
# shell's read: dash reads a byte at a time, and a sysctl file returns
# nothing after a partial first read.
entries() {
    case $(tracker "$1") in
    nf) cat $NF/nf_conntrack_count ;;
    ip) cat $IPNF/ip_conntrack_count ;;
    *) echo 0 ;;
    esac
}

table_file() {
    case $(tracker "$1") in
    nf) echo /proc/net/nf_conntrack ;;
    ip) echo /proc/net/ip_conntrack ;;
    esac
}

# stat_sum CONF COLUMN: a column of /proc/net/stat/<tracker> summed over
# the CPU rows (both files have drop in column 11, early_drop in 12).
stat_sum() {
    _f=/proc/net/stat/nf_conntrack
    [ "$(tracker "$1")" = ip ] && _f=/proc/net/stat/ip_conntrack
    _s=0
    for _v in $(tail -n +2 "$_f" | awk -v c="$2" '{ print $c }'); do
        _s=$((_s + 0x$_v))
    done
    echo "$_s"
}

# meminfo FIELD: a /proc/meminfo value in kB.
meminfo() {
    awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo
}

# busy_ticks: non-idle CPU time of all CPUs, in USER_HZ ticks.
busy_ticks() {
    read -r _c _us _ni _sy _id _io _irq _sirq _st _rest < /proc/stat
    echo $((_us + _ni + _sy + _irq + _sirq + _st))
}

# ---- traffic ----------------------------------------------------------------

# pg_script FILE CMD...: shell commands writing each CMD to pktgen's FILE.
pg_script() {
    _ps_f=$1
    shift
    for _ps_c in "$@"; do
        printf "echo '%s' > /proc/net/pktgen/%s && " "$_ps_c" "$_ps_f"
    done
}

# send COUNT FLOWS SRC_HOST: every CPU's pktgen thread i sends COUNT/THREADS
# packets from 192.0.2.(SRC_HOST+i) (FAMILY=6: from 2001:db8::(SRC_HOST+i)
# to GHOST6_SERVER, 78 bytes: the same 16-byte payload over IPv6),
# cycling through FLOWS/THREADS flows
# (at least 1): source ports over the odd part of that number, destination
# ports over its power-of-two part, which are coprime, so consecutive
# packets walk through every flow. Sets SENT, FWD (router transmissions)
# and USEC (the longest thread's sending time). The configuration is one
# shell in the client namespace (process starts are slow under emulation).
send() {
    send_once "$@" && return 0
    echo "note: a pktgen run failed (sent $SENT, $USEC us); its state, then one retry:"
    in_client sh -c "grep -h -E 'Result|Flags|count' /proc/net/pktgen/$NS_IF@*" | sed 's/^/    | /'
    send_once "$@"
}

send_once() {
    SENT=0
    USEC=0
    _per=$(($1 / THREADS))
    _f=$(($2 / THREADS))
    [ "$_f" -ge 1 ] || _f=1
    _b=1
    while [ $((_f % 2)) -eq 0 ]; do
        _f=$((_f / 2))
        _b=$((_b * 2))
    done
    # Devices of the last run go first; the thread removes them a little
    # later (a write to a file being removed fails with EIO).
    _script=
    _i=0
    while [ "$_i" -lt "$THREADS" ]; do
        _script="$_script$(pg_script "kpktgend_$_i" rem_device_all)"
        _i=$((_i + 1))
    done
    _script="${_script}while ls /proc/net/pktgen | grep -q @; do sleep 0.1; done && "
    _i=0
    while [ "$_i" -lt "$THREADS" ]; do
        _d="$NS_IF@$_i"
        _script="$_script$(pg_script "kpktgend_$_i" "add_device $_d")"
        if [ "$FAMILY" = 6 ]; then
            _script="$_script$(pg_script "$_d" "pkt_size 78" "dst6 $GHOST6_SERVER" \
                "src6 $CLIENT6_NET$(($3 + _i))")"
        else
            _src="192.0.2.$(($3 + _i))"
            _script="$_script$(pg_script "$_d" "pkt_size 60" "dst $GHOST_SERVER" \
                "src_min $_src" "src_max $_src")"
        fi
        _script="$_script$(pg_script "$_d" "count $_per" "clone_skb 0" "delay 0" "dst_mac $ROUTER_MAC" \
            "udp_src_min 1024" "udp_src_max $((1024 + _f))" "udp_dst_min 9" "udp_dst_max $((9 + _b))")"
        _i=$((_i + 1))
    done
    in_client sh -c "${_script}true" || { echo "note: pktgen setup failed"; return 1; }
    read -r _tx0 < "$TX"
    # pgctrl returns early when a thread takes more than its 125 ms grace
    # to pick the run up (seen under -icount): wait for every device's
    # result line ("OK: <usec>(c...) usec, ..."; before, it echoes the
    # last setting or says Starting).
    # With MARK set (profile), the command runs right before the start and
    # right after the wait, whichever way it ends (one window per send),
    # and the wait checks with shell builtins only: no process starts
    # inside the window once the results are there.
    if [ -n "$MARK" ]; then
        in_client sh -c "$MARK; echo start > /proc/net/pktgen/pgctrl && _n=0 &&
            while :; do
                _k=0
                for _f in /proc/net/pktgen/$NS_IF@*; do
                    while read -r _l; do
                        case \$_l in 'Result: OK: '*'('*) _k=\$((_k + 1)) ;; esac
                    done < \$_f
                done
                [ \$_k -lt $THREADS ] && [ \$_n -lt 3000 ] || break
                sleep 0.1
                _n=\$((_n + 1))
            done; _rc=\$?; $MARK; exit \$_rc" ||
            { echo "note: pktgen start failed"; return 1; }
    else
        in_client sh -c "echo start > /proc/net/pktgen/pgctrl && _n=0 &&
            while [ \$(grep -l '^Result: OK: [0-9]*(' /proc/net/pktgen/$NS_IF@* | wc -l) -lt $THREADS ] &&
                [ \$_n -lt 3000 ]; do sleep 0.1; _n=\$((_n + 1)); done" ||
            { echo "note: pktgen start failed"; return 1; }
    fi
    read -r _tx1 < "$TX"
    FWD=$((_tx1 - _tx0))
    SENT=0
    USEC=0
    # "Result: OK: 1121856(c1119656+d2199) usec, 200000 (60byte,0frags)"
    for _res in $(in_client sh -c "sed -n 's/^Result: OK: \([0-9]*\)(.*usec, \([0-9]*\) .*/\1:\2/p' /proc/net/pktgen/$NS_IF@*"); do
        [ "${_res%:*}" -le "$USEC" ] || USEC=${_res%:*}
        SENT=$((SENT + ${_res#*:}))
    done
    [ "$USEC" -gt 0 ] && [ "$SENT" -gt 0 ]
}

# rate: packets per second of the last send.
rate() {
    echo $((SENT * 1000000 / USEC))
}

# ---- phases -----------------------------------------------------------------

# Forwarding of established flows: per round, flow count and
# configuration (the three back to back, so that other load on the machine
# hits them alike), a fresh tracker, one warm-up pass that creates every
# entry, then PACKETS packets over the same flows.
phase_forward() {
    step "forwarding: $ROUNDS rounds of $PACKETS packets, $THREADS sending threads"
    _r=1
    while [ "$_r" -le "$ROUNDS" ]; do
        for _flows in $FLOW_COUNTS; do
            for _conf in $CONFIGS; do
                load "$_conf" $MAX 600 || { fail "load $_conf"; return 1; }
                _warm=$_flows
                [ "$_warm" -ge "$THREADS" ] || _warm=$THREADS
                send "$_warm" "$_flows" 100 || { fail "warm-up $_conf $_flows"; return 1; }
                _n=$(entries "$_conf")
                send $PACKETS "$_flows" 100 || { fail "send $_conf $_flows"; return 1; }
                emit "$_conf fwd_pps $_flows $_r $(rate) pps"
                emit "$_conf fwd_forwarded_pct $_flows $_r $((FWD * 100 / SENT)) %"
                [ "$_conf" = none ] || emit "$_conf fwd_entries $_flows $_r $_n entries"
                unload "$_conf" || { fail "unload $_conf"; return 1; }
            done
        done
        echo "    round $_r done"
        _r=$((_r + 1))
    done
}

# New connections until 100k entries, memory per entry and dump time at
# 100k, then new connections into the full table (early drop).
phase_new() {
    step "new connections: $NEW_ROUNDS rounds of 100k, then $FULL_PACKETS into the full table"
    _r=1
    while [ "$_r" -le "$NEW_ROUNDS" ]; do
        for _conf in $CONFIGS; do
            load "$_conf" $MAX 600 || { fail "load $_conf"; return 1; }
            sleep 1
            _slab0=$(meminfo Slab)
            _free0=$(meminfo MemFree)
            send $FULL $FULL 100 || { fail "fill $_conf"; return 1; }
            emit "$_conf new_conn_rate $FULL $_r $(rate) flows/s"
            if [ "$_conf" != none ]; then
                sleep 1
                _n=$(entries "$_conf")
                emit "$_conf entries_after_fill $FULL $_r $_n entries"
                if [ "$_n" -gt 0 ]; then
                    emit "$_conf slab_bytes_per_entry $FULL $_r $((($(meminfo Slab) - _slab0) * 1024 / _n)) B"
                    emit "$_conf mem_bytes_per_entry $FULL $_r $(((_free0 - $(meminfo MemFree)) * 1024 / _n)) B"
                fi
                # The dump's cost does not depend on NAT (not timed again).
                if [ "$_r" -le "$DUMP_ROUNDS" ] && [ "$_conf" = "$(tracker "$_conf")" ]; then
                    # Capped: nf_conntrack's dump restarts its walk from
                    # the first bucket at every read, so it is quadratic.
                    _t0=$(ns)
                    _l=$( { (timeout "$DUMP_CAP" cat "$(table_file "$_conf")") | wc -l; } 2> /dev/null)
                    _t1=$(ns)
                    emit "$_conf dump_ms $FULL $_r $(((_t1 - _t0) / 1000000)) ms"
                    emit "$_conf dump_lines $FULL $_r $_l lines"
                fi
                set_max "$_conf" $FULL
                _ed0=$(stat_sum "$_conf" 12)
                _dr0=$(stat_sum "$_conf" 11)
            fi
            send $FULL_PACKETS $FULL_PACKETS 120 || { fail "full $_conf"; return 1; }
            emit "$_conf new_conn_full_rate $FULL $_r $(rate) flows/s"
            emit "$_conf new_conn_full_forwarded_pct $FULL $_r $((FWD * 100 / SENT)) %"
            if [ "$_conf" != none ]; then
                emit "$_conf new_conn_full_early_drops $FULL $_r $(($(stat_sum "$_conf" 12) - _ed0)) entries"
                emit "$_conf new_conn_full_drops $FULL $_r $(($(stat_sum "$_conf" 11) - _dr0)) packets"
                emit "$_conf entries_when_full $FULL $_r $(entries "$_conf") entries"
            fi
            unload "$_conf" || { fail "unload $_conf"; return 1; }
        done
        echo "    round $_r done"
        _r=$((_r + 1))
    done
    slab_sizes 4
}

# slab_sizes FAMILIES: the entry caches' object sizes as the slab allocator
# reports them, for FAMILIES (4 and/or 6). nf_conntrack has one cache for
# both, reported with 4; ip_conntrack's caches may be merged with another
# of the same size (their sysfs names are then links, said on the side).
slab_sizes() {
    _caches=
    case " $* " in *" 4 "*) _caches="nf:nf_conntrack:slab ip:ip_conntrack:slab" ;; esac
    case " $* " in *" 6 "*) _caches="$_caches ip:ip_conntrack6:slab6 ip:ip_conntrack6_acct:slab6_acct" ;; esac
    for _conf in nf ip; do
        case $_caches in *"$_conf:"*) ;; *) continue ;; esac
        load $_conf $MAX 600 || { fail "load $_conf"; return 1; }
        for _c in $_caches; do
            [ "${_c%%:*}" = "$_conf" ] || continue
            _name=${_c#*:}
            _m=${_name#*:}
            _name=${_name%:*}
            for _x in object_size slab_size; do
                emit "$_conf ${_m}_$_x 0 1 $(cat "/sys/kernel/slab/$_name/$_x") B"
            done
            [ ! -L "/sys/kernel/slab/$_name" ] ||
                echo "    $_name is merged into $(basename "$(readlink "/sys/kernel/slab/$_name")")"
        done
        unload $_conf || { fail "unload $_conf"; return 1; }
    done
}

# ipv6_up: the router's IPv6 side for phase_mem: forwarding, an address
# on each side and the static neighbour GHOST6_SERVER behind the server
# side (pktgen's IPv6 packets need no address in the client namespace).
ipv6_up() {
    [ -z "$IPV6_UP" ] || return 0
    sysctl -qw net.ipv6.conf.all.forwarding=1 &&
    ip -6 addr add "${CLIENT6_NET}1/64" dev "$ROUTER_CLIENT_IF" nodad &&
    ip -6 addr add "$ROUTER6_SERVER_IP/64" dev "$ROUTER_SERVER_IF" nodad &&
    ip -6 neigh add "$GHOST6_SERVER" lladdr 02:00:00:00:00:77 dev "$ROUTER_SERVER_IF" nud permanent &&
    IPV6_UP=1
}

# Memory per entry, FAMILIES (4 and/or 6): per round, family and tracker
# a fill of 100k new UDP flows into the empty table (its rate too), then
# the growth of Slab: per entry (and of MemFree used); last the entry
# caches' object sizes. IPv4's metrics are phase_new's; IPv6's carry a
# v6_ prefix. Everything is unloaded between fills.
phase_mem() {
    step "memory per entry, IPv$(echo "$@" | sed 's/ / and IPv/g'): $MEM_ROUNDS rounds of 100k new flows"
    case " $* " in *" 6 "*) ipv6_up || { fail "IPv6 on the router"; return 1; } ;; esac
    _r=1
    while [ "$_r" -le "$MEM_ROUNDS" ]; do
        for FAMILY in "$@"; do
            _p=
            [ "$FAMILY" = 4 ] || _p=v6_
            for _conf in nf ip; do
                load "$_conf" $MAX 600 || { fail "load $_conf"; FAMILY=4; return 1; }
                sleep 1
                _slab0=$(meminfo Slab)
                _free0=$(meminfo MemFree)
                send $FULL $FULL 100 || { fail "fill $_conf IPv$FAMILY"; FAMILY=4; return 1; }
                emit "$_conf ${_p}new_conn_rate $FULL $_r $(rate) flows/s"
                emit "$_conf ${_p}fill_forwarded_pct $FULL $_r $((FWD * 100 / SENT)) %"
                sleep 1
                _n=$(entries "$_conf")
                emit "$_conf ${_p}entries_after_fill $FULL $_r $_n entries"
                # A fill that made (almost) no entries measured nothing.
                [ "$_n" -ge $((FULL * 9 / 10)) ] ||
                    { fail "IPv$FAMILY fill under $_conf made $_n entries"; FAMILY=4; return 1; }
                emit "$_conf ${_p}slab_bytes_per_entry $FULL $_r $((($(meminfo Slab) - _slab0) * 1024 / _n)) B"
                emit "$_conf ${_p}mem_bytes_per_entry $FULL $_r $(((_free0 - $(meminfo MemFree)) * 1024 / _n)) B"
                unload "$_conf" || { fail "unload $_conf"; FAMILY=4; return 1; }
            done
        done
        FAMILY=4
        echo "    round $_r done"
        _r=$((_r + 1))
    done
    slab_sizes "$@"
}

# GC: 100k entries with a GC_TIMEOUT s timeout, from the end of the fill
# until the count is 0: how long (and how long after the last entry's
# deadline), the CPU time it took beyond the idle rate measured just
# before, and (ip_conntrack's own accounting) time in collector runs and
# the longest stripe lock hold. nf_conntrack's lock holds cannot be seen
# from here (the kernel has neither ftrace nor lock statistics).
phase_gc() {
    step "expiry of 100k entries: $GC_ROUNDS rounds"
    _r=1
    while [ "$_r" -le "$GC_ROUNDS" ]; do
        for _conf in nf ip; do
            load "$_conf" $MAX $GC_TIMEOUT || { fail "load $_conf"; return 1; }
            # Idle rate with the same polling loop (4 s).
            _b0=$(busy_ticks)
            _t0=$(ns)
            _i=0
            while [ "$_i" -lt 20 ]; do
                read -r _n < /proc/uptime
                sleep 0.2
                _i=$((_i + 1))
            done
            _idle=$((($(busy_ticks) - _b0) * 1000000000 / ($(ns) - _t0)))
            _fill=$(ns)
            send $FULL $FULL 100 || { fail "fill $_conf"; return 1; }
            if [ "$_conf" = ip ]; then
                for _p in gc_ns gc_max_hold_ns gc_runs; do
                    echo 0 > "/sys/kernel/debug/ip_conntrack/$_p"
                done
            fi
            _b0=$(busy_ticks)
            _t0=$(ns)
            _n=$(entries "$_conf")
            emit "$_conf gc_entries $FULL $_r $_n entries"
            emit "$_conf gc_fill_ms $FULL $_r $(((_t0 - _fill) / 1000000)) ms"
            # At most 180 s after the last deadline.
            _end=$((_t0 / 1000000000 + GC_TIMEOUT + 180))
            while [ "$(entries "$_conf")" -gt 0 ] && [ "$(($(ns) / 1000000000))" -lt "$_end" ]; do
                sleep 0.2
            done
            _t1=$(ns)
            _b1=$(busy_ticks)
            _left=$(entries "$_conf")
            _win=$((_t1 - _t0))
            emit "$_conf gc_entries_left $FULL $_r $_left entries"
            emit "$_conf gc_until_empty_ms $FULL $_r $((_win / 1000000)) ms"
            emit "$_conf gc_after_deadline_ms $FULL $_r $((_win / 1000000 - GC_TIMEOUT * 1000)) ms"
            # USER_HZ ticks are 10 ms.
            emit "$_conf gc_cpu_ms $FULL $_r $(((_b1 - _b0) * 10 - _idle * _win / 100000000000)) ms"
            if [ "$_conf" = ip ]; then
                emit "ip gc_run_ms $FULL $_r $(($(cat /sys/kernel/debug/ip_conntrack/gc_ns) / 1000000)) ms"
                emit "ip gc_max_hold_us $FULL $_r $(($(cat /sys/kernel/debug/ip_conntrack/gc_max_hold_ns) / 1000)) us"
                emit "ip gc_runs $FULL $_r $(cat /sys/kernel/debug/ip_conntrack/gc_runs) runs"
            fi
            unload "$_conf" || { fail "unload $_conf"; return 1; }
        done
        _r=$((_r + 1))
    done
}

# listening: within 10 s, a netfilter netlink socket (protocol 12) has
# joined multicast groups (a conntrack -E listener is ready).
listening() {
    _i=0
    until awk '$2 == 12 && $4 != "00000000" { f = 1 } END { exit !f }' /proc/net/netlink; do
        [ "$_i" -lt 100 ] || return 1
        sleep 0.1
        _i=$((_i + 1))
    done
}

# ctnetlink, through conntrack-tools (nf_conntrack with
# nf_conntrack_netlink): per tracker, a fill of 100k new flows (rate), a
# `conntrack -L` of them to /dev/null and a `conntrack -F` (guest time of
# each command, the tool's own work included); forwarding over CTNL_FLOWS
# established flows with nobody listening, then, in a flushed table, with
# one `conntrack -E` listener attached before the flows are made (so that
# nf_conntrack gives them its event cache), and 100k new flows with the
# listener still attached (a NEW event each).
phase_ctnl() {
    step "ctnetlink: conntrack -L and -F of 100k entries, forwarding with a conntrack -E listener ($CTNL_ROUNDS rounds)"
    _warm=$CTNL_FLOWS
    [ "$_warm" -ge "$THREADS" ] || _warm=$THREADS
    _r=1
    while [ "$_r" -le "$CTNL_ROUNDS" ]; do
        for _conf in nf ip; do
            load "$_conf" $MAX 600 || { fail "load $_conf"; return 1; }
            if [ "$_conf" = nf ]; then
                modprobe nf_conntrack_netlink || { fail "modprobe nf_conntrack_netlink"; return 1; }
            fi
            send $FULL $FULL 100 || { fail "fill $_conf"; return 1; }
            emit "$_conf new_conn_nolisten_rate $FULL $_r $(rate) flows/s"
            emit "$_conf ctnl_entries $FULL $_r $(entries "$_conf") entries"
            _t0=$(ns)
            conntrack -L > /dev/null 2> /tmp/ctnl.err || { fail "conntrack -L ($_conf): $(cat /tmp/ctnl.err)"; return 1; }
            _t1=$(ns)
            emit "$_conf ctnl_list_ms $FULL $_r $(((_t1 - _t0) / 1000000)) ms"
            emit "$_conf ctnl_list_lines $FULL $_r $(sed -n 's/.*: \([0-9]*\) flow entries.*/\1/p' /tmp/ctnl.err) lines"
            _t0=$(ns)
            conntrack -F > /dev/null 2> /tmp/ctnl.err || { fail "conntrack -F ($_conf): $(cat /tmp/ctnl.err)"; return 1; }
            _t1=$(ns)
            emit "$_conf ctnl_flush_ms $FULL $_r $(((_t1 - _t0) / 1000000)) ms"
            emit "$_conf ctnl_flush_left $FULL $_r $(entries "$_conf") entries"
            send "$_warm" $CTNL_FLOWS 100 || { fail "warm-up $_conf"; return 1; }
            send $PACKETS $CTNL_FLOWS 100 || { fail "send $_conf"; return 1; }
            emit "$_conf fwd_nolisten_pps $CTNL_FLOWS $_r $(rate) pps"
            conntrack -F > /dev/null 2>&1
            conntrack -E > /tmp/ctnl.ev 2> /dev/null &
            _ev=$!
            listening || { fail "conntrack -E ($_conf) did not listen"; kill $_ev; return 1; }
            send "$_warm" $CTNL_FLOWS 100 || { fail "warm-up $_conf"; kill $_ev; return 1; }
            send $PACKETS $CTNL_FLOWS 100 || { fail "send $_conf"; kill $_ev; return 1; }
            emit "$_conf fwd_listen_pps $CTNL_FLOWS $_r $(rate) pps"
            send $FULL $FULL 120 || { fail "fill $_conf"; kill $_ev; return 1; }
            emit "$_conf new_conn_listen_rate $FULL $_r $(rate) flows/s"
            sleep 1
            kill $_ev
            wait $_ev 2> /dev/null
            emit "$_conf ctnl_listen_new_events $FULL $_r $(grep -c NEW /tmp/ctnl.ev) events"
            unload "$_conf" || { fail "unload $_conf"; return 1; }
        done
        _r=$((_r + 1))
    done
}

# Profile of established packets (scripts/profile.sh): per configuration
# a fresh tracker, a warm-up send that creates the entries, then one send
# of PACKETS inside the plugin's window (`sync` is its marker), reported as
#   PROFILE window CONF PACKETS FORWARDED
# followed by the loaded modules and their symbols, whose addresses the
# host needs to name the window's code:
#   PROFILE module NAME SIZE ADDRESS
#   PROFILE ksym ADDRESS TYPE NAME MODULE
# Exactly one window per configuration, in order, or the phase fails.
phase_profile() {
    step "profile: $PACKETS packets over $PROFILE_FLOWS flows per configuration"
    if [ "$PROFILE_OP" = new6 ]; then
        ipv6_up || { fail "IPv6 on the router"; return 1; }
        FAMILY=6
    fi
    for _conf in $CONFIGS; do
        load "$_conf" $MAX 600 || { fail "load $_conf"; return 1; }
        _warm=$PROFILE_FLOWS
        [ "$_warm" -ge "$THREADS" ] || _warm=$THREADS
        if [ "$PROFILE_OP" = flush ] || [ "$PROFILE_OP" = list ]; then
            # The window holds `conntrack -F` (flush) or `conntrack -L`
            # (list) of PROFILE_FLOWS entries ("packets" are then entries;
            # no table without a tracker).
            [ "$_conf" != nf ] || modprobe nf_conntrack_netlink || { fail "nf_conntrack_netlink"; return 1; }
            send "$_warm" "$PROFILE_FLOWS" 100 || { fail "fill $_conf"; return 1; }
            _n=$(entries "$_conf")
            echo "    $_conf: $_n entries; conntrack -$_op_flag in the window"
            if [ "$_conf" = none ]; then
                sync; sync
            else
                sync; conntrack -$_op_flag > /dev/null 2>&1; sync
            fi
            echo "PROFILE window $_conf $PROFILE_FLOWS $_n"
            awk '{ print "PROFILE module", $1, $2, $6 }' /proc/modules
            awk '$4 ~ /^\[/ { print "PROFILE ksym", $1, $2, $3, $4 }' /proc/kallsyms
            unload "$_conf" || { fail "unload $_conf"; return 1; }
            continue
        fi
        _flows=$PROFILE_FLOWS
        _host=100
        case $PROFILE_OP in
        natnew|natfull|new|full|new6)
            # PACKETS new flows, no warm-up; (nat)full first fills the
            # table to its maximum with FLOWS flows from another host.
            _flows=$PACKETS
            if { [ "$PROFILE_OP" = natfull ] || [ "$PROFILE_OP" = full ]; } && [ "$_conf" != none ]; then
                send "$PROFILE_FLOWS" "$PROFILE_FLOWS" 100 || { fail "fill $_conf"; return 1; }
                set_max "$_conf" "$(entries "$_conf")"
                _host=120
            fi
            ;;
        *) send "$_warm" "$PROFILE_FLOWS" 100 || { fail "warm-up $_conf"; return 1; } ;;
        esac
        echo "    $_conf: $(entries "$_conf") entries; sending $PACKETS packets over $_flows flows in the window"
        MARK=sync
        send_once $PACKETS "$_flows" $_host
        _rc=$?
        MARK=
        [ "$_rc" -eq 0 ] || { fail "profiled send $_conf"; return 1; }
        echo "PROFILE window $_conf $SENT $FWD"
        awk '{ print "PROFILE module", $1, $2, $6 }' /proc/modules
        awk '$4 ~ /^\[/ { print "PROFILE ksym", $1, $2, $3, $4 }' /proc/kallsyms
        unload "$_conf" || { fail "unload $_conf"; return 1; }
    done
}

# ---- main -------------------------------------------------------------------

echo "guest: $(uname -r), $THREADS CPUs, $(meminfo MemTotal) kB, mode $MODE, phases $PHASES"
check "modprobe pktgen" modprobe pktgen
check "topology up" topo_up
check "static neighbour for $GHOST_SERVER" \
    ip neigh add "$GHOST_SERVER" lladdr 02:00:00:00:00:77 dev "$ROUTER_SERVER_IF" nud permanent
ROUTER_MAC=$(router_mac "$ROUTER_CLIENT_IF")
start=$(ns)
if [ "$PHASES" = profile ]; then
    if phase_profile; then pass "profile phase"; fi
    topo_down
    exit
fi
if [ "$PHASES" = nat ]; then
    if phase_forward; then pass "forwarding phase (MASQUERADE)"; fi
    if phase_new; then pass "new-connection phase (MASQUERADE)"; fi
    echo "guest: measured in $((($(ns) - start) / 1000000000)) s"
    topo_down
    exit
fi
if [ "$PHASES" = mem ]; then
    if phase_mem 4 6; then pass "memory phase (IPv4 and IPv6)"; fi
    echo "guest: measured in $((($(ns) - start) / 1000000000)) s"
    topo_down
    exit
fi
if [ "$PHASES" = ctnl ]; then
    if phase_ctnl; then pass "ctnetlink phase"; fi
    topo_down
    exit
fi
if phase_forward; then pass "forwarding phase"; fi
if [ "$PHASES" = all ]; then
    if phase_new; then pass "new-connection phase"; fi
    if phase_mem 6; then pass "IPv6 memory phase"; fi
    if phase_gc; then pass "GC phase"; fi
    if phase_ctnl; then pass "ctnetlink phase"; fi
fi
echo "guest: measured in $((($(ns) - start) / 1000000000)) s"
topo_down
