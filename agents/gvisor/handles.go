// The handles tcpfault names sockets by: listeners and connections, each an endpoint of
// netstack with its waiter queue.

package main

import (
	"fmt"
	"sync"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

type socket struct {
	ep       tcpip.Endpoint
	wq       *waiter.Queue
	listener bool
	done     chan struct{} // closed by close: calls still waiting end with EBADF
	once     sync.Once

	optMu     sync.Mutex
	keepalive bool // its keepalive settings were set by setsockopt: the sysctls no longer apply
}

func newSocket(ep tcpip.Endpoint, wq *waiter.Queue, listener bool) *socket {
	return &socket{ep: ep, wq: wq, listener: listener, done: make(chan struct{})}
}

// markClosed wakes every call still waiting on the socket.
func (s *socket) markClosed() { s.once.Do(func() { close(s.done) }) }

func (s *socket) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

type handleTable struct {
	mu    sync.Mutex
	next  int64
	table map[int64]*socket
}

func newHandleTable() *handleTable { return &handleTable{next: 1, table: map[int64]*socket{}} }

func (h *handleTable) add(s *socket) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.table[id] = s
	return id
}

// get finds a handle of the kind asked ("conn" or "listener"; "" for either, named as
// "conn" in errors: setsockopt's argument).
func (h *handleTable) get(id int64, kind string) *socket {
	h.mu.Lock()
	s := h.table[id]
	h.mu.Unlock()
	arg := kind
	if arg == "" {
		arg = "conn"
	}
	if s == nil {
		panic(&protocolError{"bad_handle", fmt.Sprintf("%s %d: no such handle (never opened, or closed)", arg, id)})
	}
	if kind == "listener" && !s.listener || kind == "conn" && s.listener {
		is, want := "connection", "listener"
		if s.listener {
			is, want = want, is
		}
		panic(&protocolError{"bad_handle", fmt.Sprintf("%s %d is a %s, not a %s", arg, id, is, want)})
	}
	return s
}

// detach takes the handle away: later requests naming it are bad_handle.
func (h *handleTable) detach(id int64, kind string) *socket {
	s := h.get(id, kind)
	h.mu.Lock()
	delete(h.table, id)
	h.mu.Unlock()
	return s
}

// connections are the open connection handles (for sysctls that apply to them).
func (h *handleTable) connections() []*socket {
	h.mu.Lock()
	defer h.mu.Unlock()
	var list []*socket
	for _, s := range h.table {
		if !s.listener {
			list = append(list, s)
		}
	}
	return list
}
