#include "harness/agent/agent_client.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "harness/agent/agent_lines.h"
#include "netns/error.h"

namespace tcpfault {

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr milliseconds kExitAfterBye{2000};
constexpr milliseconds kExitAfterEof{1000};  // to report how it ended, not only that it did

std::string indent(const std::string& text) {
  std::string out = "    ";
  for (char c : text) {
    out += c;
    if (c == '\n') out += "    ";
  }
  return out;
}

}  // namespace

AgentClient::AgentClient(std::string who, std::string side_label, UniqueFd control)
    : who_(std::move(who)), side_label_(std::move(side_label)), control_(std::move(control)) {}

AgentClient::~AgentClient() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (!ended_) ended_ = "the harness let go of the agent";
  }
  changed_.notify_all();
  if (process_) process_->kill();
  if (control_.valid()) ::shutdown(control_.get(), SHUT_RDWR);  // ends the reader's read
  if (reader_.joinable()) reader_.join();
  process_.reset();  // joins its parent thread, which calls back into this object
}

void AgentClient::start(const AgentSpawn& spawn, std::function<void(const Json&)> on_event) {
  on_event_ = std::move(on_event);
  process_ = std::make_unique<AgentProcess>(spawn, [this](const std::string& how) { on_exit(how); });
  reader_ = std::thread([this] { read_lines(); });
}

std::optional<std::string> AgentClient::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void AgentClient::throw_failure() const {
  std::unique_lock lock(mu_);
  // A failure being recorded is complete once the agent is dead; a session that ended
  // first has no failure to report.
  changed_.wait(lock, [this] { return failure_.has_value() || (!failing_ && ended_); });
  if (failure_) throw TargetFailure(*failure_);
  throw Error(side_label_ + ": the agent was stopped (" + *ended_ + ")");
}

void AgentClient::fail(const std::string& what) {
  mark_failed(what);
  throw_failure();
}

void AgentClient::mark_failed(const std::string& what) {
  std::string outstanding;
  {
    std::lock_guard lock(mu_);
    if (failing_ || failure_ || ended_) return;
    failing_ = true;
    for (const auto& [id, p] : pending_)
      if (!p.reply) outstanding += (outstanding.empty() ? "" : ", ") + ("`" + p.cmd + "` (request " + std::to_string(id) + ")");
  }
  changed_.notify_all();
  if (process_) process_->kill();  // also makes its stderr complete
  std::string report = "target failure: " + who_ + " " + what;
  if (!outstanding.empty()) report += "; waiting for: " + outstanding;
  if (process_) {
    if (auto status = process_->exit_status(); status && what.find(*status) == std::string::npos)
      report += " (the agent " + *status + ")";
    std::string tail = process_->stderr_tail();
    report += tail.empty() ? "\n  its stderr (" + process_->log_path() + ") is empty"
                           : "\n  its stderr (" + process_->log_path() + ") ends with:\n" + indent(tail);
  }
  {
    std::lock_guard lock(mu_);
    failure_ = report;
  }
  changed_.notify_all();
}

void AgentClient::on_exit(const std::string& how) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
  }
  mark_failed("crashed: it " + how);
}

AgentClient::Write AgentClient::write_line(const std::string& line, SteadyClock::time_point deadline) {
  std::lock_guard lock(write_mu_);
  std::size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::send(control_.get(), line.data() + off, line.size() - off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      off += n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return Write::Closed;  // EPIPE: it closed the socket
    auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
    if (left <= 0) return Write::Timeout;
    pollfd p{control_.get(), POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(left));
  }
  return Write::Sent;
}

Json AgentClient::request(const std::string& cmd, Json args, milliseconds deadline, bool unsupported_is_reply) {
  Json message = args.is_object() ? std::move(args) : Json::object();
  std::int64_t id;
  {
    std::unique_lock lock(mu_);
    if (failing_ || failure_) {
      lock.unlock();
      throw_failure();
    }
    if (ended_) throw Error(side_label_ + ": `" + cmd + "` after the agent was stopped (" + *ended_ + ")");
    id = next_id_++;
    pending_[id] = Pending{cmd, std::nullopt};
  }
  message["id"] = id;
  message["cmd"] = cmd;
  const auto until = SteadyClock::now() + deadline;
  if (Write w = write_line(message.dump() + "\n", until); w != Write::Sent) {
    const bool closed = w == Write::Closed;
    {
      std::lock_guard lock(mu_);
      pending_.erase(id);
    }
    if (closed) {
      // It closed its end: it is exiting or gone. Say how it ended if it does so soon.
      process_->wait_exit(kExitAfterEof);
      auto status = process_->exit_status();
      mark_failed("crashed: " + (status ? "it " + *status : std::string("it closed its control socket")) +
                  " (sending `" + cmd + "` failed)");
    } else {
      mark_failed("hung: it read no request for " + std::to_string(deadline.count()) + " ms (`" + cmd +
                  "` could not be sent)");
    }
    throw_failure();
  }

  std::unique_lock lock(mu_);
  bool answered = changed_.wait_until(lock, until, [&] {
    return pending_.at(id).reply.has_value() || failing_ || failure_ || ended_;
  });
  Pending done = std::move(pending_.at(id));
  pending_.erase(id);
  if (!done.reply) {
    lock.unlock();
    if (answered) {  // the session failed or ended while this request waited
      throw_failure();
    }
    mark_failed("hung: no reply to `" + cmd + "` (request " + std::to_string(id) + ") within " +
                std::to_string(deadline.count()) + " ms");
    throw_failure();
  }
  lock.unlock();
  Json reply = std::move(*done.reply);
  if (reply.contains("error")) {
    std::string kind = reply["error"].is_string() ? reply["error"].get<std::string>() : reply["error"].dump();
    std::string text = reply.contains("message") && reply["message"].is_string() ? reply["message"].get<std::string>() : "";
    if (kind == "unsupported" && unsupported_is_reply) return reply;
    if (kind == "unsupported")
      throw NotApplicable(side_label_ + " cannot do `" + cmd + "` (the agent says: " + text + ")");
    std::string versions = reply.contains("versions") ? " (it speaks versions " + reply["versions"].dump() + ")" : "";
    mark_failed("answered `" + cmd + "` (request " + std::to_string(id) + ") with protocol error '" + kind + "': " +
                text + versions);
    throw_failure();
  }
  return reply;
}

void AgentClient::read_lines() {
  std::string buffer;
  char chunk[64 * 1024];
  while (true) {
    ssize_t n = ::recv(control_.get(), chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buffer.append(chunk, n);
    for (const std::string& line : take_agent_lines(buffer)) on_line(line);
    if (buffer.size() > kAgentMaxLine) {
      mark_failed("sent garbage: a line longer than 1 MiB");
      return;
    }
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_ || failing_ || failure_ || ended_) return;
  }
  // End of file while the scenario runs: a crash. Report how it ended if it ends soon.
  process_->wait_exit(kExitAfterEof);
  auto status = process_->exit_status();
  mark_failed("crashed: " + (status ? "it " + *status : std::string("it closed its control socket (it still runs)")));
}

void AgentClient::on_line(const std::string& line) {
  AgentLine read = read_agent_line(line);
  switch (read.kind) {
    case AgentLine::Kind::Garbage:
    case AgentLine::Kind::RequestError: return mark_failed(read.problem);
    case AgentLine::Kind::Event:
      try {
        if (on_event_) on_event_(read.message);
      } catch (const std::exception& e) {
        mark_failed("sent garbage: an event the harness cannot read (" + std::string(e.what()) + "): " +
                    quote_agent_line(line));
      }
      return;
    case AgentLine::Kind::Reply: break;
  }
  std::string problem;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(read.id);
    if (it == pending_.end() || it->second.reply) {
      problem = "a reply to id " + std::to_string(read.id) + ", which is not an outstanding request";
    } else if (!read.has_outcome) {
      problem = "a reply to `" + it->second.cmd + "` (request " + std::to_string(read.id) +
                ") with neither a boolean \"ok\" nor \"error\"";
    } else {
      it->second.reply = std::move(read.message);
    }
  }
  if (!problem.empty()) return mark_failed("sent garbage: " + problem + ": " + quote_agent_line(line));
  changed_.notify_all();
}

std::string AgentClient::stop(const std::string& why, bool say_bye) {
  {
    std::lock_guard lock(mu_);
    if (ended_ || stopping_) return "";
    stopping_ = true;
  }
  std::string note;
  if (say_bye && !failure() && running()) {
    try {
      request("bye", Json::object(), kAgentGrace);
      if (!process_->wait_exit(kExitAfterBye))
        note = "the agent did not exit within " + std::to_string(kExitAfterBye.count()) + " ms of bye: killed";
    } catch (const std::exception& e) {
      note = std::string("bye: ") + e.what();
    }
  }
  if (process_) process_->kill();
  {
    std::lock_guard lock(mu_);
    ended_ = why;
  }
  changed_.notify_all();
  ::shutdown(control_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
  return note;
}

}  // namespace tcpfault
