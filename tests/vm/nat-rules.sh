# The nat table, the NAT targets and the nft chain type `nat` that
# ip_conntrack provides (the kernel's iptable_nat, xt_nat,
# xt_MASQUERADE, xt_REDIRECT, xt_NETMAP and nft_chain_nat need
# nf_conntrack): unmodified iptables-legacy (initial namespace and a
# second one) and iptables-nft (through nft_compat, in the second
# namespace) load and list NAT rules, and refuse bad ones with the same
# messages, exactly as they do over the kernel's own modules. The
# reference run is the same rules under nf_conntrack + iptable_nat +
# nft_chain_nat after `rmmod ip_conntrack`, in the same boot: `-L -v -n`
# (counters left out), `iptables-save` and the refusals (iptables'
# message and the kernel log lines) must be identical. rmmod is refused
# while rules use the targets, a user chain is left in the nat table or an
# nft nat chain exists, and works once they are gone. Traffic through NAT
# is tests/vm/nat.sh's.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

NS=natns
WAN=wan0
LAN=lan0

in_ns() {
    ip netns exec "$NS" "$@"
}

# The rules (the same for both runs and both front ends): every target,
# SNAT/DNAT in the forms that need revision 2 (a shifted port range),
# flags (--random, --random-fully, --persistent), every chain, a user chain.
add_rules() {
    _ipt=$1
    check "$_ipt: DNAT port forward" $_ipt -t nat -A PREROUTING -i $WAN -p tcp --dport 8080 \
        -j DNAT --to-destination 192.0.2.2:80
    check "$_ipt: DNAT to a shifted port range (revision 2)" $_ipt -t nat -A PREROUTING -i $WAN \
        -p tcp --dport 1000:2000 -j DNAT --to-destination 192.0.2.2:3000-4000/1000
    check "$_ipt: DNAT to an address range, --random" $_ipt -t nat -A PREROUTING -i $WAN \
        -p udp --dport 53 -j DNAT --to-destination 192.0.2.10-192.0.2.12 --random
    check "$_ipt: REDIRECT to a port" $_ipt -t nat -A PREROUTING -i $LAN -p tcp --dport 80 \
        -j REDIRECT --to-ports 3128
    check "$_ipt: NETMAP of destinations" $_ipt -t nat -A PREROUTING -d 198.51.100.0/24 \
        -j NETMAP --to 192.0.2.0/24
    check "$_ipt: a user chain" $_ipt -t nat -N custom
    check "$_ipt: a rule in it" $_ipt -t nat -A custom -p icmp -j RETURN
    check "$_ipt: a jump to it" $_ipt -t nat -A PREROUTING -j custom
    check "$_ipt: DNAT on OUTPUT" $_ipt -t nat -A OUTPUT -d 203.0.113.9 -p udp \
        -j DNAT --to-destination 192.0.2.3
    check "$_ipt: REDIRECT on OUTPUT" $_ipt -t nat -A OUTPUT -p tcp --dport 81 -j REDIRECT
    check "$_ipt: MASQUERADE" $_ipt -t nat -A POSTROUTING -o $WAN -j MASQUERADE
    check "$_ipt: MASQUERADE to ports, --random" $_ipt -t nat -A POSTROUTING -o $WAN -p udp \
        -j MASQUERADE --to-ports 40000-40100 --random
    check "$_ipt: SNAT to an address and port range" $_ipt -t nat -A POSTROUTING -o wan1 -p udp \
        -j SNAT --to-source 203.0.113.1:40000-40001
    check "$_ipt: SNAT --persistent --random-fully" $_ipt -t nat -A POSTROUTING -o wan1 -p tcp \
        -j SNAT --to-source 203.0.113.1-203.0.113.4 --persistent --random-fully
    check "$_ipt: NETMAP of sources" $_ipt -t nat -A POSTROUTING -s 192.0.2.0/24 -o wan2 \
        -j NETMAP --to 198.51.100.0/24
    check "$_ipt: SNAT on INPUT" $_ipt -t nat -A INPUT -s 198.51.100.0/24 \
        -j SNAT --to-source 192.0.2.1
}

# What IPT lists and saves of the nat table, counters left out (packets
# of the guest itself may cross the OUTPUT chain).
listing() {
    $1 -t nat -L -v -n 2> /dev/null | sed -E 's/\(policy ACCEPT [0-9]+ packets, [0-9]+ bytes\)/(policy ACCEPT)/;
        s/^ *[0-9]+[KMG]? +[0-9]+[KMG]? +//'
    echo "== save"
    $1-save -t nat 2> /dev/null | sed -E '/^#/d; s/^(:[A-Za-z]+ [A-Z-]+) \[[0-9]+:[0-9]+\]/\1/'
}

# refusal IPT ARGS...: IPT must refuse the rule; prints its message and
# the kernel log lines it caused (without timestamps).
refusal() {
    _ipt=$1
    shift
    klog_mark
    if _out=$($_ipt "$@" 2>&1); then
        fail "$_ipt accepted: $*"
    else
        pass "$_ipt refused: $*"
    fi
    printf '%s: %s\n' "$*" "$_out"
    # (ratelimit notes depend on what came before; timekeeping lines are
    # the guest's, not the rule's)
    klog_new | sed -E '/callbacks suppressed|clocksource|hrtimer|rcu:/d; s/^\[ *[0-9.]+\] //; s/^/    kernel: /'
}

# x_tables logs a refused target at most 10 times in 5 s per message site
# (pr_info_ratelimited) and a block of refusals logs 8 at one site: each
# block starts a fresh window, whatever the guest's speed, so no line is
# suppressed on one side and not on the other.
REFUSALS_AT=0
ratelimit_window() {
    _now=$(cut -d' ' -f1 /proc/uptime)
    _wait=$(awk -v a="$REFUSALS_AT" -v n="$_now" 'BEGIN { w = a + 5.2 - n; if (w > 0) printf "%.2f", w; else print 0 }')
    sleep "$_wait"
    REFUSALS_AT=$(cut -d' ' -f1 /proc/uptime)
}

refusals() {
    _ipt=$1
    ratelimit_window
    refusal "$_ipt" -t nat -A POSTROUTING -j SNAT
    refusal "$_ipt" -t nat -A PREROUTING -j DNAT
    refusal "$_ipt" -t nat -A POSTROUTING -j DNAT --to-destination 192.0.2.2
    refusal "$_ipt" -t nat -A INPUT -j DNAT --to-destination 192.0.2.2
    refusal "$_ipt" -t nat -A PREROUTING -j SNAT --to-source 192.0.2.2
    refusal "$_ipt" -t nat -A OUTPUT -j SNAT --to-source 192.0.2.2
    refusal "$_ipt" -t nat -A PREROUTING -i $WAN -j MASQUERADE
    refusal "$_ipt" -t nat -A INPUT -j MASQUERADE
    refusal "$_ipt" -t nat -A POSTROUTING -p tcp -j REDIRECT --to-ports 8080
    refusal "$_ipt" -t nat -A INPUT -j REDIRECT
    refusal "$_ipt" -t nat -A PREROUTING -j NETMAP
    refusal "$_ipt" -t filter -A FORWARD -j MASQUERADE
    refusal "$_ipt" -t filter -A INPUT -j DNAT --to-destination 192.0.2.2
    refusal "$_ipt" -t mangle -A POSTROUTING -j SNAT --to-source 192.0.2.2
    refusal "$_ipt" -t nat -A PREROUTING -j MASQUERADE --to-ports 70000
    refusal "$_ipt" -t nat -A POSTROUTING -j SNAT --to-source 192.0.2.300
}

# run NAME: the rules and refusals with iptables (initial namespace),
# iptables and iptables-nft (namespace $NS); results in /tmp/nat-NAME.*.
run() {
    step "$1: rules through iptables-legacy (initial namespace)"
    add_rules iptables
    step "$1: rules through iptables-nft and iptables-legacy (namespace $NS)"
    check "namespace $NS" ip netns add "$NS"
    add_rules "in_ns iptables-nft"
    check "iptables-legacy MASQUERADE in $NS" in_ns iptables -t nat -A POSTROUTING -o $WAN -j MASQUERADE
    listing iptables > "/tmp/nat-$1.legacy"
    listing "in_ns iptables-nft" > "/tmp/nat-$1.nft"
    listing "in_ns iptables" > "/tmp/nat-$1.legacy-ns"
    check_match "$1: iptables-legacy lists the rules" "$(cat "/tmp/nat-$1.legacy")" \
        'to:192.0.2.2:3000-4000/1000'
    check_match "$1: iptables-nft lists the rules" "$(cat "/tmp/nat-$1.nft")" \
        'MASQUERADE .*masq ports: 40000-40100 random'
    check_match "$1: iptables-nft-save keeps SNAT's flags" "$(cat "/tmp/nat-$1.nft")" \
        '-j SNAT --to-source 203.0.113.1-203.0.113.4 --random-fully --persistent'
    step "$1: bad rules are refused"
    refusals iptables > "/tmp/nat-$1.refused-legacy"
    refusals "in_ns iptables-nft" > "/tmp/nat-$1.refused-nft"
    grep -E '^(PASS|FAIL)' "/tmp/nat-$1.refused-legacy" "/tmp/nat-$1.refused-nft" | sed 's/^[^:]*://'
    IPCT_PASSED=$((IPCT_PASSED + $(cat "/tmp/nat-$1.refused-"* | grep -c '^PASS')))
    IPCT_FAILED=$((IPCT_FAILED + $(cat "/tmp/nat-$1.refused-"* | grep -c '^FAIL')))
    check_eq "$1: the rules are unchanged by the refusals" \
        "$(listing iptables; listing "in_ns iptables-nft")" \
        "$(cat "/tmp/nat-$1.legacy" "/tmp/nat-$1.nft")"
}

# ---- ip_conntrack -----------------------------------------------------------

step "ip_conntrack: the nat table and targets pin the module"
klog_mark
check "modprobe ip_conntrack" modprobe ip_conntrack
check "the nat table exists on demand" iptables -t nat -L -n
check_match "ip_tables lists it" "$(cat /proc/net/ip_tables_names)" '^nat$'
check "MASQUERADE" iptables -t nat -A POSTROUTING -o $WAN -j MASQUERADE
check_fails "rmmod refused while a rule uses MASQUERADE" rmmod ip_conntrack
check "flush the nat table" iptables -t nat -F
check "then rmmod works" rmmod ip_conntrack
check "modprobe ip_conntrack again" modprobe ip_conntrack
check "a user chain in the nat table" iptables -t nat -N custom
check_fails "rmmod refused while the user chain is left" rmmod ip_conntrack
check "delete it" iptables -t nat -X
for m in nf_conntrack nf_nat iptable_nat xt_nat xt_MASQUERADE xt_REDIRECT xt_NETMAP nft_chain_nat; do
    check_fails "$m is not loaded" mod_loaded "$m"
done

run ipct
check_fails "ip_conntrack: no kernel's NAT module was loaded" grep -qE '^(nf_nat|iptable_nat|xt_nat|nft_chain_nat) ' /proc/modules

step "ip_conntrack: unload once every NAT rule and chain is gone"
check_fails "rmmod refused with the rules" rmmod ip_conntrack
check "iptables -t nat -F" iptables -t nat -F
check_fails "rmmod refused: a user chain and $NS's rules are left" rmmod ip_conntrack
check "iptables -t nat -X" iptables -t nat -X
check "iptables-nft -t nat -F in $NS" in_ns iptables-nft -t nat -F
refcnt=$(cat /sys/module/ip_conntrack/refcnt)
check_fails "rmmod refused: $NS's nft nat chains and iptables-legacy rule are left" rmmod ip_conntrack
check "iptables-nft -t nat -X in $NS (empty base chains go too)" in_ns iptables-nft -t nat -X
check "the nft nat chains held module references" \
    test "$(cat /sys/module/ip_conntrack/refcnt)" -lt "$refcnt"
check_fails "rmmod refused: $NS's iptables-legacy rule is left" rmmod ip_conntrack
check "delete $NS with its rule (its nat table goes)" ip netns del "$NS"
check "rmmod works once the namespace is gone" wait_for 10 rmmod ip_conntrack
check_fails "ip_conntrack is gone" mod_loaded ip_conntrack
check_fails "the nat table went with it" grep -qx nat /proc/net/ip_tables_names
check_no_match "ip_conntrack: no kernel warning" "$(klog_new)" 'WARNING|BUG|Oops'

# ---- reference: nf_conntrack + iptable_nat + nft_chain_nat -------------------

run ref
check "nf_nat was used for the reference" mod_loaded nf_nat
check "nft_chain_nat too" mod_loaded nft_chain_nat

step "ip_conntrack and the kernel's NAT modules: the same view"
for f in legacy nft legacy-ns refused-legacy refused-nft; do
    if cmp -s "/tmp/nat-ipct.$f" "/tmp/nat-ref.$f"; then
        pass "$f: identical ($(wc -l < "/tmp/nat-ipct.$f") lines)"
    else
        fail "$f: differs (- ip_conntrack, + reference)"
        diff "/tmp/nat-ipct.$f" "/tmp/nat-ref.$f" | sed 's/^/    | /'
    fi
done

step "cleanup"
check "flush and delete the reference rules" sh -c \
    "iptables -t nat -F && iptables -t nat -X && ip netns del $NS"
kmemleak_check
