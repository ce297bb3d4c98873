// setsockopt and getsockopt: the protocol's options, on netstack's per-socket settings.

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// socketOptions are the options this agent supports, in its hello features. Beyond the
// protocol's five: TCP_USER_TIMEOUT (user_timeout_ms), TCP_MAXSEG (maxseg), TCP_SYNCNT
// (syncnt) and TCP_LINGER2 (linger2_s), each an integer.
var socketOptions = []string{"linger", "keepalive", "nodelay", "sndbuf", "rcvbuf", "user_timeout_ms", "maxseg", "syncnt", "linger2_s"}

func (c *commands) setsockopt(a args) job {
	s := c.handles.get(a.integer("conn", 1, math.MaxInt64), "")
	option := a.str("option")
	value := a.raw("value")
	set := parseOption(option, value)
	return func() (map[string]any, error) {
		if err := set(s); err != nil {
			return nil, failure(err, "setsockopt "+option)
		}
		return map[string]any{}, nil
	}
}

func (c *commands) getsockopt(a args) job {
	s := c.handles.get(a.integer("conn", 1, math.MaxInt64), "")
	option := a.str("option")
	get := optionReader(option)
	return func() (map[string]any, error) {
		v, err := get(s)
		if err != nil {
			return nil, failure(err, "getsockopt "+option)
		}
		return map[string]any{"value": v}, nil
	}
}

func badValue(option string, expected string, value json.RawMessage) *protocolError {
	return badRequest("setsockopt %s: the value must be %s, not %s", option, expected, value)
}

func intValue(option string, value json.RawMessage, min, max int64) int64 {
	var n int64
	if err := json.Unmarshal(value, &n); err != nil || n < min || n > max {
		panic(badValue(option, fmt.Sprintf("an integer from %d to %d", min, max), value))
	}
	return n
}

// parseOption checks the value at admission and returns what sets it.
func parseOption(option string, value json.RawMessage) func(*socket) tcpip.Error {
	switch option {
	case "linger":
		var v struct {
			On      *bool `json:"on"`
			Seconds *int  `json:"seconds"`
		}
		if err := json.Unmarshal(value, &v); err != nil || v.On == nil || v.Seconds != nil && (*v.Seconds < 0 || *v.Seconds > 65535) {
			panic(badValue(option, `{"on": bool, "seconds": 0 to 65535}`, value))
		}
		l := tcpip.LingerOption{Enabled: *v.On}
		if v.Seconds != nil {
			l.Timeout = time.Duration(*v.Seconds) * time.Second
		}
		return func(s *socket) tcpip.Error { s.ep.SocketOptions().SetLinger(l); return nil }
	case "keepalive":
		var off bool
		if json.Unmarshal(value, &off) == nil || string(value) == "null" {
			return func(s *socket) tcpip.Error { s.ep.SocketOptions().SetKeepAlive(off); return nil }
		}
		var v struct {
			Idle     *int64 `json:"idle_s"`
			Interval *int64 `json:"interval_s"`
			Count    *int64 `json:"count"`
		}
		if err := json.Unmarshal(value, &v); err != nil {
			panic(badValue(option, `{"idle_s", "interval_s", "count"} or false`, value))
		}
		check := func(p *int64, name string, max int64) {
			if p != nil && (*p < 1 || *p > max) {
				panic(badValue(option, fmt.Sprintf("an object whose %s is from 1 to %d", name, max), value))
			}
		}
		check(v.Idle, "idle_s", 32767)
		check(v.Interval, "interval_s", 32767)
		check(v.Count, "count", 127)
		return func(s *socket) tcpip.Error {
			s.optMu.Lock()
			s.keepalive = true
			s.optMu.Unlock()
			s.ep.SocketOptions().SetKeepAlive(true)
			if v.Idle != nil {
				o := tcpip.KeepaliveIdleOption(time.Duration(*v.Idle) * time.Second)
				if err := s.ep.SetSockOpt(&o); err != nil {
					return err
				}
			}
			if v.Interval != nil {
				o := tcpip.KeepaliveIntervalOption(time.Duration(*v.Interval) * time.Second)
				if err := s.ep.SetSockOpt(&o); err != nil {
					return err
				}
			}
			if v.Count != nil {
				return s.ep.SetSockOptInt(tcpip.KeepaliveCountOption, int(*v.Count))
			}
			return nil
		}
	case "nodelay":
		var on bool
		if json.Unmarshal(value, &on) != nil {
			panic(badValue(option, "true or false", value))
		}
		return func(s *socket) tcpip.Error { s.ep.SocketOptions().SetDelayOption(!on); return nil }
	case "sndbuf", "rcvbuf":
		n := intValue(option, value, 0, math.MaxInt32)
		return func(s *socket) tcpip.Error {
			if option == "sndbuf" {
				s.ep.SocketOptions().SetSendBufferSize(n, true)
			} else {
				s.ep.SocketOptions().SetReceiveBufferSize(n, true)
			}
			return nil
		}
	case "user_timeout_ms":
		n := intValue(option, value, 0, math.MaxInt32)
		return func(s *socket) tcpip.Error {
			o := tcpip.TCPUserTimeoutOption(time.Duration(n) * time.Millisecond)
			return s.ep.SetSockOpt(&o)
		}
	case "maxseg":
		n := intValue(option, value, 0, 65535)
		return func(s *socket) tcpip.Error { return s.ep.SetSockOptInt(tcpip.MaxSegOption, int(n)) }
	case "syncnt":
		n := intValue(option, value, 1, 127)
		return func(s *socket) tcpip.Error { return s.ep.SetSockOptInt(tcpip.TCPSynCountOption, int(n)) }
	case "linger2_s":
		n := intValue(option, value, -1, math.MaxInt32)
		return func(s *socket) tcpip.Error {
			o := tcpip.TCPLingerTimeoutOption(time.Duration(n) * time.Second)
			return s.ep.SetSockOpt(&o)
		}
	}
	panic(unsupported("setsockopt: no option '%s' (this agent's options: %v)", option, socketOptions))
}

func optionReader(option string) func(*socket) (any, tcpip.Error) {
	switch option {
	case "linger":
		return func(s *socket) (any, tcpip.Error) {
			l := s.ep.SocketOptions().GetLinger()
			return map[string]any{"on": l.Enabled, "seconds": int(l.Timeout / time.Second)}, nil
		}
	case "keepalive":
		return func(s *socket) (any, tcpip.Error) {
			if !s.ep.SocketOptions().GetKeepAlive() {
				return false, nil
			}
			var idle tcpip.KeepaliveIdleOption
			var interval tcpip.KeepaliveIntervalOption
			if err := s.ep.GetSockOpt(&idle); err != nil {
				return nil, err
			}
			if err := s.ep.GetSockOpt(&interval); err != nil {
				return nil, err
			}
			count, err := s.ep.GetSockOptInt(tcpip.KeepaliveCountOption)
			if err != nil {
				return nil, err
			}
			return map[string]any{"idle_s": int(time.Duration(idle) / time.Second),
				"interval_s": int(time.Duration(interval) / time.Second), "count": count}, nil
		}
	case "nodelay":
		return func(s *socket) (any, tcpip.Error) { return !s.ep.SocketOptions().GetDelayOption(), nil }
	case "sndbuf":
		return func(s *socket) (any, tcpip.Error) { return s.ep.SocketOptions().GetSendBufferSize(), nil }
	case "rcvbuf":
		return func(s *socket) (any, tcpip.Error) { return s.ep.SocketOptions().GetReceiveBufferSize(), nil }
	case "user_timeout_ms":
		return func(s *socket) (any, tcpip.Error) {
			var o tcpip.TCPUserTimeoutOption
			err := s.ep.GetSockOpt(&o)
			return int64(time.Duration(o) / time.Millisecond), err
		}
	case "maxseg":
		return func(s *socket) (any, tcpip.Error) { return s.ep.GetSockOptInt(tcpip.MaxSegOption) }
	case "syncnt":
		return func(s *socket) (any, tcpip.Error) { return s.ep.GetSockOptInt(tcpip.TCPSynCountOption) }
	case "linger2_s":
		return func(s *socket) (any, tcpip.Error) {
			var o tcpip.TCPLingerTimeoutOption
			err := s.ep.GetSockOpt(&o)
			return int64(time.Duration(o) / time.Second), err
		}
	}
	panic(unsupported("getsockopt: no option '%s' (this agent's options: %v)", option, socketOptions))
}
