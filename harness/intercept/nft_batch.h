// One nf_tables transaction sent over netlink from this process (no nft or iptables
// program): messages are added to a batch, and commit() sends it in one datagram from a
// socket opened inside a namespace and waits for the kernel's answer to every message.
// The kernel applies the whole batch or nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "netns/namespace.h"

struct mnl_nlmsg_batch;
struct nlmsghdr;

namespace tcpfault {

class NftBatch {
 public:
  NftBatch();
  ~NftBatch();
  NftBatch(const NftBatch&) = delete;
  NftBatch& operator=(const NftBatch&) = delete;

  // Starts message NFT_MSG_<type> for `family` (NFPROTO_IPV4, NFPROTO_IPV6...) with
  // NLM_F_REQUEST | NLM_F_ACK | `flags`; the caller adds its attributes to the header
  // returned, before the next add(). `what` names the message in errors ("ip chain
  // filter FORWARD").
  nlmsghdr* add(std::uint16_t type, std::uint8_t family, std::uint16_t flags, std::string what);

  // Sends the batch into `ns` and returns once the kernel has answered every message.
  // Throws Error naming the first message it refused and why, followed by `hint`.
  void commit(const netns::Namespace& ns, const std::string& hint);

 private:
  nlmsghdr* put_control(std::uint16_t type);  // batch begin / end
  void next();

  std::vector<char> buffer_;
  mnl_nlmsg_batch* batch_ = nullptr;
  std::uint32_t first_seq_;          // the batch-begin message's; the kernel answers on it for the whole batch
  std::vector<std::string> what_;    // per message, in sequence order after first_seq_
  bool ended_ = false;
};

}  // namespace tcpfault
