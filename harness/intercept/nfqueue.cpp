#include "harness/intercept/nfqueue.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <sys/socket.h>

#include <endian.h>
#include <time.h>

#include <cerrno>
#include <cstdlib>
#include <utility>
#include <cstring>
extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "netns/error.h"

namespace tcpfault {

namespace {
// Room for a full 64 KiB packet plus netlink headers, several per read.
constexpr std::size_t kBufferSize = 0xffff + 8192 * 4;
constexpr std::size_t kConfigBuffer = 8192;
// Verdicts waiting to be sent together: a few hundred plain ones, or one rewritten packet.
constexpr std::size_t kVerdictBuffer = 0xffff + 8192;
constexpr int kSocketBuffer = 16 << 20;

std::int64_t ns_of(const timespec& t) { return std::int64_t(t.tv_sec) * 1'000'000'000 + t.tv_nsec; }

// The kernel stamps received packets only while some socket asks for receive
// timestamps (a machine-wide switch that tcpdump also turns on). One socket that asks,
// open for the life of the process, makes NFQUEUE pass each packet's stamp.
void want_receive_timestamps() {
  static const int holder = [] {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    return fd;
  }();
  (void)holder;
}
}  // namespace

NfQueue::NfQueue(const netns::Namespace& ns, std::uint16_t number, std::uint32_t max_len)
    : number_(number), max_len_(max_len), buffer_(kBufferSize), pending_(kVerdictBuffer) {
  if (const char* b = std::getenv("TCPFAULT_NO_VERDICT_BATCH"); b && *b) batching_ = false;
  if (max_len == 0) throw Error("NFQUEUE queue length must be at least 1");
  ns.run([&] { nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC); });
  if (!nl_) throw_errno("open netfilter netlink socket in " + ns.name());
  if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
    int err = errno;
    mnl_socket_close(nl_);
    throw SystemError("bind netfilter netlink socket", err);
  }
  portid_ = mnl_socket_get_portid(nl_);
  int size = kSocketBuffer;
  // Big buffer so that a burst does not overrun us; FORCE needs CAP_NET_ADMIN, which we have.
  ::setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);

  try {
    configure("bind", [](nlmsghdr* nlh) { nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND); });
    // No NFQA_CFG_F_FAIL_OPEN: with it the kernel would let a packet that finds the
    // queue full through unseen and count it nowhere. Without it the packet is dropped
    // and counted (queue_dropped), which the harness reads and reports.
    configure("set copy mode", [max_len](nlmsghdr* nlh) {
      nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
      nfq_nlmsg_cfg_put_qmaxlen(nlh, max_len);
    });
  } catch (...) {
    mnl_socket_close(nl_);
    throw;
  }
  want_receive_timestamps();
  int fd = mnl_socket_get_fd(nl_);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

NfQueue::~NfQueue() {
  if (nl_) mnl_socket_close(nl_);  // the kernel unbinds the queue with the socket
}

int NfQueue::fd() const { return mnl_socket_get_fd(nl_); }

void NfQueue::configure(const char* what, const std::function<void(nlmsghdr*)>& fill) {
  char buf[kConfigBuffer];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number_);
  nlh->nlmsg_flags |= NLM_F_ACK;
  fill(nlh);
  if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0)
    throw_errno(std::string("NFQUEUE ") + what + " queue " + std::to_string(number_));
  // The kernel answers synchronously: the ACK (or error) is already waiting.
  int n = mnl_socket_recvfrom(nl_, buf, sizeof buf);
  if (n < 0) throw_errno(std::string("NFQUEUE ") + what + " reply");
  if (mnl_cb_run(buf, n, 0, portid_, nullptr, nullptr) < 0) {
    int err = errno;
    if (err == EBUSY || err == EPERM)
      throw Error("NFQUEUE queue " + std::to_string(number_) +
                  " is busy: another program is already bound to it in the middlebox namespace "
                  "(choose another queue number)");
    throw SystemError(std::string("NFQUEUE ") + what + " queue " + std::to_string(number_), err,
                      "is the nfnetlink_queue module available?");
  }
}

std::size_t NfQueue::receive(const std::function<void(const Message&)>& on_packet) {
  std::size_t count = 0;
  while (true) {
    ssize_t n = mnl_socket_recvfrom(nl_, buffer_.data(), buffer_.size());
    // The stamps are CLOCK_REALTIME; the trace is on CLOCK_MONOTONIC.
    timespec real{}, mono{};
    clock_gettime(CLOCK_REALTIME, &real);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    const std::int64_t real_minus_mono = ns_of(real) - ns_of(mono);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return count;
      if (errno == ENOBUFS) {
        ++overruns_;
        continue;
      }
      if (errno == EINTR) continue;
      throw_errno("read from NFQUEUE queue " + std::to_string(number_));
    }
    // Every message of the datagram is looked at: an error reply among them (a refused
    // verdict) must not hide the packets after it.
    int left = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buffer_.data()); mnl_nlmsg_ok(nlh, left);
         nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error != 0) ++verdict_errors_;
        continue;
      }
      if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) continue;
      nlattr* attr[NFQA_MAX + 1] = {};
      if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) continue;
      auto* hdr = static_cast<nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
      Message m;
      m.id = ntohl(hdr->packet_id);
      if (attr[NFQA_PAYLOAD])
        m.packet = {static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                    mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
      if (attr[NFQA_TIMESTAMP] && mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >= sizeof(nfqnl_msg_packet_timestamp)) {
        // Netlink aligns attributes to 4 bytes only: copied out, not read in place.
        nfqnl_msg_packet_timestamp ts;
        std::memcpy(&ts, mnl_attr_get_payload(attr[NFQA_TIMESTAMP]), sizeof ts);
        const std::int64_t stamp = std::int64_t(be64toh(ts.sec)) * 1'000'000'000 + std::int64_t(be64toh(ts.usec)) * 1000;
        if (stamp) m.queued_ns = stamp - real_minus_mono;
      }
      ++count;
      on_packet(m);
    }
  }
}

void NfQueue::accept(std::uint32_t id) { send_verdict(id, NF_ACCEPT, {}); }
void NfQueue::drop(std::uint32_t id) { send_verdict(id, NF_DROP, {}); }
void NfQueue::accept_rewritten(std::uint32_t id, std::span<const std::uint8_t> packet) {
  send_verdict(id, NF_ACCEPT, packet);
}

void NfQueue::send_verdict(std::uint32_t id, int verdict, std::span<const std::uint8_t> packet) {
  // Verdicts wait in one buffer and go to the kernel together (flush): one system call
  // per batch of packets instead of one per packet.
  const std::size_t need = MNL_ALIGN(sizeof(nlmsghdr)) + 64 + MNL_ALIGN(packet.size());
  if (pending_len_ + need > pending_.size()) flush();
  if (need > pending_.size()) pending_.resize(need);
  nlmsghdr* nlh = nfq_nlmsg_put(pending_.data() + pending_len_, NFQNL_MSG_VERDICT, number_);
  nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), verdict);
  if (!packet.empty()) nfq_nlmsg_verdict_put_pkt(nlh, packet.data(), packet.size());
  pending_len_ += MNL_ALIGN(nlh->nlmsg_len);
  if (!batching_) flush();
}

void NfQueue::flush() {
  if (pending_len_ == 0) return;
  std::size_t len = std::exchange(pending_len_, 0);
  if (mnl_socket_sendto(nl_, pending_.data(), len) < 0)
    throw_errno("send " + std::to_string(len) + " bytes of NFQUEUE verdicts to queue " + std::to_string(number_));
}

}  // namespace tcpfault
