// One /proc/sys file, read or written whole on the calling thread.
//
// /proc/sys/net shows the network namespace of the thread that opens the file, so the
// caller must already be inside the namespace whose view it wants (Namespace::run).
#pragma once

#include <optional>
#include <string>

namespace tcpfault::netns {

struct ProcRead {
  std::optional<std::string> value;  // trailing newline removed
  int err = 0;                       // errno when there is no value
};

ProcRead read_proc_file(const std::string& path);

// Writes `value` and a newline in one write(2); returns 0 or the errno of the failure.
int write_proc_file(const std::string& path, const std::string& value);

}  // namespace tcpfault::netns
