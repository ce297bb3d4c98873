// What an endpoint made (listeners, connections, accepted ones), so that it can close
// all that is still open when the scenario ends: a later call on a handle then says so
// instead of reaching into a topology being torn down.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace tcpfault {

struct SocketRegistry {
  std::mutex mu;
  std::vector<std::function<void(const std::string&)>> closers;

  void add(std::function<void(const std::string&)> close) {
    std::lock_guard lock(mu);
    closers.push_back(std::move(close));
  }
  void close_all(const std::string& why) {
    std::lock_guard lock(mu);
    for (auto& close : closers) close(why);
    closers.clear();
  }
};

}  // namespace tcpfault
