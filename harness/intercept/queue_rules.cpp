#include "harness/intercept/queue_rules.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_tables_compat.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <netinet/in.h>

#include <sstream>

#include "harness/intercept/nft_batch.h"

namespace tcpfault {

// Why nf_tables with the xtables target. The kernel's own nft `queue` expression
// (CONFIG_NFT_QUEUE) is missing from some kernels tcpfault runs on; the xtables NFQUEUE
// target is there, reached from nf_tables through nft_compat as iptables-nft does. The
// legacy interface (IPT_SO_SET_REPLACE from this process) works too and costs the same
// (medians of 0.06-0.08 ms each for both families, p90 0.25-0.27 ms against 0.08-0.11:
// harness/intercept/bench/queue_rules_bench), but the kernel does not load ip_tables on
// demand (nf_tables and its expressions it does), distributions are dropping the legacy
// tables, and the system's iptables (nft) would not see its rules. One batch carries both
// families: one round trip, applied whole or not at all.

std::string queue_rules_text(std::uint16_t queue_number) {
  std::ostringstream out;
  out << "*filter\n"
      << ":FORWARD ACCEPT [0:0]\n"
      << "-A FORWARD -p tcp -j NFQUEUE --queue-num " << queue_number << " --queue-bypass\n"
      << "COMMIT\n";
  return out.str();
}

namespace {

constexpr const char* kTable = "filter";
constexpr const char* kChain = "FORWARD";

// One expression of a rule: {name, data{...}} in the rule's expression list.
template <class F>
void put_expression(nlmsghdr* nlh, const char* name, F&& data) {
  nlattr* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
  mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
  nlattr* d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
  data();
  mnl_attr_nest_end(nlh, d);
  mnl_attr_nest_end(nlh, elem);
}

// table filter; chain FORWARD { type filter hook forward priority 0; policy accept;
//   meta l4proto tcp counter xt target NFQUEUE (queue-num N, bypass) }
void add_family(NftBatch& batch, std::uint8_t family, const char* label, std::uint16_t queue_number) {
  const std::string where = std::string(label) + " table " + kTable;

  nlmsghdr* nlh = batch.add(NFT_MSG_NEWTABLE, family, NLM_F_CREATE, "the " + where);
  mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, kTable);

  nlh = batch.add(NFT_MSG_NEWCHAIN, family, NLM_F_CREATE, "chain " + std::string(kChain) + " of the " + where);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, kTable);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, kChain);
  nlattr* hook = mnl_attr_nest_start(nlh, NFTA_CHAIN_HOOK);
  mnl_attr_put_u32(nlh, NFTA_HOOK_HOOKNUM, htonl(NF_INET_FORWARD));
  mnl_attr_put_u32(nlh, NFTA_HOOK_PRIORITY, htonl(0));  // NF_IP_PRI_FILTER, as iptables' filter table
  mnl_attr_nest_end(nlh, hook);
  mnl_attr_put_u32(nlh, NFTA_CHAIN_POLICY, htonl(NF_ACCEPT));
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TYPE, "filter");

  nlh = batch.add(NFT_MSG_NEWRULE, family, NLM_F_CREATE | NLM_F_APPEND,
                  "the NFQUEUE rule in chain " + std::string(kChain) + " of the " + where);
  mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, kTable);
  mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, kChain);
  nlattr* exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
  // -p tcp: the transport protocol (IPv6: after any extension headers, as ip6tables).
  put_expression(nlh, "meta", [&] {
    mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(NFT_META_L4PROTO));
    mnl_attr_put_u32(nlh, NFTA_META_DREG, htonl(NFT_REG_1));
  });
  put_expression(nlh, "cmp", [&] {
    mnl_attr_put_u32(nlh, NFTA_CMP_SREG, htonl(NFT_REG_1));
    mnl_attr_put_u32(nlh, NFTA_CMP_OP, htonl(NFT_CMP_EQ));
    nlattr* value = mnl_attr_nest_start(nlh, NFTA_CMP_DATA);
    mnl_attr_put_u8(nlh, NFTA_DATA_VALUE, IPPROTO_TCP);
    mnl_attr_nest_end(nlh, value);
  });
  // iptables counts every rule; `nft list ruleset` in the namespace shows how many went to the queue.
  put_expression(nlh, "counter", [] {});
  put_expression(nlh, "target", [&] {
    xt_NFQ_info_v3 info{};
    info.queuenum = queue_number;
    info.queues_total = 1;
    info.flags = NFQ_FLAG_BYPASS;
    mnl_attr_put_strz(nlh, NFTA_TARGET_NAME, "NFQUEUE");
    mnl_attr_put_u32(nlh, NFTA_TARGET_REV, htonl(3));
    mnl_attr_put(nlh, NFTA_TARGET_INFO, sizeof info, &info);
  });
  mnl_attr_nest_end(nlh, exprs);
  // What the xtables target is told the rule matches (iptables-nft says it too).
  nlattr* compat = mnl_attr_nest_start(nlh, NFTA_RULE_COMPAT);
  mnl_attr_put_u32(nlh, NFTA_RULE_COMPAT_PROTO, htonl(IPPROTO_TCP));
  mnl_attr_put_u32(nlh, NFTA_RULE_COMPAT_FLAGS, htonl(0));
  mnl_attr_nest_end(nlh, compat);
}

}  // namespace

void install_queue_rules(const netns::Namespace& ns, std::uint16_t queue_number) {
  NftBatch batch;
  add_family(batch, NFPROTO_IPV4, "ip", queue_number);
  add_family(batch, NFPROTO_IPV6, "ip6", queue_number);
  batch.commit(ns, "the middlebox's NFQUEUE rule needs nf_tables with its xtables bridge and the NFQUEUE target "
                   "(CONFIG_NF_TABLES, CONFIG_NF_TABLES_IPV4, CONFIG_NF_TABLES_IPV6, CONFIG_NFT_COMPAT, "
                   "CONFIG_NETFILTER_XT_TARGET_NFQUEUE)");
}

}  // namespace tcpfault
