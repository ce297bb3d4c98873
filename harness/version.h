// tcpfault's version, as the outputs name it (the pcapng section, the JSON timeline): the
// project() version of the top CMakeLists.txt, which the build gives version.cpp.
#pragma once

namespace tcpfault {

const char* version();

}  // namespace tcpfault
