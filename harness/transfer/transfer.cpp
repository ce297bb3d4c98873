#include "harness/transfer/transfer.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "harness/trace/trace_queries.h"
#include "netns/error.h"

namespace tcpfault {

std::string TransferReport::stall_description() const {
  char text[96];
  std::snprintf(text, sizeof text, "nothing moved, and the middlebox lost none of its segments, for %.1f s",
                double(stall.count()) / 1000);
  return text;
}

double TransferReport::throughput_mb_s() const {
  return duration_ns > 0 ? double(bytes_received) / 1e6 / seconds() : 0.0;
}

bool TransferReport::intact() const {
  return !first_bad && bytes_received == bytes_expected && (eof || !expect_eof) && !send_errno &&
         !recv_errno && stopped.empty() && !deadline_passed && !stalled;
}

std::string TransferReport::describe() const {
  char rate[48];
  std::snprintf(rate, sizeof rate, " in %.3f s (%.2f MB/s)", seconds(), throughput_mb_s());
  std::string out = std::to_string(bytes_expected) + " bytes (seed " + std::to_string(seed) + ") " + sender +
                    " -> " + receiver + ": " + (intact() ? "intact" : "NOT intact") + "; sent " +
                    std::to_string(bytes_sent) + ", received " + std::to_string(bytes_received) + rate +
                    (eof ? ", EOF" : expect_eof ? ", no EOF" : "");
  if (send_errno) out += ", send failed: " + errno_name(send_errno);
  if (recv_errno) out += ", recv failed: " + errno_name(recv_errno);
  if (deadline_passed) out += ", deadline passed";
  if (stalled) out += ", stalled: " + stall_description();
  if (!stopped.empty()) out += ", stopped: " + stopped;
  if (first_bad) out += "; first bad byte: " + first_bad->describe();
  return out;
}

Transfer::Transfer(const Connection& sender, const Connection& receiver, TransferOptions options,
                   std::shared_ptr<Trace> trace)
    : options_(options),
      trace_(std::move(trace)),
      sender_host_(sender.host()),
      receiver_host_(receiver.host()),
      sender_tuple_(sender.tuple()) {
  if (!(receiver.tuple() == sender.tuple().reversed()) || sender.host() == receiver.host())
    throw Error("transfer: the sender and the receiver must be the two ends of one connection, not " +
                sender.ref().str() + " and " + receiver.ref().str());
  if (options_.timeout.count() <= 0)
    throw Error("transfer: the timeout must be positive, got " + std::to_string(options_.timeout.count()) + " ms");
  if (options_.stall.count() < 0)
    throw Error("transfer: the stall timeout must be positive (or 0 for none), got " +
                std::to_string(options_.stall.count()) + " ms");
  if (options_.chunk == 0) throw Error("transfer: the chunk size must be positive");
  send_stream_ = sender.stream("transfer");
  recv_stream_ = receiver.stream("transfer");
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_.valid()) throw_errno("eventfd for a transfer");

  report_.sender = sender.ref().str();
  report_.receiver = receiver.ref().str();
  report_.seed = options_.seed;
  report_.bytes_expected = options_.bytes;
  report_.expect_eof = options_.shutdown;
  report_.stall = options_.stall;
  label_ = "transfer of " + std::to_string(options_.bytes) + " bytes (seed " + std::to_string(options_.seed) + ")";
  trace_->note(label_ + " from " + netns::to_string(sender_host_) + " to " + netns::to_string(receiver_host_) +
               " started");
  start_ns_ = mono_now_ns();
  clock_.emplace(Clock::now(), options_.timeout, options_.stall);
  sender_thread_ = std::thread([this] { send_side(); });
  receiver_thread_ = std::thread([this] { receive_side(); });
}

Transfer::~Transfer() {
  stop("the transfer was discarded");
  if (sender_thread_.joinable()) sender_thread_.join();
  if (receiver_thread_.joinable()) receiver_thread_.join();
}

void Transfer::stop(const std::string& why) {
  {
    std::lock_guard lock(mu_);
    if (sides_running_ == 0 || !report_.stopped.empty()) return;
    report_.stopped = why;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(stop_fd_.get(), &one, sizeof one);
}

bool Transfer::wait_for(milliseconds limit) {
  std::unique_lock lock(mu_);
  return ended_.wait_for(lock, limit, [this] { return sides_running_ == 0; });
}

const TransferReport& Transfer::wait_quietly() {
  std::unique_lock lock(mu_);
  ended_.wait(lock, [this] { return sides_running_ == 0; });
  return report_;  // complete, and no side writes it any more
}

const TransferReport& Transfer::wait() {
  const TransferReport& r = wait_quietly();
  if (failure_) std::rethrow_exception(failure_);
  return r;
}

void Transfer::note_expiry(TransferClock::Expiry expiry) {
  report_.deadline_passed |= expiry == TransferClock::Expiry::Deadline;
  report_.stalled |= expiry == TransferClock::Expiry::Stalled;
}

TransferClock::Expiry Transfer::expired(Clock::time_point now) {
  auto expiry = clock_->expired(now);
  if (expiry != TransferClock::Expiry::Stalled) return expiry;
  note_losses_on_wire();
  return clock_->expired(now);
}

void Transfer::note_losses_on_wire() {
  // A segment the middlebox lost leaves its sender waiting on its retransmission timer,
  // which Linux lets grow to 120 s with no RTT sample to reset it (Karn's rule): the
  // silence after a loss is the fault's, not a hung stack's. A segment that arrived and
  // drew no answer is not excused.
  std::int64_t latest = 0;
  const Match of_it = Match().of_connection(sender_tuple_);
  std::lock_guard lock(wire_mu_);
  wire_seen_ = trace_->visit_segments(wire_seen_, [&](const SegmentEvent& s) {
    if (dropped(s) && of_it.matches(view_of(s))) latest = std::max(latest, s.arrived_ns());
  });
  if (latest)
    clock_->progress(Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(latest))));
}

void Transfer::side_failed(std::exception_ptr e) {
  std::lock_guard lock(mu_);
  if (!failure_) failure_ = e;
  if (report_.stopped.empty()) report_.stopped = "a side's stack failed";
}

bool Transfer::stopping() const {
  std::lock_guard lock(mu_);
  return !report_.stopped.empty();
}

void Transfer::side_done() {
  // The last side notes the outcome before anyone waiting is told it ended.
  std::string summary;
  {
    std::lock_guard lock(mu_);
    if (++sides_finished_ == 2) summary = label_ + " ended: " + report_.describe();
  }
  if (!summary.empty()) trace_->note(summary);
  {
    std::lock_guard lock(mu_);
    --sides_running_;
  }
  ended_.notify_all();
}

void Transfer::send_side() {
  BytePattern pattern(options_.seed);
  std::vector<std::uint8_t> buf(options_.chunk);
  std::uint64_t sent = 0;
  std::size_t filled = 0, done = 0;  // of buf: bytes of the pattern in it, bytes of those sent
  int err = 0;
  auto expiry = TransferClock::Expiry::None;
  while (sent < options_.bytes && !stopping()) {
    if (done == filled) {
      filled = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), options_.bytes - sent));
      pattern.fill(sent, std::span(buf).first(filled));
      done = 0;
    }
    StreamSide::Io io;
    try {
      io = send_stream_->send(std::span<const std::uint8_t>(buf).subspan(done, filled - done), clock_->wait_until(),
                              stop_fd_.get());
    } catch (...) {  // the agent running this end broke: wait() rethrows it
      side_failed(std::current_exception());
      break;
    }
    done += io.bytes;
    sent += io.bytes;
    if (io.bytes > 0) clock_->progress(Clock::now());
    if (io.err) {
      err = io.err;
      break;
    }
    if (io.bytes == 0 && (expiry = expired(Clock::now())) != TransferClock::Expiry::None) break;
  }
  if (sent == options_.bytes && options_.shutdown) {
    try {
      err = send_stream_->shutdown_write();
    } catch (...) {
      side_failed(std::current_exception());
    }
  }
  auto now = mono_now_ns();
  trace_->add(CallEvent{now, now - start_ns_, sender_host_,
                        "transfer send(" + std::to_string(options_.bytes) + ", seed " + std::to_string(options_.seed) +
                            ")" + (options_.shutdown && sent == options_.bytes ? " + shutdown(SHUT_WR)" : ""),
                        err ? -1 : static_cast<long>(sent), err});
  {
    std::lock_guard lock(mu_);
    report_.bytes_sent = sent;
    report_.send_errno = err;
    note_expiry(expiry);
  }
  side_done();
}

void Transfer::receive_side() {
  PatternChecker checker(options_.seed, options_.bytes);
  std::vector<std::uint8_t> buf(options_.chunk);
  int err = 0;
  bool eof = false, stopped = false;
  auto expiry = TransferClock::Expiry::None;
  while (true) {
    if (!options_.shutdown && checker.received() >= options_.bytes) break;
    if (stopping()) {
      stopped = true;
      break;
    }
    StreamSide::Io io;
    try {
      io = recv_stream_->recv(buf, clock_->wait_until(), stop_fd_.get());
    } catch (...) {
      side_failed(std::current_exception());
      stopped = true;
      break;
    }
    if (io.bytes > 0) {
      clock_->progress(Clock::now());
      checker.feed(std::span(buf).first(io.bytes));
      continue;
    }
    if (io.eof) {
      eof = true;
      break;
    }
    if (io.err) {
      err = io.err;
      break;
    }
    if ((expiry = expired(Clock::now())) != TransferClock::Expiry::None) break;
  }
  auto now = mono_now_ns();
  std::string ended = eof ? "EOF" : err ? "recv failed: " + errno_name(err) : stopped ? "stopped" : "all bytes read";
  if (expiry == TransferClock::Expiry::Deadline) ended = "deadline passed";
  if (expiry == TransferClock::Expiry::Stalled) ended = "stalled: " + report_.stall_description();
  checker.finish(ended);
  trace_->add(CallEvent{now, now - start_ns_, receiver_host_,
                        "transfer recv(" + std::to_string(options_.bytes) + ", seed " + std::to_string(options_.seed) +
                            ")" + (eof ? " to EOF" : ""),
                        err ? -1 : static_cast<long>(checker.received()), err});
  {
    std::lock_guard lock(mu_);
    report_.bytes_received = checker.received();
    report_.eof = eof;
    report_.recv_errno = err;
    note_expiry(expiry);
    report_.duration_ns = now - start_ns_;
    report_.first_bad = checker.first_bad();
  }
  side_done();
}

std::shared_ptr<Transfer> TransferSet::start(const Connection& sender, const Connection& receiver,
                                             TransferOptions options, std::shared_ptr<Trace> trace) {
  auto t = std::make_shared<Transfer>(sender, receiver, options, std::move(trace));
  std::lock_guard lock(mu_);
  std::erase_if(live_, [](const std::weak_ptr<Transfer>& w) { return w.expired(); });
  live_.push_back(t);
  return t;
}

void TransferSet::stop_all(const std::string& why) {
  std::vector<std::shared_ptr<Transfer>> running;
  {
    std::lock_guard lock(mu_);
    for (auto& w : live_)
      if (auto t = w.lock()) running.push_back(std::move(t));
    live_.clear();
  }
  for (auto& t : running) t->stop(why);
  for (auto& t : running) t->wait_quietly();
}

}  // namespace tcpfault
