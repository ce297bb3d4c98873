// Blocking socket calls with a deadline, made of non-blocking lwIP calls.
//
// Each call behaves as on a kernel socket whose SO_RCVTIMEO / SO_SNDTIMEO is the
// request's timeout_ms: accept, send and recv fail with EAGAIN at the deadline (send
// returns what it got rid of, if anything), connect with EINPROGRESS. Waiting happens in
// lwip_poll() slices of at most kWaitSlice, so that a close by another request is
// noticed (the call then fails with EBADF).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "agents/lwip/handle_table.h"
#include "netns/address.h"

namespace tcpfault::lwip_agent {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::milliseconds kWaitSlice{20};

// A non-blocking lwIP TCP socket of the family; throws SocketFailure.
int open_socket(Family family);
void set_blocking(int fd, bool blocking);
void bind_socket(int fd, const SockAddr& local);
SockAddr local_of(int fd);
SockAddr remote_of(int fd);

// Returns the accepted socket (non-blocking) and fills `remote`.
int accept_until(AgentSocket& listener, Clock::time_point deadline, SockAddr& remote);
// Sends the SYN; true if already connected. `fd` is not shared with any other request
// while it connects.
bool connect_start(int fd, const SockAddr& to);
// Waits for the handshake to finish.
void connect_wait(int fd, Clock::time_point deadline);
std::size_t send_until(AgentSocket& s, std::string_view data, Clock::time_point deadline);

struct Received {
  std::string data;
  bool eof = false;
};
Received recv_until(AgentSocket& s, std::size_t max, Clock::time_point deadline);

}  // namespace tcpfault::lwip_agent
