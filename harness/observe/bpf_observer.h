// The exact state observer: a BPF program (harness/observe/bpf/state_events.bpf.c) on kernel
// tracepoints writes every state a TCP socket of this machine passes into one BPF ring
// buffer, when it happens, with the kernel's CLOCK_MONOTONIC time: full sockets
// (sock:inet_sock_set_state), timewait minisockets (created for a closing socket, an
// orphan's FIN_WAIT2 -> TIME_WAIT, their end by timer, RST or reuse) and request
// sockets (SYN_RECV for a SYN, dropped or become a full socket). Records carry the
// socket's network namespace. KernelSteps turns them into steps of socket lives.
//
// One ring buffer, not one perf buffer per CPU: the records are in the kernel's order,
// and none is held back by an idle CPU. Everything is held by file descriptors: nothing
// is left behind when the process dies. Loading takes a few ms; like the perf reader,
// one per process is enough (shared_tracepoint.h).
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "harness/observe/kernel_steps.h"
#include "harness/observe/state_tracepoint.h"
#include "netns/unique_fd.h"

struct state_events;  // the libbpf skeleton
struct ring_buffer;

namespace tcpfault {

class BpfObserver {
 public:
  using Sink = StateTracepoint::Sink;
  // Loads and attaches the program and starts reading. Throws Error saying why it
  // cannot (no BTF, BPF not allowed, a tracepoint missing) so the caller can fall back.
  explicit BpfObserver(Sink sink);
  ~BpfObserver();
  BpfObserver(const BpfObserver&) = delete;
  BpfObserver& operator=(const BpfObserver&) = delete;

  // Delivers every record the kernel wrote before this call. Do not call it from the
  // sink. Rethrows what the sink threw on the reader thread.
  void drain();

  // Records the kernel could not write (the ring buffer or an object map was full), and
  // runs of the program the kernel skipped because it was already running on that CPU
  // (recursion misses). Any of these may be a step: the socket table then fills in.
  std::uint64_t lost() const;
  // Wall time the constructor took to open, load and attach the program.
  double load_ms() const { return load_ms_; }

  // The tracepoints it attaches to, for notes and reports.
  static const char* attached_to();

 private:
  void run();
  void consume();
  static int on_record(void* self, void* data, std::size_t size);

  KernelSteps steps_;
  state_events* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  UniqueFd wake_;
  std::mutex read_mutex_;
  std::exception_ptr failure_;
  double load_ms_ = 0;
  std::thread thread_;
};

}  // namespace tcpfault
