# Load and unload ip_conntrack repeatedly (20 times by default, or $1):
# vm-debug: yes
# each load and unload must succeed and leave nothing behind.
. /usr/lib/ipct/lib.sh

rounds=${1:-20}
step "modprobe ip_conntrack / rmmod ip_conntrack, $rounds rounds"
i=1
broken=
while [ "$i" -le "$rounds" ]; do
    if ! out=$(modprobe ip_conntrack 2>&1); then
        broken="load #$i failed: $out"
        break
    fi
    if ! mod_loaded ip_conntrack; then
        broken="load #$i: modprobe succeeded but ip_conntrack is not in /proc/modules"
        break
    fi
    if ! out=$(rmmod ip_conntrack 2>&1); then
        broken="unload #$i failed: $out"
        break
    fi
    i=$((i + 1))
done
if [ -z "$broken" ]; then
    pass "loaded and unloaded $rounds times"
else
    fail "$broken"
fi

check_fails "ip_conntrack is not loaded at the end" mod_loaded ip_conntrack
check_fails "/proc/net/ip_conntrack is gone" test -e /proc/net/ip_conntrack
check_fails "/proc/sys/net/ipv4/ip_conntrack_max is gone" test -e /proc/sys/net/ipv4/ip_conntrack_max

step "load and unload while traffic crosses the router"
check "topology up" topo_up
check "modprobe ip_conntrack" modprobe ip_conntrack
check "ping client -> server through the router" in_client ping -c 3 -W 2 "$SERVER_IP"
check "rmmod ip_conntrack" rmmod ip_conntrack
check "ping still works after unload" in_client ping -c 1 -W 2 "$SERVER_IP"
topo_down

kmemleak_check
