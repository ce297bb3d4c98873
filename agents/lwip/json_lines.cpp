#include "agents/lwip/json_lines.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tcpfault::lwip_agent {

bool LineReader::fill() {
  if (start_ > 0) {
    buf_.erase(0, start_);
    start_ = 0;
  }
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n > 0) {
      buf_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

LineReader::Status LineReader::next(std::string& line) {
  for (;;) {
    const std::size_t nl = buf_.find('\n', start_);
    if (nl != std::string::npos) {
      const std::size_t len = nl - start_;
      const std::size_t from = start_;
      start_ = nl + 1;
      if (skipping_) {  // the tail of an over-long line, already reported
        skipping_ = false;
        continue;
      }
      if (len > max_line_) return Status::TooLong;
      line.assign(buf_, from, len);
      return Status::Line;
    }
    if (!skipping_ && buf_.size() - start_ > max_line_) {
      // Over the limit with no end yet: report it now and drop it as it comes.
      skipping_ = true;
      buf_.clear();
      start_ = 0;
      return Status::TooLong;
    }
    if (skipping_) {
      buf_.clear();
      start_ = 0;
    }
    if (!fill()) return Status::Eof;
  }
}

LineWriter::LineWriter(int fd) : fd_(fd), thread_([this] { run(); }) {}

LineWriter::~LineWriter() { thread_.detach(); }

void LineWriter::send(const Json& message) {
  std::string line = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  line.push_back('\n');
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(line));
  ++queued_;
  cv_.notify_all();
}

void LineWriter::flush() {
  std::unique_lock lock(mu_);
  const std::size_t target = queued_;
  cv_.wait(lock, [&] { return written_ >= target; });
}

void LineWriter::run() {
  for (;;) {
    std::string line;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty(); });
      line = std::move(queue_.front());
      queue_.pop_front();
    }
    std::size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::send(fd_, line.data() + off, line.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno == ENOTSOCK) n = ::write(fd_, line.data() + off, line.size() - off);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        std::fprintf(stderr, "tcpfault-lwip-agent: control socket write failed (%s): exiting\n",
                     n < 0 ? std::strerror(errno) : "closed");
        std::fflush(stderr);
        ::_exit(0);
      }
    }
    std::lock_guard lock(mu_);
    ++written_;
    cv_.notify_all();
  }
}

}  // namespace tcpfault::lwip_agent
