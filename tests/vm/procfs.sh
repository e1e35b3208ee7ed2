# The module's two /proc files: /proc/net/ip_conntrack (the table) and
# /proc/sys/net/ipv4/ip_conntrack_max (the sysctl), present while loaded,
# gone after unload.
. /usr/lib/ipct/lib.sh

TABLE=/proc/net/ip_conntrack
MAX=/proc/sys/net/ipv4/ip_conntrack_max

check_fails "no $TABLE before loading" test -e "$TABLE"
check "modprobe ip_conntrack" modprobe ip_conntrack

step "$TABLE"
check "$TABLE exists" test -f "$TABLE"
check "$TABLE is readable" cat "$TABLE"

step "$MAX"
check "$MAX exists" test -f "$MAX"
orig=$(cat "$MAX")
check_match "$MAX holds a number ($orig)" "$orig" '^[0-9]+$'
check_match "sysctl net.ipv4.ip_conntrack_max reads it" \
    "$(sysctl net.ipv4.ip_conntrack_max 2>&1)" "^net\.ipv4\.ip_conntrack_max = $orig\$"
check "write 4096 to $MAX" sh -c "echo 4096 > $MAX"
check_eq "$MAX reads back 4096" "$(cat "$MAX")" 4096
check "sysctl -w net.ipv4.ip_conntrack_max=8192" sysctl -w net.ipv4.ip_conntrack_max=8192
check_eq "$MAX reads back 8192" "$(cat "$MAX")" 8192
check_fails "writing a non-number is refused" sh -c "echo abc > $MAX"
check_eq "$MAX still 8192" "$(cat "$MAX")" 8192
check "restore $orig" sh -c "echo $orig > $MAX"
check_eq "$MAX restored" "$(cat "$MAX")" "$orig"

step "unload"
check "rmmod ip_conntrack" rmmod ip_conntrack
check_fails "$TABLE is gone" test -e "$TABLE"
check_fails "$MAX is gone" test -e "$MAX"

kmemleak_check
