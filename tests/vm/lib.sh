# Shared helpers for guest scenarios (POSIX sh, run by dash in the guest).
# scripts/vm-run.sh copies this file to /usr/lib/ipct/lib.sh; scenarios
# start with `. /usr/lib/ipct/lib.sh`.
#
# Checks print "PASS: ..." or "FAIL: ..."; when the script ends, a summary
# line follows and the exit status is 1 if any check failed (an EXIT trap
# does this, so a scenario needs no explicit ending).
#
# Topology (topo_up): two network namespaces joined to the guest's root
# namespace, which routes between them:
#
#   client netns            router (root netns, forwarding)         server netns
#   eth0 192.0.2.2  <-veth->  veth-client 192.0.2.1
#                             veth-server 198.51.100.1  <-veth->  eth0 198.51.100.2

CLIENT_NS=client
SERVER_NS=server
CLIENT_IP=192.0.2.2
ROUTER_CLIENT_IP=192.0.2.1
ROUTER_SERVER_IP=198.51.100.1
SERVER_IP=198.51.100.2
ROUTER_CLIENT_IF=veth-client
ROUTER_SERVER_IF=veth-server
NS_IF=eth0
KMEMLEAK_SCAN=/usr/lib/ipct/kmemleak-scan

IPCT_PASSED=0
IPCT_FAILED=0

# ---- reporting ------------------------------------------------------------

pass() {
    IPCT_PASSED=$((IPCT_PASSED + 1))
    echo "PASS: $*"
}

fail() {
    IPCT_FAILED=$((IPCT_FAILED + 1))
    echo "FAIL: $*"
}

# A section heading in the output; also in the kernel log, whose
# timestamps then show how long each step took.
step() {
    echo "---- $*"
    echo "ipct-step: $*" 2>/dev/null > /dev/kmsg
}

ipct_summary() {
    rc=$?
    total=$((IPCT_PASSED + IPCT_FAILED))
    if [ "$IPCT_FAILED" -gt 0 ]; then
        echo "== $IPCT_FAILED of $total checks FAILED"
        exit 1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "== script stopped with status $rc after $total checks"
        exit "$rc"
    fi
    echo "== all $total checks passed"
}
trap ipct_summary EXIT

# Prints a command's captured output indented, for a failure's context.
ipct_show() {
    [ -z "$1" ] || printf '%s\n' "$1" | sed 's/^/    | /'
}

# ---- checks ---------------------------------------------------------------

# check DESC CMD [ARG...]: CMD must succeed.
check() {
    _desc=$1
    shift
    if _out=$("$@" 2>&1); then
        pass "$_desc"
    else
        fail "$_desc (exit $?: $*)"
        ipct_show "$_out"
    fi
}

# check_fails DESC CMD [ARG...]: CMD must fail.
check_fails() {
    _desc=$1
    shift
    if _out=$("$@" 2>&1); then
        fail "$_desc (succeeded: $*)"
        ipct_show "$_out"
    else
        pass "$_desc"
    fi
}

# check_eq DESC GOT WANT
check_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1 (got '$2', want '$3')"
    fi
}

# check_match DESC TEXT ERE: TEXT must contain a match of the extended
# regular expression ERE.
check_match() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        pass "$1"
    else
        fail "$1 (no match for /$3/ in:)"
        ipct_show "$2"
    fi
}

# check_no_match DESC TEXT ERE
check_no_match() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then
        fail "$1 (unexpected match for /$3/ in:)"
        ipct_show "$2"
    else
        pass "$1"
    fi
}

# ---- modules --------------------------------------------------------------

# mod_loaded NAME: true if NAME is in /proc/modules.
mod_loaded() {
    grep -q "^$1 " /proc/modules
}

# mod_deps NAME: the module names modules.dep lists as NAME's dependencies.
mod_deps() {
    _path=$(modprobe_path "$1") || return 1
    sed -n "s|^$_path: *||p" "/lib/modules/$(uname -r)/modules.dep" | tr ' ' '\n' \
        | sed -n 's|.*/||; s|\.ko.*$||; s|-|_|g; /./p'
}

# modprobe_path NAME: NAME's path relative to /lib/modules/<release>.
modprobe_path() {
    _p=$(grep -E "(^|/)$1\.ko(\.[a-z]+)?:" "/lib/modules/$(uname -r)/modules.dep" | head -n 1)
    [ -n "$_p" ] || return 1
    printf '%s\n' "${_p%%:*}"
}

# ---- kernel log -----------------------------------------------------------

# klog_mark: remember where the kernel log ends; klog_new prints what came
# after the last mark.
klog_mark() {
    IPCT_KLOG_MARK=$(dmesg | wc -l)
}

klog_new() {
    dmesg | tail -n +"$((${IPCT_KLOG_MARK:-0} + 1))"
}

# kmemleak_check: scan for leaks (debug kernel; skipped elsewhere).
kmemleak_check() {
    if _out=$("$KMEMLEAK_SCAN" 2>&1); then
        pass "no kmemleak reports ($(printf '%s\n' "$_out" | tail -n 1))"
    else
        fail "kmemleak reports leaks"
        ipct_show "$_out"
    fi
}

# ---- topology -------------------------------------------------------------

in_client() {
    ip netns exec "$CLIENT_NS" "$@"
}

in_server() {
    ip netns exec "$SERVER_NS" "$@"
}

# topo_up: build the client - router - server topology (see the top).
topo_up() {
    ip netns add "$CLIENT_NS" &&
    ip netns add "$SERVER_NS" &&
    ip link add "$ROUTER_CLIENT_IF" type veth peer name "$NS_IF" netns "$CLIENT_NS" &&
    ip link add "$ROUTER_SERVER_IF" type veth peer name "$NS_IF" netns "$SERVER_NS" &&
    ip addr add "$ROUTER_CLIENT_IP/24" dev "$ROUTER_CLIENT_IF" &&
    ip addr add "$ROUTER_SERVER_IP/24" dev "$ROUTER_SERVER_IF" &&
    ip link set "$ROUTER_CLIENT_IF" up &&
    ip link set "$ROUTER_SERVER_IF" up &&
    ip -n "$CLIENT_NS" link set lo up &&
    ip -n "$CLIENT_NS" addr add "$CLIENT_IP/24" dev "$NS_IF" &&
    ip -n "$CLIENT_NS" link set "$NS_IF" up &&
    ip -n "$CLIENT_NS" route add default via "$ROUTER_CLIENT_IP" &&
    ip -n "$SERVER_NS" link set lo up &&
    ip -n "$SERVER_NS" addr add "$SERVER_IP/24" dev "$NS_IF" &&
    ip -n "$SERVER_NS" link set "$NS_IF" up &&
    ip -n "$SERVER_NS" route add default via "$ROUTER_SERVER_IP" &&
    echo 1 > /proc/sys/net/ipv4/ip_forward
}

# topo_down: remove both namespaces (their veth pairs go with them).
topo_down() {
    ip netns del "$CLIENT_NS" 2>/dev/null
    ip netns del "$SERVER_NS" 2>/dev/null
    return 0
}

# router_mac IFACE: the router-side MAC of a veth, for frames the packet
# tool sends with --iface from a namespace (a router forwards only frames
# addressed to it).
router_mac() {
    cat "/sys/class/net/$1/address"
}

# wait_listen NS PORT [tcp|udp]: wait up to 5 s for a socket bound to PORT
# in namespace NS (TCP: listening).
wait_listen() {
    _hex=$(printf '%04X' "$2")
    _proto=${3:-tcp}
    _state=0A
    [ "$_proto" = tcp ] || _state=07
    _i=0
    while [ "$_i" -lt 50 ]; do
        if ip netns exec "$1" cat "/proc/net/$_proto" \
            | awk -v p=":$_hex" -v s="$_state" '$2 ~ p "$" && $4 == s { f = 1 } END { exit !f }'; then
            return 0
        fi
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# tcp_exchange PORT CLIENT_MSG SERVER_MSG: one TCP connection from the
# client to the server through the router; prints what the client received
# and leaves what the server received in /tmp/tcp-server.$PORT.
tcp_exchange() {
    printf '%s\n' "$3" | in_server nc -N -l -p "$1" > "/tmp/tcp-server.$1" 2>&1 &
    _srv=$!
    wait_listen "$SERVER_NS" "$1" tcp || { kill "$_srv" 2>/dev/null; return 1; }
    printf '%s\n' "$2" | in_client nc -N -w 5 "$SERVER_IP" "$1"
    _rc=$?
    wait "$_srv" || _rc=1
    return "$_rc"
}

# udp_exchange PORT CLIENT_MSG SERVER_MSG: one datagram each way; prints
# what the client received, leaves the server's in /tmp/udp-server.$PORT.
udp_exchange() {
    printf '%s\n' "$3" | in_server nc -u -l -p "$1" -W 1 > "/tmp/udp-server.$1" 2>&1 &
    _srv=$!
    wait_listen "$SERVER_NS" "$1" udp || { kill "$_srv" 2>/dev/null; return 1; }
    printf '%s\n' "$2" | in_client nc -u -W 1 -w 5 "$SERVER_IP" "$1"
    _rc=$?
    wait "$_srv" || _rc=1
    return "$_rc"
}
