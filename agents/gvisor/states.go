// State events: every change of every connection's state, from the hook the build adds
// to netstack's tcp package (overlay/state_hook.go), as docs/agent-protocol.md wants them.

package main

import (
	"sort"
	"sync"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// stateChange is one call of setEndpointState, as the hook saw it.
type stateChange struct {
	ep       tcpip.Endpoint
	id       stack.TransportEndpointID
	from, to tcp.EndpointState
	tNs      int64
}

// tracked is what the peer was last told of one connection.
type tracked struct {
	local, remote string
	state         string
}

type stateEvents struct {
	queueMu sync.Mutex
	queue   []stateChange // filled by the hook, under the endpoint's lock
	wake    chan struct{}

	emitMu sync.Mutex // one emitter at a time, so the events keep their order
	known  map[tcpip.Endpoint]*tracked
	emit   func(event map[string]any)
}

func newStateEvents(emit func(map[string]any)) *stateEvents {
	e := &stateEvents{wake: make(chan struct{}, 1), known: map[tcpip.Endpoint]*tracked{}, emit: emit}
	tcp.StateHook = e.hook
	go func() {
		for range e.wake {
			e.flush()
		}
	}()
	return e
}

// hook only queues: it runs inside netstack with the endpoint locked.
func (e *stateEvents) hook(ep tcpip.Endpoint, id stack.TransportEndpointID, from, to tcp.EndpointState) {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	e.queueMu.Lock()
	e.queue = append(e.queue, stateChange{ep, id, from, to, ts.Nano()})
	e.queueMu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// flush sends the queued changes. Replies call it first, so that a reply never
// overtakes the state change that made it (connect's ESTABLISHED, close's FIN_WAIT1).
func (e *stateEvents) flush() {
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	e.queueMu.Lock()
	changes := e.queue
	e.queue = nil
	e.queueMu.Unlock()
	for _, c := range changes {
		e.translate(c)
	}
}

func (e *stateEvents) translate(c stateChange) {
	if c.from == tcp.StateListen || c.to == tcp.StateListen {
		return // listeners do not report
	}
	to, ok := linuxState(c.to)
	if !ok {
		return // netstack's own steps before a SYN is sent or received
	}
	t := e.known[c.ep]
	from := ""
	switch {
	case t == nil && to == "CLOSED":
		return // a connect that failed before its SYN: never a connection
	case t == nil:
		// A connection is born in SYN_SENT (active open) or out of a listener.
		from = "LISTEN"
		if to == "SYN_SENT" {
			from = "CLOSED"
		}
		t = &tracked{local: endpointAddress(c.id.LocalAddress, c.id.LocalPort), remote: endpointAddress(c.id.RemoteAddress, c.id.RemotePort)}
		e.known[c.ep] = t
	case t.state == to:
		return // StateError then StateClose: one CLOSED
	default:
		from = t.state
	}
	t.state = to
	if to == "CLOSED" {
		delete(e.known, c.ep)
	}
	e.emit(map[string]any{"event": "state", "t_ns": c.tNs, "local": t.local, "remote": t.remote, "from": from, "to": to})
}

// sockets lists every connection the stack holds, TIME_WAIT and orphans included.
func (e *stateEvents) sockets() []map[string]any {
	e.flush()
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	list := []map[string]any{}
	for _, t := range e.known {
		list = append(list, map[string]any{"local": t.local, "remote": t.remote, "state": t.state})
	}
	sort.Slice(list, func(i, j int) bool {
		return list[i]["local"].(string)+list[i]["remote"].(string) < list[j]["local"].(string)+list[j]["remote"].(string)
	})
	return list
}

// linuxState names netstack's TCP states as Linux does (their numbers are Linux's);
// its error state is CLOSED; its internal states (initial, bound, connecting) are none.
func linuxState(s tcp.EndpointState) (string, bool) {
	switch s {
	case tcp.StateEstablished:
		return "ESTABLISHED", true
	case tcp.StateSynSent:
		return "SYN_SENT", true
	case tcp.StateSynRecv:
		return "SYN_RECV", true
	case tcp.StateFinWait1:
		return "FIN_WAIT1", true
	case tcp.StateFinWait2:
		return "FIN_WAIT2", true
	case tcp.StateTimeWait:
		return "TIME_WAIT", true
	case tcp.StateClose, tcp.StateError:
		return "CLOSED", true
	case tcp.StateCloseWait:
		return "CLOSE_WAIT", true
	case tcp.StateLastAck:
		return "LAST_ACK", true
	case tcp.StateClosing:
		return "CLOSING", true
	}
	return "", false
}
