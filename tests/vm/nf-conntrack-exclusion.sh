# ip_conntrack and the kernel's own nf_conntrack want the same hooks: the
# vm-debug: yes
# one loaded second must refuse, cleanly, and the first keeps working.
# Likewise modules that would read ip_conntrack's entries as a whole
# struct nf_conn (socket lookups, tc flow keys): refused while it is
# loaded, and it refuses to load next to one it can find (a stand-in for
# nf_socket_ipv4, which the test kernel does not build, plays that part).
. /usr/lib/ipct/lib.sh

check "topology up" topo_up

step "nf_conntrack first: ip_conntrack must refuse with EBUSY"
check "modprobe nf_conntrack" modprobe nf_conntrack
klog_mark
out=$(modprobe ip_conntrack 2>&1)
rc=$?
check_fails "modprobe ip_conntrack fails (status $rc)" test "$rc" -eq 0
check_match "the error is EBUSY" "$out" 'Device or resource busy'
check_fails "ip_conntrack is not loaded" mod_loaded ip_conntrack
new=$(klog_new)
check_match "the kernel log says why" "$new" 'ip_conntrack.*nf_conntrack'
check "nf_conntrack is still loaded" mod_loaded nf_conntrack
check "routing still works" in_client ping -c 1 -W 2 "$SERVER_IP"
check "modprobe -r nf_conntrack" modprobe -r nf_conntrack
check_fails "nf_conntrack unloaded" mod_loaded nf_conntrack

step "ip_conntrack first: nf_conntrack and xt_state must not load"
check "modprobe ip_conntrack" modprobe ip_conntrack
check_fails "modprobe nf_conntrack fails" modprobe nf_conntrack
check_fails "modprobe nf_conntrack enable_hooks=1 fails" modprobe nf_conntrack enable_hooks=1
check_fails "nf_conntrack is not loaded" mod_loaded nf_conntrack
check_fails "modprobe xt_state fails" modprobe xt_state
check_fails "xt_state is not loaded" mod_loaded xt_state
check_fails "nf_conntrack did not come in with it" mod_loaded nf_conntrack
check "ip_conntrack is still loaded" mod_loaded ip_conntrack
check "/proc/net/ip_conntrack still readable" cat /proc/net/ip_conntrack
check "ip_conntrack_max still readable" sysctl net.ipv4.ip_conntrack_max
check "routing still works" in_client ping -c 2 -W 2 "$SERVER_IP"
check "rmmod ip_conntrack" rmmod ip_conntrack

step "a reader of struct nf_conn (nf_socket_ipv4) is kept out"
check "modprobe ip_conntrack" modprobe ip_conntrack
klog_mark
out=$(modprobe nf_socket_ipv4 2>&1)
check_match "modprobe nf_socket_ipv4 fails with EBUSY" "$out" 'Device or resource busy'
check_fails "nf_socket_ipv4 is not loaded" mod_loaded nf_socket_ipv4
check_match "the kernel log says why" "$(klog_new)" 'ip_conntrack: refusing to load nf_socket_ipv4: .*struct nf_conn'
check "routing still works" in_client ping -c 1 -W 2 "$SERVER_IP"
check "rmmod ip_conntrack" rmmod ip_conntrack
check "modprobe nf_socket_ipv4 after rmmod ip_conntrack" modprobe nf_socket_ipv4
klog_mark
out=$(modprobe ip_conntrack 2>&1)
check_match "modprobe ip_conntrack next to it fails with EBUSY" "$out" 'Device or resource busy'
check_fails "ip_conntrack is not loaded" mod_loaded ip_conntrack
check_match "the kernel log names the module" "$(klog_new)" 'nf_socket_ipv4 is loaded'
check "rmmod nf_socket_ipv4" rmmod nf_socket_ipv4
check "modprobe ip_conntrack once it is gone" modprobe ip_conntrack
check "rmmod ip_conntrack" rmmod ip_conntrack

step "after unloading ip_conntrack, nf_conntrack loads with its hooks active"
check "modprobe nf_conntrack enable_hooks=1" modprobe nf_conntrack enable_hooks=1
check "ping through the router" in_client ping -c 1 -W 2 "$SERVER_IP"
check_match "nf_conntrack tracked the ping" "$(cat /proc/net/nf_conntrack 2>&1)" \
    "icmp .*src=$CLIENT_IP dst=$SERVER_IP"
check "modprobe -r nf_conntrack" modprobe -r nf_conntrack
topo_down

kmemleak_check
