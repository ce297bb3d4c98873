#include "agents/lwip/handle_table.h"

#include <string>

#include "agents/lwip/protocol.h"

namespace tcpfault::lwip_agent {
namespace {
const char* kind_name(SocketKind k) { return k == SocketKind::Listener ? "listener" : "connection"; }
}  // namespace

HandleTable::Use::~Use() {
  if (!sock_) return;
  std::lock_guard lock(table_->mu_);
  --sock_->uses;
  table_->released_.notify_all();
}

int HandleTable::add(int fd, SocketKind kind) {
  std::lock_guard lock(mu_);
  const std::int64_t h = next_++;
  sockets_.emplace(h, std::make_shared<AgentSocket>(fd, kind));
  return static_cast<int>(h);
}

HandleTable::Sockets::iterator HandleTable::find_locked(std::int64_t handle, const SocketKind* kind, const char* arg) {
  const auto it = sockets_.find(handle);
  if (it == sockets_.end())
    throw ProtocolError("bad_handle", std::string(arg) + " " + std::to_string(handle) +
                                          ": no such handle (never opened, or closed)");
  if (kind != nullptr && it->second->kind != *kind)
    throw ProtocolError("bad_handle", std::string(arg) + " " + std::to_string(handle) + " is a " +
                                          kind_name(it->second->kind) + ", not a " + kind_name(*kind));
  return it;
}

HandleTable::Use HandleTable::use(std::int64_t handle, const SocketKind* kind, const char* arg) {
  std::lock_guard lock(mu_);
  const auto it = find_locked(handle, kind, arg);
  ++it->second->uses;
  return Use(*this, it->second);
}

std::shared_ptr<AgentSocket> HandleTable::detach(std::int64_t handle, const SocketKind* kind, const char* arg) {
  std::lock_guard lock(mu_);
  const auto it = find_locked(handle, kind, arg);
  std::shared_ptr<AgentSocket> s = it->second;
  sockets_.erase(it);
  s->closing = true;
  return s;
}

std::vector<HandleTable::Use> HandleTable::use_all(SocketKind kind) {
  std::lock_guard lock(mu_);
  std::vector<Use> all;
  for (auto& [handle, s] : sockets_) {
    if (s->kind != kind) continue;
    ++s->uses;
    all.emplace_back(*this, s);
  }
  return all;
}

void HandleTable::wait_unused(const AgentSocket& s) {
  std::unique_lock lock(mu_);
  released_.wait(lock, [&] { return s.uses == 0; });
}

}  // namespace tcpfault::lwip_agent
