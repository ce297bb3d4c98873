// The exact sequence of TCP state changes, from the sock:inet_sock_set_state
// tracepoint, read through perf_event_open (one ring buffer per CPU).
//
// The tracepoint is machine-wide; consumers filter by address. Everything is held by
// file descriptors, so nothing is left behind when the process dies. tracefs is only
// read (for the event id and field offsets); if it is not mounted, it is mounted in a
// private mount namespace of a short-lived child, never on the host.
//
// What the kernel records, and what it does not:
// - `socket` (the kernel's struct sock address) is the only stable identity: follow one
//   socket by it, not by its addresses, which change along the way.
// - CLOSED -> SYN_SENT is recorded before connect() chooses the local port, so its
//   local port is 0 unless bind() already chose one (bind() to port 0 does, unless
//   IP_BIND_ADDRESS_NO_PORT is set).
// - A passive open shows up as LISTEN -> SYN_RECV on the new child socket (its `from`
//   is the listener's state it was cloned from). Request sockets (NEW_SYN_RECV) are
//   not full sockets and produce no event.
// - Entering TIME_WAIT (or an orphaned FIN_WAIT2 becoming a minisocket), the full
//   socket records FIN_WAIT2 -> CLOSED or CLOSING -> CLOSED and is freed; the timewait
//   minisocket that replaces it produces no event at all, neither when created nor
//   when it expires. SockDiag sees it.
// - Only TCP events are delivered (the tracepoint also fires for SCTP and MPTCP).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness/tcp_state.h"
#include "netns/address.h"
#include "netns/unique_fd.h"

namespace tcpfault {

struct Transition {
  std::int64_t mono_ns = 0;    // CLOCK_MONOTONIC, same clock as the rest of the trace
  std::uint64_t socket = 0;    // the kernel's socket address: one socket's identity
  SockAddr local, remote;      // local port may be 0 in CLOSED -> SYN_SENT (see above);
                               // v4-mapped addresses are given as IPv4
  TcpState from = TcpState::CLOSED;
  TcpState to = TcpState::CLOSED;
  // Inode number of the socket's network namespace; 0 where the source cannot tell
  // (the perf tracepoint record has no namespace in it).
  std::uint32_t netns = 0;
  // What recorded it: "tracepoint" (perf), or what the BPF observer saw ("bpf: ...").
  std::string source = "tracepoint";
};

// The tracepoint's numeric id and the text of its `format` file.
struct TracepointDescription {
  std::uint64_t id = 0;
  std::string format;
};

// Reads sock/inet_sock_set_state from /sys/kernel/tracing or /sys/kernel/debug/tracing;
// when neither has it (or `private_mount` is set), from a tracefs mounted by a
// short-lived child in its own private mount namespace. Throws Error with the reason.
TracepointDescription describe_state_tracepoint(bool private_mount = false);

class StateTracepoint {
 public:
  using Sink = std::function<void(const Transition&)>;
  // Starts reading at once; `sink` is called from the reader thread, or from the thread
  // inside drain(), never from two at once. Within each batch read, events are sorted
  // by time across CPUs. Throws Error with a clear reason if not root, or if perf or
  // the tracepoint is missing or forbidden.
  explicit StateTracepoint(Sink sink);
  ~StateTracepoint();
  StateTracepoint(const StateTracepoint&) = delete;
  StateTracepoint& operator=(const StateTracepoint&) = delete;

  // Delivers every event recorded before this call to the sink before returning.
  // Do not call it from the sink. Rethrows what the sink threw on the reader thread
  // (which then stopped; drain() still works).
  void drain();

  // Records the kernel dropped because a ring buffer was full (0 unless overwhelmed).
  std::uint64_t lost() const { return lost_.load(); }

 private:
  struct Layout;  // field offsets from the tracepoint's format file
  struct Ring;    // one CPU's perf event and its mapped ring buffer
  void run();
  void read_all();

  Sink sink_;
  std::unique_ptr<Layout> layout_;
  std::vector<std::unique_ptr<Ring>> rings_;  // one per online CPU
  UniqueFd wake_;                             // eventfd that stops the thread
  std::mutex read_mutex_;
  std::atomic<std::uint64_t> lost_{0};
  std::exception_ptr failure_;  // thrown by the sink on the reader thread
  std::thread thread_;
};

}  // namespace tcpfault
