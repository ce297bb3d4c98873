#include "netns/sysctl/sysctl_catalog.h"

#include <algorithm>
#include <iterator>
#include <string_view>
#include <utility>

namespace tcpfault::netns {

namespace {

// Global tables of net/core/sysctl_net_core.c (net_core_table), net/ipv4/sysctl_net_ipv4.c
// (ipv4_table), net/ipv4/route.c (ipv4_route_table), net/ipv6 and netfilter, checked
// against Linux 6.18: present in the initial namespace only, or read-only copies elsewhere.
// Keys missing here are still caught at run time (see sysctl.cpp).
constexpr std::string_view kHostGlobal[] = {
    "net.core.bpf_jit_enable",
    "net.core.bpf_jit_harden",
    "net.core.bpf_jit_kallsyms",
    "net.core.bpf_jit_limit",
    "net.core.busy_poll",
    "net.core.busy_read",
    "net.core.default_qdisc",
    "net.core.dev_weight",
    "net.core.dev_weight_rx_bias",
    "net.core.dev_weight_tx_bias",
    "net.core.devconf_inherit_init_net",
    "net.core.fb_tunnels_only_for_init_net",
    "net.core.flow_limit_cpu_bitmap",
    "net.core.flow_limit_table_len",
    "net.core.gro_normal_batch",
    "net.core.high_order_alloc_disable",
    "net.core.max_skb_frags",
    "net.core.mem_pcpu_rsv",
    "net.core.message_burst",
    "net.core.message_cost",
    "net.core.netdev_budget",
    "net.core.netdev_budget_usecs",
    "net.core.netdev_max_backlog",
    "net.core.netdev_rss_key",
    "net.core.netdev_tstamp_prequeue",
    "net.core.netdev_unregister_timeout_secs",
    "net.core.rmem_default",
    "net.core.rmem_max",
    "net.core.rps_sock_flow_entries",
    "net.core.skb_defer_max",
    "net.core.warnings",
    "net.core.wmem_default",
    "net.core.wmem_max",
    "net.ipv4.cipso_cache_bucket_size",
    "net.ipv4.cipso_cache_enable",
    "net.ipv4.cipso_rbm_optfmt",
    "net.ipv4.cipso_rbm_strictvalid",
    "net.ipv4.fib_sync_mem",
    "net.ipv4.inet_peer_maxttl",
    "net.ipv4.inet_peer_minttl",
    "net.ipv4.inet_peer_threshold",
    "net.ipv4.ipfrag_secret_interval",
    "net.ipv4.route.error_burst",
    "net.ipv4.route.error_cost",
    "net.ipv4.route.gc_elasticity",
    "net.ipv4.route.gc_interval",
    "net.ipv4.route.gc_min_interval",
    "net.ipv4.route.gc_min_interval_ms",
    "net.ipv4.route.gc_thresh",
    "net.ipv4.route.gc_timeout",
    "net.ipv4.route.max_size",
    "net.ipv4.route.redirect_load",
    "net.ipv4.route.redirect_number",
    "net.ipv4.route.redirect_silence",
    "net.ipv4.tcp_allowed_congestion_control",
    "net.ipv4.tcp_available_ulp",
    "net.ipv4.tcp_low_latency",
    "net.ipv4.tcp_max_orphans",
    "net.ipv4.tcp_mem",
    "net.ipv4.udp_mem",
    "net.ipv6.calipso_cache_bucket_size",
    "net.ipv6.calipso_cache_enable",
    "net.ipv6.ip6frag_secret_interval",
    "net.ipv6.mld_max_msf",
    "net.ipv6.mld_qrv",
};

constexpr std::string_view kHostGlobalNetfilter[] = {
    "net.nf_conntrack_max",
    "net.netfilter.nf_conntrack_max",
    "net.netfilter.nf_conntrack_buckets",
    "net.netfilter.nf_conntrack_expect_max",
};

// From tcp(7) and the commits that removed them.
constexpr std::pair<std::string_view, std::string_view> kRemoved[] = {
    {"net.ipv4.tcp_tw_recycle", "4.12"},
    {"net.ipv4.tcp_cookie_size", "3.10"},
    {"net.ipv4.tcp_abc", "3.9"},
    {"net.ipv4.tcp_bic", "2.6.13"},
    {"net.ipv4.tcp_bic_low_window", "2.6.13"},
    {"net.ipv4.tcp_bic_fast_convergence", "2.6.13"},
    {"net.ipv4.tcp_vegas_cong_avoid", "2.6.13"},
    {"net.ipv4.tcp_westwood", "2.6.13"},
};

// Checked against Debian's 6.1 (none of them), 6.12 (tcp_syn_linear_timeouts and
// tcp_rto_min_us) and 6.18 (all four), and each kernel's tcp code.
constexpr AddedKey kAdded[] = {
    {"net.ipv4.tcp_syn_linear_timeouts", "6.5", "0",
     "every SYN timeout doubles from the first (tcp_retransmit_timer backs off exponentially)"},
    {"net.ipv4.tcp_rto_min_us", "6.11", "200000",
     "the minimum RTO, which the tail loss probe adds too, is TCP_RTO_MIN, 200 ms, unless a "
     "route's locked rto_min metric says otherwise (tcp_rto_min)"},
    {"net.ipv4.tcp_tw_reuse_delay", "6.14", "1000",
     "tcp_tw_reuse takes over a TIME_WAIT socket once the monotonic clock's whole second has "
     "moved past the one of its last timestamp (tcp_twsk_unique: time_after32 of "
     "ktime_get_seconds): 0 to 1 s after it"},
    {"net.ipv4.tcp_rto_max_ms", "6.15", "120000", "the RTO is capped at TCP_RTO_MAX, 120 s"},
};

template <class Table>
bool contains(const Table& table, std::string_view key) {
  return std::find(std::begin(table), std::end(table), key) != std::end(table);
}

}  // namespace

bool is_host_global(const SysctlKey& key) {
  const std::string dotted = key.dotted();
  return contains(kHostGlobal, dotted) || contains(kHostGlobalNetfilter, dotted);
}

std::optional<std::string> removed_in(const SysctlKey& key) {
  const std::string dotted = key.dotted();
  for (const auto& [name, version] : kRemoved)
    if (name == dotted) return std::string(version);
  return std::nullopt;
}

const AddedKey* added_later(const SysctlKey& key) {
  const std::string dotted = key.dotted();
  for (const AddedKey& added : kAdded)
    if (added.key == dotted) return &added;
  return nullptr;
}

}  // namespace tcpfault::netns
