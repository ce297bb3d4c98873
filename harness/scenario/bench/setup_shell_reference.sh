#!/bin/sh
# The shell reference of setup_vs_shell_bench: builds the three namespaces of one
# scenario's topology with `ip` and `iptables-restore` the way a script would, then tears
# them down. The same links, addresses, routes, sysctls and NFQUEUE rules as
# netns/topology.cpp and harness/intercept/queue_rules.cpp; it leaves out what only the
# engine does (segmentation offloads, waiting for carrier, binding the queue), so the
# reference is, if anything, cheaper than the engine's work.
#
#   setup_shell_reference.sh NAME QUEUE CLIENT_NET4 SERVER_NET4 CLIENT_NET6 SERVER_NET6 < RULES
#
# NAME prefixes the namespaces (NAME-client, NAME-middlebox, NAME-server); the nets are
# the subnets' prefixes ("198.18.1", "2001:2:0:1"): endpoints are .1 / ::1, the middlebox
# .254 / ::fe. RULES is the iptables-restore text of both families (queue_rules_text()).
set -eu
[ $# -eq 6 ] || { echo "usage: $0 NAME QUEUE CLIENT_NET4 SERVER_NET4 CLIENT_NET6 SERVER_NET6 < RULES" >&2; exit 2; }
name=$1 c4=$3 s4=$4 c6=$5 s6=$6
c=$name-client m=$name-middlebox s=$name-server
rules=$(cat)

teardown() { for ns in "$c" "$m" "$s"; do ip netns del "$ns" 2>/dev/null || true; done; }
trap teardown EXIT

for ns in "$c" "$m" "$s"; do ip netns add "$ns"; done
# Before any veth exists, so that new interfaces inherit them from "default".
for ns in "$c" "$s"; do
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
ip netns exec "$m" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
  net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
  net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

ip -n "$c" link add c0 type veth peer name m0 netns "$m"
ip -n "$s" link add s0 type veth peer name m1 netns "$m"
for ns in "$c" "$m" "$s"; do ip -n "$ns" link set lo up; done
ip -n "$c" link set c0 up
ip -n "$s" link set s0 up
ip -n "$m" link set m0 up
ip -n "$m" link set m1 up

ip -n "$c" addr add "$c4.1/24" dev c0
ip -n "$c" addr add "$c6::1/64" dev c0 nodad
ip -n "$m" addr add "$c4.254/24" dev m0
ip -n "$m" addr add "$c6::fe/64" dev m0 nodad
ip -n "$m" addr add "$s4.254/24" dev m1
ip -n "$m" addr add "$s6::fe/64" dev m1 nodad
ip -n "$s" addr add "$s4.1/24" dev s0
ip -n "$s" addr add "$s6::1/64" dev s0 nodad
ip -n "$c" route add default via "$c4.254" dev c0
ip -n "$c" -6 route add default via "$c6::fe" dev c0
ip -n "$s" route add default via "$s4.254" dev s0
ip -n "$s" -6 route add default via "$s6::fe" dev s0

# Both families at once, as the engine used to.
printf '%s\n' "$rules" | ip netns exec "$m" iptables-restore --noflush &
v4=$!
printf '%s\n' "$rules" | ip netns exec "$m" ip6tables-restore --noflush &
v6=$!
wait $v4
wait $v6

trap - EXIT
for ns in "$c" "$m" "$s"; do ip netns del "$ns"; done
