// Not a test of the engine: a target that fails on any input with an 'X' in it, so that
// selftest.sh can show that run.sh reports a crash and keeps its input.
#include <cstdint>
#include <cstring>

#include "fuzz/check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FUZZ_CHECK(size == 0 || std::memchr(data, 'X', size) == nullptr);
  return 0;
}
