#include "netns/namespace.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "netns/error.h"

namespace tcpfault::netns {

namespace {

UniqueFd open_thread_netns() {
  int fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("open /proc/thread-self/ns/net", "is /proc mounted?");
  return UniqueFd(fd);
}

}  // namespace

void require_privileges() {
  if (::geteuid() != 0)
    throw Error(
        "tcpfault needs root: it creates network namespaces, veth links and NFQUEUE rules "
        "(run it with sudo, or as root in a VM or container with CAP_SYS_ADMIN and CAP_NET_ADMIN)");
}

Namespace Namespace::create(std::string name) {
  require_privileges();
  UniqueFd home = open_thread_netns();
  if (::unshare(CLONE_NEWNET) != 0) throw_errno("unshare(CLONE_NEWNET) for namespace " + name);
  UniqueFd made = open_thread_netns();
  if (::setns(home.get(), CLONE_NEWNET) != 0)
    std::abort();  // a thread stuck in the wrong namespace would corrupt everything after
  return Namespace(std::move(made), std::move(name));
}

Namespace Namespace::of_current_thread(std::string name) {
  return Namespace(open_thread_netns(), std::move(name));
}

const Namespace& Namespace::initial() {
  static const Namespace ns = [] {
    int fd = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open /proc/self/ns/net", "is /proc mounted?");
    return Namespace(UniqueFd(fd), "host");
  }();
  return ns;
}

namespace {
// Take the snapshot at load time, before any thread can have moved into a namespace.
// A failure here is reported again, with its reason, on first use.
[[maybe_unused]] const bool initial_captured = [] {
  try {
    Namespace::initial();
    return true;
  } catch (...) {
    return false;
  }
}();
}  // namespace

std::uint64_t Namespace::inode() const {
  struct stat st {};
  if (::fstat(fd(), &st) != 0) throw_errno("fstat namespace " + name_);
  return st.st_ino;
}

Enter::Enter(const Namespace& ns) : previous_(open_thread_netns()) {
  if (::setns(ns.fd(), CLONE_NEWNET) != 0) throw_errno("setns into namespace " + ns.name());
}

Enter::~Enter() {
  if (::setns(previous_.get(), CLONE_NEWNET) != 0) std::abort();
}

}  // namespace tcpfault::netns
