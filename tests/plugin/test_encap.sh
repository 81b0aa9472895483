#!/bin/bash
# The innermost IP header counts: IPv6 (length = 40 + payload length), VLAN,
# IP-in-IP and GRE tunnels (inner 5-tuple, inner length), snaplen-68 captures
# (the IP length field, not the captured length).
. "$(dirname "$0")/common.sh"
tt_setup
P=(-2 -o triage.threshold:0)
rows() { awk -F'|' 'NF > 10 && $6 ~ /[0-9]/ { for (i = 1; i <= NF; i++) gsub(/ /, "", $i); print $1, $2, $5, $8, $9 }' "$1"; }

all_labelled() {   # all_labelled CAPTURE
    local n_l4 n_cat
    n_l4=$(count tt_tshark -r "$1" "${P[@]}" -Y "tcp || udp")
    n_cat=$(count tt_tshark -r "$1" "${P[@]}" -Y "triage.category")
    expect_gt "$n_l4" 0 "$(basename "$1"): TCP/UDP packets"
    expect_eq "$n_cat" "$n_l4" "$(basename "$1"): every TCP/UDP packet labelled"
}

# IPv6
cap=$TT_CAPS/ipv6.pcap
all_labelled "$cap"
want=$(tt_tshark -r "$cap" -Y "udp" -T fields -e ipv6.plen | awk '{ s += $1 + 40 } END { print s }')
tt_tshark -r "$cap" "${P[@]}" -q -z triage,flows > "$TT_OUT/v6"
got=$(rows "$TT_OUT/v6" | awk '$3 == "UDP" { s += $5 } END { print s }')
expect_eq "$got" "$want" "IPv6 UDP bytes = sum of 40 + ipv6.plen"
rows "$TT_OUT/v6" | grep -q "^2001:db8::1 2001:db8::2 UDP" || fail "IPv6 addresses not in the flows report: $(rows "$TT_OUT/v6")"
expect_eq "$(rows "$TT_OUT/v6" | awk '{ print $1 ">" $2 "/" $3 }' | sort -u | wc -l)" 3 "IPv6: three flows (UDP one way, TCP both ways)"

# VLAN
all_labelled "$TT_CAPS/vlan.pcap"

# IP-in-IP and GRE: inner addresses and the inner length
cap=$TT_CAPS/tunnel.pcap
all_labelled "$cap"
tt_tshark -r "$cap" "${P[@]}" -q -z triage,flows > "$TT_OUT/tun"
expect_eq "$(rows "$TT_OUT/tun" | awk '{ print $1 ">" $2 }' | sort -u | tr '\n' ' ')" "10.1.0.1>10.1.0.2 10.2.0.1>10.2.0.2 " "tunnels: flows keyed on the inner addresses"
for src in 10.1.0.1 10.2.0.1; do
    want=$(tt_tshark -r "$cap" -Y "ip.src == $src" -T fields -E occurrence=l -e ip.len | awk '{ s += $1 } END { print s }')
    got=$(rows "$TT_OUT/tun" | awk -v s="$src" '$1 == s { t += $5 } END { print t }')
    expect_eq "$got" "$want" "tunnel $src: bytes = sum of the inner ip.len"
done
n_flows=$(tt_tshark -r "$cap" "${P[@]}" -T fields -e triage.flow | sort -u | wc -l)
expect_eq "$n_flows" 2 "tunnels: two triage flows"

# snaplen 68
cap=$TT_CAPS/snap68.pcap
all_labelled "$cap"
tt_tshark -r "$cap" "${P[@]}" -q -z triage,flows > "$TT_OUT/s68"
want4=$(tt_tshark -r "$cap" -Y tcp -T fields -e ip.len | awk '{ s += $1 } END { print s }')
want6=$(tt_tshark -r "$cap" -Y udp -T fields -e ipv6.plen | awk '{ s += $1 + 40 } END { print s }')
expect_eq "$(rows "$TT_OUT/s68" | awk '$3 == "TCP" { s += $5 } END { print s }')" "$want4" "snaplen 68, IPv4: bytes from ip.len"
expect_eq "$(rows "$TT_OUT/s68" | awk '$3 == "UDP" { s += $5 } END { print s }')" "$want6" "snaplen 68, IPv6: bytes from ipv6.plen"
[ "$want4" -gt $((15 * 1400)) ] || fail "snaplen 68: expected real sizes, got $want4"
echo "PASS"
