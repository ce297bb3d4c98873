// Whether lwIP knows an IPv6 default router yet.
//
// lwIP 2.1 learns its IPv6 default router only from a Router Advertisement; tcpfault
// sends one right after the hello reply. Until lwIP has processed it, a segment to an
// off-link address (the client's subnet) has no next hop and is dropped (ERR_RTE), and
// the connection waits for its retransmission timer. So a connect to an off-link
// address first waits (briefly) for the router.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

namespace tcpfault::lwip_agent {

class Ipv6RouterWatch {
 public:
  // `learned` runs once, core lock held, with the router's address when it is learned.
  explicit Ipv6RouterWatch(std::function<void(const std::string&)> learned) : learned_(std::move(learned)) {}
  // Core lock held: notices a router that lwIP has just added.
  void check_locked();
  // True once lwIP has a default router; waits for one until `deadline`.
  bool wait(std::chrono::steady_clock::time_point deadline);

 private:
  std::function<void(const std::string&)> learned_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool known_ = false;
};

}  // namespace tcpfault::lwip_agent
