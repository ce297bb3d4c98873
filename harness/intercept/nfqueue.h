// The NFQUEUE reader: receives the packets the middlebox's FORWARD chain queues to
// us and gives each one its verdict (accept, drop, or accept a rewritten copy).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "netns/namespace.h"

struct mnl_socket;
struct nlmsghdr;

namespace tcpfault {

class NfQueue {
 public:
  // Binds queue `number` inside `ns`; the kernel keeps at most `max_len` packets
  // waiting for a verdict (held ones included) and drops what finds it full. Throws
  // Error if the queue is already bound by another program in that namespace
  // (choose another queue number).
  static constexpr std::uint32_t kDefaultMaxLen = 8192;
  NfQueue(const netns::Namespace& ns, std::uint16_t number, std::uint32_t max_len = kDefaultMaxLen);
  ~NfQueue();
  NfQueue(const NfQueue&) = delete;
  NfQueue& operator=(const NfQueue&) = delete;

  struct Message {
    std::uint32_t id = 0;
    std::span<const std::uint8_t> packet;  // valid during the callback only
    // When the middlebox's kernel received the packet (its receive timestamp, taken as
    // the sender's veth handed it over), on CLOCK_MONOTONIC; 0 if the kernel gave none.
    // Beside the time the verdict loop reads it, it tells a stalled harness apart from
    // a late sender.
    std::int64_t queued_ns = 0;
  };

  int fd() const;
  std::uint16_t number() const { return number_; }
  // Reads every message ready now (never blocks) and calls `on_packet` with each,
  // straight from the receive buffer (no copy). Returns how many there were.
  std::size_t receive(const std::function<void(const Message&)>& on_packet);
  // Verdicts are buffered: they reach the kernel at flush() (or when the buffer fills).
  void accept(std::uint32_t id);
  void drop(std::uint32_t id);
  void accept_rewritten(std::uint32_t id, std::span<const std::uint8_t> packet);
  // Sends the buffered verdicts in one message. Call it before anything whose order
  // against them matters (a packet sent from the middlebox) and before waiting.
  void flush();

  // Times the kernel could not hand us packets because our socket buffer was full
  // (netlink ENOBUFS). Each may stand for several packets that the kernel dropped.
  std::uint64_t overruns() const { return overruns_; }
  // Verdicts the kernel refused (an error message came back for them).
  std::uint64_t verdict_errors() const { return verdict_errors_; }
  std::uint32_t max_len() const { return max_len_; }

 private:
  void configure(const char* what, const std::function<void(::nlmsghdr*)>& fill);
  void send_verdict(std::uint32_t id, int verdict, std::span<const std::uint8_t> packet);

  mnl_socket* nl_ = nullptr;
  std::uint32_t portid_ = 0;
  std::uint16_t number_;
  // Read by other threads (stats) while the loop counts.
  std::atomic<std::uint64_t> overruns_{0};
  std::atomic<std::uint64_t> verdict_errors_{0};
  std::uint32_t max_len_;
  std::vector<char> buffer_;
  std::vector<char> pending_;  // verdicts not sent yet
  std::size_t pending_len_ = 0;
  bool batching_ = true;
};

}  // namespace tcpfault
