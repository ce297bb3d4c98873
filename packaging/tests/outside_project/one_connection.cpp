// One connection through tcpfault's middlebox and one expectation on it, written as an
// outside user would against the installed API. Exits 0 when the server's end is
// ESTABLISHED and the kernel's states came from the BPF observer compiled into the library.
#include <cstdio>
#include <exception>

#include "harness/scenario/scenario.h"

int main() {
  using namespace tcpfault;
  try {
    Scenario s({.family = Family::V4, .name = "outside-project"});
    auto listener = s.server().listen(s.server_at(8080));
    auto client = s.client().connect(s.server_at(8080));
    auto server = listener.accept();
    s.expect_state(server, TcpState::ESTABLISHED);
    const auto& observer = s.states().choice();
    if (observer.name != "bpf") {
      std::fprintf(stderr, "the states came from %s, not the BPF observer: %s\n", observer.name.c_str(),
                   observer.why.c_str());
      return 1;
    }
    std::printf("server end ESTABLISHED, observed by %s\n", observer.name.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
