// An nf_tables batch: applied whole or not at all, and a refusal names the message and
// the kernel's reason.
#include "harness/intercept/nft_batch.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <netinet/in.h>  // before the kernel's headers, which would define in_addr again
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <string>

#include "netns/error.h"
#include "netns/namespace.h"
#include "netns/tests/test_support.h"

namespace tcpfault {
namespace {

void add_table(NftBatch& batch, const char* name) {
  nlmsghdr* nlh = batch.add(NFT_MSG_NEWTABLE, NFPROTO_IPV4, NLM_F_CREATE, std::string("table ") + name);
  mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name);
}

// A regular (not base) chain: only its table must exist.
void add_chain(NftBatch& batch, const char* table, const char* name) {
  nlmsghdr* nlh = batch.add(NFT_MSG_NEWCHAIN, NFPROTO_IPV4, NLM_F_CREATE,
                            std::string("chain ") + name + " of table " + table);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_TABLE, table);
  mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name);
}

std::string error_of(NftBatch& batch, const netns::Namespace& ns) {
  try {
    batch.commit(ns, "the hint");
  } catch (const SystemError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(NftBatch, ARefusalNamesTheMessageAndTheKernelsReason) {
  TCPFAULT_REQUIRE_ROOT();
  const auto ns = netns::Namespace::create("nft-batch-test");
  NftBatch batch;
  add_table(batch, "present");
  add_chain(batch, "absent", "c");
  const std::string m = error_of(batch, ns);
  EXPECT_NE(m.find("the kernel refused chain c of table absent in the nft-batch-test namespace"), std::string::npos)
      << m;
  EXPECT_NE(m.find("No such file or directory"), std::string::npos) << m;
  EXPECT_NE(m.find("the hint"), std::string::npos) << m;
}

TEST(NftBatch, ARefusedBatchLeavesNothingBehind) {
  TCPFAULT_REQUIRE_ROOT();
  const auto ns = netns::Namespace::create("nft-batch-test");
  NftBatch refused;
  add_table(refused, "t");
  add_chain(refused, "absent", "c");
  EXPECT_NE(error_of(refused, ns), "(no error)");
  // Table t was in the refused batch: it does not exist, so a chain cannot go in it.
  NftBatch after;
  add_chain(after, "t", "c");
  EXPECT_NE(error_of(after, ns).find("refused chain c of table t"), std::string::npos);
  // Whole, it is applied.
  NftBatch whole;
  add_table(whole, "t");
  add_chain(whole, "t", "c");
  EXPECT_EQ(error_of(whole, ns), "(no error)");
}

}  // namespace
}  // namespace tcpfault
