#include "harness/intercept/nft_batch.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "netns/error.h"

namespace tcpfault {

namespace {

// A batch of a few small messages; libmnl wants twice the limit so that the message that
// crosses it still fits.
constexpr std::size_t kBatchLimit = 8192;
// The kernel answers at once; this only bounds a wedged kernel.
constexpr std::chrono::milliseconds kReplyTimeout{5000};

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, SocketCloser>;

void put_nfgen(nlmsghdr* nlh, std::uint8_t family, std::uint16_t res_id) {
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(res_id);
}

}  // namespace

NftBatch::NftBatch() : buffer_(2 * kBatchLimit) {
  batch_ = mnl_nlmsg_batch_start(buffer_.data(), kBatchLimit);
  if (!batch_) throw std::bad_alloc();
  first_seq_ = 1;
  put_control(NFNL_MSG_BATCH_BEGIN);
  next();
}

NftBatch::~NftBatch() { mnl_nlmsg_batch_stop(batch_); }

nlmsghdr* NftBatch::put_control(std::uint16_t type) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch_));
  nlh->nlmsg_type = type;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  nlh->nlmsg_seq = first_seq_ + static_cast<std::uint32_t>(what_.size()) + (type == NFNL_MSG_BATCH_END);
  put_nfgen(nlh, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
  return nlh;
}

void NftBatch::next() {
  // Called after each message is complete: the one just written must fit the limit.
  if (!mnl_nlmsg_batch_next(batch_))
    throw std::length_error("nf_tables batch larger than " + std::to_string(kBatchLimit) + " bytes");
}

nlmsghdr* NftBatch::add(std::uint16_t type, std::uint8_t family, std::uint16_t flags, std::string what) {
  if (ended_) throw std::logic_error("NftBatch::add after commit");
  if (!what_.empty()) next();  // the previous message is complete now
  nlmsghdr* nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(batch_));
  nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  what_.push_back(std::move(what));
  nlh->nlmsg_seq = first_seq_ + static_cast<std::uint32_t>(what_.size());
  put_nfgen(nlh, family, 0);
  return nlh;
}

void NftBatch::commit(const netns::Namespace& ns, const std::string& hint) {
  if (ended_) throw std::logic_error("NftBatch::commit twice");
  if (what_.empty()) throw std::logic_error("NftBatch::commit of an empty batch");
  next();
  put_control(NFNL_MSG_BATCH_END);
  next();
  ended_ = true;

  MnlSocket sock(ns.run([] { return mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC); }));
  if (!sock) throw_errno("open netfilter netlink socket in the " + ns.name() + " namespace");
  if (mnl_socket_bind(sock.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    throw_errno("bind netfilter netlink socket in the " + ns.name() + " namespace");
  // Errors quote only the header of the refused message, not all of it.
  int on = 1;
  ::setsockopt(mnl_socket_get_fd(sock.get()), SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  if (mnl_socket_sendto(sock.get(), mnl_nlmsg_batch_head(batch_), mnl_nlmsg_batch_size(batch_)) < 0)
    throw_errno("send nf_tables batch in the " + ns.name() + " namespace");

  // Every message asked for an ACK; the kernel answers each (an error or a plain ACK),
  // or answers once on the batch-begin's sequence number when the whole batch fails
  // (its commit, or the batch itself). Its answers on one message are in order.
  const std::uint32_t last_seq = first_seq_ + static_cast<std::uint32_t>(what_.size());
  std::vector<int> answer(what_.size() + 1, 1);  // 1: none yet; else 0 or -errno
  std::size_t answered = 0;
  int batch_error = 0;
  const auto deadline = std::chrono::steady_clock::now() + kReplyTimeout;
  std::vector<char> buf(8192);
  while (answered < what_.size() && batch_error == 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{mnl_socket_get_fd(sock.get()), POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw_errno("wait for the kernel's answer to the nf_tables batch");
    if (ready == 0)
      throw Error("the kernel did not answer the nf_tables batch in the " + ns.name() + " namespace within " +
                  std::to_string(kReplyTimeout.count()) + " ms (is the machine overloaded?)");
    const ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("read the kernel's answer to the nf_tables batch");
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      if (nlh->nlmsg_seq == first_seq_) {
        batch_error = err->error ? err->error : -EPROTO;
      } else if (nlh->nlmsg_seq > first_seq_ && nlh->nlmsg_seq <= last_seq) {
        int& a = answer[nlh->nlmsg_seq - first_seq_];
        if (a == 1) ++answered;
        if (a == 1 || a == 0) a = err->error;  // an error outranks an ACK
      }
    }
  }
  for (std::size_t i = 0; i < what_.size(); ++i)
    if (answer[i + 1] < 0)
      throw SystemError("the kernel refused " + what_[i] + " in the " + ns.name() + " namespace", -answer[i + 1],
                        hint);
  if (batch_error < 0)
    throw SystemError("the kernel refused the nf_tables batch in the " + ns.name() + " namespace", -batch_error,
                      hint);
}

}  // namespace tcpfault
