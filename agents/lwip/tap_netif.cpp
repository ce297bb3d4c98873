#include "agents/lwip/tap_netif.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "agents/lwip/core_hooks.h"

namespace tcpfault::lwip_agent {
namespace {
// The largest frame a TAP without IFF_VNET_HDR hands over is MTU + Ethernet (+ VLAN) header.
constexpr std::size_t kMaxFrame = 65536;
}  // namespace

std::string mac_string(const std::array<std::uint8_t, 6>& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                mac[5]);
  return buf;
}

TapNetif::TapNetif(int tap_fd, std::function<void(const std::string&)> log)
    : fd_(tap_fd), log_(std::move(log)) {}

TapNetif::~TapNetif() {
  // The reader blocks in poll() on a fd tcpfault owns; the process exits around it.
  if (reader_.joinable()) reader_.detach();
}

void TapNetif::add_locked(int mtu, const ip4_addr_t& addr, const ip4_addr_t& netmask, const ip4_addr_t& gw) {
  mtu_ = mtu;
  // ethernet_input as the input function: the reader calls it with the core lock held,
  // instead of queueing each frame to the tcpip thread (tcpip_input).
  netif_add(&netif_, &addr, &netmask, &gw, this, &TapNetif::init, ethernet_input);
}

err_t TapNetif::init(netif* n) {
  auto* self = static_cast<TapNetif*>(n->state);
  n->name[0] = 't';
  n->name[1] = 'p';
  n->output = etharp_output;
  n->output_ip6 = ethip6_output;
  n->linkoutput = &TapNetif::link_output;
  n->mtu = static_cast<u16_t>(self->mtu_);
  n->mtu6 = static_cast<u16_t>(self->mtu_);
  n->hwaddr_len = ETH_HWADDR_LEN;
  std::memcpy(n->hwaddr, kAgentMac.data(), ETH_HWADDR_LEN);
  n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
  return ERR_OK;
}

err_t TapNetif::link_output(netif* n, pbuf* p) {
  auto* self = static_cast<TapNetif*>(n->state);
  // Runs with the core lock held, so one buffer serves every frame.
  static std::vector<unsigned char> frame(kMaxFrame);
  if (p->tot_len > frame.size()) return ERR_BUF;
  const u16_t len = pbuf_copy_partial(p, frame.data(), p->tot_len, 0);
  for (;;) {
    const ssize_t n_written = ::write(self->fd_, frame.data(), len);
    if (n_written == len) return ERR_OK;
    if (n_written < 0 && errno == EINTR) continue;
    const int err = errno;
    if (self->write_errors_++ < 3)
      self->log_("TAP write of a " + std::to_string(len) + "-byte frame failed: " +
                 (n_written < 0 ? std::strerror(err) : "short write") + " (frame dropped)");
    return ERR_IF;
  }
}

void TapNetif::start_reader() {
  reader_ = std::thread([this] { read_frames(); });
}

void TapNetif::read_frames() {
  std::vector<unsigned char> buf(kMaxFrame);
  for (;;) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, -1) < 0) {
      if (errno == EINTR) continue;
      log_(std::string("TAP poll failed: ") + std::strerror(errno) + "; no more frames reach lwIP");
      return;
    }
    const ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      log_(n == 0 ? std::string("TAP device closed; no more frames reach lwIP")
                  : std::string("TAP read failed: ") + std::strerror(errno) + "; no more frames reach lwIP");
      return;
    }
    CoreLock lock;
    // PBUF_RAM, not PBUF_POOL: Debian's liblwip sizes its pool buffers for a 536-byte MSS
    // (592 bytes) while pbuf_alloc fills them as if they held 1536, so a full-size frame
    // in a pool pbuf overruns the heap (seen with valgrind).
    pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(n), PBUF_RAM);
    if (p == nullptr) continue;  // out of memory: the frame is lost, as on a wire
    pbuf_take(p, buf.data(), static_cast<u16_t>(n));
    if (netif_.input(p, &netif_) != ERR_OK) pbuf_free(p);
  }
}

}  // namespace tcpfault::lwip_agent
