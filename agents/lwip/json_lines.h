// Line-delimited JSON over the control socket: whole lines in, whole lines out.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace tcpfault::lwip_agent {

using Json = nlohmann::ordered_json;

// The protocol's limit for one message, newline excluded.
inline constexpr std::size_t kMaxLine = std::size_t{1} << 20;

// Reads lines from a blocking stream fd.
class LineReader {
 public:
  enum class Status { Line, TooLong, Eof };
  explicit LineReader(int fd, std::size_t max_line = kMaxLine) : fd_(fd), max_line_(max_line) {}
  // The next line without its '\n'. A line longer than max_line is reported once as
  // TooLong and skipped up to its end. Eof at end of file or a read error.
  Status next(std::string& line);

 private:
  bool fill();
  int fd_;
  std::size_t max_line_;
  std::string buf_;
  std::size_t start_ = 0;
  bool skipping_ = false;
};

// Every line the agent sends goes through one queue, in the order it was queued, and is
// written by one thread: a sender (a request thread, or the state scan inside lwIP's
// core lock) never blocks on the socket. A write error means tcpfault is gone: the
// agent exits.
class LineWriter {
 public:
  explicit LineWriter(int fd);
  ~LineWriter();
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  void send(const Json& message);
  // Returns once every line queued before the call is written.
  void flush();

 private:
  void run();
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::size_t queued_ = 0, written_ = 0;
  std::thread thread_;
};

}  // namespace tcpfault::lwip_agent
