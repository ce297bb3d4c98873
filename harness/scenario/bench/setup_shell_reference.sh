#!/bin/sh
# The shell reference of setup_vs_shell_bench: builds the three namespaces of one
# scenario's topology with `ip` and `iptables-restore` the way a script would, then tears
# them down. The same links, addresses, routes, sysctls and NFQUEUE rules as
# netns/topology.cpp and harness/intercept/queue_rules.cpp; it leaves out what only the
# engine does (segmentation offloads, waiting for carrier, binding the queue), so the
# reference is, if anything, cheaper than the engine's work.
#
#   setup_shell_reference.sh MODE NAME QUEUE CLIENT_NET4 SERVER_NET4 CLIENT_NET6 SERVER_NET6 < RULES
#
# MODE: "each" runs one `ip` per step, as most scripts do; "batch" gives each namespace's
# steps to one `ip -batch`, the fewest programs `ip` allows. NAME prefixes the namespaces
# (NAME-client, NAME-middlebox, NAME-server); the nets are the subnets' prefixes
# ("198.18.1", "2001:2:0:1"): endpoints are .1 / ::1, the middlebox .254 / ::fe. RULES is
# the iptables-restore text both iptables-restore and ip6tables-restore are given
# (queue_rules_text()).
set -eu
usage="usage: $0 each|batch NAME QUEUE CLIENT_NET4 SERVER_NET4 CLIENT_NET6 SERVER_NET6 < RULES"
[ $# -eq 7 ] || { echo "$usage" >&2; exit 2; }
mode=$1 name=$2 c4=$4 s4=$5 c6=$6 s6=$7
case $mode in each|batch) ;; *) echo "$usage" >&2; exit 2 ;; esac
c=$name-client m=$name-middlebox s=$name-server
rules=$(cat)

teardown() { for ns in "$c" "$m" "$s"; do ip netns del "$ns" 2>/dev/null || true; done; }
trap teardown EXIT

# The steps of one namespace, one per line, as `ip -n NS` takes them.
client_steps() {
  echo "link add c0 type veth peer name m0 netns $m"
  echo "link set lo up"
  echo "link set c0 up"
  echo "addr add $c4.1/24 dev c0"
  echo "addr add $c6::1/64 dev c0 nodad"
  echo "route add default via $c4.254 dev c0"
  echo "route add default via $c6::fe dev c0"
}
server_steps() {
  echo "link add s0 type veth peer name m1 netns $m"
  echo "link set lo up"
  echo "link set s0 up"
  echo "addr add $s4.1/24 dev s0"
  echo "addr add $s6::1/64 dev s0 nodad"
  echo "route add default via $s4.254 dev s0"
  echo "route add default via $s6::fe dev s0"
}
middlebox_steps() {
  echo "link set lo up"
  echo "link set m0 up"
  echo "link set m1 up"
  echo "addr add $c4.254/24 dev m0"
  echo "addr add $c6::fe/64 dev m0 nodad"
  echo "addr add $s4.254/24 dev m1"
  echo "addr add $s6::fe/64 dev m1 nodad"
}

# Runs one namespace's steps.
steps_in() {
  ns=$1 steps=$2
  if [ "$mode" = batch ]; then
    $steps | ip -n "$ns" -batch -
  else
    $steps | while read -r step; do
      # shellcheck disable=SC2086 # each step is split into ip's arguments
      ip -n "$ns" $step
    done
  fi
}

if [ "$mode" = batch ]; then
  printf 'netns add %s\n' "$c" "$m" "$s" | ip -batch -
else
  for ns in "$c" "$m" "$s"; do ip netns add "$ns"; done
fi
# Before any veth exists, so that new interfaces inherit them from "default".
for ns in "$c" "$s"; do
  ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
done
ip netns exec "$m" sysctl -q -w net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
  net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
  net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

steps_in "$c" client_steps
steps_in "$s" server_steps
steps_in "$m" middlebox_steps

# Both families at once, as the engine did before its rules went in over netlink.
printf '%s\n' "$rules" | ip netns exec "$m" iptables-restore --noflush &
v4=$!
printf '%s\n' "$rules" | ip netns exec "$m" ip6tables-restore --noflush &
v6=$!
wait $v4
wait $v6

trap - EXIT
if [ "$mode" = batch ]; then
  printf 'netns del %s\n' "$c" "$m" "$s" | ip -batch -
else
  for ns in "$c" "$m" "$s"; do ip netns del "$ns"; done
fi
