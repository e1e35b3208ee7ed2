# What needs the kernel's own nf_conntrack is refused cleanly while
# ip_conntrack is loaded: CONNMARK and connmark, connlimit, the raw table's NOTRACK and CT targets, helpers
# (CT --helper, -m helper, nf_conntrack_ftp), nf_conntrack_netlink and
# nftables' ct expressions (nft_ct), with both iptables-legacy and
# iptables-nft. Each refusal says something, leaves no rule behind, and
# changes nothing: a tracked connection stays ESTABLISHED and keeps
# flowing, the stateful firewall still works, ip_conntrack still unloads;
# afterwards nf_conntrack loads and its NAT works. The NAT rules
# themselves load: the module serves the nat table, the NAT targets and
# the nft chain type nat (tests/vm/nat-rules.sh), while the kernel's
# iptable_nat, xt_nat and xt_MASQUERADE still cannot load (below).
# conntrack-tools need no
# nf_conntrack_netlink: the module serves ctnetlink itself
# (tests/vm/ctnetlink.sh), so `conntrack -L` lists the connection.
. /usr/lib/ipct/lib.sh
. /usr/lib/ipct/ct.sh

ct_setup
PORT=5400
KEY="dport=$PORT "

step "a stateful firewall (legacy, with an iptables-nft counter) and a long-lived connection"
check "FORWARD: established and related pass, new only from the client, else drop" sh -c "
    iptables -P FORWARD DROP &&
    iptables -A FORWARD -m state --state ESTABLISHED,RELATED -m comment --comment est -j ACCEPT &&
    iptables -A FORWARD -i $ROUTER_CLIENT_IF -m state --state NEW -m comment --comment new -j ACCEPT"
check "iptables-nft: a counter of established forwarded packets" \
    iptables-nft -A FORWARD -m state --state ESTABLISHED -m comment --comment nft-est
rm -f /tmp/stop-stream
in_server nc -l -p "$PORT" > /tmp/stream-sink 2>&1 &
sink=$!
wait_listen "$SERVER_NS" "$PORT" tcp
in_client sh -c "while [ ! -e /tmp/stop-stream ]; do echo data; sleep 0.1; done \
    | nc -N $SERVER_IP $PORT" > /dev/null 2>&1 &
source=$!
check "the connection is ESTABLISHED and ASSURED" wait_for 10 sh -c \
    "grep -F '$KEY' $CT_TABLE | grep -q 'ESTABLISHED.*ASSURED'"
line0=$(ct_line "$KEY" | awk '{ $3 = ""; print }')

# The rules and policies of a front end's tables, without counters, to
# compare before and after (a refused rule may leave an empty table behind:
# loading iptable_raw for the raw table needs no nf_conntrack).
ruleset() {
    "$1" 2> /dev/null | sed -n 's/ *\[[0-9]*:[0-9]*\]//; /^-A /p; /^:[A-Z]* DROP/p'
}
legacy0=$(ruleset iptables-save)
nft0=$(ruleset iptables-nft-save)

# refused FRONTEND DESC ARGS...: FRONTEND refuses the rule ARGS with a
# message (that no such rule got in is checked at the end).
refused() {
    _ipt=$1
    _d="$1: $2"
    shift 2
    if _out=$("$_ipt" "$@" 2>&1); then
        fail "$_d: accepted ($*)"
    else
        pass "$_d: refused"
    fi
    check_match "$_d: with a message" "$_out" '[a-zA-Z]'
}

for ipt in iptables iptables-nft; do
    step "$ipt: rules that need nf_conntrack"
    refused "$ipt" "CONNMARK target" -t mangle -A PREROUTING -j CONNMARK --set-mark 1
    refused "$ipt" "connmark match" -A FORWARD -m connmark --mark 1 -j ACCEPT
    refused "$ipt" "connlimit" -A FORWARD -p tcp --syn -m connlimit --connlimit-above 2 -j DROP
    refused "$ipt" "raw NOTRACK" -t raw -A PREROUTING -j NOTRACK
    refused "$ipt" "raw CT --notrack" -t raw -A PREROUTING -j CT --notrack
    refused "$ipt" "CT --helper ftp" -t raw -A PREROUTING -p tcp --dport 21 -j CT --helper ftp
    refused "$ipt" "helper match" -A FORWARD -m helper --helper ftp -j ACCEPT
done

step "modules that need nf_conntrack do not load"
# nf_nat and its table and targets (ip_conntrack serves those names
# itself), nf_conncount (connlimit), xt_connmark,
# xt_CT (NOTRACK, CT), nf_conntrack_ftp (helpers), nf_conntrack_netlink
# (the kernel's ctnetlink; the module's own serves conntrack-tools),
# nft_ct (nftables ct expressions).
for m in nf_nat iptable_nat xt_nat xt_MASQUERADE xt_connmark nf_conncount xt_connlimit xt_CT \
    nf_conntrack_ftp nf_nat_ftp nf_conntrack_netlink nft_ct; do
    if out=$(modprobe "$m" 2>&1); then
        fail "modprobe $m succeeded"
    else
        check_match "modprobe $m fails: nf_conntrack is busy" "$out" 'nf_conntrack.*(busy|Busy)'
    fi
    check_fails "$m is not loaded" mod_loaded "$m"
done
check_fails "nf_conntrack is not loaded" mod_loaded nf_conntrack
if command -v nft > /dev/null 2>&1; then
    fail "nft is in the guest: add its ct expressions to this scenario"
else
    echo "note: no nft in the guest; nftables ct expressions are covered by nft_ct's refusal"
fi

step "conntrack-tools work without nf_conntrack_netlink"
check "conntrack -L lists the connection" sh -c "conntrack -L 2> /dev/null | grep -F '$KEY' | grep -q ESTABLISHED"
check_eq "conntrack -C is ip_conntrack_count" "$(conntrack -C 2>&1)" "$(ct_sysctl count)"
check_fails "nf_conntrack_netlink is not loaded" mod_loaded nf_conntrack_netlink

step "nothing changed"
check "ip_conntrack is loaded" mod_loaded ip_conntrack
for ipt in iptables iptables-nft; do
    rules=$("$ipt-save" 2>&1)
    for kw in CONNMARK connmark connlimit NOTRACK '-j CT' helper; do
        check_no_match "$ipt-save: no $kw rule" "$rules" "$kw"
    done
done
check_eq "iptables-legacy rules and policies unchanged" "$(ruleset iptables-save)" "$legacy0"
check_eq "iptables-nft rules and policies unchanged" "$(ruleset iptables-nft-save)" "$nft0"
check_eq "the connection's entry is the same (but for its countdown)" \
    "$(ct_line "$KEY" | awk '{ $3 = ""; print }')" "$line0"
size0=$(wc -c < /tmp/stream-sink)
sleep 1
check "the connection still flows" test "$(wc -c < /tmp/stream-sink)" -gt "$size0"
est0=$(ipt_pkts FORWARD est)
new0=$(ipt_pkts FORWARD new)
nft_est0=$(IPT=iptables-nft; ipt_pkts FORWARD nft-est)
check_eq "a new connection through the firewall" "$(tcp_exchange 5401 hello world)" world
check "the firewall let it in as NEW" test "$(ipt_pkts FORWARD new)" -gt "$new0"
check "and its packets as ESTABLISHED" test "$(ipt_pkts FORWARD est)" -gt "$est0"
check "iptables-nft saw them as ESTABLISHED" test "$(IPT=iptables-nft; ipt_pkts FORWARD nft-est)" -gt "$nft_est0"
in_client nc -l -p 5402 > /dev/null 2>&1 &
listener=$!
wait_listen "$CLIENT_NS" 5402 tcp
check_fails "a NEW connection from the server side is dropped" in_server nc -z -w 2 "$CLIENT_IP" 5402
kill "$listener" 2> /dev/null
check_eq "ip_conntrack_count = lines of the table" "$(ct_sysctl count)" "$(ct_count)"

step "ip_conntrack unloads; then nf_conntrack and NAT work"
touch /tmp/stop-stream
bg_wait 10 "$source" > /dev/null
bg_wait 10 "$sink" > /dev/null
check "flush the rules" sh -c "iptables -F && iptables -P FORWARD ACCEPT && iptables-nft -F"
check "rmmod ip_conntrack" rmmod ip_conntrack
check_fails "ip_conntrack is gone" mod_loaded ip_conntrack
check "iptables: MASQUERADE now loads nf_conntrack and nf_nat" \
    iptables -t nat -A POSTROUTING -o "$ROUTER_SERVER_IF" -j MASQUERADE
check "nf_conntrack is loaded" mod_loaded nf_conntrack
check "ping through the NAT" in_client ping -c 1 -W 2 "$SERVER_IP"
check_match "nf_conntrack masqueraded it" "$(cat /proc/net/nf_conntrack 2>&1)" \
    "icmp .*src=$CLIENT_IP dst=$SERVER_IP .*src=$SERVER_IP dst=$ROUTER_SERVER_IP "
check "remove the NAT rule" iptables -t nat -F
check "unload nf_conntrack and its users" sh -c "rmmod iptable_nat && rmmod xt_MASQUERADE && rmmod nf_nat && rmmod nf_conntrack"
check_fails "nf_conntrack is gone" mod_loaded nf_conntrack
check "ip_conntrack loads again" modprobe ip_conntrack
check "and unloads" rmmod ip_conntrack
topo_down
ct_finish
kmemleak_check
