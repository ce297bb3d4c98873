#!/usr/bin/env bash
# What tcpfault must never change on the host, as text:
#   host_state.sh snapshot FILE   record it
#   host_state.sh check FILE      fail (exit 1, with a diff) if anything differs now
# Covers the init namespace's net.* sysctls, iptables/ip6tables/nft rules, links,
# addresses, routes, the NFQUEUE queues bound there, pinned namespaces under
# /run/netns, and network namespaces that still have a process in them.
set -euo pipefail

state() {
  echo "## sysctl net.*"
  # Counters that move by themselves are not settings.
  sysctl -a 2>/dev/null | grep '^net\.' | grep -v -E 'nf_conntrack_count|\.stable_secret' | sort
  echo "## iptables"; iptables-save 2>/dev/null | grep -v '^#' || true
  echo "## ip6tables"; ip6tables-save 2>/dev/null | grep -v '^#' || true
  echo "## nft"; nft list ruleset 2>/dev/null || true
  echo "## links"; ip -o link show | sed -E 's/ (qlen|link\/[a-z]+) .*//' | sort
  echo "## addresses"; ip -o addr show | awk '{print $2, $3, $4}' | sort
  echo "## routes"; ip route show table all | sort; ip -6 route show table all | sort
  echo "## nfqueue"; cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | awk '{print $1, $2}' || true
  echo "## pinned namespaces"; ls -1 /run/netns 2>/dev/null || true
  echo "## namespaces with processes"
  lsns -t net -n -o NS 2>/dev/null | sort -u
  echo "## our processes"
  ps -eo comm= | grep -x -E 'netns_tests|harness_tests|cpp_cases|tcpfault' || true
}

case "${1:-}" in
  snapshot) state > "$2" ;;
  check)
    if ! diff -u "$2" <(state) > /tmp/tcpfault-host-diff.$$; then
      echo "the host changed during the run (- before, + now):"
      cat /tmp/tcpfault-host-diff.$$
      rm -f /tmp/tcpfault-host-diff.$$
      exit 1
    fi
    rm -f /tmp/tcpfault-host-diff.$$
    echo "host unchanged: sysctls, rules, links, routes, queues and namespaces are as before"
    ;;
  *) echo "usage: $0 snapshot FILE | check FILE" >&2; exit 2 ;;
esac
