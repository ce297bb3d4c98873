#include "harness/observe/shared_tracepoint.h"

#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string_view>

#include "harness/observe/bpf_observer.h"
#include "netns/error.h"

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
    {
      std::lock_guard start(start_mu_);
      if (!bpf_ && !perf_) open();
    }
    std::lock_guard lock(sinks_mu_);
    sinks_[next_id_] = std::move(sink);
    return next_id_++;
  }

  void unsubscribe(std::uint64_t id) {
    std::lock_guard lock(sinks_mu_);  // waits for a delivery in progress to that sink
    sinks_.erase(id);
  }

  void drain() {
    BpfObserver* bpf;
    StateTracepoint* perf;
    {
      std::lock_guard start(start_mu_);
      bpf = bpf_.get();
      perf = perf_.get();
    }
    if (bpf) bpf->drain();
    if (perf) perf->drain();
  }

  const ObserverChoice& choice() const { return choice_; }  // set before any subscriber exists

  std::uint64_t lost() const {
    std::lock_guard start(start_mu_);
    return bpf_ ? bpf_->lost() : perf_ ? perf_->lost() : 0;
  }

 private:
  void open() {
    const char* env = std::getenv("TCPFAULT_OBSERVER");
    const std::string_view want = env ? env : "auto";
    if (want != "auto" && want != "bpf" && want != "perf")
      throw Error("TCPFAULT_OBSERVER must be auto, bpf or perf, not '" + std::string(want) + "'");
    auto sink = [this](const Transition& t) { deliver(t); };
    if (want != "perf") {
      try {
        bpf_ = std::make_unique<BpfObserver>(sink);
        choice_ = {true, "bpf", "", bpf_->load_ms()};
        return;
      } catch (const Error& e) {
        if (want == "bpf") throw Error(std::string(e.what()) + " (TCPFAULT_OBSERVER=bpf allows no fallback)");
        choice_.why = e.what();
      }
    } else {
      choice_.why = "TCPFAULT_OBSERVER=perf";
    }
    const auto start = std::chrono::steady_clock::now();
    perf_ = std::make_unique<StateTracepoint>(sink);
    choice_.exact = false;
    choice_.name = "perf";
    choice_.load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }

  void deliver(const Transition& t) {
    std::lock_guard lock(sinks_mu_);
    for (auto& [id, sink] : sinks_) sink(t);
  }

  mutable std::mutex start_mu_;
  std::unique_ptr<BpfObserver> bpf_;
  std::unique_ptr<StateTracepoint> perf_;
  ObserverChoice choice_;
  std::mutex sinks_mu_;
  std::map<std::uint64_t, StateTracepoint::Sink> sinks_;
  std::uint64_t next_id_ = 1;
};

}  // namespace

TracepointSubscription::TracepointSubscription(StateTracepoint::Sink sink)
    : id_(Hub::instance().subscribe(std::move(sink))) {}

TracepointSubscription::~TracepointSubscription() { Hub::instance().unsubscribe(id_); }

void TracepointSubscription::drain() { Hub::instance().drain(); }

const ObserverChoice& TracepointSubscription::choice() const { return Hub::instance().choice(); }

std::uint64_t TracepointSubscription::lost() const { return Hub::instance().lost(); }

}  // namespace tcpfault
