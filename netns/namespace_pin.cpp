#include "netns/namespace_pin.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "netns/error.h"
#include "netns/unique_fd.h"

namespace tcpfault::netns {

namespace {

constexpr const char* kPinDir = "/run/netns";
// Set when this process made /run/netns, so that it can remove it again once empty.
std::atomic<bool> made_pin_dir{false};

}  // namespace

std::string pin_namespace(const Namespace& ns, const std::string& name) {
  const std::string path = std::string(kPinDir) + "/" + name;
  UniqueFd target;
  // Another process may remove an empty /run/netns between mkdir and open: retry.
  for (int attempt = 0; attempt < 3 && !target.valid(); ++attempt) {
    if (::mkdir(kPinDir, 0755) == 0)
      made_pin_dir = true;
    else if (errno != EEXIST)
      throw_errno(std::string("mkdir ") + kPinDir, "is /run writable?");
    target.reset(::open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!target.valid() && errno != ENOENT)
      throw_errno("create " + path,
                  errno == EEXIST ? "a pin of that name exists: remove it with `ip netns del " +
                                        name + "` if no test is using it"
                                  : "");
  }
  if (!target.valid()) throw_errno("create " + path);
  target.reset();

  const std::string source = "/proc/self/fd/" + std::to_string(ns.fd());
  if (::mount(source.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw SystemError("bind-mount namespace " + ns.name() + " at " + path, err);
  }
  return path;
}

void unpin_namespace(const std::string& path) noexcept {
  ::umount2(path.c_str(), MNT_DETACH);
  ::unlink(path.c_str());
  if (made_pin_dir) ::rmdir(kPinDir);  // fails, harmlessly, while other pins are there
}

}  // namespace tcpfault::netns
