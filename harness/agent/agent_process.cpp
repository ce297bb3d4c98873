#include "harness/agent/agent_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "netns/error.h"
#include "netns/unique_fd.h"

extern char** environ;

namespace tcpfault {

namespace {

std::string describe_status(const siginfo_t& info) {
  if (info.si_code == CLD_EXITED) return "exited with status " + std::to_string(info.si_status);
  const char* name = ::sigabbrev_np(info.si_status);
  return "was killed by signal " + std::to_string(info.si_status) + (name ? " (SIG" + std::string(name) + ")" : "");
}

// What the child writes to its log when it fails before exec (async-signal-safe).
[[noreturn]] void child_fail(int log_fd, const char* what, int status) {
  const char prefix[] = "tcpfault: cannot start the agent: ";
  [[maybe_unused]] auto a = ::write(log_fd, prefix, sizeof prefix - 1);
  [[maybe_unused]] auto b = ::write(log_fd, what, ::strlen(what));
  [[maybe_unused]] auto c = ::write(log_fd, "\n", 1);
  ::_exit(status);
}

}  // namespace

AgentProcess::AgentProcess(const AgentSpawn& spawn, std::function<void(const std::string&)> on_exit)
    : log_path_(spawn.log_path), on_exit_(std::move(on_exit)) {
  if (!spawn.ns || spawn.control_fd < 0 || spawn.tap_fd < 0)
    throw Error("agent: a namespace, a control socket and a TAP fd are needed to start one");
  std::error_code ec;
  auto dir = std::filesystem::path(log_path_).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  UniqueFd log(::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log.valid()) throw_errno("open the agent's log " + log_path_);
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null.valid()) throw_errno("open /dev/null for the agent");

  parent_ = std::thread([this, spawn, l = log.get(), n = null.get()] { run(spawn, l, n); });
  std::unique_lock lock(mu_);
  changed_.wait(lock, [this] { return started_; });
  if (!start_error_.empty()) {
    lock.unlock();
    parent_.join();
    throw Error(start_error_);
  }
}

void AgentProcess::run(const AgentSpawn& spawn, int log_fd, int null_fd) {
  // Everything the child needs is made before fork: after it, only async-signal-safe calls.
  const std::string script = "exec " + spawn.command;
  const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (v.rfind("TCPFAULT_AGENT_FD=", 0) != 0 && v.rfind("TCPFAULT_TAP_FD=", 0) != 0) env_text.emplace_back(v);
  }
  env_text.emplace_back("TCPFAULT_AGENT_FD=3");
  env_text.emplace_back("TCPFAULT_TAP_FD=4");
  std::vector<const char*> envp;
  for (const auto& e : env_text) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  const pid_t harness = ::getpid();
  const int ns_fd = spawn.ns->fd();

  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // Python's interpreter ignores it; a fresh program should not
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(log_fd, "prctl(PR_SET_PDEATHSIG)", 125);
    if (::getppid() != harness) ::_exit(125);  // the harness is gone already
    if (::setns(ns_fd, CLONE_NEWNET) != 0) child_fail(log_fd, "setns into the side's namespace", 126);
    // Out of the way of 0..4 first, then into place (dup2 clears close-on-exec).
    int control = ::fcntl(spawn.control_fd, F_DUPFD, 10), tap = ::fcntl(spawn.tap_fd, F_DUPFD, 10);
    int log = ::fcntl(log_fd, F_DUPFD, 10), null = ::fcntl(null_fd, F_DUPFD, 10);
    if (control < 0 || tap < 0 || log < 0 || null < 0) child_fail(log_fd, "fcntl(F_DUPFD)", 126);
    if (::dup2(null, 0) < 0 || ::dup2(null, 1) < 0 || ::dup2(log, 2) < 0 || ::dup2(control, 3) < 0 ||
        ::dup2(tap, 4) < 0)
      child_fail(log_fd, "dup2", 126);
    ::syscall(SYS_close_range, 5u, ~0u, 0u);  // nothing else of the harness leaks into it
    ::execve("/bin/sh", const_cast<char**>(argv), const_cast<char**>(envp.data()));
    child_fail(2, "execve /bin/sh", 127);
  }
  {
    std::lock_guard lock(mu_);
    started_ = true;
    if (pid < 0) start_error_ = std::string("fork the agent: ") + std::strerror(errno);
    pid_ = pid;
  }
  changed_.notify_all();
  if (pid < 0) return;

  // Learn that it exited without reaping it, so that kill() can never hit a reused pid.
  siginfo_t info{};
  while (::waitid(P_PID, pid, &info, WEXITED | WNOWAIT) != 0 && errno == EINTR) {
  }
  {
    std::lock_guard lock(mu_);
    exited_ = true;
    status_ = describe_status(info);
  }
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  std::string how;
  {
    std::lock_guard lock(mu_);
    reaped_ = true;
    how = status_;
  }
  changed_.notify_all();
  if (on_exit_) on_exit_(how);
}

AgentProcess::~AgentProcess() {
  kill();
  if (parent_.joinable()) parent_.join();
}

std::optional<std::string> AgentProcess::exit_status() const {
  std::lock_guard lock(mu_);
  if (!exited_) return std::nullopt;
  return status_;
}

bool AgentProcess::wait_exit(std::chrono::milliseconds limit) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, limit, [this] { return reaped_; });
}

void AgentProcess::kill() {
  std::unique_lock lock(mu_);
  if (pid_ <= 0) return;
  if (!exited_) ::kill(pid_, SIGKILL);
  changed_.wait(lock, [this] { return reaped_; });
}

std::string AgentProcess::stderr_tail(std::size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from = size > static_cast<std::streamoff>(max_bytes) ? size - max_bytes : 0;
  in.seekg(from);
  std::string text(static_cast<std::size_t>(size - from), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (from > 0) {  // start at a whole line
    auto nl = text.find('\n');
    text = nl == std::string::npos ? text : text.substr(nl + 1);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace tcpfault
