// Measures the lwIP agent (not a test: it prints numbers).
//
//   start:   fork+exec of the agent to its hello reply (lwIP up with both families)
//   ->lwip:  10 MB from the kernel to lwIP, read through the agent (hex over JSON)
//   lwip->:  10 MB from lwIP to the kernel, written through the agent
//   echo:    10 MB from the kernel to lwIP and back through the agent, both at once
//
// Usage: lwip_agent_bench [MB]   (root; everything runs in throwaway namespaces)
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <unistd.h>

#include "agents/testing/agent_lab.h"

using namespace tcpfault;
using namespace tcpfault::agent_testing;

namespace {

// A thread whose exception is reported instead of terminating the bench.
template <class F>
std::jthread guarded(F f) {
  return std::jthread([f = std::move(f)] {
    try {
      f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lwip_agent_bench: kernel side: %s\n", e.what());
    }
  });
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

void bench_start(int runs) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    Lab lab(LabOptions{.start_agent = false});
    const auto t0 = Clock::now();
    AgentClient agent(lab.agent_ns(), lab.tap_fd(), agent_path());
    const Json r = agent.call(Lab::hello_request(), 5s);
    ms.push_back(seconds_since(t0) * 1000);
    if (!r.value("ok", false)) throw std::runtime_error("hello: " + r.dump());
  }
  std::sort(ms.begin(), ms.end());
  std::printf("start to hello reply: median %.1f ms, min %.1f ms, max %.1f ms (%d runs)\n", ms[ms.size() / 2], ms.front(),
              ms.back(), runs);
}

// Kernel -> lwIP: the kernel writes, the bench reads through the agent.
std::string agent_recv_all(AgentClient& agent, int conn, std::size_t n) {
  std::string got;
  while (got.size() < n) {
    const Json r = agent.call({{"cmd", "recv"}, {"conn", conn}, {"max", 262144}, {"timeout_ms", 5000}});
    if (!r.value("ok", false) || r.value("eof", false)) throw std::runtime_error("recv: " + r.dump());
    got += unhex(r["data"]);
  }
  return got;
}

void agent_send_all(AgentClient& agent, int conn, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const std::size_t chunk = std::min<std::size_t>(262144, data.size() - off);
    const Json r = agent.call({{"cmd", "send"}, {"conn", conn}, {"data", hex(data.substr(off, chunk))}, {"timeout_ms", 5000}});
    if (!r.value("ok", false)) throw std::runtime_error("send: " + r.dump());
    off += r["sent"].get<std::size_t>();
  }
}

void bench_throughput(std::size_t mb) {
  const std::size_t n = mb * 1000 * 1000;
  const std::string data = pattern(n);
  Lab lab;
  AgentClient& agent = lab.agent();
  const SockAddr at{Lab::agent_addr(Family::V4), 8000};
  const Json l = agent.call({{"cmd", "listen"}, {"address", at.addr.str()}, {"port", at.port}, {"backlog", 4}});
  auto open = [&] {
    UniqueFd k = peer::connect(lab.peer(), {Lab::client_addr(Family::V4), 0}, at);
    const Json a = agent.call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 3000}});
    return std::pair<int, UniqueFd>{a["conn"].get<int>(), std::move(k)};
  };

  {
    auto [conn, k] = open();
    const auto t0 = Clock::now();
    auto writer = guarded([&, fd = k.get()] { peer::send_all(fd, data, 60s); });
    const std::string got = agent_recv_all(agent, conn, n);
    writer.join();
    const double s = seconds_since(t0);
    std::printf("kernel -> lwIP (agent recv): %zu MB in %.2f s = %.1f MB/s%s\n", mb, s, n / s / 1e6,
                got == data ? "" : " (DATA MISMATCH)");
  }
  {
    auto [conn, k] = open();
    const auto t0 = Clock::now();
    std::string got;
    auto reader = guarded([&, fd = k.get()] { got = peer::recv_n(fd, n, 60s); });
    agent_send_all(agent, conn, data);
    reader.join();
    const double s = seconds_since(t0);
    std::printf("lwIP -> kernel (agent send): %zu MB in %.2f s = %.1f MB/s%s\n", mb, s, n / s / 1e6,
                got == data ? "" : " (DATA MISMATCH)");
  }
  {
    auto [conn, k] = open();
    const auto t0 = Clock::now();
    std::string back;
    auto writer = guarded([&, fd = k.get()] { peer::send_all(fd, data, 60s); });
    auto reader = guarded([&, fd = k.get()] { back = peer::recv_n(fd, n, 60s); });
    std::size_t echoed = 0;
    while (echoed < n) {
      const Json r = agent.call({{"cmd", "recv"}, {"conn", conn}, {"max", 262144}, {"timeout_ms", 5000}});
      if (!r.value("ok", false) || r.value("eof", false)) throw std::runtime_error("recv: " + r.dump());
      const std::string chunk = unhex(r["data"]);
      agent_send_all(agent, conn, chunk);
      echoed += chunk.size();
    }
    writer.join();
    reader.join();
    const double s = seconds_since(t0);
    std::printf("kernel -> lwIP -> kernel (echo through the agent): %zu MB in %.2f s = %.1f MB/s%s\n", mb, s,
                n / s / 1e6, back == data ? "" : " (DATA MISMATCH)");
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10;
  try {
    bench_start(20);
    bench_throughput(mb);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lwip_agent_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
