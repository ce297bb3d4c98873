#include "harness/observe/state_tracepoint.h"

#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "netns/error.h"

namespace tcpfault {

namespace {

constexpr const char* kEventDir = "events/sock/inet_sock_set_state";
constexpr const char* kTracefsRoots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
constexpr std::size_t kRingDataPages = 64;  // 256 KiB per CPU, under perf_event_mlock_kb
constexpr std::uint16_t kProtocolTcp = 6;
constexpr std::uint16_t kFamilyInet = 2, kFamilyInet6 = 10;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::uint64_t parse_id(const std::string& text, const std::string& where) {
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    throw Error("tracepoint id in " + where + " is not a number: '" + text + "'");
  }
}

// ---- tracefs in a private mount namespace ------------------------------------------

// What the child reports through the pipe when a step fails.
struct ChildFailure {
  char tag = 'E';
  int step = 0;
  int err = 0;
};

constexpr const char* kChildSteps[] = {"unshare(CLONE_NEWNS)", "make mounts private",
                                       "mount tracefs", "open the tracepoint's id",
                                       "open the tracepoint's format"};

[[noreturn]] void child_fail(int out, int step) {
  ChildFailure f{'E', step, errno};
  [[maybe_unused]] auto n = ::write(out, &f, sizeof f);
  ::_exit(1);
}

bool copy_file(const char* path, int out) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    if (::write(out, buf, static_cast<std::size_t>(n)) != n) ::_exit(1);
  ::close(fd);
  return true;
}

// Runs in the forked child: system calls only (the parent may have other threads).
// Writes 'K', the id file, a NUL, the format file; or a ChildFailure.
[[noreturn]] void child_read_tracefs(const char* dir, const char* id_path, const char* format_path,
                                     int out) {
  if (::unshare(CLONE_NEWNS) != 0) child_fail(out, 0);
  // Private first, so that the tracefs mount below never propagates to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) child_fail(out, 1);
  if (::mount("tracefs", dir, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    child_fail(out, 2);
  int id_fd = ::open(id_path, O_RDONLY | O_CLOEXEC);
  if (id_fd < 0) child_fail(out, 3);
  ::close(id_fd);
  if (::write(out, "K", 1) != 1) ::_exit(1);
  if (!copy_file(id_path, out)) child_fail(out, 3);
  if (::write(out, "", 1) != 1) ::_exit(1);
  if (!copy_file(format_path, out)) child_fail(out, 4);
  ::_exit(0);
}

TracepointDescription describe_in_private_mount() {
  // tracefs goes on its usual mount point, in the child's mount namespace only: a
  // directory made for it (mkdtemp) would stay behind on the host if the harness were
  // killed before removing it.
  const std::string dir = kTracefsRoots[0];
  const std::string id_path = dir + "/" + kEventDir + "/id";
  const std::string format_path = dir + "/" + kEventDir + "/format";
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  UniqueFd reader(pipe_fds[0]), writer(pipe_fds[1]);
  pid_t pid = ::fork();
  if (pid < 0) throw_errno("fork for a private tracefs mount");
  if (pid == 0) child_read_tracefs(dir.c_str(), id_path.c_str(), format_path.c_str(), writer.get());
  writer.reset();

  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::read(reader.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    reply.append(buf, static_cast<std::size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }

  if (reply.size() >= sizeof(ChildFailure) && reply[0] == 'E') {
    ChildFailure f;
    std::memcpy(&f, reply.data(), sizeof f);
    const std::string step = f.step >= 0 && f.step < 5 ? kChildSteps[f.step] : "?";
    std::string hint = f.step == 3 ? "the kernel has no sock:inet_sock_set_state tracepoint"
                                   : "needs root (CAP_SYS_ADMIN) and tracefs in the kernel";
    throw SystemError("reading tracefs in a private mount namespace: " + step, f.err, hint);
  }
  const auto nul = reply.find('\0');
  if (reply.empty() || reply[0] != 'K' || nul == std::string::npos || !WIFEXITED(status) ||
      WEXITSTATUS(status) != 0)
    throw Error("reading tracefs in a private mount namespace: the helper process failed");
  return {parse_id(reply.substr(1, nul - 1), "a private tracefs"), reply.substr(nul + 1)};
}

// ---- the format file ---------------------------------------------------------------

struct Field {
  std::size_t offset = 0, size = 0;
  bool present = false;
};

// "\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;" -> name, offset, size.
bool parse_field_line(const std::string& line, std::string& name, Field& f) {
  const auto field = line.find("field:");
  const auto semi = line.find(';', field);
  const auto off = line.find("offset:");
  const auto size = line.find("size:");
  if (field == std::string::npos || semi == std::string::npos || off == std::string::npos ||
      size == std::string::npos)
    return false;
  std::string decl = line.substr(field + 6, semi - field - 6);
  if (auto bracket = decl.find('['); bracket != std::string::npos) decl.erase(bracket);
  const auto start = decl.find_last_of(" *");
  name = start == std::string::npos ? decl : decl.substr(start + 1);
  try {
    f.offset = std::stoul(line.substr(off + 7));
    f.size = std::stoul(line.substr(size + 5));
  } catch (const std::exception&) {
    return false;  // not a field line we understand; a missing field is reported later
  }
  f.present = true;
  return true;
}

std::uint64_t read_unsigned(const std::uint8_t* raw, const Field& f) {
  switch (f.size) {
    case 1: return raw[f.offset];
    case 2: { std::uint16_t v; std::memcpy(&v, raw + f.offset, 2); return v; }
    case 4: { std::uint32_t v; std::memcpy(&v, raw + f.offset, 4); return v; }
    case 8: { std::uint64_t v; std::memcpy(&v, raw + f.offset, 8); return v; }
    default: return 0;
  }
}

Address address_field(const std::uint8_t* raw, const Field& f, Family family) {
  Address a;
  a.family = family;
  std::memcpy(a.bytes.data(), raw + f.offset, std::min(f.size, a.size()));
  return a;
}

// IPv6 sockets talking IPv4 carry v4-mapped addresses; give them as on the wire.
Address unmap(const Address& a) {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (a.family != Family::V6 || std::memcmp(a.bytes.data(), prefix, 12) != 0) return a;
  Address v4;
  v4.family = Family::V4;
  std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
  return v4;
}

// ---- perf --------------------------------------------------------------------------

std::vector<int> online_cpus() {
  auto text = read_file("/sys/devices/system/cpu/online");
  if (!text) throw Error("cannot read /sys/devices/system/cpu/online (is /sys mounted?)");
  std::vector<int> cpus;
  std::istringstream in(*text);
  for (std::string range; std::getline(in, range, ',');) {
    if (range.find_first_of("0123456789") == std::string::npos) continue;
    const auto dash = range.find('-');
    const int first = std::stoi(range);
    const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
    for (int c = first; c <= last; ++c) cpus.push_back(c);
  }
  return cpus;
}

std::string perf_hint(int err) {
  switch (err) {
    case EACCES:
    case EPERM: {
      std::string paranoid = read_file("/proc/sys/kernel/perf_event_paranoid").value_or("?\n");
      paranoid.erase(paranoid.find_last_not_of("\n") + 1);
      return "kernel.perf_event_paranoid is " + paranoid +
             "; watching a tracepoint on every CPU needs CAP_PERFMON or CAP_SYS_ADMIN "
             "(containers may also forbid perf_event_open by seccomp)";
    }
    case ENOENT:
    case EINVAL:
      return "the kernel has no sock:inet_sock_set_state tracepoint, or perf cannot attach "
             "to tracepoints (CONFIG_EVENT_TRACING)";
    case ENOSYS:
      return "the kernel has no perf_event_open (CONFIG_PERF_EVENTS)";
    case EMFILE:
      return "too many open files (raise ulimit -n)";
    default:
      return "";
  }
}

// Copies `n` bytes at logical position `pos` out of a ring that may wrap.
void copy_from_ring(const std::uint8_t* data, std::size_t size, std::uint64_t pos, void* out,
                    std::size_t n) {
  const std::size_t start = pos % size;
  const std::size_t first = std::min(n, size - start);
  std::memcpy(out, data + start, first);
  std::memcpy(static_cast<std::uint8_t*>(out) + first, data, n - first);
}

}  // namespace

// ---- public pieces ---------------------------------------------------------------

TracepointDescription describe_state_tracepoint(bool private_mount) {
  if (!private_mount) {
    for (const char* root : kTracefsRoots) {
      const std::string dir = std::string(root) + "/" + kEventDir;
      auto id = read_file(dir + "/id");
      auto format = read_file(dir + "/format");
      if (id && format) return {parse_id(*id, dir + "/id"), *format};
    }
  }
  return describe_in_private_mount();
}

struct StateTracepoint::Layout {
  Field skaddr, oldstate, newstate, sport, dport, family, protocol, saddr, daddr, saddr_v6,
      daddr_v6;

  static Layout parse(const std::string& format) {
    Layout l;
    const std::pair<const char*, Field*> wanted[] = {
        {"skaddr", &l.skaddr},     {"oldstate", &l.oldstate}, {"newstate", &l.newstate},
        {"sport", &l.sport},       {"dport", &l.dport},       {"family", &l.family},
        {"protocol", &l.protocol}, {"saddr", &l.saddr},       {"daddr", &l.daddr},
        {"saddr_v6", &l.saddr_v6}, {"daddr_v6", &l.daddr_v6}};
    std::istringstream in(format);
    for (std::string line; std::getline(in, line);) {
      std::string name;
      Field f;
      if (!parse_field_line(line, name, f)) continue;
      for (auto& [want, slot] : wanted)
        if (name == want) *slot = f;
    }
    for (auto& [want, slot] : wanted)
      if (!slot->present)
        throw Error(std::string("sock:inet_sock_set_state format has no field '") + want +
                    "': this kernel's tracepoint is not the one tcpfault knows");
    return l;
  }

  std::size_t end() const {
    std::size_t e = 0;
    for (const Field* f : {&skaddr, &oldstate, &newstate, &sport, &dport, &family, &protocol,
                           &saddr, &daddr, &saddr_v6, &daddr_v6})
      e = std::max(e, f->offset + f->size);
    return e;
  }

  // The raw tracepoint record -> a transition, or nothing for other protocols.
  std::optional<Transition> decode(const std::uint8_t* raw, std::size_t size) const {
    if (size < end() || read_unsigned(raw, protocol) != kProtocolTcp) return std::nullopt;
    Transition t;
    t.socket = read_unsigned(raw, skaddr);
    t.from = static_cast<TcpState>(static_cast<std::int32_t>(read_unsigned(raw, oldstate)));
    t.to = static_cast<TcpState>(static_cast<std::int32_t>(read_unsigned(raw, newstate)));
    t.local.port = static_cast<std::uint16_t>(read_unsigned(raw, sport));
    t.remote.port = static_cast<std::uint16_t>(read_unsigned(raw, dport));
    const auto af = read_unsigned(raw, family);
    if (af == kFamilyInet) {
      t.local.addr = address_field(raw, saddr, Family::V4);
      t.remote.addr = address_field(raw, daddr, Family::V4);
    } else if (af == kFamilyInet6) {
      t.local.addr = unmap(address_field(raw, saddr_v6, Family::V6));
      t.remote.addr = unmap(address_field(raw, daddr_v6, Family::V6));
    } else {
      return std::nullopt;
    }
    return t;
  }
};

struct StateTracepoint::Ring {
  UniqueFd fd;
  void* base = MAP_FAILED;
  std::size_t bytes = 0;

  Ring(UniqueFd event, std::size_t page) : fd(std::move(event)) {
    bytes = (1 + kRingDataPages) * page;
    base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (base == MAP_FAILED)
      throw_errno("mmap of a perf ring buffer", "locked memory limit: kernel.perf_event_mlock_kb");
  }
  ~Ring() {
    if (base != MAP_FAILED) ::munmap(base, bytes);
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  perf_event_mmap_page* meta() const { return static_cast<perf_event_mmap_page*>(base); }
  std::uint64_t head() const { return __atomic_load_n(&meta()->data_head, __ATOMIC_ACQUIRE); }

  // Consumes records up to `head`: samples go to `out`, lost counts to `lost`.
  void consume(std::uint64_t head, const Layout& layout, std::vector<Transition>& out,
               std::atomic<std::uint64_t>& lost) {
    // data_offset/size are 0 before Linux 4.1: the data then starts at the second page.
    const std::size_t page = bytes / (1 + kRingDataPages);
    const std::size_t offset = meta()->data_size ? meta()->data_offset : page;
    const std::size_t size = meta()->data_size ? meta()->data_size : bytes - page;
    const auto* data = static_cast<const std::uint8_t*>(base) + offset;
    std::uint64_t tail = meta()->data_tail;
    std::vector<std::uint8_t> record;
    while (tail < head) {
      perf_event_header h;
      copy_from_ring(data, size, tail, &h, sizeof h);
      if (h.size < sizeof h) break;  // cannot happen; never spin on it
      record.resize(h.size);
      copy_from_ring(data, size, tail, record.data(), h.size);
      tail += h.size;
      if (h.type == PERF_RECORD_LOST && h.size >= sizeof h + 16) {
        std::uint64_t n;
        std::memcpy(&n, record.data() + sizeof h + 8, 8);
        lost += n;
      } else if (h.type == PERF_RECORD_SAMPLE) {
        // PERF_SAMPLE_TIME | CPU | RAW: u64 time; u32 cpu, res; u32 size; raw bytes.
        constexpr std::size_t fixed = sizeof(perf_event_header) + 8 + 8 + 4;
        if (h.size < fixed) continue;
        std::uint64_t time;
        std::uint32_t raw_size;
        std::memcpy(&time, record.data() + sizeof h, 8);
        std::memcpy(&raw_size, record.data() + sizeof h + 16, 4);
        if (fixed + raw_size > h.size) continue;
        if (auto t = layout.decode(record.data() + fixed, raw_size)) {
          t->mono_ns = static_cast<std::int64_t>(time);
          out.push_back(*t);
        }
      }
    }
    __atomic_store_n(&meta()->data_tail, tail, __ATOMIC_RELEASE);
  }
};

namespace {

UniqueFd open_on_cpu(std::uint64_t id, int cpu) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_TRACEPOINT;
  attr.config = id;
  attr.sample_period = 1;
  attr.sample_type = PERF_SAMPLE_RAW | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
  attr.wakeup_events = 1;
  attr.use_clockid = 1;
  attr.clockid = CLOCK_MONOTONIC;
  long fd = ::syscall(SYS_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace

StateTracepoint::StateTracepoint(Sink sink) : sink_(std::move(sink)) {
  if (::geteuid() != 0)
    throw Error(
        "the state tracepoint needs root: it reads tracefs and opens a perf event on every "
        "CPU (CAP_PERFMON / CAP_SYS_ADMIN)");
  const TracepointDescription tp = describe_state_tracepoint();
  layout_ = std::make_unique<Layout>(Layout::parse(tp.format));

  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  for (int cpu : online_cpus()) {
    UniqueFd fd = open_on_cpu(tp.id, cpu);
    if (!fd.valid()) {
      const int err = errno;
      if (err == ENODEV) continue;  // went offline since we read the list
      throw SystemError("perf_event_open(sock:inet_sock_set_state, id " + std::to_string(tp.id) +
                            ", cpu " + std::to_string(cpu) + ")",
                        err, perf_hint(err));
    }
    rings_.push_back(std::make_unique<Ring>(std::move(fd), page));
  }
  if (rings_.empty()) throw Error("perf_event_open: no online CPU accepted the tracepoint");

  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_.valid()) throw_errno("eventfd");
  thread_ = std::thread([this] { run(); });
}

StateTracepoint::~StateTracepoint() {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void StateTracepoint::drain() {
  std::lock_guard lock(read_mutex_);
  if (auto failure = std::exchange(failure_, nullptr)) std::rethrow_exception(failure);
  read_all();
}

void StateTracepoint::read_all() {
  // Every head first, then the records, then one sort: one socket's events can land in
  // different rings, and taking all heads at nearly one instant keeps its later event
  // from being delivered in this batch while its earlier one waits for the next.
  std::vector<std::uint64_t> heads;
  heads.reserve(rings_.size());
  for (const auto& r : rings_) heads.push_back(r->head());
  std::vector<Transition> batch;
  for (std::size_t i = 0; i < rings_.size(); ++i)
    rings_[i]->consume(heads[i], *layout_, batch, lost_);
  std::stable_sort(batch.begin(), batch.end(),
                   [](const Transition& a, const Transition& b) { return a.mono_ns < b.mono_ns; });
  for (const auto& t : batch) sink_(t);
}

void StateTracepoint::run() {
  std::vector<pollfd> fds;
  for (const auto& r : rings_) fds.push_back({r->fd.get(), POLLIN, 0});
  fds.push_back({wake_.get(), POLLIN, 0});
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid fds; drain() still works
    }
    if (fds.back().revents & POLLIN) return;
    for (auto& p : fds)
      if (p.revents & (POLLHUP | POLLERR)) p.fd = -1;  // its CPU went away: stop polling it
    std::lock_guard lock(read_mutex_);
    try {
      read_all();
    } catch (...) {
      failure_ = std::current_exception();  // from the sink; drain() rethrows it
      return;
    }
  }
}

}  // namespace tcpfault
