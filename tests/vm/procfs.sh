# The module's /proc files: /proc/net/ip_conntrack (the table),
# /proc/sys/net/ipv4/ip_conntrack_max (the sysctl) and 6.12's
# /proc/net/nf_conntrack and /proc/net/stat/nf_conntrack, present while
# loaded (with 6.12's modes), gone after unload.
. /usr/lib/ipct/lib.sh

TABLE=/proc/net/ip_conntrack
MAX=/proc/sys/net/ipv4/ip_conntrack_max
NF_TABLE=/proc/net/nf_conntrack
NF_STAT=/proc/net/stat/nf_conntrack

check_fails "no $TABLE before loading" test -e "$TABLE"
check_fails "no $NF_TABLE before loading" test -e "$NF_TABLE"
check "modprobe ip_conntrack" modprobe ip_conntrack

step "$TABLE"
check "$TABLE exists" test -f "$TABLE"
check "$TABLE is readable" cat "$TABLE"

step "$NF_TABLE and $NF_STAT"
check_eq "$NF_TABLE is root's, 0440 as in 6.12" "$(stat -c '%A %u %g' "$NF_TABLE")" "-r--r----- 0 0"
check_eq "$NF_STAT is 0444" "$(stat -c '%A' "$NF_STAT")" "-r--r--r--"
check "$NF_TABLE is readable" cat "$NF_TABLE"
check_eq "$NF_STAT has 6.12's header" "$(head -n 1 "$NF_STAT")" \
    "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart"

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
check_fails "$NF_TABLE is gone" test -e "$NF_TABLE"
check_fails "$NF_STAT is gone" test -e "$NF_STAT"

kmemleak_check
