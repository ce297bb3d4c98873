#include "harness/observe/bpf_observer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <vector>

#include "netns/error.h"
#include "state_events.skel.h"

namespace tcpfault {

namespace {

// libbpf reports through a process-wide callback: keep the last warning of a failed
// load (the verifier's or the kernel's reason) for the error message.
std::mutex log_mu;
std::string* log_target = nullptr;

int log_to_target(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG || !log_target) return 0;
  char line[512];
  std::vsnprintf(line, sizeof line, fmt, args);
  *log_target += line;
  return 0;
}

std::string last_lines(const std::string& log, std::size_t n) {
  std::size_t at = log.size();
  for (std::size_t i = 0; i <= n && at != std::string::npos && at > 0; ++i) at = log.rfind('\n', at - 1);
  std::string tail = log.substr(at == std::string::npos ? 0 : at + 1);
  while (!tail.empty() && tail.back() == '\n') tail.pop_back();
  return tail;
}

}  // namespace

const char* BpfObserver::attached_to() {
  return "tp_btf: sock:inet_sock_set_state, timer:timer_start, timer:timer_cancel, timer:timer_expire_entry, "
         "kmem:kmem_cache_alloc, kmem:kmem_cache_free, net:netif_receive_skb, skb:kfree_skb, skb:consume_skb, "
         "tcp:tcp_send_reset";
}

BpfObserver::BpfObserver(Sink sink) : steps_(std::move(sink)) {
  const auto start = std::chrono::steady_clock::now();
  std::string log;
  {
    std::lock_guard lock(log_mu);
    log_target = &log;
    libbpf_set_print(log_to_target);
  }
  auto fail = [&](const std::string& step, int err) {
    {
      std::lock_guard lock(log_mu);
      log_target = nullptr;
    }
    if (ring_) ring_buffer__free(ring_);
    if (skel_) state_events__destroy(skel_);
    std::string why = step + ": " + std::strerror(err < 0 ? -err : err);
    if (auto detail = last_lines(log, 2); !detail.empty()) why += " (libbpf: " + detail + ")";
    throw Error("the BPF state observer cannot " + why);
  };
  if (::access("/sys/kernel/btf/vmlinux", R_OK) != 0) fail("find the kernel's BTF (/sys/kernel/btf/vmlinux)", errno);
  skel_ = state_events__open();
  if (!skel_) fail("open its program", errno);
  if (int err = state_events__load(skel_)) fail("load its program", err);
  if (int err = state_events__attach(skel_)) fail("attach to the tracepoints", err);
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &BpfObserver::on_record, this, nullptr);
  if (!ring_) fail("open its ring buffer", errno);
  {
    std::lock_guard lock(log_mu);
    log_target = nullptr;
  }
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake_.get() < 0) fail("make an eventfd", errno);
  load_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  thread_ = std::thread([this] { run(); });
}

BpfObserver::~BpfObserver() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ring_buffer__free(ring_);
  state_events__destroy(skel_);
}

int BpfObserver::on_record(void* self, void* data, std::size_t size) {
  if (size < sizeof(state_event)) return 0;
  state_event e;
  std::memcpy(&e, data, sizeof e);
  static_cast<BpfObserver*>(self)->steps_.add(e);
  return 0;
}

void BpfObserver::consume() {
  std::lock_guard lock(read_mutex_);
  if (failure_) return;
  try {
    ring_buffer__consume(ring_);
  } catch (...) {
    failure_ = std::current_exception();
  }
}

void BpfObserver::run() {
  pollfd fds[2] = {{ring_buffer__epoll_fd(ring_), POLLIN, 0}, {wake_.get(), POLLIN, 0}};
  while (true) {
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[1].revents & POLLIN)) return;
    consume();
  }
}

void BpfObserver::drain() {
  consume();
  std::lock_guard lock(read_mutex_);
  if (failure_) std::rethrow_exception(failure_);
}

std::uint64_t BpfObserver::lost() const {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return 0;
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
  std::uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.lost), &zero, per_cpu.data()) != 0) return 0;
  std::uint64_t sum = 0;
  for (auto v : per_cpu) sum += v;
  // A program interrupted on its CPU by an event that runs it again (a socket's step in
  // softirq while a step in process context is being recorded) is not run the second
  // time: the kernel counts that as a recursion miss. A missed step is a lost record.
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, skel_->obj) {
    bpf_prog_info info{};
    std::uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) sum += info.recursion_misses;
  }
  return sum;
}

}  // namespace tcpfault
