// Nothing the topology made may outlive it: not after destruction, not after kill -9.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fstream>

#include "netns/address_slot.h"
#include "netns/tests/test_support.h"
#include "netns/topology.h"

namespace tcpfault::netns {
namespace {

using testing::inodes_of;
using testing::netns_cookie;
using testing::netns_mounts;
using testing::netns_reachable;
using testing::netns_references;

struct Identity {
  std::uint64_t inode;
  std::uint64_t cookie;
};

std::array<Identity, 3> identities(const Topology& t) {
  std::array<Identity, 3> out{};
  int i = 0;
  for (Host h : {Host::Client, Host::Middlebox, Host::Server})
    out[static_cast<std::size_t>(i++)] = {t.ns(h).inode(), netns_cookie(t.ns(h))};
  return out;
}

TEST(NamespaceLifetime, NoNamespaceIsLeftAfterDestruction) {
  TCPFAULT_REQUIRE_ROOT();
  const std::string self = std::to_string(::getpid());
  const auto before = inodes_of(netns_references(self));
  std::array<Identity, 3> ids{};
  {
    auto t = Topology::build();
    ids = identities(*t);
    const auto during = inodes_of(netns_references());
    for (const auto& id : ids) EXPECT_TRUE(during.count(id.inode)) << id.inode;
  }
  EXPECT_EQ(inodes_of(netns_references(self)), before);
  for (const auto& id : ids) EXPECT_FALSE(netns_reachable(id.inode, id.cookie)) << id.inode;
}

TEST(NamespaceLifetime, PinsAreBindMountsThatDestructionRemoves) {
  TCPFAULT_REQUIRE_ROOT();
  std::vector<std::string> paths;
  std::array<Identity, 3> ids{};
  {
    TopologyOptions options;
    options.pin = true;
    auto t = Topology::build(options);
    ids = identities(*t);
    paths = t->pinned_paths();
    ASSERT_EQ(paths.size(), 3u);
    const std::string prefix = "/run/netns/tcpfault-" + std::to_string(::getpid()) + "-" +
                               std::to_string(t->slot()) + "-";
    EXPECT_EQ(paths[0], prefix + "client");
    EXPECT_EQ(paths[1], prefix + "middlebox");
    EXPECT_EQ(paths[2], prefix + "server");
    for (std::size_t i = 0; i < paths.size(); ++i) {
      struct stat st {};
      ASSERT_EQ(::stat(paths[i].c_str(), &st), 0) << paths[i];
      EXPECT_EQ(st.st_ino, ids[i].inode) << paths[i];
      EXPECT_EQ(testing::netns_cookie_of_path(paths[i]), ids[i].cookie) << paths[i];
    }
  }
  for (const auto& p : paths) {
    struct stat st {};
    EXPECT_NE(::stat(p.c_str(), &st), 0) << p << " still exists";
  }
  const auto mounts = netns_mounts();
  for (const auto& id : ids) {
    EXPECT_FALSE(mounts.count(id.inode) && netns_reachable(id.inode, id.cookie)) << id.inode;
  }
}

// Inode and path of every unix socket in this namespace (/proc/net/unix).
std::vector<std::pair<std::uint64_t, std::string>> unix_sockets() {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  std::ifstream in("/proc/net/unix");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, refcount, protocol, flags, type, st, path;
    std::uint64_t ino = 0;
    f >> num >> refcount >> protocol >> flags >> type >> st >> ino >> path;
    out.emplace_back(ino, path);
  }
  return out;
}

std::uint64_t unix_socket_inode(const std::string& path) {
  for (const auto& [ino, p] : unix_sockets())
    if (p == path) return ino;
  return 0;
}

bool unix_socket_alive(std::uint64_t inode) {
  for (const auto& [ino, p] : unix_sockets())
    if (ino == inode) return true;
  return false;
}

TEST(NamespaceLifetime, KillNineLeavesNothingBehind) {
  TCPFAULT_REQUIRE_ROOT();
  int report[2];
  ASSERT_EQ(::pipe2(report, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Build, report what was made, then wait to be killed.
    ::close(report[0]);
    try {
      auto t = Topology::build();
      std::array<std::uint64_t, 8> msg{};
      const auto ids = identities(*t);
      for (std::size_t i = 0; i < 3; ++i) {
        msg[2 * i] = ids[i].inode;
        msg[2 * i + 1] = ids[i].cookie;
      }
      msg[6] = static_cast<std::uint64_t>(t->slot());
      msg[7] = unix_socket_inode("@" + AddressSlot::socket_name(t->slot()));
      if (::write(report[1], msg.data(), sizeof msg) != sizeof msg) ::_exit(2);
    } catch (...) {
      ::_exit(1);
    }
    for (;;) ::pause();
  }
  ::close(report[1]);
  std::array<std::uint64_t, 8> msg{};
  std::size_t got = 0;
  while (got < sizeof msg) {
    const ssize_t n = ::read(report[0], reinterpret_cast<char*>(msg.data()) + got, sizeof msg - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(report[0]);
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_EQ(got, sizeof msg) << "the child could not build a topology";
  ASSERT_TRUE(WIFSIGNALED(status));

  for (std::size_t i = 0; i < 3; ++i)
    EXPECT_FALSE(netns_reachable(msg[2 * i], msg[2 * i + 1])) << "namespace " << msg[2 * i];
  ASSERT_NE(msg[7], 0u) << "the child's slot claim was not found";
  EXPECT_FALSE(unix_socket_alive(msg[7])) << "slot " << msg[6] << " is still claimed";
}

}  // namespace
}  // namespace tcpfault::netns
