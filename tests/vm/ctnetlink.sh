# conntrack-tools (Debian's conntrack 1.4.7, unmodified) over the module's
# ctnetlink: -L with its filters and output formats agrees with
# /proc/net/ip_conntrack, -G finds one entry, -D (by tuple and by filter)
# and -F really remove entries, -C is ip_conntrack_count, -S has one line
# per CPU, the dying/unconfirmed/expectation lists are empty, IPv6
# entries made with -I answer -L -f ipv6 (with address filters), -G, -U,
# -D and -F -f ipv6 as nf_conntrack's do, IP6T_SO_ORIGINAL_DST answers as
# nf_conntrack's, each namespace sees its own table, and a process without
# CAP_NET_ADMIN is refused. Marks (-I/-U --mark, -L --mark, mark= in
# /proc) and counters (ip_conntrack_acct: packets= bytes= in -L and
# /proc, -L -z) work, and look as nf_conntrack's do.
# vm-debug: yes
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

C=$CLIENT_IP
S=$SERVER_IP
ME="conntrack v1.4.7 (conntrack-tools)"

# norm: a listing as a set of lines without the countdown, the mark and
# the use count (packets in flight may hold an extra reference).
norm() {
    sed -e 's/ mark=[0-9]*//' -e 's/ use=[0-9]*//' | awk '{ $3 = ""; print }' | sort
}

# shown N FILE: FILE (conntrack's stderr) reports N flow entries shown.
shown() {
    grep -qx "$ME: $1 flow entries have been shown." "$2"
}

ct_setup

step "traffic: a long-lived TCP connection, a UDP exchange, a ping"
rm -f /tmp/stop-stream
in_server nc -l -p 5500 > /dev/null 2>&1 &
sink=$!
wait_listen "$SERVER_NS" 5500 tcp
in_client sh -c "while [ ! -e /tmp/stop-stream ]; do echo data; sleep 0.2; done \
    | nc -N $S 5500" > /dev/null 2>&1 &
source=$!
check "the TCP connection is ESTABLISHED and ASSURED" wait_for 10 sh -c \
    "grep -F 'dport=5500 ' $CT_TABLE | grep -q 'ESTABLISHED.*ASSURED'"
SPORT=$(ct_line "dport=5500 " | sed -n 's/.* sport=\([0-9]*\) dport=5500 .*/\1/p' | head -n 1)
check_eq "a UDP exchange" "$(udp_exchange 5501 question answer)" answer
check "a ping" in_client ping -c 1 -W 2 "$S"
n=$(ct_count)
check "three or more entries" test "$n" -ge 3

step "conntrack -L"
check "conntrack -L succeeds" sh -c "conntrack -L > /tmp/l.out 2> /tmp/l.err"
check_eq "its lines are those of /proc/net/ip_conntrack" "$(norm < /tmp/l.out)" "$(norm < "$CT_TABLE")"
check "it reports $n flow entries" shown "$n" /tmp/l.err
check_match "a TCP line as nf_conntrack's would be" "$(grep 'dport=5500 ' /tmp/l.out)" \
    "^tcp +6 [0-9]+ ESTABLISHED src=$C dst=$S sport=$SPORT dport=5500 src=$S dst=$C sport=5500 dport=$SPORT \[ASSURED\] mark=0 use=[0-9]+\$"
check_match "the UDP line" "$(grep 'dport=5501 ' /tmp/l.out)" \
    "^udp +17 [0-9]+ src=$C dst=$S sport=[0-9]+ dport=5501 src=$S dst=$C sport=5501 dport=[0-9]+ mark=0 use=[0-9]+\$"
check_match "the ICMP line" "$(grep '^icmp' /tmp/l.out)" \
    "^icmp +1 [0-9]+ src=$C dst=$S type=8 code=0 id=[0-9]+ src=$S dst=$C type=0 code=0 id=[0-9]+ mark=0 use=[0-9]+\$"
ntcp=$(grep -c '^tcp ' "$CT_TABLE")
check_eq "-p tcp: the TCP lines" "$(conntrack -L -p tcp 2> /dev/null | norm)" "$(grep '^tcp ' "$CT_TABLE" | norm)"
check "-p tcp reports $ntcp entries" sh -c "conntrack -L -p tcp 2>&1 > /dev/null | grep -qx '$ME: $ntcp flow entries have been shown.'"
check_eq "-p tcp --dport 5500: one line" "$(conntrack -L -p tcp --dport 5500 2> /dev/null | wc -l)" 1
check_eq "-p tcp --sport $SPORT: one line" "$(conntrack -L -p tcp --sport "$SPORT" 2> /dev/null | wc -l)" 1
check_eq "-s $C -d $S: every forwarded flow" "$(conntrack -L -s "$C" -d "$S" 2> /dev/null | norm)" \
    "$(grep -F "src=$C dst=$S " "$CT_TABLE" | norm)"
check_eq "-s $S: none (that is the reply direction)" "$(conntrack -L -s "$S" 2> /dev/null | wc -l)" 0
check_match "-p tcp --state ESTABLISHED: the connection" \
    "$(conntrack -L -p tcp --state ESTABLISHED 2> /dev/null)" "dport=5500 "
check_eq "-p tcp --state SYN_SENT: nothing" "$(conntrack -L -p tcp --state SYN_SENT 2> /dev/null | wc -l)" 0
check_eq "--status ASSURED: the assured lines" "$(conntrack -L --status ASSURED 2> /dev/null | norm)" \
    "$(grep -F '[ASSURED]' "$CT_TABLE" | norm)"
check_eq "-f ipv4: everything" "$(conntrack -L -f ipv4 2> /dev/null | norm)" "$(norm < "$CT_TABLE")"
check "-f ipv6: succeeds" sh -c "conntrack -L -f ipv6 > /tmp/l6.out 2> /tmp/l6.err"
check_eq "-f ipv6: no lines" "$(wc -l < /tmp/l6.out)" 0
check "-f ipv6: 0 flow entries" shown 0 /tmp/l6.err
check_match "-o extended: the layer-3 columns" "$(conntrack -L -o extended 2> /dev/null | grep 'dport=5500 ')" \
    "^ipv4 +2 tcp +6 [0-9]+ ESTABLISHED src=$C "
check_match "-o id: an id per line" "$(conntrack -L -o id 2> /dev/null | grep 'dport=5500 ')" " id=[0-9]+"
xml=$(conntrack -L -o xml 2> /dev/null)
check_eq "-o xml: a document" "$(printf '%s\n' "$xml" | head -n 2 | tr -d '\n')" \
    '<?xml version="1.0" encoding="utf-8"?><conntrack>'
check_match "-o xml: the TCP flow" "$xml" "<dport>5500</dport>"
check_eq "the id is stable across dumps" \
    "$(conntrack -L -o id -p tcp --dport 5500 2> /dev/null | sed 's/.* id=\([0-9]*\).*/\1/')" \
    "$(conntrack -L -o id -p tcp --dport 5500 2> /dev/null | sed 's/.* id=\([0-9]*\).*/\1/')"

step "conntrack -G"
check "-G of the TCP connection" sh -c \
    "conntrack -G -p tcp -s $C -d $S --sport $SPORT --dport 5500 > /tmp/g.out 2> /tmp/g.err"
check_match "prints its line" "$(cat /tmp/g.out)" \
    "^tcp +6 [0-9]+ ESTABLISHED src=$C dst=$S sport=$SPORT dport=5500 .*\[ASSURED\]"
if out=$(conntrack -G -p tcp -s "$C" -d "$S" --sport 1 --dport 2 2>&1); then
    fail "-G of an absent entry succeeded: $out"
else
    check_match "-G of an absent entry fails: no such entry" "$out" \
        "such conntrack doesn't exist|No such file or directory"
fi

step "requests conntrack never sends get 6.12's errors and change nothing"
# hexip A.B.C.D / hex16 N: attribute payload bytes in hex.
hexip() {
    printf '%02x%02x%02x%02x' $(echo "$1" | tr . ' ')
}
hex16() {
    printf '%04x' "$1"
}
# tuple_hex TYPE SRC DST PROTO SPORT DPORT: a tuple nest with ports.
tuple_hex() {
    printf '3400%s80' "$1"
    printf '1400018008000100%s08000200%s' "$(hexip "$2")" "$(hexip "$3")"
    printf '1c00028005000100%02x00000006000200%s000006000300%s0000' "$4" "$(hex16 "$5")" "$(hex16 "$6")"
}
# nl DESC WANT TYPE FLAGS FAMILY [HEX]: nlmsg's answer is WANT.
nl() {
    _d=$1
    _w=$2
    shift 2
    check_eq "$_d" "$(nlmsg "$@" 2>&1)" "$_w"
}
# Unchanged: nothing added, nothing deleted (on a slow debug kernel the
# 30-second UDP and ICMP entries may expire meanwhile, on their own).
n0=$(ct_count)
e0=$(grep -c ESTABLISHED "$CT_TABLE")
T=$(tuple_hex 01 "$C" "$S" 6 "$SPORT" 5500)
nl "GET of the connection, an unknown attribute ignored" "messages=1 errno=0" 0x101 0 2 "${T}0800c800deadbeef"
nl "GET with a 2-byte CTA_STATUS: ERANGE" "messages=0 errno=34" 0x101 0 2 "0600030000000000$T"
nl "GET without a tuple: EINVAL" "messages=0 errno=22" 0x101 0 2
nl "GET of a tuple without ports: EINVAL" "messages=0 errno=22" 0x101 0 2 \
    "2c0001801400018008000100$(hexip "$C")08000200$(hexip "$S")14000280050001000600000006000200$(hex16 "$SPORT")0000"
nl "GET in an unknown family: EOPNOTSUPP" "messages=0 errno=95" 0x101 0 7 "$T"
nl "GET of IPv4 attributes as IPv6: EINVAL" "messages=0 errno=22" 0x101 0 10 "$T"
nl "GET with a zone (no zones here): EOPNOTSUPP" "messages=0 errno=95" 0x101 0 2 "${T}0600120000010000"
nl "GET of an ICMP error type: EINVAL" "messages=0 errno=22" 0x101 0 2 \
    "3c000180140001800800010001020304080002000506070824000280050001000100000006000400000100000500050003000000050006000000000000"
nl "a 2-byte tuple nest: ERANGE" "messages=0 errno=34" 0x101 0 2 0600018000000000
nl "an attribute past the message's end is ignored" "messages=0 errno=22" 0x101 0 2 ff000100aabbccdd
nl "DELETE of a tuple without ports: EINVAL" "messages=0 errno=22" 0x102 0 2 \
    "2c0001801400018008000100$(hexip "$C")08000200$(hexip "$S")14000280050001000600000006000200$(hex16 "$SPORT")0000"
nl "DELETE of the connection with another id: ENOENT" "messages=0 errno=2" 0x102 0 2 "${T}08000c0000000001"
nl "a flush with a zero status mask: EINVAL" "messages=0 errno=22" 0x102 0 0 0800030000000000
nl "a dump with unknown filter flags: EINVAL" "messages=0 errno=22" 0x101 0x300 2 0c0019800800010000100000
nl "a dump of IPv6 entries: none" "messages=0 errno=0" 0x101 0x300 10
nl "an unknown message type: EINVAL" "messages=0 errno=22" 0x109 0 2
nl "16000 bytes of unknown attributes: parsed, no tuple" "messages=0 errno=22" 0x101 0 2 \
    "$(awk 'BEGIN { for (i = 0; i < 4000; i++) printf "0400c800" }')"
nl "the expectation table is empty" "messages=0 errno=0" 0x201 0x300 2
check "nothing was added" test "$(ct_count)" -le "$n0"
check_eq "no connection was deleted" "$(grep -c ESTABLISHED "$CT_TABLE")" "$e0"
check "the connection is still there" ct_present "dport=5500 "

step "conntrack -C and -S"
check_eq "-C is ip_conntrack_count" "$(conntrack -C 2>&1)" "$(ct_sysctl count)"
cpus=$(($(wc -l < "$CT_STAT") - 1))
check_eq "-S: one line per CPU ($cpus)" "$(conntrack -S 2> /dev/null | grep -c '^cpu=')" "$cpus"
check_match "-S: the counters" "$(conntrack -S 2> /dev/null | head -n 1)" \
    "^cpu=0[[:space:]]+found=[0-9]+ invalid=[0-9]+ insert=[0-9]+ insert_failed=[0-9]+ drop=[0-9]+ early_drop=[0-9]+ error=[0-9]+ search_restart=0 clash_resolve=[0-9]+ chaintoolong=[0-9]+"
inserts=$(conntrack -S 2> /dev/null | sed -n 's/.* insert=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s }')
check "-S: entries were inserted ($inserts)" test "$inserts" -ge 3

step "conntrack -E: events as entries come, change and go"
conntrack -E > /tmp/ev.out 2> /tmp/ev.err &
ev=$!
conntrack -E -e NEW > /tmp/evnew.out 2> /dev/null &
evnew=$!
sleep 1
check_eq "a TCP connection, opened and closed" "$(tcp_exchange 5530 hi there)" there
check_eq "a UDP exchange" "$(udp_exchange 5531 q a)" a
check "then deleted" sh -c "conntrack -D -p udp --dport 5531 > /dev/null 2>&1"
# Let the listeners read what is queued (the debug kernel is slow).
sleep 2
kill "$ev" "$evnew" 2> /dev/null
wait "$ev" "$evnew" 2> /dev/null
evs=$(cat /tmp/ev.out)
tcpkey="src=$C dst=$S sport=[0-9]+ dport=5530 "
check_match "[NEW] of the TCP connection, SYN_SENT and unreplied" "$evs" \
    "\[NEW\] tcp +6 (120|119) SYN_SENT $tcpkey\[UNREPLIED\] src=$S dst=$C sport=5530 "
check_match "[UPDATE] when the SYN/ACK came: SYN_RECV" "$evs" "\[UPDATE\] tcp +6 (60|59) SYN_RECV $tcpkey"
check_match "[UPDATE] ESTABLISHED and ASSURED" "$evs" "\[UPDATE\] tcp +6 (432000|431999) ESTABLISHED $tcpkey.*\[ASSURED\]"
check_match "[UPDATE] through the close to TIME_WAIT" "$evs" "\[UPDATE\] tcp +6 (120|119) TIME_WAIT $tcpkey"
udpkey="src=$C dst=$S sport=[0-9]+ dport=5531 "
check_match "[NEW] of the UDP flow" "$evs" "\[NEW\] udp +17 (30|29) $udpkey\[UNREPLIED\]"
check_match "[UPDATE] when its reply came" "$evs" "\[UPDATE\] udp +17 (30|29) $udpkey"
check_match "[DESTROY] when it was deleted" "$evs" "\[DESTROY\] udp +17 ([0-9]+ )?$udpkey"
check_eq "no event twice" "$(printf '%s\n' "$evs" | sort | uniq -d | wc -l)" 0
check_match "-e NEW: the new entries" "$(cat /tmp/evnew.out)" "\[NEW\] tcp .*dport=5530 "
check_eq "-e NEW: nothing else" "$(grep -vc '\[NEW\]' /tmp/evnew.out)" 0

step "empty lists"
for l in dying unconfirmed; do
    check "-L $l succeeds" sh -c "conntrack -L $l > /tmp/e.out 2> /tmp/e.err"
    check_eq "-L $l: no lines" "$(wc -l < /tmp/e.out)" 0
done
check "-L expect succeeds" sh -c "conntrack -L expect > /tmp/x.out 2> /tmp/x.err"
check_match "-L expect: 0 expectations" "$(cat /tmp/x.err)" "0 expectations have been shown"

step "namespaces"
in_client ping -c 1 -W 2 "$S" > /dev/null 2>&1
check_eq "the client namespace lists its own table" \
    "$(in_client conntrack -L 2> /dev/null | norm)" "$(in_client cat "$CT_TABLE" | norm)"

step "1000 entries: a dump over many buffers, a delete while listing"
GC=192.0.2.80
GS=198.51.100.80
check "static neighbour for $GS" \
    ip neigh replace "$GS" lladdr 02:00:00:00:00:80 dev "$ROUTER_SERVER_IF" nud permanent
awk 'BEGIN { for (p = 20000; p < 21000; p++) printf "--sport %d --dport 9\n", p }' > /tmp/many
# An event listener that cannot keep up (the smallest buffer, its output
# a pipe nobody reads until the flood is over) loses events and is told
# (ENOBUFS); packets do not wait for it.
rm -f /tmp/evfifo /tmp/flood-done
mkfifo /tmp/evfifo
(exec 3< /tmp/evfifo; while [ ! -e /tmp/flood-done ]; do sleep 0.1; done; cat <&3 > /tmp/flood.out) &
rd=$!
conntrack -E -b 1 > /tmp/evfifo 2> /tmp/flood.err &
ev=$!
sleep 0.5
in_client ping -c 3 -i 0.2 -W 2 "$S" > /dev/null 2>&1 &
pg=$!
check "pkt: 1000 UDP flows" sh -c "ip netns exec $CLIENT_NS pkt --batch --src $GC --dst $GS --proto udp \
    --iface $NS_IF --dst-mac $(router_mac "$ROUTER_CLIENT_IF") < /tmp/many"
wait "$pg"
check_eq "a ping during the flood is answered" "$?" 0
check "the count settles" ct_settle
check_eq "1000 entries of them" "$(grep -c "src=$GC " "$CT_TABLE")" 1000
touch /tmp/flood-done
check "the overrun listener is told it lost events (ENOBUFS)" wait_for 10 grep -q "hit ENOBUFS" /tmp/flood.err
check "and keeps listening" kill -0 "$ev"
kill "$ev" 2> /dev/null
wait "$ev" "$rd" 2> /dev/null
got=$(grep -c '\[NEW\] udp .*dport=9 ' /tmp/flood.out)
check "it got fewer than the 1000 new-entry events ($got)" test "$got" -lt 1000
n=$(ct_count)
check "conntrack -L succeeds" sh -c "conntrack -L > /tmp/m.out 2> /tmp/m.err"
check_eq "every entry listed once" "$(norm < /tmp/m.out)" "$(norm < "$CT_TABLE")"
check_eq "no line twice" "$(sort /tmp/m.out | uniq -d | wc -l)" 0
check "it reports $n flow entries" shown "$n" /tmp/m.err
check_eq "-D -s $GC (deletes while the dump runs)" "$(conntrack -D -s "$GC" 2>&1 > /dev/null)" \
    "$ME: 1000 flow entries have been deleted."
check_eq "none of them is left" "$(grep -c "src=$GC " "$CT_TABLE")" 0
check "the TCP connection is still listed" ct_present "dport=5500 "

step "a process without CAP_NET_ADMIN is refused"
n0=$(ct_count)
e0=$(grep -c ESTABLISHED "$CT_TABLE")
NOPRIV="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all"
if out=$($NOPRIV conntrack -F 2>&1); then
    fail "unprivileged conntrack -F succeeded: $out"
else
    check_match "unprivileged -F: refused for lack of CAP_NET_ADMIN" "$out" \
        "must be root or get CAP_NET_ADMIN|Operation not permitted"
fi
check "nothing was added" test "$(ct_count)" -le "$n0"
check_eq "no connection was deleted" "$(grep -c ESTABLISHED "$CT_TABLE")" "$e0"
check_fails "unprivileged -D is refused too" $NOPRIV conntrack -D -p udp
check_fails "and unprivileged -L" $NOPRIV conntrack -L

step "conntrack -D"
# A fresh flow: the debug kernel is slow enough for the first to expire.
check_eq "a UDP exchange" "$(udp_exchange 5502 question answer)" answer
UDPLINE=$(ct_line "dport=5502 ")
USPORT=$(printf '%s\n' "$UDPLINE" | sed -n 's/.* sport=\([0-9]*\) dport=5502 .*/\1/p' | head -n 1)
check "-D by tuple" sh -c \
    "conntrack -D -p udp -s $C -d $S --sport $USPORT --dport 5502 2>&1 | grep -q '1 flow entries have been deleted'"
check "the UDP entry is gone from /proc" ct_absent "dport=5502 "
if out=$(conntrack -D -p udp -s "$C" -d "$S" --sport "$USPORT" --dport 5502 2>&1); then
    fail "a second -D succeeded: $out"
else
    pass "a second -D fails"
fi
for p in 5511 5512 5513; do
    udp_exchange "$p" q a > /dev/null
done
nudp=$(grep -c '^udp ' "$CT_TABLE")
check "three UDP entries or more" test "$nudp" -ge 3
check "-D -p udp (a filter)" sh -c "conntrack -D -p udp 2>&1 | grep -q '$nudp flow entries have been deleted'"
check_eq "no UDP entry is left" "$(grep -c '^udp ' "$CT_TABLE")" 0
check "the TCP connection is still listed" ct_present "dport=5500 "

step "conntrack -F"
touch /tmp/stop-stream
bg_wait 10 "$source" > /dev/null
bg_wait 10 "$sink" > /dev/null
in_client ping -c 1 -W 2 "$S" > /dev/null 2>&1
check "entries to flush" test "$(ct_count)" -ge 1
check "-F" sh -c "conntrack -F 2>&1 | grep -q 'connection tracking table has been emptied'"
check_eq "/proc/net/ip_conntrack is empty" "$(ct_count)" 0
check "ip_conntrack_count drops to 0" wait_for 5 sh -c "[ \$(cat $CT_SYSCTL/ip_conntrack_count) = 0 ]"
check "-L shows nothing" sh -c "conntrack -L 2>&1 >/dev/null | grep -qx '$ME: 0 flow entries have been shown.'"
check_eq "a new connection is tracked again" "$(tcp_exchange 5520 hello world)" world
check "and listed" sh -c "conntrack -L -p tcp --dport 5520 2>/dev/null | grep -q 'dport=5520 '"

step "conntrack -I: entries made from user space are tracked like any other"
check "-I a TCP entry, ESTABLISHED, 100 s" sh -c "conntrack -I -p tcp -s $C -d $S --sport 5610 --dport 5611 \
    -t 100 --state ESTABLISHED 2>&1 | grep -q '1 flow entries have been created'"
check_match "/proc lists it" "$(ct_line "dport=5611 ")" \
    "^tcp +6 (100|99) ESTABLISHED src=$C dst=$S sport=5610 dport=5611 \[UNREPLIED\] src=$S dst=$C sport=5611 dport=5610 mark=0 use=1\$"
out=$(conntrack -I -p tcp -s "$C" -d "$S" --sport 5610 --dport 5611 -t 100 --state ESTABLISHED 2>&1)
check_match "-I of the same flow again: it exists" "$out" "Such conntrack exists"
check "-I a UDP entry, replied and assured" sh -c "conntrack -I -p udp -s $C -d $S --sport 5620 --dport 5621 \
    -t 300 -u SEEN_REPLY,ASSURED > /dev/null 2>&1"
check_match "/proc lists it assured" "$(ct_line "dport=5621 ")" \
    "^udp +17 (300|29[0-9]) src=$C dst=$S sport=5620 dport=5621 src=$S dst=$C sport=5621 dport=5620 \[ASSURED\] mark=0 use=1\$"
check "-I an ICMP echo entry" sh -c "conntrack -I -p icmp -s $C -d $S --icmp-type 8 --icmp-code 0 --icmp-id 77 \
    -t 300 > /dev/null 2>&1"
check_match "/proc lists it" "$(ct_line "id=77 ")" "^icmp +1 (300|29[0-9]) src=$C dst=$S type=8 code=0 id=77 "
# As conntrack would send it for -u SEEN_REPLY, but with IPS_DYING.
TN=$(tuple_hex 01 "$C" "$S" 17 5630 5631)
TR=$(tuple_hex 02 "$S" "$C" 17 5631 5630)
nl "create with a status bit user space may not change: EBUSY" "messages=0 errno=16" 0x100 0x600 2 \
    "${TN}${TR}080003000000020a0800070000000032"
check_fails "and nothing is made" ct_present "dport=5631 "
nl "create without a timeout: EINVAL" "messages=0 errno=22" 0x100 0x600 2 "${TN}${TR}"
nl "create with a reply tuple that is not the inverse (NAT): EOPNOTSUPP" "messages=0 errno=95" 0x100 0x600 2 \
    "${TN}$(tuple_hex 02 "$S" "$C" 17 5631 5639)0800070000000032"
nl "a create made" "messages=0 errno=0" 0x100 0x600 2 "${TN}${TR}080003000000000a080007000000012c"
check_match "/proc lists it" "$(ct_line "dport=5631 ")" "^udp +17 (300|29[0-9]) src=$C dst=$S sport=5630 dport=5631 src="
check "a stateful firewall: only ESTABLISHED may pass" sh -c \
    "iptables -P FORWARD DROP && iptables -A FORWARD -m state --state ESTABLISHED -j ACCEPT"
# (It ends with the first datagram; the limit is for the slow debug kernel.)
in_server timeout 30 /usr/bin/nc -u -l -p 5621 -W 1 > /tmp/fw.out 2>&1 &
fwsrv=$!
wait_listen "$SERVER_NS" 5621 udp
printf 'through\n' | in_client nc -u -p 5620 -w 1 "$S" 5621 > /dev/null 2>&1
bg_wait 30 "$fwsrv" > /dev/null
check_eq "a datagram of the made UDP entry passes as ESTABLISHED" "$(cat /tmp/fw.out)" through
check "the firewall off again" sh -c "iptables -F FORWARD && iptables -P FORWARD ACCEPT"

step "conntrack -U"
check_match "-U -f ipv4 -t 60: updated" "$(conntrack -U -f ipv4 -p tcp --dport 5611 -t 60 2>&1)" \
    "1 flow entries have been updated"
check_match "/proc shows the new timeout" "$(ct_line "dport=5611 ")" "^tcp +6 (60|59) ESTABLISHED "
check_match "-U -u SEEN_REPLY,ASSURED: updated" \
    "$(conntrack -U -f ipv4 -p tcp --dport 5611 -u SEEN_REPLY,ASSURED 2>&1)" "1 flow entries have been updated"
check_match "/proc shows it replied and assured" "$(ct_line "dport=5611 ")" \
    "^tcp +6 [0-9]+ ESTABLISHED src=$C dst=$S sport=5610 dport=5611 src=$S dst=$C sport=5611 dport=5610 \[ASSURED\] mark=0 use=1\$"
check_match "-U --state TIME_WAIT: updated" \
    "$(conntrack -U -f ipv4 -p tcp --dport 5611 --state TIME_WAIT 2>&1)" "1 flow entries have been updated"
check_match "/proc shows TIME_WAIT" "$(ct_line "dport=5611 ")" "^tcp +6 [0-9]+ TIME_WAIT "
T5611=$(tuple_hex 01 "$C" "$S" 6 5610 5611)
nl "an update clearing ASSURED: EBUSY" "messages=0 errno=16" 0x100 0 2 "${T5611}0800030000000008"
nl "an update with a 2-byte mark: ERANGE" "messages=0 errno=34" 0x100 0 2 "${T5611}0600080000010000"
nl "an update with a 2-byte mark mask: ERANGE" "messages=0 errno=34" 0x100 0 2 "${T5611}0600150000010000"
check_match "still assured, mark 0" "$(ct_line "dport=5611 ")" "\[ASSURED\] mark=0 use="
nl "an update of the mark's low byte (CTA_MARK 0x1ff, CTA_MARK_MASK 0xff)" "messages=0 errno=0" 0x100 0 2 \
    "${T5611}08000800000001ff08001500000000ff"
check_match "/proc shows mark=511 ((0 & ~0xff) ^ 0x1ff, 6.12's arithmetic)" "$(ct_line "dport=5611 ")" \
    "\[ASSURED\] mark=511 use="
out=$(conntrack -U -p tcp --dport 5611 -t 60 2>&1)
check_match "-U without -f: Operation not supported (conntrack 1.4.7 sends no family; 6.12 says the same)" \
    "$out" "Operation not supported"

step "marks: -I/-U --mark, -L --mark, mark= in /proc"
check "-I a UDP entry with --mark 5" sh -c "conntrack -I -p udp -s $C -d $S --sport 5650 --dport 5651 \
    -t 100 --mark 5 2>&1 | grep -q '1 flow entries have been created'"
check_match "/proc: mark=5 between the reply tuple and use=" "$(ct_line "dport=5651 ")" \
    "^udp +17 (100|99) src=$C dst=$S sport=5650 dport=5651 \[UNREPLIED\] src=$S dst=$C sport=5651 dport=5650 mark=5 use=1\$"
check_match "-L shows it" "$(conntrack -L -p udp --dport 5651 2> /dev/null)" " mark=5 use="
check_match "-U --mark 0x30/0xf0: updated" \
    "$(conntrack -U -f ipv4 -p udp --dport 5651 --mark 0x30/0xf0 2>&1)" "1 flow entries have been updated"
check_match "/proc: mark=53 ((5 & ~0xf0) ^ 0x30)" "$(ct_line "dport=5651 ")" " mark=53 use=1\$"
check_eq "-L --mark 53: that entry alone" "$(conntrack -L --mark 53 2> /dev/null | norm)" \
    "$(grep -F ' mark=53 ' "$CT_TABLE" | norm)"
check_eq "-L --mark 53: one line" "$(conntrack -L --mark 53 2> /dev/null | wc -l)" 1
check_eq "-L --mark 0x30/0xf0: the same line" "$(conntrack -L --mark 0x30/0xf0 2> /dev/null | norm)" \
    "$(grep -F ' mark=53 ' "$CT_TABLE" | norm)"
check_eq "-L --mark 0: every other entry" "$(conntrack -L --mark 0 2> /dev/null | norm)" \
    "$(grep -F ' mark=0 ' "$CT_TABLE" | norm)"
check_eq "-D --mark 53: deletes it" "$(conntrack -D --mark 53 2>&1 > /dev/null)" "$ME: 1 flow entries have been deleted."
check "it is gone" ct_absent "dport=5651 "
nl "a dump with a mark mask but no mark: EINVAL" "messages=0 errno=22" 0x101 0x300 2 0800150000000001

step "counters: ip_conntrack_acct"
check_eq "ip_conntrack_acct is 0 by default" "$(cat $CT_SYSCTL/ip_conntrack_acct)" 0
for v in 2 -1 x ''; do
    check_fails "ip_conntrack_acct refuses '$v'" sh -c "echo '$v' > $CT_SYSCTL/ip_conntrack_acct"
done
check_eq "and stays 0" "$(cat $CT_SYSCTL/ip_conntrack_acct)" 0
in_client ping -c 1 -W 2 "$S" > /dev/null 2>&1
check_fails "an entry made with it off has no counters" sh -c "grep '^icmp' $CT_TABLE | grep -q packets="
check "echo 1 > ip_conntrack_acct" sh -c "echo 1 > $CT_SYSCTL/ip_conntrack_acct"
check "three pings" in_client ping -c 3 -i 0.2 -W 2 "$S"
PID=$(ct_line "type=8 " "packets=" | sed -n 's/.* id=\([0-9]*\) .*/\1/p' | head -n 1)
check "its entry counts" test -n "$PID"
# 84 bytes a packet: 20 (IP) + 8 (ICMP) + 56 of data.
check_match "/proc: packets=3 bytes=252 after each tuple" "$(ct_line "id=$PID ")" \
    "^icmp +1 [0-9]+ src=$C dst=$S type=8 code=0 id=$PID packets=3 bytes=252 src=$S dst=$C type=0 code=0 id=$PID packets=3 bytes=252 mark=0 use=1\$"
check_match "-L: the same counters" "$(conntrack -L -p icmp --icmp-id "$PID" 2> /dev/null)" \
    "id=$PID packets=3 bytes=252 src=$S .* packets=3 bytes=252 mark=0 "
check_match "-o extended too" "$(conntrack -L -o extended -p icmp --icmp-id "$PID" 2> /dev/null)" \
    "^ipv4 +2 icmp +1 .*id=$PID packets=3 bytes=252 src=$S .* packets=3 bytes=252 "
# (conntrack 1.4.7 refuses -z with filters.)
check_match "-L -z: shows them" "$(conntrack -L -z 2> /dev/null | grep -F "id=$PID ")" "id=$PID packets=3 bytes=252 "
check_match "and zeroed them" "$(ct_line "id=$PID ")" "id=$PID packets=0 bytes=0 src=.* packets=0 bytes=0 mark=0 "
check "echo 0 > ip_conntrack_acct" sh -c "echo 0 > $CT_SYSCTL/ip_conntrack_acct"
in_client ping -c 1 -W 2 "$S" > /dev/null 2>&1
check_eq "entries made with it off again have none" \
    "$(grep '^icmp' "$CT_TABLE" | grep -vF "id=$PID " | grep -c packets=)" 0
check "the counting entry keeps its counters" ct_present "id=$PID packets=0 "
conntrack -D -p icmp > /dev/null 2>&1

# v6_requests: IPv6 entries made with -I (each kind), then listed with
# family and address filters, got, updated, deleted (by tuple and by
# filter) and flushed by family; prints every command and its output,
# countdowns and use counts left out, for the comparison with
# nf_conntrack below.
v6_requests() {
    conntrack -F > /dev/null 2>&1
    _a=2001:db8::2
    _b=2001:db8::3
    _s=2001:db8:1::2
    _udp="-p udp -s $_a -d $_s --sport 1000 --dport 53"
    _echo="-p icmpv6 -s $_a -d $_s --icmpv6-type 128 --icmpv6-code 0 --icmpv6-id 77"
    for _c in \
        "-I $_udp -t 100" \
        "-I -p udp -s $_b -d $_s --sport 1001 --dport 53 -t 100 -u SEEN_REPLY,ASSURED" \
        "-I -p tcp -s $_a -d $_s --sport 1002 --dport 80 -t 100 --state ESTABLISHED" \
        "-I $_echo -t 30" \
        "-I -p udp -s $C -d $S --sport 1000 --dport 53 -t 100" \
        "-I $_udp -t 100" \
        "-L -f ipv6" \
        "-L -f ipv6 -s $_b" \
        "-L -f ipv6 -d $_s -p udp" \
        "-L -f ipv6 -p udp --sport 1000" \
        "-L -f ipv6 --reply-dst $_b" \
        "-L -f ipv6 -p icmpv6" \
        "-L -s $_a" \
        "-G $_udp" \
        "-G -p udp -r $_s -q $_a --reply-port-src 53 --reply-port-dst 1000" \
        "-G $_echo" \
        "-G -p udp -s $_a -d $_s --sport 9 --dport 53" \
        "-U -f ipv6 -p tcp --dport 80 -t 60 --mark 5" \
        "-U -f ipv6 -p tcp --sport 1002 --state TIME_WAIT" \
        "-L -f ipv6 --mark 5" \
        "-D -f ipv6 $_udp" \
        "-D -f ipv6 $_udp" \
        "-D -f ipv6 -s $_b" \
        "-L -f ipv6" \
        "-D -f ipv6" \
        "-L" \
        "-I $_udp -t 100" \
        "-F -f ipv6" \
        "-L"; do
        echo "# conntrack $_c"
        # shellcheck disable=SC2086
        conntrack $_c 2>&1 | sed -E 's/^([a-z0-9]+ +[0-9]+) +[0-9]+ /\1 T /; s/ use=[0-9]+//; s/ +/ /g' | sort
    done
    conntrack -F > /dev/null 2>&1
}

# v6_origdst: what IP6T_SO_ORIGINAL_DST answers a server on the router
# for a TCP connection from the client over IPv6 (without NAT: the
# router's own address and port).
v6_origdst() {
    ip addr add 2001:db8::1/64 dev "$ROUTER_CLIENT_IF" nodad &&
        in_client ip addr add 2001:db8::2/64 dev "$NS_IF" nodad || return 1
    origdst -6 5700 > /tmp/od6.out 2>&1 &
    _od=$!
    wait_for 5 sh -c "awk '\$2 ~ /:1644\$/ && \$4 == \"0A\"' /proc/net/tcp6 | grep -q ." || return 1
    echo hi | in_client nc -N -w 5 2001:db8::1 5700 > /dev/null 2>&1
    bg_wait 10 "$_od" > /dev/null
    cat /tmp/od6.out
}

step "IPv6 entries: -I, -L -f ipv6 with address filters, -G, -U, -D, -F -f ipv6"
v6_requests > /tmp/ours.v6
check "-I made each entry (four IPv6, one IPv4, one again)" test "$(grep -c 'have been created' /tmp/ours.v6)" -eq 6
check_match "-G finds the UDP entry by its original tuple" "$(sed -n '/^# conntrack -G -p udp -s/,/^#/p' /tmp/ours.v6)" \
    "udp 17 T src=2001:db8::2 dst=2001:db8:1::2 sport=1000 dport=53 \\[UNREPLIED\\]"
check_eq "-D -f ipv6 leaves only the IPv4 entry" \
    "$(sed -n '/^# conntrack -L$/,/^#/p' /tmp/ours.v6 | grep -c 'src=')" 1
check_match "-F -f ipv6 (version 0 from conntrack 1.4.7: every family) empties the table" \
    "$(sed -n '/^# conntrack -F -f ipv6/,$p' /tmp/ours.v6)" " 0 flow entries have been shown"
OD6=$(v6_origdst)
check_eq "IP6T_SO_ORIGINAL_DST of an IPv6 connection to the router: its address and port" "$OD6" "[2001:db8::1]:5700"

step "the wire layout (ours; nf_conntrack's below)"
# shapes NAME ACCT: the attribute layout of a full dump, one line per
# kind of entry, and of the count and per-CPU answers (values left out),
# with counters on (sysctl file ACCT) and a mark set by -U.
# The events of that traffic, ports and ids left out, go to /tmp/NAME.ev;
# the UDP and ICMP lines of -L, with their counters, to /tmp/NAME.acct.
shapes() {
    conntrack -F > /dev/null 2>&1
    echo 1 > "$2"
    conntrack -E > "/tmp/$1.ev.raw" 2> /dev/null &
    _ev=$!
    sleep 1
    tcp_exchange 5540 hi there > /dev/null
    udp_exchange 5541 q a > /dev/null
    in_client ping -c 1 -W 2 "$S" > /dev/null 2>&1
    conntrack -U -f ipv4 -p udp --dport 5541 --mark 7 > /dev/null 2>&1
    conntrack -L 2> /dev/null | grep -E '^(udp|icmp) ' | sed -E 's/(sport|dport|id)=[0-9]+/\1=N/g; s/ +/ /g' \
        | awk '{ $3 = ""; print }' | sort > "/tmp/$1.acct"
    echo 0 > "$2"
    nlmsg --shape 0x101 0x300 2 | grep '^type=' | sort -u
    nlmsg --shape 0x105 0 0 | grep '^type='
    nlmsg --shape 0x104 0x300 0 | grep '^type=' | sort -u
    sleep 2
    kill "$_ev" 2> /dev/null
    wait "$_ev" 2> /dev/null
    # The states a close passes through depend on how the stack
    # coalesces FIN and ACK segments: only the closed state is compared.
    # On a slow (debug) kernel a countdown may have ticked and a SYN be
    # sent twice: timeouts are left out and each event counted once.
    # conntrack -E names the process behind a portid (progname=) only if
    # it still runs when the event is printed, a race with -U's exit:
    # left out too.
    sed -E 's/(sport|dport|id)=[0-9]+/\1=N/g; s/ progname=[^ ]*//; s/ +/ /g; s/^ *(\[[A-Z]+\] [a-z]+ [0-9]+) [0-9]+ /\1 T /' \
        "/tmp/$1.ev.raw" | grep -Ev ' (FIN_WAIT|CLOSE_WAIT|LAST_ACK) ' | sort -u > "/tmp/$1.ev"
}
ours=$(shapes ours "$CT_SYSCTL/ip_conntrack_acct")
check_eq "three kinds of entries (TCP, UDP, ICMP) and two statistics answers" \
    "$(printf '%s\n' "$ours" | wc -l)" 5
check_match "the UDP entry counted one packet each way, and has mark 7" "$(cat /tmp/ours.acct)" \
    "^udp 17 +src=$C dst=$S sport=N dport=N packets=1 bytes=30 src=$S .* packets=1 bytes=30 mark=7 "

step "unload with a listener attached and a dump in progress"
conntrack -E > /dev/null 2>&1 &
ev=$!
sleep 0.5
in_client ping -c 1 -W 2 "$S" > /dev/null 2>&1
check "pkt: 1000 UDP flows again" sh -c "ip netns exec $CLIENT_NS pkt --batch --src $GC --dst $GS --proto udp \
    --iface $NS_IF --dst-mac $(router_mac "$ROUTER_CLIENT_IF") < /tmp/many"
check "the count settles" ct_settle
n=$(ct_count)
rm -f /tmp/dump-go
nlmsg --hold /tmp/dump-go 0x101 0x300 2 > /tmp/hold.out 2>&1 &
hd=$!
check "a dump stops after its first buffer" wait_for 10 grep -qx holding /tmp/hold.out
topo_down
# As nf_conntrack_netlink: a dump in progress holds the module.
check_fails "rmmod is refused at once while the dump is open" rmmod ip_conntrack
touch /tmp/dump-go
bg_wait 10 "$hd"
check_eq "the dump then ends" "$?" 0
check_eq "with every entry, once" "$(tail -n 1 /tmp/hold.out)" "messages=$n errno=0"
check "rmmod ip_conntrack" rmmod ip_conntrack
check "the listener is still running" kill -0 "$ev"
kill "$ev" 2> /dev/null
wait "$ev" 2> /dev/null

step "the same layout as nf_conntrack with nf_conntrack_netlink"
check "modprobe nf_conntrack enable_hooks=1" modprobe nf_conntrack enable_hooks=1
check "modprobe nf_conntrack_netlink" modprobe nf_conntrack_netlink
ref=
if topo_up; then
    pass "topology up"
    ref=$(shapes ref /proc/sys/net/netfilter/nf_conntrack_acct)
else
    fail "topology up"
fi
check_eq "dump, count and per-CPU answers are laid out alike" "$ours" "$ref"
printf '%s\n' "$ref" | sed 's/^/    | /'
check_eq "the same events for the same traffic" "$(cat /tmp/ours.ev)" "$(cat /tmp/ref.ev)"
sed 's/^/    | /' /tmp/ref.ev
check_eq "the same counters and marks in -L" "$(cat /tmp/ours.acct)" "$(cat /tmp/ref.acct)"
sed 's/^/    | /' /tmp/ref.acct
v6_requests > /tmp/ref.v6
check_eq "the same answers to IPv6 requests (-I, -L -f ipv6 -s/-d, -G, -U, -D, -F -f ipv6)" \
    "$(cat /tmp/ours.v6)" "$(cat /tmp/ref.v6)"
sed 's/^/    | /' /tmp/ref.v6
check_eq "the same IP6T_SO_ORIGINAL_DST answer" "$(v6_origdst)" "$OD6"
topo_down
check "unload them" sh -c "rmmod nf_conntrack_netlink && rmmod nf_conntrack"
ct_finish
kmemleak_check
