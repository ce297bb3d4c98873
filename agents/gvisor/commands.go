// The socket requests: listen, accept, connect, send, recv, shutdown, close. Each is
// admitted in arrival order (arguments read, handles taken) and returns the job that
// runs it on a goroutine of its own.

package main

import (
	"bytes"
	"encoding/hex"
	"math"
	"net"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// maxRecv keeps one recv's hex within the protocol's 1 MiB line.
const maxRecv = 256 << 10

const maxTimeoutMs = 24 * 3600 * 1000

type job func() (map[string]any, error)

type commands struct {
	stack   *stack.Stack
	handles *handleTable
	sysctls *sysctls
}

func deadlineArg(a args) time.Time {
	return time.Now().Add(time.Duration(a.integer("timeout_ms", 0, maxTimeoutMs)) * time.Millisecond)
}

func protoOf(ip net.IP) tcpip.NetworkProtocolNumber {
	if ip.To4() != nil {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

// wait blocks until try succeeds (returns true), the deadline passes or the socket is
// closed. try runs again after every event of mask on the socket's queue.
func wait(s *socket, mask waiter.EventMask, deadline time.Time, try func() bool) (ok, closed bool) {
	if try() {
		return true, false
	}
	entry, ch := waiter.NewChannelEntry(mask)
	s.wq.EventRegister(&entry)
	defer s.wq.EventUnregister(&entry)
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		if try() { // again, now that a change cannot be missed
			return true, false
		}
		select {
		case <-ch:
		case <-s.done:
			return false, true
		case <-timer.C:
			return try(), false
		}
	}
}

func (c *commands) newEndpoint(ip net.IP) (*socket, *socketError) {
	var wq waiter.Queue
	proto := protoOf(ip)
	ep, err := c.stack.NewEndpoint(tcp.ProtocolNumber, proto, &wq)
	if err != nil {
		return nil, failure(err, "socket")
	}
	if proto == ipv6.ProtocolNumber {
		ep.SocketOptions().SetV6Only(true) // each family has its own address
	}
	return newSocket(ep, &wq, false), nil
}

func (c *commands) listen(a args) job {
	ip := a.address("address")
	port := uint16(a.integer("port", 0, 65535))
	backlog := int(a.integer("backlog", 0, 65535))
	reuse := a.optBoolean("reuse_addr", false)
	return func() (map[string]any, error) {
		s, ferr := c.newEndpoint(ip)
		if ferr != nil {
			return nil, ferr
		}
		s.listener = true
		s.ep.SocketOptions().SetReuseAddress(reuse)
		if err := s.ep.Bind(tcpip.FullAddress{Addr: tcpip.Address(ipBytes(ip)), Port: port}); err != nil {
			s.ep.Close()
			return nil, failure(bindError(err), "bind")
		}
		if err := s.ep.Listen(sandboxBacklog(backlog)); err != nil {
			s.ep.Close()
			return nil, failure(err, "listen")
		}
		local, _ := s.ep.GetLocalAddress()
		return map[string]any{"listener": c.handles.add(s), "local": fullAddress(local)}, nil
	}
}

// sandboxBacklog is what gVisor's listen(2) passes netstack (syscalls/linux/sys_socket.go):
// at most 1024, plus one, for Linux's accept queue holds one more than the backlog.
func sandboxBacklog(backlog int) int {
	if backlog > 1024 {
		backlog = 1024
	}
	return backlog + 1
}

func (c *commands) accept(a args) job {
	l := c.handles.get(a.integer("listener", 1, math.MaxInt64), "listener")
	deadline := deadlineArg(a)
	return func() (map[string]any, error) {
		var ep tcpip.Endpoint
		var wq *waiter.Queue
		var peer tcpip.FullAddress
		var failed tcpip.Error
		ok, closed := wait(l, waiter.ReadableEvents, deadline, func() bool {
			var err tcpip.Error
			ep, wq, err = l.ep.Accept(&peer)
			if _, block := err.(*tcpip.ErrWouldBlock); block {
				return false
			}
			failed = err
			return true
		})
		switch {
		case closed:
			return nil, failErrno("EBADF", "the listener was closed while accept waited")
		case !ok:
			return nil, failErrno("EAGAIN", "no connection to accept before the timeout")
		case failed != nil:
			return nil, failure(failed, "accept")
		}
		s := newSocket(ep, wq, false)
		c.sysctls.applyKeepalive(s)
		local, _ := ep.GetLocalAddress()
		return map[string]any{"conn": c.handles.add(s), "local": fullAddress(local), "remote": fullAddress(peer)}, nil
	}
}

func (c *commands) connect(a args) job {
	ip := a.address("address")
	to := tcpip.FullAddress{Addr: tcpip.Address(ipBytes(ip)), Port: uint16(a.integer("port", 1, 65535))}
	localPort := uint16(a.optInteger("local_port", 0, 65535, 0))
	reuse := a.optBoolean("reuse_addr", false)
	deadline := deadlineArg(a)
	return func() (map[string]any, error) {
		s, ferr := c.newEndpoint(ip)
		if ferr != nil {
			return nil, ferr
		}
		s.ep.SocketOptions().SetReuseAddress(reuse)
		c.sysctls.applyKeepalive(s)
		if localPort != 0 {
			if err := s.ep.Bind(tcpip.FullAddress{Port: localPort}); err != nil {
				s.ep.Close()
				f := failure(bindError(err), "bind")
				f.extra = map[string]any{"failed": "bind"} // the port, refused before any segment
				return nil, f
			}
		}
		remote := fullAddress(to)
		err := s.ep.Connect(to)
		tuple := map[string]any{"remote": remote}
		if local, lerr := s.ep.GetLocalAddress(); lerr == nil && local.Port != 0 {
			tuple["local"] = fullAddress(local)
		}
		switch err.(type) {
		case *tcpip.ErrConnectStarted:
			// The handshake's end is a writable event, as gVisor's blocking connect(2) waits for.
			connected, _ := wait(s, waiter.WritableEvents|waiter.EventHUp|waiter.EventErr, deadline,
				func() bool { return !connecting(s.ep) })
			if !connected { // still connecting: the socket goes on, as a kernel's would
				tuple["conn"] = c.handles.add(s)
				return nil, &socketError{"EINPROGRESS", "the connection is still being made at the timeout", tuple}
			}
			err = s.ep.Connect(to) // the outcome, as gVisor's connect(2) asks for it
		case *tcpip.ErrNoPortAvailable:
			// gVisor's connect(2): no ephemeral port left is EADDRNOTAVAIL for TCP.
			f := failErrno("EADDRNOTAVAIL", "no ephemeral port left (connect)")
			f.extra = tuple
			s.ep.Close()
			return nil, f
		}
		if err != nil {
			s.ep.Close()
			f := failure(err, "connect")
			f.extra = tuple
			return nil, f
		}
		local, _ := s.ep.GetLocalAddress()
		return map[string]any{"conn": c.handles.add(s), "local": fullAddress(local), "remote": remote}, nil
	}
}

// bindError is gVisor's bind(2): an ephemeral port search that found none is EADDRINUSE.
func bindError(err tcpip.Error) tcpip.Error {
	if _, ok := err.(*tcpip.ErrNoPortAvailable); ok {
		return &tcpip.ErrPortInUse{}
	}
	return err
}

// connecting: the handshake is under way (netstack's internal connecting state too).
func connecting(ep tcpip.Endpoint) bool {
	switch tcp.EndpointState(ep.State()) {
	case tcp.StateConnecting, tcp.StateSynSent, tcp.StateSynRecv:
		return true
	}
	return false
}

func (c *commands) send(a args) job {
	s := c.handles.get(a.integer("conn", 1, math.MaxInt64), "conn")
	data := hexBytes(a, "data")
	deadline := deadlineArg(a)
	return func() (map[string]any, error) {
		sent := 0
		var failed tcpip.Error
		_, closed := wait(s, waiter.WritableEvents|waiter.EventHUp|waiter.EventErr, deadline, func() bool {
			for sent < len(data) {
				n, err := s.ep.Write(bytes.NewReader(data[sent:]), tcpip.WriteOptions{})
				sent += int(n)
				if _, block := err.(*tcpip.ErrWouldBlock); block {
					return false
				}
				if err != nil {
					failed = err
					return true
				}
			}
			return true
		})
		switch {
		case sent > 0 || len(data) == 0:
			return map[string]any{"sent": sent}, nil
		case closed:
			return nil, failErrno("EBADF", "the connection was closed while send waited")
		case failed != nil:
			return nil, failure(failed, "send")
		}
		return nil, failErrno("EAGAIN", "the send buffer stayed full until the timeout")
	}
}

func (c *commands) recv(a args) job {
	s := c.handles.get(a.integer("conn", 1, math.MaxInt64), "conn")
	max := a.integer("max", 1, math.MaxInt64)
	if max > maxRecv {
		max = maxRecv
	}
	deadline := deadlineArg(a)
	return func() (map[string]any, error) {
		var buf bytes.Buffer
		var failed tcpip.Error
		eof := false
		ok, closed := wait(s, waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr, deadline, func() bool {
			_, err := s.ep.Read(&tcpip.LimitedWriter{W: &buf, N: max}, tcpip.ReadOptions{})
			switch err.(type) {
			case nil:
				return true
			case *tcpip.ErrWouldBlock:
				return false
			case *tcpip.ErrClosedForReceive:
				eof = true
				return true
			}
			failed = err
			return true
		})
		switch {
		case closed:
			return nil, failErrno("EBADF", "the connection was closed while recv waited")
		case !ok:
			return nil, failErrno("EAGAIN", "nothing to read before the timeout")
		case failed != nil:
			return nil, failure(failed, "recv")
		}
		return map[string]any{"data": hex.EncodeToString(buf.Bytes()), "eof": eof}, nil
	}
}

func (c *commands) shutdown(a args) job {
	s := c.handles.get(a.integer("conn", 1, math.MaxInt64), "conn")
	var flags tcpip.ShutdownFlags
	switch how := a.str("how"); how {
	case "rd":
		flags = tcpip.ShutdownRead
	case "wr":
		flags = tcpip.ShutdownWrite
	case "rdwr":
		flags = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		panic(a.bad("how", `must be "rd", "wr" or "rdwr", not "`+how+`"`))
	}
	return func() (map[string]any, error) {
		if err := s.ep.Shutdown(flags); err != nil {
			return nil, failure(err, "shutdown")
		}
		return map[string]any{}, nil
	}
}

func (c *commands) close(a args) job {
	isConn := a.has("conn")
	if isConn == a.has("listener") {
		panic(badRequest("close: give exactly one of 'conn' and 'listener'"))
	}
	kind := "listener"
	if isConn {
		kind = "conn"
	}
	s := c.handles.detach(a.integer(kind, 1, math.MaxInt64), kind)
	return func() (map[string]any, error) {
		s.markClosed()
		entry, ch := waiter.NewChannelEntry(waiter.EventHUp | waiter.EventErr)
		s.wq.EventRegister(&entry)
		defer s.wq.EventUnregister(&entry)
		s.ep.Close()
		if linger := s.ep.SocketOptions().GetLinger(); linger.Enabled && linger.Timeout > 0 {
			lingerClose(ch, time.Now().Add(linger.Timeout))
		}
		return map[string]any{}, nil
	}
}

// lingerClose is gVisor's close(2) with SO_LINGER (sentry/socket/netstack: Release): it
// blocks until the endpoint signals its end (hang-up or error) or the linger time is up.
func lingerClose(ch chan struct{}, deadline time.Time) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-ch:
	case <-timer.C:
	}
}
