# Helpers for the protocol scenarios (tcp.sh, udp.sh, icmp.sh, expiry.sh):
# reading /proc/net/ip_conntrack and /proc/net/stat/ip_conntrack, setting
# the netfilter sysctls, rule counters, polling with a deadline.
# POSIX sh (dash in the guest). Sourced after lib.sh:
#
#   . /usr/lib/ipct/lib.sh
#   . /usr/lib/ipct/ct.sh
#
# This file is not a scenario: run on its own it only defines functions.
#
# Flows are picked out of the table by their original tuple as it is
# printed, e.g. "src=192.0.2.2 dst=198.51.100.2 sport=41001 dport=7101 "
# (ct_tuple builds it; the trailing space keeps port 4100 from matching
# 41001). The reply tuple of the same flow is printed reversed, so the key
# only ever matches the original tuple.

CT_TABLE=/proc/net/ip_conntrack
CT_STAT=/proc/net/stat/ip_conntrack
CT_SYSCTL=/proc/sys/net/ipv4/netfilter
IPT=${IPT:-iptables}

# ---- time -----------------------------------------------------------------

# now_ms: milliseconds since boot (/proc/uptime has centiseconds).
now_ms() {
    awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# wait_for SECS CMD [ARG...]: run CMD every 0.2 s until it succeeds (0) or
# SECS seconds have passed (1). CMD's output is discarded.
wait_for() {
    _wf_end=$(( $(now_ms) + $1 * 1000 ))
    shift
    while :; do
        "$@" > /dev/null 2>&1 && return 0
        [ "$(now_ms)" -lt "$_wf_end" ] || return 1
        sleep 0.2
    done
}

# alive PID: PID exists and is not a zombie (an exited background job
# stays one until the shell waits for it, and kill -0 still succeeds).
alive() {
    [ -r "/proc/$1/stat" ] && ! sed 's/^.*) //' "/proc/$1/stat" 2> /dev/null | grep -q '^Z'
}

# bg_wait SECS PID: wait at most SECS seconds for the background job PID;
# its exit status, or 124 after killing it when it did not end in time
# (a scenario never hangs on a server that got no connection).
bg_wait() {
    if wait_for "$1" eval "! alive $2"; then
        wait "$2"
        return $?
    fi
    echo "note: background job $2 still running after $1 s; killed" >&2
    kill "$2" 2> /dev/null
    wait "$2" 2> /dev/null
    return 124
}

# sleep_until MS: sleep until now_ms reaches MS.
sleep_until() {
    while [ "$(now_ms)" -lt "$1" ]; do
        sleep 0.1
    done
}

# ---- the table ------------------------------------------------------------

# ct_tuple SRC DST SPORT DPORT: the printed form of a TCP/UDP tuple.
ct_tuple() {
    printf 'src=%s dst=%s sport=%s dport=%s ' "$1" "$2" "$3" "$4"
}

# ct_icmp_tuple SRC DST TYPE CODE ID: the printed form of an ICMP tuple.
ct_icmp_tuple() {
    printf 'src=%s dst=%s type=%s code=%s id=%s ' "$1" "$2" "$3" "$4" "$5"
}

# re TEXT: TEXT with the extended regular expression metacharacters escaped.
re() {
    printf '%s' "$1" | sed 's/[].[\\*^$()+?{}|]/\\&/g'
}

# ct_table: the whole table (one read).
ct_table() {
    cat "$CT_TABLE"
}

# ct_line KEY...: the table's lines containing every KEY (fixed strings),
# from one read of the table; status 1 if there is none.
ct_line() {
    _cl=$(cat "$CT_TABLE") || return 2
    for _k in "$@"; do
        _cl=$(printf '%s\n' "$_cl" | grep -F -- "$_k")
    done
    [ -n "$_cl" ] || return 1
    printf '%s\n' "$_cl"
}

# ct_present KEY... / ct_absent KEY...: predicates for wait_for.
ct_present() {
    ct_line "$@" > /dev/null
}

ct_absent() {
    ! ct_line "$@" > /dev/null
}

# ct_count: the number of lines in the table.
ct_count() {
    wc -l < "$CT_TABLE" | tr -d ' '
}

# ct_timeout LINE: the seconds-left column (third field) of a table line.
ct_timeout() {
    printf '%s\n' "$1" | awk '{ print $3; exit }'
}

# ct_show: the table, indented, as context for a failure.
ct_show() {
    echo "    /proc/net/ip_conntrack:"
    sed 's/^/    | /' "$CT_TABLE"
}

# ct_check DESC KEY ERE: exactly one line has KEY, and it matches ERE (give
# the whole line, ^...$). On failure the table is printed.
ct_check() {
    _cc_lines=$(ct_line "$2")
    _cc_n=0
    [ -z "$_cc_lines" ] || _cc_n=$(printf '%s\n' "$_cc_lines" | wc -l)
    if [ "$_cc_n" -ne 1 ]; then
        fail "$1 ($_cc_n lines with '$2', want 1)"
        ct_show
    elif printf '%s\n' "$_cc_lines" | grep -Eq -- "$3"; then
        pass "$1"
    else
        fail "$1 (line does not match /$3/)"
        ipct_show "$_cc_lines"
    fi
}

# ct_check_timeout DESC KEY MIN MAX: the line with KEY counts down from a
# value in MIN..MAX.
ct_check_timeout() {
    _ct_line=$(ct_line "$2" | head -n 1)
    _ct_t=$(ct_timeout "$_ct_line")
    case $_ct_t in
        '' | *[!0-9]*)
            fail "$1 (no entry or no countdown for '$2')"
            ct_show
            return
            ;;
    esac
    if [ "$_ct_t" -ge "$3" ] && [ "$_ct_t" -le "$4" ]; then
        pass "$1 ($_ct_t s left)"
    else
        fail "$1 ($_ct_t s left, want $3..$4)"
        ipct_show "$_ct_line"
    fi
}

# ct_check_gone DESC SECS KEY...: no line has every KEY within SECS seconds.
ct_check_gone() {
    _cg_desc=$1
    _cg_secs=$2
    shift 2
    if wait_for "$_cg_secs" ct_absent "$@"; then
        pass "$_cg_desc"
    else
        fail "$_cg_desc (still there after ${_cg_secs}s)"
        ipct_show "$(ct_line "$@")"
    fi
}

# ---- event listeners (conntrack -E) -----------------------------------------

# ct_listening N: N or more netfilter netlink sockets (protocol 12) have
# joined multicast groups: that many listeners get events from now on.
ct_listening() {
    awk -v n="$1" '$2 == 12 && $4 != "00000000" { c++ } END { exit !(c >= n) }' /proc/net/netlink
}

# ct_drained: no such socket has unread bytes (every listener has read
# every event sent so far).
ct_drained() {
    awk '$2 == 12 && $4 != "00000000" && $5 != 0 { f = 1 } END { exit f }' /proc/net/netlink
}

# ---- whole dumps ----------------------------------------------------------

# A whole /proc/net/ip_conntrack line, as src/engine/procfmt.rs writes it.
CT_IP='([0-9]{1,3}\.){3}[0-9]{1,3}'
CT_PORTS='sport=[0-9]+ dport=[0-9]+ '
CT_ICMP='type=[0-9]+ code=[0-9]+ id=[0-9]+ '
CT_STATES='(NONE|SYN_SENT|SYN_RECV|ESTABLISHED|FIN_WAIT|CLOSE_WAIT|LAST_ACK|TIME_WAIT|CLOSE|LISTEN|SYN_SENT2)'
CT_UNREPL='(\[UNREPLIED\] )?'
CT_LINE_RE="^(udp      17 [0-9]+ src=$CT_IP dst=$CT_IP $CT_PORTS${CT_UNREPL}src=$CT_IP dst=$CT_IP $CT_PORTS"
CT_LINE_RE="$CT_LINE_RE|tcp      6 [0-9]+ $CT_STATES src=$CT_IP dst=$CT_IP $CT_PORTS${CT_UNREPL}src=$CT_IP dst=$CT_IP $CT_PORTS"
CT_LINE_RE="$CT_LINE_RE|icmp     1 [0-9]+ src=$CT_IP dst=$CT_IP $CT_ICMP${CT_UNREPL}src=$CT_IP dst=$CT_IP $CT_ICMP"
CT_LINE_RE="$CT_LINE_RE|udplite  136 [0-9]+ src=$CT_IP dst=$CT_IP $CT_PORTS${CT_UNREPL}src=$CT_IP dst=$CT_IP $CT_PORTS"
CT_SCTP='(NONE|CLOSED|COOKIE_WAIT|COOKIE_ECHOED|ESTABLISHED|SHUTDOWN_SENT|SHUTDOWN_RECD|SHUTDOWN_ACK_SENT|HEARTBEAT_SENT)'
CT_LINE_RE="$CT_LINE_RE|sctp     132 [0-9]+ $CT_SCTP src=$CT_IP dst=$CT_IP $CT_PORTS${CT_UNREPL}src=$CT_IP dst=$CT_IP $CT_PORTS"
CT_DCCP='(NONE|REQUEST|RESPOND|PARTOPEN|OPEN|CLOSEREQ|CLOSING|TIMEWAIT)'
CT_LINE_RE="$CT_LINE_RE|dccp     33 [0-9]+ $CT_DCCP src=$CT_IP dst=$CT_IP $CT_PORTS${CT_UNREPL}src=$CT_IP dst=$CT_IP $CT_PORTS"
CT_LINE_RE="$CT_LINE_RE|unknown  [0-9]+ [0-9]+ src=$CT_IP dst=$CT_IP ${CT_UNREPL}src=$CT_IP dst=$CT_IP )"
CT_LINE_RE="$CT_LINE_RE(\[ASSURED\] )?mark=0 use=[0-9]+\$"

# ct_dump_scan FILE: one pass over a saved dump: the protocol and original
# tuple (what makes an entry) of every line whose entry came earlier in
# FILE, then "lines N malformed M" (M: lines that are not CT_LINE_RE).
# Dumps have up to 20000 lines and busybox awk is slow under TCG: the
# regular expression goes into the program as a literal (it has no
# slash), compiled once (a -v variable is compiled again for every line,
# and busybox grep -E matches several times slower), and the tuple is cut
# out with index(), not a loop over the fields.
ct_dump_scan() {
    awk '$0 !~ /'"$CT_LINE_RE"'/ { bad++ }
        {
            r = substr($0, index($0, " src=") + 1)
            k = $1 " " substr(r, 1, index(substr(r, 5), " src=") + 3)
            sub(/ \[UNREPLIED\]$/, "", k)
            if (seen[k]++) print k
        }
        END { print "lines " NR " malformed " bad + 0 }' "$1"
}

# ct_check_dump DESC FILE: two checks on a saved dump: every line whole
# and well formed (a torn line fails), no entry listed twice.
ct_check_dump() {
    _cd_out=$(ct_dump_scan "$2")
    _cd_bad=${_cd_out##* malformed }
    _cd_lines=${_cd_out##*lines }
    _cd_lines=${_cd_lines%% *}
    _cd_dups=${_cd_out%lines *}
    if [ "$_cd_bad" -eq 0 ] && [ -z "$(tail -c 1 "$2" | tr -d '\n')" ]; then
        pass "$1: $_cd_lines lines, all well formed"
    else
        fail "$1: $_cd_bad of $_cd_lines lines malformed, e.g.:"
        ipct_show "$(awk '$0 !~ /'"$CT_LINE_RE"'/' "$2" | head -n 3)"
    fi
    if [ -z "$_cd_dups" ]; then
        pass "$1: no entry listed twice"
    else
        fail "$1: $(printf '%s' "$_cd_dups" | wc -l) entries listed twice, e.g.:"
        ipct_show "$(printf '%s' "$_cd_dups" | head -n 3)"
    fi
}

# ---- /proc/net/stat/ip_conntrack ------------------------------------------

# stat_field NAME: the column NAME of /proc/net/stat/ip_conntrack summed
# over the CPU rows (hex in the file, decimal out); `entries` is the global
# count repeated on every row, so it is read from the first row only.
stat_field() {
    awk -v name="$1" '
        function hex(s,   i, c, v) {
            v = 0
            s = tolower(s)
            for (i = 1; i <= length(s); i++) {
                c = index("0123456789abcdef", substr(s, i, 1))
                if (c == 0) return -1
                v = v * 16 + c - 1
            }
            return v
        }
        NR == 1 {
            for (i = 1; i <= NF; i++) if ($i == name) col = i
            if (!col) exit 2
            next
        }
        NF >= col {
            v = hex($col)
            if (v < 0) bad = 1
            if (name == "entries") { if (!rows) sum = v } else sum += v
            rows++
        }
        END {
            if (!col || !rows || bad) exit 2
            printf "%d\n", sum
        }' "$CT_STAT"
}

# ct_ext NAME [NS]: a column of /proc/net/stat/ip_conntrack_ext (one line
# of decimal values for the namespace: entries, buckets, longest_chain,
# clash_resolve, chaintoolong), in network namespace NS if given.
ct_ext() {
    if [ -n "${2:-}" ]; then
        ip netns exec "$2" cat /proc/net/stat/ip_conntrack_ext
    else
        cat /proc/net/stat/ip_conntrack_ext
    fi | awk -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) col = i; next }
        NR == 2 && col { print $col; f = 1 } END { exit !f }'
}

# ---- sysctls --------------------------------------------------------------

# ct_sysctl NAME [VALUE]: read (or write) net.ipv4.netfilter.ip_conntrack_NAME.
ct_sysctl() {
    if [ $# -ge 2 ]; then
        echo "$2" > "$CT_SYSCTL/ip_conntrack_$1"
    else
        cat "$CT_SYSCTL/ip_conntrack_$1"
    fi
}

# ct_set_timeout DESC NAME SECS: a check that sets a timeout sysctl and
# reads it back.
ct_set_timeout() {
    if ct_sysctl "$2" "$3" 2> /dev/null && [ "$(ct_sysctl "$2" 2> /dev/null)" = "$3" ]; then
        pass "$1 (ip_conntrack_$2 = $3)"
    else
        fail "$1 (writing $3 to $CT_SYSCTL/ip_conntrack_$2 failed or did not stick: '$(ct_sysctl "$2" 2>&1)')"
    fi
}

# ---- iptables -------------------------------------------------------------

# ipt_pkts CHAIN TAG [TABLE]: the packet counter of the rule in CHAIN that
# carries `-m comment --comment TAG` ($IPT, default iptables = legacy).
ipt_pkts() {
    "$IPT" -t "${3:-filter}" -L "$1" -v -x -n 2> /dev/null \
        | awk -v t="/* $2 */" 'index($0, t) { print $1; f = 1; exit } END { exit !f }'
}

# ns_snmp NS GROUP FIELD: a counter of /proc/net/snmp in namespace NS
# (e.g. ns_snmp client Icmp InDestUnreachs).
ns_snmp() {
    ip netns exec "$1" awk -v g="$2:" -v f="$3" '
        $1 == g && !n { for (i = 2; i <= NF; i++) if ($i == f) col = i; n = 1; next }
        $1 == g && n { print $col; exit }' /proc/net/snmp
}

# ---- pktgen (many flows from the client namespace) --------------------------

# ct_settle: wait until ip_conntrack_count stops changing (up to 30 s).
ct_settle() {
    _prev=-1
    _i=0
    while [ "$_i" -lt 60 ]; do
        _c=$(cat "$CT_SYSCTL/ip_conntrack_count")
        [ "$_c" = "$_prev" ] && return 0
        _prev=$_c
        sleep 0.5
        _i=$((_i + 1))
    done
    return 1
}

# ct_pg FILE CMD: a pktgen command in the client namespace.
ct_pg() {
    in_client sh -c "echo '$2' > /proc/net/pktgen/$1"
}

# ct_pktgen SRC DST N DELAY_NS SPORTS DPORTS: the client's eth0 sends N UDP
# packets SRC -> DST, one every DELAY_NS, to the router's MAC, past the
# client's own hooks. Source and destination ports both step by one per
# packet, each cycling through its range (MIN:END, END exclusive, as
# pktgen's max is): with coprime range sizes the first lcm(sizes) packets
# are distinct flows. `ct_pg pgctrl start` sends them.
ct_pktgen() {
    ct_pg kpktgend_0 rem_device_all &&
    ct_pg kpktgend_0 "add_device $NS_IF" &&
    ct_pg "$NS_IF" "count $3" &&
    ct_pg "$NS_IF" "clone_skb 0" &&
    ct_pg "$NS_IF" "pkt_size 60" &&
    ct_pg "$NS_IF" "delay $4" &&
    ct_pg "$NS_IF" "dst $2" &&
    ct_pg "$NS_IF" "src_min $1" &&
    ct_pg "$NS_IF" "src_max $1" &&
    ct_pg "$NS_IF" "dst_mac $(router_mac "$ROUTER_CLIENT_IF")" &&
    ct_pg "$NS_IF" "udp_src_min ${5%:*}" &&
    ct_pg "$NS_IF" "udp_src_max ${5#*:}" &&
    ct_pg "$NS_IF" "udp_dst_min ${6%:*}" &&
    ct_pg "$NS_IF" "udp_dst_max ${6#*:}"
}

# ---- setup and reporting --------------------------------------------------

# ct_setup [MODPROBE_ARG...]: load ip_conntrack (with the arguments given),
# build the topology; both as checks. Remembers the kernel log position.
ct_setup() {
    klog_mark
    check "modprobe ip_conntrack $*" modprobe ip_conntrack "$@"
    check "topology up" topo_up
}

# ct_finish: when a check failed, the kernel log lines since ct_setup and
# the table, for the report.
ct_finish() {
    if [ "$IPCT_FAILED" -gt 0 ]; then
        echo "---- kernel log since setup (failures above)"
        klog_new | tail -n 60 | sed 's/^/    | /'
        ct_show
        echo "    /proc/net/stat/ip_conntrack:"
        sed 's/^/    | /' "$CT_STAT" 2> /dev/null
    fi
}
