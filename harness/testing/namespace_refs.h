// Which network namespaces something on the machine still refers to: for tests that
// check that a scenario (and its agent) left nothing behind.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace tcpfault::testing_support {

// Every network namespace inode that something on the machine still refers to:
// a task's namespace, an open namespace fd, or a bind mount.
inline std::set<std::string> referenced_net_namespaces() {
  std::set<std::string> out;
  auto add_link = [&](const std::string& path) {
    char buf[128];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n > 0 && std::string(buf, n).rfind("net:[", 0) == 0) out.insert(std::string(buf, n));
  };
  auto list = [](const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') names.push_back(e->d_name);
      ::closedir(d);
    }
    return names;
  };
  for (const auto& pid : list("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    for (const auto& tid : list("/proc/" + pid + "/task")) add_link("/proc/" + pid + "/task/" + tid + "/ns/net");
    for (const auto& fd : list("/proc/" + pid + "/fd")) add_link("/proc/" + pid + "/fd/" + fd);
  }
  std::ifstream mounts("/proc/self/mountinfo");
  for (std::string line; std::getline(mounts, line);)
    if (line.find(" nsfs ") != std::string::npos) {
      auto at = line.find("net:[");
      if (at != std::string::npos) out.insert(line.substr(at, line.find(']', at) - at + 1));
    }
  return out;
}

}  // namespace tcpfault::testing_support
