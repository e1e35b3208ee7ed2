# /proc/net/ip_conntrack with many entries (20000 UDP flows by default,
# vm-debug: yes
# 2000 on the debug kernel, or $1), read by parallel readers with different
# read sizes while flows are added and expire: no torn line (every line
# matches the full format), no entry listed twice; at rest the line count
# is ip_conntrack_count. Also: /proc/net/stat/ip_conntrack's layout, the
# countdown, expiry, and one view per network namespace; 6.12's
# /proc/net/nf_conntrack, served by the same dump, lists the same lines in
# its layout, read 97 bytes at a time, and /proc/net/stat/nf_conntrack
# has 6.12's layout.
. /usr/lib/ipct/lib.sh
# ct_check_dump (whole, well-formed lines; no entry twice)
. /usr/lib/ipct/ct.sh

# The debug kernel (KASAN, lockdep, kmemleak) is several times slower; its
# command line names kmemleak (scripts/vm-run.sh).
if grep -q kmemleak /proc/cmdline; then
    FLOWS=${1:-2000}
else
    FLOWS=${1:-20000}
fi
NF=/proc/sys/net/ipv4/netfilter
TABLE=/proc/net/ip_conntrack
STAT=/proc/net/stat/ip_conntrack
NF_TABLE=/proc/net/nf_conntrack
NF_STAT=/proc/net/stat/nf_conntrack
NF_STAT_RE='^[0-9a-f]{8}  ([0-9a-f]{8} ){11}[0-9a-f]{8}  ([0-9a-f]{8} ){3}[0-9a-f]{8}$'
# Addresses nobody owns: pktgen frames leave the client's eth0 past the
# client's hooks, so only the router tracks these flows, and nobody answers.
GHOST_CLIENT=192.0.2.77
GHOST_SERVER=198.51.100.77
GHOST_CLIENT2=192.0.2.78

STAT_HEADER='entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete'
STAT_RE='^[0-9a-f]{8}  [0-9a-f]{8} ([0-9a-f]{8} ){11} [0-9a-f]{8} [0-9a-f]{8} [0-9a-f]{8} $'

count() {
    cat "$NF/ip_conntrack_count"
}

# possible_cpus: how many CPUs /sys/devices/system/cpu/possible lists.
possible_cpus() {
    tr ',' '\n' < /sys/devices/system/cpu/possible |
        awk -F- '{ n += (NF == 2 ? $2 - $1 + 1 : 1) } END { print n }'
}

pktgen_run() {
    ct_pg pgctrl start
}

# About 8 entries per bucket (the default ratio), whatever FLOWS is.
check "modprobe ip_conntrack hashsize=$((FLOWS / 8))" modprobe ip_conntrack hashsize=$((FLOWS / 8))
check "modprobe pktgen" modprobe pktgen
check "topology up" topo_up
# Static neighbours: the router sends the flows on at once (to a MAC the
# server drops before its hooks) instead of queueing them for ARP.
check "static neighbour for $GHOST_SERVER" \
    ip neigh add "$GHOST_SERVER" lladdr 02:00:00:00:00:77 dev "$ROUTER_SERVER_IF" nud permanent

step "$STAT"
check_eq "header line" "$(head -n 1 "$STAT")" "$STAT_HEADER"
cpus=$(possible_cpus)
check_eq "one row per possible CPU ($cpus)" "$(tail -n +2 "$STAT" | wc -l)" "$cpus"
check_eq "every row is 16 %08x fields" "$(tail -n +2 "$STAT" | grep -Evc "$STAT_RE")" 0

step "$FLOWS flows"
# Room for the long flows and all 8000 churn flows below even if none of
# them had expired yet: early drop (which may evict any UNREPLIED entry,
# long flows included) must not play a part here.
MAX=$((FLOWS * 2 + 8000))
check "ip_conntrack_max = $MAX" sh -c "echo $MAX > $NF/ip_conntrack_max"
check "ip_conntrack_udp_timeout = 600" sh -c "echo 600 > $NF/ip_conntrack_udp_timeout"
# 60000 source ports x 7 destination ports: up to 420000 distinct flows.
check "pktgen: $FLOWS flows" ct_pktgen "$GHOST_CLIENT" "$GHOST_SERVER" "$FLOWS" 200000 1:60001 9:16
start=$(date +%s)
check "pktgen sends them" pktgen_run
check "the count settles" ct_settle
echo "    sent in $(($(date +%s) - start)) s"
c=$(count)
check_eq "ip_conntrack_count = $FLOWS" "$c" "$FLOWS"
[ "$c" -eq "$FLOWS" ] || ipct_show "$(cat "$STAT")"
start=$(date +%s)
cat "$TABLE" > /tmp/dump.0
echo "    one dump of $c entries: $(($(date +%s) - start)) s"
start=$(date +%s)
ct_check_dump "dump at rest" /tmp/dump.0
echo "    checking it: $(($(date +%s) - start)) s"
check_eq "lines = ip_conntrack_count" "$(wc -l < /tmp/dump.0)" "$(count)"
check_eq "every flow listed" "$(grep -c "^udp .* src=$GHOST_CLIENT dst=$GHOST_SERVER sport=[0-9]* dport=[0-9]* \[UNREPLIED\]" /tmp/dump.0)" "$c"
check_eq "stat: entries column = count on every row" \
    "$(tail -n +2 "$STAT" | awk '{ print $1 }' | sort -u)" "$(printf '%08x' "$c")"
start=$(date +%s)
check "$NF_TABLE read 97 bytes at a time" sh -c "dd if=$NF_TABLE bs=97 2>/dev/null > /tmp/dump.nf"
# The classic dump's lines, in the same order, behind 6.12's prefix, with
# 6.12's use= (its reader's reference counted); seconds left may tick.
check_eq "$NF_TABLE: the same $c lines in 6.12's layout" \
    "$(sed -E 's/^ipv4     2 ([a-z]+ +[0-9]+ )[0-9]+ /\1T /; s/ use=2$/ use=1/' /tmp/dump.nf | cksum)" \
    "$(sed -E 's/^([a-z]+ +[0-9]+ )[0-9]+ /\1T /' /tmp/dump.0 | cksum)"
rm -f /tmp/dump.nf
echo "    $NF_TABLE read and compared: $(($(date +%s) - start)) s"
check_eq "$NF_STAT: entries column = count, every row 6.12's 17 fields" \
    "$(tail -n +2 "$NF_STAT" | awk '{ print $1 }' | sort -u) $(tail -n +2 "$NF_STAT" | grep -Evc "$NF_STAT_RE")" \
    "$(printf '%08x' "$c") 0"

step "one view per network namespace"
check_eq "the client's table has none of the router's flows" \
    "$(in_client grep -c "src=$GHOST_CLIENT " "$TABLE")" 0
check "a new namespace" ip netns add lonely
check_eq "its table is empty" "$(ip netns exec lonely cat "$TABLE" | wc -l)" 0
check_eq "its stat rows show 0 entries" \
    "$(ip netns exec lonely tail -n +2 "$STAT" | awk '{ print $1 }' | sort -u)" 00000000
ip netns del lonely

step "reads at every offset: lseek, small reads"
check "dd skip=7 bs=4096" sh -c "dd if=$TABLE bs=4096 skip=7 2>/dev/null | tail -n +2 > /tmp/dump.skip"
ct_check_dump "dump from byte 28672 (first partial line dropped)" /tmp/dump.skip
check "dd bs=97" sh -c "dd if=$TABLE bs=97 2>/dev/null > /tmp/dump.small"
ct_check_dump "dump read 97 bytes at a time" /tmp/dump.small
check_eq "it has every entry" "$(wc -l < /tmp/dump.small)" "$(count)"

step "parallel dumps while flows come and expire"
# New flows with a short timeout, added for ~16 s while 4 readers with
# different read sizes dump the table over and over; the first of them
# expire while the rest come in.
READERS="cat 4096 1000 131072"
# Dumps kept for checking: 16 of 20000 entries take about 55 MB.
ROUNDS=4
[ "$FLOWS" -le 50000 ] || ROUNDS=2
check "ip_conntrack_udp_timeout = 4" sh -c "echo 4 > $NF/ip_conntrack_udp_timeout"
check "pktgen: 8000 new flows, 2 ms apart" ct_pktgen "$GHOST_CLIENT2" "$GHOST_SERVER" 8000 2000000 1024:9024 9:10
rm -f /tmp/gen.done /tmp/par.*
{ pktgen_run; touch /tmp/gen.done; } &
# reader SIZE: dumps the table (cat, or dd with SIZE-byte reads) into
# /tmp/par.SIZE.N until the generator is done (at most ROUNDS times).
reader() {
    _r=0
    while [ ! -e /tmp/gen.done ] && [ "$_r" -lt "$ROUNDS" ]; do
        case $1 in
        cat) cat "$TABLE" ;;
        *) dd if="$TABLE" bs="$1" 2>/dev/null ;;
        esac > "/tmp/par.$1.$_r"
        _r=$((_r + 1))
    done
}
start=$(date +%s)
for size in $READERS; do
    reader "$size" &
done
wait
echo "    churn phase: $(($(date +%s) - start)) s, $(count) entries at the end"
for f in /tmp/par.*; do
    {
        ct_check_dump "${f#/tmp/}" "$f"
        echo "churn $(grep -c "src=$GHOST_CLIENT2 " "$f")"
    } > "$f.res"
    rm -f "$f"
done
churn=$(cat /tmp/par.*.res | sed -n 's/^churn //p' | sort -n | tail -n 1)
if [ "${churn:-0}" -gt 0 ]; then
    pass "the dumps listed churn flows (up to $churn at once)"
else
    fail "no dump listed a churn flow"
fi
total=$(cat /tmp/par.*.res | grep -c 'no entry listed twice')
bad=$(cat /tmp/par.*.res | grep '^FAIL')
if [ "$total" -ge 8 ] && [ -z "$bad" ]; then
    pass "$total parallel dumps during churn: every line well formed, no entry twice"
else
    fail "$total parallel dumps during churn (want >= 8), failures:"
    ipct_show "$(cat /tmp/par.*.res | grep -v '^PASS\|^churn')"
fi
rm -f /tmp/par.* /tmp/gen.done

step "at rest again: the churn flows expire, the count matches the lines"
i=0
while [ "$(grep -c "src=$GHOST_CLIENT2 " "$TABLE")" -gt 0 ] && [ "$i" -lt 40 ]; do
    sleep 0.5
    i=$((i + 1))
done
check_eq "every churn flow expired" "$(grep -c "src=$GHOST_CLIENT2 " "$TABLE")" 0
check "the count settles" ct_settle
cat "$TABLE" > /tmp/dump.1
ct_check_dump "dump at rest" /tmp/dump.1
check_eq "lines = ip_conntrack_count" "$(wc -l < /tmp/dump.1)" "$(count)"
check_eq "the $c long flows are still there" \
    "$(grep -c "src=$GHOST_CLIENT " /tmp/dump.1)" "$c"
check_eq "no entry was early-dropped or refused (drop, early_drop columns)" \
    "$(tail -n +2 "$STAT" | awk '{ print $11, $12 }' | sort -u)" "00000000 00000000"

step "hashsize resized under traffic"
# Every namespace's table is resized stripe by stripe while a TCP
# connection talks, a ping runs and readers dump the table: the dumps list
# each of the $c long flows exactly once, nothing is lost.
PARAM=/sys/module/ip_conntrack/parameters/hashsize
check_eq "hashsize reads the size chosen at load" "$(cat "$PARAM")" "$((FLOWS / 8))"
check_fails "hashsize=0 is refused" sh -c "echo 0 > $PARAM"
check_fails "hashsize=4294967295 is refused" sh -c "echo 4294967295 > $PARAM"
check_fails "hashsize=abc is refused" sh -c "echo abc > $PARAM"
check_eq "the size is unchanged" "$(cat "$PARAM")" "$((FLOWS / 8))"
LINES=150
rm -f /tmp/rs.*
in_server sh -c "nc -l -p 8100 > /tmp/rs.srv" &
srv=$!
check "server listens" wait_listen "$SERVER_NS" 8100 tcp
{ i=0; while [ "$i" -lt "$LINES" ]; do echo "line $i"; sleep 0.04; i=$((i + 1)); done; } |
    in_client nc -N -w 10 -p 40100 "$SERVER_IP" 8100 &
cli=$!
in_client ping -q -c 150 -i 0.04 "$SERVER_IP" > /tmp/rs.ping 2>&1 &
png=$!
# rs_reader TAG CMD...: runs CMD into /tmp/rs.TAG.N until the resizes end,
# three times at most (checking a dump of 20000 lines takes a while).
rs_reader() {
    _tag=$1
    shift
    _n=0
    while [ ! -e /tmp/rs.done ] && [ "$_n" -lt 3 ]; do
        "$@" > "/tmp/rs.$_tag.$_n"
        _n=$((_n + 1))
    done
}
dd_dump() {
    dd if="$TABLE" bs=1000 2>/dev/null
}
# conntrack -L without the countdown (ctnetlink dumps resume by the same
# positions).
nl_dump() {
    conntrack -L -p udp -s "$GHOST_CLIENT" 2>/dev/null | awk '{ $3 = ""; print }'
}
rs_reader dump.a cat "$TABLE" &
rd1=$!
rs_reader dump.b dd_dump &
rd2=$!
rs_reader nl nl_dump &
rd3=$!
SIZES="$((FLOWS / 2)) 300 $((FLOWS * 2)) 129 $((FLOWS / 8))"
resized=0
for size in $SIZES; do
    sleep 0.6
    echo "$size" > "$PARAM" && [ "$(cat "$PARAM")" = "$size" ] && resized=$((resized + 1))
done
# More resizes until every reader has finished two dumps (a loaded host
# is slow), then back to the size the checks below expect.
rs_enough() {
    [ -e /tmp/rs.nl.2 ] && [ -e /tmp/rs.dump.a.2 ] && [ -e /tmp/rs.dump.b.2 ]
}
i=0
while [ "$i" -lt 60 ] && ! rs_enough; do
    echo $((i % 2 == 0 ? FLOWS : FLOWS / 4)) > "$PARAM"
    sleep 0.3
    i=$((i + 1))
done
echo "$((FLOWS / 8))" > "$PARAM"
echo "    $((5 + i)) resizes in all"
sleep 0.3
touch /tmp/rs.done
wait "$rd1" "$rd2" "$rd3" "$cli"
kill "$srv" 2>/dev/null
wait "$png"
check_eq "hashsize took each of $SIZES" "$resized" 5
check_eq "ip_conntrack_buckets follows" "$(cat $NF/ip_conntrack_buckets)" "$((FLOWS / 8))"
check_eq "ip_conntrack_ext shows the buckets" "$(ct_ext buckets)" "$((FLOWS / 8))"
check_eq "so does the client namespace's table" "$(ct_ext buckets "$CLIENT_NS")" "$((FLOWS / 8))"
check_eq "every line reached the server" "$(grep -c '^line ' /tmp/rs.srv)" "$LINES"
check_match "ping: no packet lost" "$(cat /tmp/rs.ping)" ' 0% packet loss'
# rs_verdict N MIN WHAT: N dumps (at least MIN wanted), problems in $bad.
rs_verdict() {
    if [ "$1" -ge "$2" ] && [ -z "$bad" ]; then
        pass "$1 $3 during the resizes: each long flow exactly once"
    else
        fail "$1 $3 during the resizes (want >= $2):"
        ipct_show "$bad"
    fi
}
dumps=0
bad=
for f in /tmp/rs.dump.*; do
    [ -s "$f" ] || continue
    dumps=$((dumps + 1))
    r=$(ct_check_dump "$f" "$f" | grep -v '^PASS')
    [ -z "$r" ] || bad="$bad$r
"
    n=$(grep -c "src=$GHOST_CLIENT " "$f")
    [ "$n" = "$c" ] || bad="$bad$f: $n of the $c long flows
"
done
rs_verdict "$dumps" 4 "well-formed /proc dumps"
nl=0
for f in /tmp/rs.nl.*; do
    [ -s "$f" ] || continue
    nl=$((nl + 1))
    n=$(wc -l < "$f")
    d=$(sort "$f" | uniq -d | wc -l)
    [ "$n" = "$c" ] && [ "$d" = 0 ] || bad="$bad$f: $n lines ($d twice) for $c long flows
"
done
rs_verdict "$nl" 2 "conntrack -L dumps"
check_match "the connection stayed [ASSURED] across them and closed in order" \
    "$(grep 'sport=40100 dport=8100 ' "$TABLE")" 'TIME_WAIT .*\[ASSURED\]'
rm -f /tmp/rs.*

step "the countdown decreases"
probe=$(grep -m 1 -o "src=$GHOST_CLIENT dst=$GHOST_SERVER sport=[0-9]* dport=[0-9]* " "$TABLE")
left() {
    grep -F "$probe" "$TABLE" | awk '{ print $3 }'
}
a=$(left)
sleep 3
b=$(left)
check_match "countdown read twice ($a, then $b)" "$a $b" '^[0-9]+ [0-9]+$'
if [ -n "$a" ] && [ -n "$b" ] && [ $((a - b)) -ge 2 ] && [ $((a - b)) -le 4 ]; then
    pass "3 s later it is $((a - b)) s lower"
else
    fail "3 s later: $a -> $b"
fi

step "an entry vanishes after its timeout"
check "ip_conntrack_udp_timeout = 3" sh -c "echo 3 > $NF/ip_conntrack_udp_timeout"
check "one more flow" in_client pkt --src "$GHOST_CLIENT" --dst "$GHOST_SERVER" --proto udp \
    --sport 65000 --dport 9 --iface "$NS_IF" --dst-mac "$(router_mac "$ROUTER_CLIENT_IF")"
sleep 0.3
check_match "it is listed with at most 3 s left" "$(grep "sport=65000 " "$TABLE")" \
    "^udp      17 [0-3] src=$GHOST_CLIENT dst=$GHOST_SERVER sport=65000 "
i=0
while grep -q "sport=65000 " "$TABLE" && [ "$i" -lt 20 ]; do
    sleep 0.5
    i=$((i + 1))
done
check_no_match "it is gone within 10 s" "$(grep "sport=65000 " "$TABLE")" "sport=65000 "
topo_down

step "unload with $FLOWS entries"
check "rmmod ip_conntrack" rmmod ip_conntrack
check_fails "$TABLE is gone" test -e "$TABLE"
kmemleak_check
