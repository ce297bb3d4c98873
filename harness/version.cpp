#include "harness/version.h"

namespace tcpfault {

const char* version() { return TCPFAULT_VERSION; }

}  // namespace tcpfault
