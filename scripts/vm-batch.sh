# Runs in the guest (POSIX sh): several scenarios in one boot, for
# scripts/vm-tests.sh. Usage: sh vm-batch.sh NAME...  (each /ipct/NAME.sh)
#
# Each scenario runs as in a boot of its own, as far as the guest allows:
# before it starts, namespaces, rules and modules left by the previous
# one are removed. Markers on the output and in the kernel log delimit the
# scenarios; vm-tests.sh splits both at them:
#   output:     ==== ipct-batch: start NAME  /  ==== ipct-batch: end NAME status N seconds S
#   kernel log: ipct-batch: start NAME       /  ipct-batch: end NAME status N

uptime_s() {
    cut -d' ' -f1 /proc/uptime
}

# Leftovers of a scenario that failed halfway; quiet when there are none.
reset_guest() {
    # Links first: a namespace goes away in the background, and the veth
    # ends it takes with it would still be there for the next scenario.
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2 }'); do
        ip link del "$l" 2>/dev/null
    done
    ip -all netns delete 2>/dev/null
    for ipt in iptables-legacy iptables-nft; do
        for t in filter mangle raw; do
            "$ipt" -t "$t" -F 2>/dev/null
            "$ipt" -t "$t" -X 2>/dev/null
        done
    done
    nft flush ruleset 2>/dev/null
    for m in ip_conntrack pktgen nf_socket_ipv4 ipct_warn; do
        if grep -q "^$m " /proc/modules; then
            rmmod "$m" 2>/dev/null || echo "ipct-batch: could not unload $m"
        fi
    done
    if grep -q "^nf_conntrack " /proc/modules; then
        for m in nf_conntrack_netlink xt_state xt_conntrack nf_conntrack; do
            modprobe -r "$m" 2>/dev/null
        done
    fi
    return 0
}

for name in "$@"; do
    reset_guest
    start=$(uptime_s)
    echo "==== ipct-batch: start $name"
    echo "ipct-batch: start $name" > /dev/kmsg
    sh "/ipct/$name.sh"
    rc=$?
    took=$(awk -v a="$start" -v b="$(uptime_s)" 'BEGIN { printf "%d", b - a }')
    echo "ipct-batch: end $name status $rc" > /dev/kmsg
    echo "==== ipct-batch: end $name status $rc seconds $took"
done
exit 0
