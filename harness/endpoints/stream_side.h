// One end of a connection as a bulk transfer drives it, from a thread of its own.
//
// A kernel end works on a duplicate of the socket; an agent's end sends requests in
// chunks. Each call waits for the stack at most until `until` (and, for the kernel,
// until `wake` - an eventfd - becomes readable), then returns what it did.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tcpfault {

class StreamSide {
 public:
  struct Io {
    std::size_t bytes = 0;  // sent or received
    int err = 0;            // the call failed with this errno
    bool eof = false;       // recv: the peer's FIN
  };
  virtual ~StreamSide() = default;
  // Io with nothing in it: no room or no data before `until` (or woken).
  virtual Io send(std::span<const std::uint8_t> data, std::chrono::steady_clock::time_point until, int wake) = 0;
  virtual Io recv(std::span<std::uint8_t> buf, std::chrono::steady_clock::time_point until, int wake) = 0;
  virtual int shutdown_write() = 0;  // 0 or errno
};

}  // namespace tcpfault
