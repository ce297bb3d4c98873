#include "harness/intercept/queue_rules.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "netns/error.h"
#include "netns/unique_fd.h"

namespace tcpfault {

std::string queue_rules_text(std::uint16_t queue_number) {
  std::ostringstream out;
  out << "*filter\n"
      << ":FORWARD ACCEPT [0:0]\n"
      << "-A FORWARD -p tcp -j NFQUEUE --queue-num " << queue_number << " --queue-bypass\n"
      << "COMMIT\n";
  return out.str();
}

std::string find_program(const std::string& name, const std::string& package) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw Error(name + " not found in PATH: tcpfault needs it to install the NFQUEUE rule in the "
              "middlebox namespace (install it with: apt-get install " + package + ")");
}

namespace {

// One `<program> --noflush` running inside the namespace with the rules on its stdin.
struct Restore {
  std::string program;
  pid_t pid = -1;
  UniqueFd errors;  // its stdout and stderr
};

Restore start_restore(const netns::Namespace& ns, const std::string& program, const std::string& input) {
  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd in_read(in[0]), in_write(in[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) throw_errno("pipe");
  UniqueFd err_read(err[0]), err_write(err[1]);

  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork " + program);
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(in_read.get(), 0);
    ::dup2(err_write.get(), 2);
    ::dup2(err_write.get(), 1);
    const char* argv[] = {program.c_str(), "--noflush", nullptr};
    const char* envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", nullptr};
    ::execve(program.c_str(), const_cast<char**>(argv), const_cast<char**>(envp));
    ::_exit(127);
  }
  in_read.reset();
  err_write.reset();
  // The rules are a few hundred bytes: they fit in the pipe without blocking.
  ssize_t off = 0;
  while (off < static_cast<ssize_t>(input.size())) {
    ssize_t n = ::write(in_write.get(), input.data() + off, input.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    off += n;
  }
  return {program, pid, std::move(err_read)};
}

// Waits for it; returns its complaint, empty when it succeeded.
std::string finish_restore(Restore& r) {
  std::string message;
  char buf[512];
  ssize_t n;
  while ((n = ::read(r.errors.get(), buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) message.append(buf, n);
  int status = 0;
  while (::waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return message.empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : message;
}

}  // namespace

void install_queue_rules(const netns::Namespace& ns, std::uint16_t queue_number) {
  std::string rules = queue_rules_text(queue_number);
  std::string v4 = find_program("iptables-restore", "iptables");
  std::string v6 = find_program("ip6tables-restore", "iptables");
  // Both at once: each spends most of its time waiting on the kernel.
  Restore runs[] = {start_restore(ns, v4, rules), start_restore(ns, v6, rules)};
  std::string failure;
  for (auto& r : runs) {  // wait for both, even after a failure: no child is left behind
    std::string complaint = finish_restore(r);
    if (!complaint.empty() && failure.empty()) failure = r.program + " failed in the " + ns.name() +
                                                         " namespace: " + complaint;
  }
  if (!failure.empty()) throw Error(failure + " (is the kernel's NFQUEUE target, xt_NFQUEUE, available?)");
}

}  // namespace tcpfault
