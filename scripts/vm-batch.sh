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

# unload M: module M after every module that uses it (its holders).
unload() {
    local h
    for h in /sys/module/"$1"/holders/*; do
        [ ! -e "$h" ] || unload "${h##*/}"
    done
    rmmod "$1" 2>/dev/null
}

# Modules that hold state between scenarios: ours, the test modules, the
# kernel's conntrack and NAT (with every match, target and chain type
# that uses them).
STATEFUL="ip_conntrack pktgen nf_socket_ipv4 ipct_warn nf_nat nf_conntrack"

# Leftovers of a scenario (one that failed halfway, or one that leaves
# the kernel's NAT or nf_conntrack loaded); quiet when there are none.
reset_guest() {
    # Links first: a namespace goes away in the background, and the veth
    # ends it takes with it would still be there for the next scenario.
    for l in $(ip -o link show 2>/dev/null | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2 }'); do
        ip link del "$l" 2>/dev/null
    done
    ip -all netns delete 2>/dev/null
    # Only the tables that exist: naming another (nat) would load it.
    for t in $(cat /proc/net/ip_tables_names 2>/dev/null); do
        iptables-legacy -t "$t" -F 2>/dev/null
        iptables-legacy -t "$t" -X 2>/dev/null
        for c in $(iptables-legacy -t "$t" -S 2>/dev/null | awk '$1 == "-P" { print $2 }'); do
            iptables-legacy -t "$t" -P "$c" ACCEPT 2>/dev/null
        done
    done
    nft flush ruleset 2>/dev/null
    for m in $STATEFUL; do
        [ ! -d "/sys/module/$m" ] || unload "$m"
    done
    for m in $STATEFUL; do
        [ ! -d "/sys/module/$m" ] || echo "ipct-batch: could not unload $m"
    done
    # Files a scenario left (each starts with an empty /tmp).
    rm -rf /tmp/* 2>/dev/null
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
