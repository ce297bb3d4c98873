// tcpfault's version, as the outputs name it (the pcapng section, the JSON timeline).
// It is the project() version of the top CMakeLists.txt; harness/trace/tests checks
// that the two agree.
#pragma once

namespace tcpfault {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace tcpfault
