#include "harness/shared_tracepoint.h"

#include <map>
#include <mutex>

namespace tcpfault {

namespace {

class Hub {
 public:
  static Hub& instance() {
    // Never destroyed: the reader lives as long as the process, and the kernel
    // closes its fds at exit.
    static Hub* hub = new Hub();
    return *hub;
  }

  std::uint64_t subscribe(StateTracepoint::Sink sink) {
    std::lock_guard start(start_mu_);
    if (!reader_) reader_ = std::make_unique<StateTracepoint>([this](const Transition& t) { deliver(t); });
    std::lock_guard lock(sinks_mu_);
    sinks_[next_id_] = std::move(sink);
    return next_id_++;
  }

  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(sinks_mu_);  // waits for a delivery in progress to that sink
    sinks_.erase(id);
  }

  void drain() {
    StateTracepoint* reader;
    {
      std::lock_guard start(start_mu_);
      reader = reader_.get();
    }
    if (reader) reader->drain();
  }

 private:
  void deliver(const Transition& t) {
    std::lock_guard lock(sinks_mu_);
    for (auto& [id, sink] : sinks_) sink(t);
  }

  std::mutex start_mu_;
  std::unique_ptr<StateTracepoint> reader_;
  std::mutex sinks_mu_;
  std::map<std::uint64_t, StateTracepoint::Sink> sinks_;
  std::uint64_t next_id_ = 1;
};

}  // namespace

TracepointSubscription::TracepointSubscription(StateTracepoint::Sink sink)
    : id_(Hub::instance().subscribe(std::move(sink))) {}

TracepointSubscription::~TracepointSubscription() { Hub::instance().unsubscribe(id_); }

void TracepointSubscription::drain() { Hub::instance().drain(); }

}  // namespace tcpfault
