// The NFQUEUE reader: receives the packets the middlebox's FORWARD chain queues to
// us and gives each one its verdict (accept, drop, or accept a rewritten copy).
#pragma once

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
  // Binds queue `number` inside `ns`. Throws Error if the queue is already bound
  // by another program in that namespace (choose another queue number).
  NfQueue(const netns::Namespace& ns, std::uint16_t number);
  ~NfQueue();
  NfQueue(const NfQueue&) = delete;
  NfQueue& operator=(const NfQueue&) = delete;

  struct Message {
    std::uint32_t id = 0;
    std::vector<std::uint8_t> packet;
  };

  int fd() const;
  std::uint16_t number() const { return number_; }
  // Reads every message ready now (never blocks) and appends them to `out`.
  void receive(std::vector<Message>& out);
  void accept(std::uint32_t id);
  void drop(std::uint32_t id);
  void accept_rewritten(std::uint32_t id, std::span<const std::uint8_t> packet);

  // Times the kernel could not hand us packets because our socket buffer was full
  // (netlink ENOBUFS). Each may stand for several packets that the kernel dropped.
  std::uint64_t overruns() const { return overruns_; }

 private:
  void configure(const char* what, const std::function<void(::nlmsghdr*)>& fill);
  void send_verdict(std::uint32_t id, int verdict, std::span<const std::uint8_t> packet);

  mnl_socket* nl_ = nullptr;
  std::uint32_t portid_ = 0;
  std::uint16_t number_;
  std::uint64_t overruns_ = 0;
  std::vector<char> buffer_;
};

}  // namespace tcpfault
