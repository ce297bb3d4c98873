// The handles tcpfault names sockets by, and what keeps two requests on one socket
// from tripping over each other.
//
// Debian's lwIP is built without LWIP_NETCONN_FULLDUPLEX: a socket must not be closed
// (or shut down for reading) while another thread is inside a call on it. So every
// socket is non-blocking, each lwIP call on it is made under its `call` mutex, and the
// waits between calls happen outside lwIP's calls (lwip_poll in short slices). Closing
// takes the handle away first (new requests get bad_handle), then waits for the
// requests still using it to notice and leave.
//
// Requests take their uses (and a close detaches its handle) in the order they arrive,
// on the reading thread, before they run: a close sent after a recv always finds the
// recv using the socket, however the threads are scheduled.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace tcpfault::lwip_agent {

enum class SocketKind { Listener, Conn };

struct AgentSocket {
  AgentSocket(int fd_, SocketKind kind_) : fd(fd_), kind(kind_) {}
  const int fd;
  const SocketKind kind;
  std::mutex call;                  // one lwIP call on this socket at a time
  std::timed_mutex recv_turn;       // one recv (or accept) at a time, in arrival order
  std::timed_mutex send_turn;       // one send at a time
  std::atomic<bool> closing{false};
  int uses = 0;                     // guarded by the table's mutex
  // The keepalive settings the socket set itself (kOwnIdle | kOwnInterval | kOwnCount):
  // those no longer follow the tcp_keepalive_* defaults, as on Linux.
  std::atomic<unsigned> own_keepalive{0};
  static constexpr unsigned kOwnIdle = 1, kOwnInterval = 2, kOwnCount = 4;
};

class HandleTable {
 public:
  // A request's use of a socket: the socket stays open until every use has ended.
  class Use {
   public:
    Use(HandleTable& t, std::shared_ptr<AgentSocket> s) : table_(&t), sock_(std::move(s)) {}
    Use(Use&& o) noexcept : table_(o.table_), sock_(std::move(o.sock_)) {}
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;
    ~Use();
    AgentSocket& operator*() const { return *sock_; }
    AgentSocket* operator->() const { return sock_.get(); }

   private:
    HandleTable* table_;
    std::shared_ptr<AgentSocket> sock_;
  };

  int add(int fd, SocketKind kind);
  // Throws ProtocolError bad_handle when there is no such handle, or when it is of
  // another kind than `kind` (if given); `arg` names the argument in the message.
  Use use(std::int64_t handle, const SocketKind* kind, const char* arg);
  // Removes the handle (later requests naming it get bad_handle) and marks the socket
  // closing, so that requests waiting on it give up.
  std::shared_ptr<AgentSocket> detach(std::int64_t handle, const SocketKind* kind, const char* arg);
  // Returns once no request uses the socket any more.
  void wait_unused(const AgentSocket& s);
  // A use of every socket of `kind` that has a handle now.
  std::vector<Use> use_all(SocketKind kind);

 private:
  std::mutex mu_;
  std::condition_variable released_;
  using Sockets = std::map<std::int64_t, std::shared_ptr<AgentSocket>>;
  // The socket of `handle`, of `kind` when given; ProtocolError "bad_handle" otherwise.
  // Called with mu_ held.
  Sockets::iterator find_locked(std::int64_t handle, const SocketKind* kind, const char* arg);
  Sockets sockets_;
  std::int64_t next_ = 1;
};

}  // namespace tcpfault::lwip_agent
