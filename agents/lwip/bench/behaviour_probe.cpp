// Measures lwIP's TCP behaviours that the conformance suite depends on (not a test: it
// prints what it saw; docs/lwip-target.md records the results).
//
// Each measurement runs in its own lab (agent_lab.h), all at once. The probe watches the
// TAP's kernel side with a packet socket (every frame lwIP sends) and, to play a peer that
// answers only when told, injects frames from 198.18.1.77: an address no one owns, so
// lwIP's answers go to its gateway, the peer kernel, which drops them (forwarding off).
//
// Usage: lwip_behaviour_probe [name...]   (root; about three minutes for all)
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "agents/testing/agent_lab.h"
#include "harness/packet/packet.h"

using namespace tcpfault;
using namespace tcpfault::agent_testing;

namespace {

constexpr std::array<std::uint8_t, 6> kLwipMac = {0x02, 0x74, 0x66, 0x00, 0x00, 0x01};

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string fmt(const char* f, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, f, args...);
  return buf;
}

struct Seen {
  Clock::time_point t;
  Packet p;
};

// Every TCP segment lwIP writes into the TAP, and a way to write segments to lwIP.
class Wire {
 public:
  explicit Wire(const netns::Namespace& ns) {
    ns.run([&] {
      fd_.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
      if (!fd_.valid()) throw std::runtime_error("packet socket: " + std::string(std::strerror(errno)));
      ifindex_ = static_cast<int>(::if_nametoindex("tap0"));
      sockaddr_ll sll{};
      sll.sll_family = AF_PACKET;
      sll.sll_protocol = htons(ETH_P_ALL);
      sll.sll_ifindex = ifindex_;
      if (::bind(fd_.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0)
        throw std::runtime_error("bind packet socket: " + std::string(std::strerror(errno)));
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "tap0", IFNAMSIZ - 1);
      ::ioctl(fd_.get(), SIOCGIFHWADDR, &ifr);
      std::memcpy(tap_mac_.data(), ifr.ifr_hwaddr.sa_data, 6);
    });
    ::pipe2(stop_, O_CLOEXEC);
    thread_ = std::thread([this] { run(); });
  }
  ~Wire() {
    ::write(stop_[1], "x", 1);
    thread_.join();
    ::close(stop_[0]);
    ::close(stop_[1]);
  }

  void inject(const SegmentSpec& spec) {
    const Packet p = build_packet(spec);
    std::vector<std::uint8_t> frame(14 + p.bytes.size());
    std::copy(kLwipMac.begin(), kLwipMac.end(), frame.begin());
    std::copy(tap_mac_.begin(), tap_mac_.end(), frame.begin() + 6);
    frame[12] = p.family == Family::V4 ? 0x08 : 0x86;
    frame[13] = p.family == Family::V4 ? 0x00 : 0xdd;
    std::copy(p.bytes.begin(), p.bytes.end(), frame.begin() + 14);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    std::copy(kLwipMac.begin(), kLwipMac.end(), to.sll_addr);
    if (::sendto(fd_.get(), frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0)
      throw std::runtime_error("inject: " + std::string(std::strerror(errno)));
  }

  // Segments from lwIP so far that match.
  std::vector<Seen> from_lwip(const std::function<bool(const Packet&)>& match) const {
    std::lock_guard lock(mu_);
    std::vector<Seen> out;
    for (const auto& s : seen_)
      if (match(s.p)) out.push_back(s);
    return out;
  }
  // Waits for the n-th (1-based) matching segment from lwIP.
  Seen wait(const std::function<bool(const Packet&)>& match, Clock::duration within, std::size_t nth = 1) {
    std::unique_lock lock(mu_);
    std::vector<Seen> hits;
    const bool ok = cv_.wait_for(lock, within, [&] {
      hits.clear();
      for (const auto& s : seen_)
        if (match(s.p)) hits.push_back(s);
      return hits.size() >= nth;
    });
    if (!ok) throw std::runtime_error("the expected segment from lwIP did not come (" + std::to_string(hits.size()) + " of " + std::to_string(nth) + ")");
    return hits[nth - 1];
  }

 private:
  void run() {
    std::vector<std::uint8_t> buf(65536);
    for (;;) {
      pollfd p[2] = {{fd_.get(), POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents) return;
      sockaddr_ll from{};
      socklen_t len = sizeof from;
      const ssize_t n = ::recvfrom(fd_.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
      const auto t = Clock::now();
      if (n < 14 || from.sll_pkttype == PACKET_OUTGOING) continue;
      if (!std::equal(kLwipMac.begin(), kLwipMac.end(), buf.begin() + 6)) continue;
      try {
        Packet pk = Packet::parse(std::span<const std::uint8_t>(buf.data() + 14, static_cast<std::size_t>(n) - 14));
        std::lock_guard lock(mu_);
        seen_.push_back({t, std::move(pk)});
        cv_.notify_all();
      } catch (const PacketError&) {
      }
    }
  }
  UniqueFd fd_;
  int ifindex_ = 0;
  std::array<std::uint8_t, 6> tap_mac_{};
  int stop_[2] = {-1, -1};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  std::thread thread_;
};

const Address kGhost = Address::parse("198.18.1.77");  // the injected peer

std::function<bool(const Packet&)> to_ghost(std::uint16_t port, std::uint8_t flags_all, std::uint8_t flags_none = 0) {
  return [=](const Packet& p) {
    return p.dst == kGhost && p.dport == port && (p.flags & flags_all) == flags_all && (p.flags & flags_none) == 0;
  };
}

// A connection to an lwIP listener from the injected peer, which acknowledges nothing
// unless told. seq/ack are the peer's next sequence number and what it acknowledged.
struct GhostConn {
  std::uint16_t port = 0, lwip_port = 0;
  std::uint32_t seq = 0, ack = 0;
  Packet synack;
  SockAddr ghost() const { return {kGhost, port}; }
  SockAddr lwip() const { return {Lab::agent_addr(Family::V4), lwip_port}; }
};

GhostConn ghost_open(Wire& w, std::uint16_t lwip_port, std::uint16_t port, const TcpOptions& syn_options,
                     std::uint16_t window = 65535) {
  GhostConn g;
  g.port = port;
  g.lwip_port = lwip_port;
  g.seq = 1000;
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .flags = tcp_flag::SYN, .window = window, .options = syn_options});
  g.synack = w.wait(to_ghost(port, tcp_flag::SYN | tcp_flag::ACK), 3s).p;
  g.seq += 1;
  g.ack = g.synack.seq + 1;
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .ack = g.ack, .flags = tcp_flag::ACK, .window = window});
  return g;
}

Json listen(AgentClient& a, int port) {
  const Json l = a.call({{"cmd", "listen"}, {"address", "198.18.2.1"}, {"port", port}, {"backlog", 1}});
  if (!l.value("ok", false)) throw std::runtime_error("listen: " + l.dump());
  return l;
}

int accept(AgentClient& a, const Json& l) {
  const Json c = a.call({{"cmd", "accept"}, {"listener", l["listener"]}, {"timeout_ms", 3000}});
  if (!c.value("ok", false)) throw std::runtime_error("accept: " + c.dump());
  return c["conn"];
}

std::string times_since(const std::vector<Seen>& v, Clock::time_point t0) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + fmt("%.2f", secs(x.t - t0));
  return s;
}

std::string options_of(const Packet& p) {
  std::string s;
  if (p.options.mss) s += fmt("mss %u ", *p.options.mss);
  if (p.options.wscale) s += fmt("wscale %u ", *p.options.wscale);
  if (p.options.sack_permitted) s += "sackOK ";
  if (p.options.timestamp) s += "TS ";
  return s.empty() ? "none" : s.substr(0, s.size() - 1);
}

// ---- the measurements; each returns report lines

std::vector<std::string> syn_retransmissions() {
  Lab lab;
  Wire w(lab.peer());
  // 198.18.1.99 is off-link and owned by no one: the gateway drops every SYN.
  const auto t0 = Clock::now();
  const std::int64_t id = lab.agent().send({{"cmd", "connect"}, {"address", "198.18.1.99"}, {"port", 80}, {"timeout_ms", 120000}});
  const Json r = lab.agent().reply(id, 125s);
  const double failed = secs(Clock::now() - t0);
  const auto syns = w.from_lwip([](const Packet& p) { return p.dst == Address::parse("198.18.1.99") && p.has(tcp_flag::SYN); });
  return {fmt("SYN sent at t = %s s (%zu SYNs: 1 + %zu retransmissions)", times_since(syns, t0).c_str(), syns.size(), syns.size() - 1),
          fmt("connect failed after %.2f s: errno %s (%s)", failed, r.value("errno", "?").c_str(), r.value("message", "").c_str()),
          "SYN options: " + (syns.empty() ? std::string("-") : options_of(syns.front().p)) +
              fmt(", window %u", syns.empty() ? 0 : syns.front().p.window)};
}

std::vector<std::string> syn_options_v6() {
  Lab lab;
  UniqueFd kl = peer::listen(lab.peer(), {Lab::client_addr(Family::V6), 9300});
  Wire w(lab.peer());
  const Json c = lab.agent().call({{"cmd", "connect"}, {"address", "2001:2:0:1::1"}, {"port", 9300}, {"timeout_ms", 3000}});
  const Seen syn = w.wait([](const Packet& p) { return p.family == Family::V6 && p.has(tcp_flag::SYN); }, 3s);
  return {"IPv6 SYN options (MTU 1500): " + options_of(syn.p) + fmt(", window %u", syn.p.window)};
}

std::vector<std::string> synack_retransmissions() {
  Lab lab;
  Wire w(lab.peer());
  listen(lab.agent(), 8100);
  const auto t0 = Clock::now();
  w.inject({.src = {kGhost, 40000}, .dst = {Lab::agent_addr(Family::V4), 8100}, .seq = 5000, .flags = tcp_flag::SYN,
            .window = 65535, .options = {.mss = 1460, .wscale = 7, .sack_permitted = true, .timestamp = std::pair(1u, 0u)}});
  const std::string local = "198.18.2.1:8100", remote = "198.18.1.77:40000";
  lab.agent().wait_state(local, remote, "CLOSED", 60s);
  const double gone = secs(Clock::now() - t0);
  const auto synacks = w.from_lwip(to_ghost(40000, tcp_flag::SYN | tcp_flag::ACK));
  std::string states;
  for (const auto& s : lab.agent().states(local, remote)) states += (states.empty() ? "" : " -> ") + s;
  return {fmt("SYN-ACK sent at t = %s s (%zu)", times_since(synacks, t0).c_str(), synacks.size()),
          fmt("half-open connection dropped at %.2f s without RST (%s)", gone, states.c_str()),
          "SYN-ACK options to a SYN with mss 1460, wscale 7, sackOK, TS: " + options_of(synacks.front().p) +
              fmt(", window %u", synacks.front().p.window),
          fmt("RST sent to the peer: %zu", w.from_lwip(to_ghost(40000, tcp_flag::RST)).size())};
}

std::vector<std::string> syn_flood_state() {
  Lab lab;
  Wire w(lab.peer());
  listen(lab.agent(), 8101);
  // One SYN first, so that lwIP knows its gateway's MAC: while it waits for ARP it
  // queues only ARP_QUEUE_LEN (10) packets and drops the rest.
  w.inject({.src = {kGhost, 40999}, .dst = {Lab::agent_addr(Family::V4), 8101}, .seq = 7000, .flags = tcp_flag::SYN,
            .window = 65535, .options = {.mss = 1460}});
  w.wait(to_ghost(40999, tcp_flag::SYN | tcp_flag::ACK), 3s);
  constexpr int kSyns = 300;
  for (int i = 0; i < kSyns; ++i)
    w.inject({.src = {kGhost, static_cast<std::uint16_t>(41000 + i)}, .dst = {Lab::agent_addr(Family::V4), 8101},
              .seq = 7000, .flags = tcp_flag::SYN, .window = 65535, .options = {.mss = 1460}});
  w.wait(to_ghost(41000 + kSyns - 1, tcp_flag::SYN | tcp_flag::ACK), 10s);
  const Json s = lab.agent().call({{"cmd", "sockets"}});
  int syn_recv = 0;
  for (const auto& c : s["sockets"]) syn_recv += c["state"] == "SYN_RECV";
  std::set<std::uint32_t> isns;
  bool any_ts = false;
  for (const auto& x : w.from_lwip([](const Packet& p) { return p.has(tcp_flag::SYN); })) {
    isns.insert(x.p.seq);
    any_ts |= x.p.options.timestamp.has_value();
  }
  // ISNs of connections opened one after another, 300 ms apart.
  std::string later;
  for (int i = 0; i < 6; ++i) {
    const auto port = static_cast<std::uint16_t>(42000 + i);
    w.inject({.src = {kGhost, port}, .dst = {Lab::agent_addr(Family::V4), 8101}, .seq = 7000, .flags = tcp_flag::SYN,
              .window = 65535, .options = {.mss = 1460}});
    later += (later.empty() ? "" : ", ") + std::to_string(w.wait(to_ghost(port, tcp_flag::SYN | tcp_flag::ACK), 2s).p.seq);
    std::this_thread::sleep_for(300ms);  // pacing, not synchronisation: the ISN depends on time
  }
  --syn_recv;  // the first one
  return {fmt("%d SYNs from distinct ports -> %d SYN_RECV connections held, %zu distinct ISNs in the SYN-ACKs, "
              "timestamps in them: %s (no SYN cookies: every SYN gets a pcb)",
              kSyns, syn_recv, isns.size(), any_ts ? "yes" : "no"),
          "ISNs of SYN-ACKs 300 ms apart: " + later,
          "SYN-ACK options to a SYN with only mss 1460: " +
              options_of(w.wait(to_ghost(41000, tcp_flag::SYN | tcp_flag::ACK), 1s).p)};
}

std::vector<std::string> rst_handling() {
  Lab lab;
  Wire w(lab.peer());
  const Json l = listen(lab.agent(), 8102);
  GhostConn g = ghost_open(w, 8102, 40100, {.mss = 1460});
  accept(lab.agent(), l);
  const std::string local = "198.18.2.1:8102", remote = "198.18.1.77:40100";
  lab.agent().wait_state(local, remote, "ESTABLISHED");
  std::vector<std::string> out;
  auto acks = [&] { return w.from_lwip(to_ghost(40100, tcp_flag::ACK, tcp_flag::SYN)).size(); };

  // In the window but not at rcv_nxt: RFC 5961 3.2 wants a challenge ACK and no reset.
  std::size_t before = acks();
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq + 1000, .flags = tcp_flag::RST, .window = 0});
  bool challenged = true;
  try {
    w.wait(to_ghost(40100, tcp_flag::ACK, tcp_flag::SYN), 2s, before + 1);
  } catch (const std::exception&) {
    challenged = false;
  }
  const Json s1 = lab.agent().call({{"cmd", "sockets"}});
  std::string st = "gone";
  for (const auto& c : s1["sockets"])
    if (c["local"] == local && c["remote"] == remote) st = c["state"];
  out.push_back(fmt("RST at rcv_nxt+1000 (in window): %s, connection %s", challenged ? "challenge ACK sent" : "no ACK", st.c_str()));

  // Out of the window: ignored.
  before = acks();
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq + 200000, .flags = tcp_flag::RST, .window = 0});
  bool acked = true;
  try {
    w.wait(to_ghost(40100, tcp_flag::ACK, tcp_flag::SYN), 1500ms, before + 1);
  } catch (const std::exception&) {
    acked = false;
  }
  out.push_back(fmt("RST at rcv_nxt+200000 (outside the window): %s", acked ? "ACK sent" : "ignored, no ACK"));

  // A SYN in ESTABLISHED (RFC 5961 4.2: challenge ACK).
  before = acks();
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq + 5, .flags = tcp_flag::SYN, .window = 65535});
  acked = true;
  try {
    w.wait(to_ghost(40100, tcp_flag::ACK, tcp_flag::SYN), 2s, before + 1);
  } catch (const std::exception&) {
    acked = false;
  }
  out.push_back(fmt("SYN in ESTABLISHED: %s; RSTs sent by lwIP: %zu", acked ? "ACK sent (challenge ACK)" : "no ACK",
                    w.from_lwip(to_ghost(40100, tcp_flag::RST)).size()));

  // Exactly at rcv_nxt: the connection resets.
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .flags = tcp_flag::RST, .window = 0});
  lab.agent().wait_state(local, remote, "CLOSED", 3s);
  out.push_back("RST at rcv_nxt: connection reset (ESTABLISHED -> CLOSED)");
  return out;
}

std::vector<std::string> window_and_initial_flight() {
  Lab lab;
  Wire w(lab.peer());
  const Json l = listen(lab.agent(), 8103);
  GhostConn g = ghost_open(w, 8103, 40200, {.mss = 1460, .wscale = 7});
  const int conn = accept(lab.agent(), l);
  // 30 KB to a peer that acknowledges nothing: the first flight is the initial window.
  lab.agent().call({{"cmd", "send"}, {"conn", conn}, {"data", hex(std::string(30000, 'w'))}, {"timeout_ms", 1000}});
  w.wait(to_ghost(40200, 0), 2s, 1);
  const auto t0 = Clock::now();
  // Wait until the first retransmission: everything before it is the first flight.
  std::vector<Seen> data;
  for (;;) {
    data = w.from_lwip([](const Packet& p) { return p.dst == kGhost && p.dport == 40200 && p.payload_len > 0; });
    std::set<std::uint32_t> seqs;
    bool rexmit = false;
    for (const auto& d : data) rexmit |= !seqs.insert(d.p.seq).second;
    if (rexmit || Clock::now() - t0 > 10s) break;
    w.wait([](const Packet& p) { return p.dst == kGhost && p.dport == 40200 && p.payload_len > 0; }, 10s, data.size() + 1);
  }
  std::size_t flight = 0, segs = 0, biggest = 0;
  std::set<std::uint32_t> seqs;
  for (const auto& d : data) {
    if (!seqs.insert(d.p.seq).second) break;
    flight += d.p.payload_len;
    ++segs;
    biggest = std::max(biggest, d.p.payload_len);
  }
  const auto& first_rexmit = data.back();
  return {fmt("SYN-ACK to a SYN with mss 1460, wscale 7: %s, window %u", options_of(g.synack).c_str(), g.synack.window),
          fmt("first flight to a silent peer: %zu bytes in %zu segments of at most %zu (initial cwnd)", flight, segs, biggest),
          fmt("first retransmission %.2f s after the first data segment", secs(first_rexmit.t - data.front().t))};
}

std::vector<std::string> data_retransmissions() {
  Lab lab;
  Wire w(lab.peer());
  const Json l = listen(lab.agent(), 8104);
  ghost_open(w, 8104, 40300, {.mss = 1460});
  const int conn = accept(lab.agent(), l);
  lab.agent().call({{"cmd", "send"}, {"conn", conn}, {"data", hex("x")}, {"timeout_ms", 1000}});
  const auto first = w.wait([](const Packet& p) { return p.dport == 40300 && p.payload_len > 0; }, 2s);
  try {
    w.wait([](const Packet& p) { return p.dport == 40300 && p.payload_len > 0; }, 90s, 7);
  } catch (const std::exception&) {
  }
  const auto all = w.from_lwip([](const Packet& p) { return p.dport == 40300 && p.payload_len > 0; });
  return {fmt("a 1-byte segment never acknowledged: sent at t = %s s (RTO doubling; TCP_MAXRTX 12 in the source)",
              times_since(all, first.t).c_str())};
}

std::vector<std::string> zero_window_probes() {
  Lab lab;
  Wire w(lab.peer());
  const Json l = listen(lab.agent(), 8105);
  GhostConn g = ghost_open(w, 8105, 40400, {.mss = 1460}, 2000);
  const int conn = accept(lab.agent(), l);
  lab.agent().call({{"cmd", "send"}, {"conn", conn}, {"data", hex(std::string(8000, 'z'))}, {"timeout_ms", 1000}});
  // Let lwIP fill the 2000-byte window, then acknowledge it all announcing a window of 0.
  const auto is_data = [](const Packet& p) { return p.dport == 40400 && p.payload_len > 0; };
  std::size_t filled = 0;
  std::vector<Seen> flight;
  while (filled < 2000) {
    w.wait(is_data, 2s, flight.size() + 1);
    flight = w.from_lwip(is_data);
    filled = 0;
    for (const auto& f : flight) filled += f.p.payload_len;
  }
  std::uint32_t acked = 0;
  for (const auto& f : flight) acked = std::max(acked, f.p.seq + static_cast<std::uint32_t>(f.p.payload_len));
  const auto t0 = Clock::now();
  w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .ack = acked, .flags = tcp_flag::ACK, .window = 0});
  const std::size_t sent_before = flight.size();
  // Answer each probe with the window still closed.
  for (std::size_t i = 1; i <= 6; ++i) {
    Seen probe;
    try {
      probe = w.wait(is_data, 40s, sent_before + i);
    } catch (const std::exception&) {
      break;
    }
    w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .ack = acked, .flags = tcp_flag::ACK, .window = 0});
  }
  auto probes = w.from_lwip(is_data);
  probes.erase(probes.begin(), probes.begin() + static_cast<long>(std::min(sent_before, probes.size())));
  std::string sizes;
  for (const auto& p : probes)
    sizes += (sizes.empty() ? "" : ", ") + fmt("%zu@%+d", p.p.payload_len, static_cast<int>(p.p.seq - acked));
  return {fmt("%zu bytes in flight before; zero window announced at t = 0 acknowledging all of it: segments at t = %s s; "
              "payload bytes@seq relative to the window's edge: %s",
              filled, times_since(probes, t0).c_str(), sizes.c_str())};
}

std::vector<std::string> keepalive() {
  Lab lab;
  Wire w(lab.peer());
  const Json l = listen(lab.agent(), 8106);
  GhostConn g = ghost_open(w, 8106, 40500, {.mss = 1460});
  const int conn = accept(lab.agent(), l);
  const Json defaults = lab.agent().call({{"cmd", "getsockopt"}, {"conn", conn}, {"option", "keepalive"}});
  const auto t0 = Clock::now();
  const Json set = lab.agent().call({{"cmd", "setsockopt"}, {"conn", conn}, {"option", "keepalive"},
                                     {"value", {{"idle_s", 2}, {"interval_s", 1}, {"count", 3}}}});
  const std::string local = "198.18.2.1:8106", remote = "198.18.1.77:40500";
  lab.agent().wait_state(local, remote, "CLOSED", 30s);
  const double gone = secs(Clock::now() - t0);
  const auto probes = w.from_lwip([&](const Packet& p) { return p.dport == 40500 && !p.has(tcp_flag::RST) && !p.has(tcp_flag::SYN); });
  const auto rsts = w.from_lwip(to_ghost(40500, tcp_flag::RST));
  std::string shape = "-";
  if (!probes.empty())
    shape = fmt("seq = snd_nxt%+d, %zu payload bytes", static_cast<int>(probes.back().p.seq - (g.synack.seq + 1)),
                probes.back().p.payload_len);
  const Json r = lab.agent().call({{"cmd", "recv"}, {"conn", conn}, {"max", 10}, {"timeout_ms", 100}});
  return {"defaults (getsockopt): " + defaults.value("value", Json()).dump(),
          fmt("keepalive idle 2 s, interval 1 s, count 3, peer silent: probes at t = %s s (%s)", times_since(probes, t0).c_str(),
              shape.c_str()),
          fmt("connection closed at %.2f s, RSTs sent: %zu; the next recv: %s", gone, rsts.size(),
              r.value("errno", r.dump()).c_str())};
}

std::vector<std::string> time_wait_length() {
  Lab lab;
  const Json l = listen(lab.agent(), 8107);
  UniqueFd k = peer::connect(lab.peer(), {Lab::client_addr(Family::V4), 0}, {Lab::agent_addr(Family::V4), 8107});
  const int conn = accept(lab.agent(), l);
  const std::string local = "198.18.2.1:8107", remote = peer::local_of(k.get()).str();
  lab.agent().call({{"cmd", "close"}, {"conn", conn}});
  peer::recv_to_eof(k.get());
  k.reset();
  lab.agent().wait_state(local, remote, "TIME_WAIT", 5s);
  const auto t0 = Clock::now();
  lab.agent().wait_state(local, remote, "CLOSED", 200s);
  std::int64_t tw = 0, closed = 0;
  for (const auto& e : lab.agent().events())
    if (e["local"] == local && e["remote"] == remote) (e["to"] == "TIME_WAIT" ? tw : closed) = e["t_ns"];
  return {fmt("TIME_WAIT lasted %.2f s (state events; waited %.1f s)", (closed - tw) / 1e9, secs(Clock::now() - t0))};
}

std::vector<std::string> fin_wait2_orphan() {
  Lab lab;
  const Json l = listen(lab.agent(), 8108);
  UniqueFd k = peer::connect(lab.peer(), {Lab::client_addr(Family::V4), 0}, {Lab::agent_addr(Family::V4), 8108});
  const int conn = accept(lab.agent(), l);
  const std::string local = "198.18.2.1:8108", remote = peer::local_of(k.get()).str();
  lab.agent().call({{"cmd", "close"}, {"conn", conn}});
  lab.agent().wait_state(local, remote, "FIN_WAIT2", 5s);
  const auto t0 = Clock::now();
  lab.agent().wait_state(local, remote, "CLOSED", 60s);  // the kernel never closes
  return {fmt("closed socket in FIN_WAIT2, peer silent: dropped after %.2f s", secs(Clock::now() - t0))};
}

std::vector<std::string> accept_queue() {
  Lab lab;
  listen(lab.agent(), 8109);  // backlog 1, never accepted
  constexpr int kConns = 200;
  std::vector<UniqueFd> fds;
  std::map<std::string, int> connect_errors;
  for (int i = 0; i < kConns; ++i) {
    try {
      fds.push_back(peer::connect(lab.peer(), {Lab::client_addr(Family::V4), 0}, {Lab::agent_addr(Family::V4), 8109}));
    } catch (const std::exception& e) {
      ++connect_errors[e.what()];
    }
  }
  int reset = 0, alive = 0;
  for (auto& f : fds) {
    char c;
    const ssize_t n = ::recv(f.get(), &c, 1, MSG_DONTWAIT);
    (n < 0 && errno == ECONNRESET) ? ++reset : ++alive;
  }
  const Json s = lab.agent().call({{"cmd", "sockets"}});
  int established = 0;
  for (const auto& c : s["sockets"]) established += c["state"] == "ESTABLISHED";
  std::string errors;
  for (const auto& [what, n] : connect_errors) errors += fmt("; %d connects failed: %s", n, what.c_str());
  return {fmt("listen backlog 1, %d connects, none accepted: %zu connected, %d of them reset afterwards, %d still up; "
              "%d ESTABLISHED in lwIP%s",
              kConns, fds.size(), reset, alive, established, errors.c_str())};
}

std::vector<std::string> delayed_ack() {
  Lab lab;
  Wire w(lab.peer());
  const Json l = listen(lab.agent(), 8110);
  GhostConn g = ghost_open(w, 8110, 40600, {.mss = 1460});
  accept(lab.agent(), l);
  std::vector<double> delays;
  for (int i = 0; i < 5; ++i) {
    const std::size_t before = w.from_lwip(to_ghost(40600, tcp_flag::ACK)).size();
    const auto t = Clock::now();
    w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .ack = g.ack, .flags = tcp_flag::ACK | tcp_flag::PSH,
              .window = 65535, .payload = {'d'}});
    g.seq += 1;
    const Seen a = w.wait(to_ghost(40600, tcp_flag::ACK), 2s, before + 1);
    delays.push_back(secs(a.t - t) * 1000);
  }
  std::string s;
  for (double d : delays) s += (s.empty() ? "" : ", ") + fmt("%.0f", d);
  // Two segments back to back: the second is acknowledged at once.
  const std::size_t before = w.from_lwip(to_ghost(40600, tcp_flag::ACK)).size();
  const std::uint32_t seq_before = g.seq;
  const auto t = Clock::now();
  for (int i = 0; i < 2; ++i) {
    w.inject({.src = g.ghost(), .dst = g.lwip(), .seq = g.seq, .ack = g.ack, .flags = tcp_flag::ACK, .window = 65535,
              .payload = std::vector<std::uint8_t>(1000, 'e')});
    g.seq += 1000;
  }
  const Seen a = w.wait(to_ghost(40600, tcp_flag::ACK), 2s, before + 1);
  return {"ACK delay for single 1-byte segments (ms): " + s,
          fmt("two 1000-byte segments back to back: first ACK %.1f ms after the first, acknowledging %u bytes",
              secs(a.t - t) * 1000, a.p.ack - seq_before)};
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, std::function<std::vector<std::string>()>> all = {
      {"syn_retransmissions", syn_retransmissions}, {"syn_options_v6", syn_options_v6},
      {"synack_retransmissions", synack_retransmissions}, {"syn_flood_state", syn_flood_state},
      {"rst_handling", rst_handling}, {"window_and_initial_flight", window_and_initial_flight},
      {"data_retransmissions", data_retransmissions}, {"zero_window_probes", zero_window_probes},
      {"keepalive", keepalive}, {"time_wait_length", time_wait_length}, {"fin_wait2_orphan", fin_wait2_orphan},
      {"accept_queue", accept_queue}, {"delayed_ack", delayed_ack}};
  std::vector<std::string> chosen(argv + 1, argv + argc);
  if (chosen.empty())
    for (const auto& [name, f] : all) chosen.push_back(name);
  std::map<std::string, std::vector<std::string>> results;
  std::mutex mu;
  std::vector<std::jthread> threads;
  for (const auto& name : chosen) {
    if (!all.contains(name)) {
      std::fprintf(stderr, "no measurement '%s'\n", name.c_str());
      return 2;
    }
    threads.emplace_back([&, name] {
      std::vector<std::string> r;
      try {
        r = all.at(name)();
      } catch (const std::exception& e) {
        r = {std::string("FAILED: ") + e.what()};
      }
      std::lock_guard lock(mu);
      results[name] = r;
    });
  }
  threads.clear();
  for (const auto& [name, lines] : results) {
    std::printf("%s\n", name.c_str());
    for (const auto& l : lines) std::printf("  %s\n", l.c_str());
  }
  return 0;
}
