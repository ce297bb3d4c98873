// Linux's sysctls on netstack's own knobs (docs/agent-protocol.md, "Linux sysctls"): a
// key is declared only where netstack's setting means what Linux's does; "fixed" keys
// say how netstack behaves where it cannot be changed.

package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

type sysctl struct {
	means string
	fixed string // the value netstack behaves as, when it cannot be changed
	get   func(*sysctls) string
	set   func(*sysctls, []int64) error // the value's fields, as integers
	text  bool                          // the value is text (tcp_congestion_control)
}

type sysctls struct {
	stack   *stack.Stack
	handles *handleTable

	mu        sync.Mutex
	keepalive [3]int64 // the defaults Linux's keepalive sysctls set: idle s, interval s, probes
}

func newSysctls(s *stack.Stack, h *handleTable) *sysctls {
	return &sysctls{stack: s, handles: h, keepalive: [3]int64{
		int64(tcp.DefaultKeepaliveIdle / time.Second), int64(tcp.DefaultKeepaliveInterval / time.Second), tcp.DefaultKeepaliveCount}}
}

// The handshake's timer (connect.go: InitialRTO doubling until it would pass MaxRTO)
// ignores TCPSynRetriesOption in this snapshot: SYNs and SYN-ACKs go at 0, 1, 3, 7, 15,
// 31 s and the handshake fails at 63 s.
const handshakeTimer = "the handshake's timer: 1 s doubling, failing when it would pass 60 s (tcp.MaxRTO); TCPSynRetriesOption is not used by it"

var sysctlTable = map[string]sysctl{
	"net.ipv4.tcp_sack": {means: "tcpip.TCPSACKEnabled",
		get: func(c *sysctls) string { var v tcpip.TCPSACKEnabled; c.option(&v); return boolText(bool(v)) },
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPSACKEnabled(f[0] != 0)
			return c.setOption(&v, f[0] >= 0)
		}},
	"net.ipv4.tcp_recovery": {means: "tcpip.TCPRecovery (RACK, static reordering window, no dupthresh: Linux's bits)",
		get: func(c *sysctls) string { var v tcpip.TCPRecovery; c.option(&v); return strconv.Itoa(int(v)) },
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPRecovery(f[0])
			return c.setOption(&v, f[0] >= 0 && f[0] <= 7)
		}},
	"net.ipv4.tcp_congestion_control": {means: "tcpip.CongestionControlOption (reno, cubic)", text: true,
		get: func(c *sysctls) string { var v tcpip.CongestionControlOption; c.option(&v); return string(v) }},
	"net.ipv4.tcp_fin_timeout": {means: "tcpip.TCPLingerTimeoutOption (an orphan's FIN_WAIT2)",
		get: func(c *sysctls) string {
			var v tcpip.TCPLingerTimeoutOption
			c.option(&v)
			return seconds(time.Duration(v))
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPLingerTimeoutOption(time.Duration(f[0]) * time.Second)
			return c.setOption(&v, f[0] >= 0)
		}},
	"net.ipv4.tcp_rto_min_us": {means: "tcpip.TCPMinRTOOption",
		get: func(c *sysctls) string {
			var v tcpip.TCPMinRTOOption
			c.option(&v)
			return strconv.FormatInt(time.Duration(v).Microseconds(), 10)
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPMinRTOOption(time.Duration(f[0]) * time.Microsecond)
			return c.setOption(&v, f[0] >= 1)
		}},
	"net.ipv4.tcp_rto_max_ms": {means: "tcpip.TCPMaxRTOOption (data; the handshake's cap is fixed at 60 s)",
		get: func(c *sysctls) string {
			var v tcpip.TCPMaxRTOOption
			c.option(&v)
			return strconv.FormatInt(time.Duration(v).Milliseconds(), 10)
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPMaxRTOOption(time.Duration(f[0]) * time.Millisecond)
			return c.setOption(&v, f[0] >= 1000 && f[0] <= 120000)
		}},
	"net.ipv4.tcp_retries2": {means: "tcpip.TCPMaxRetriesOption (a count of retransmissions; Linux's is a time budget)",
		get: func(c *sysctls) string {
			var v tcpip.TCPMaxRetriesOption
			c.option(&v)
			return strconv.FormatUint(uint64(v), 10)
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPMaxRetriesOption(f[0])
			return c.setOption(&v, f[0] >= 0 && f[0] <= 255)
		}},
	"net.ipv4.tcp_syncookies": {means: "tcpip.TCPAlwaysUseSynCookies (2: always; 1: when a listener's SYN queue is full, netstack's default; 0 is not possible)",
		get: func(c *sysctls) string {
			var v tcpip.TCPAlwaysUseSynCookies
			c.option(&v)
			if v {
				return "2"
			}
			return "1"
		},
		set: func(c *sysctls, f []int64) error {
			if f[0] == 0 {
				return unsupported("netstack cannot turn SYN cookies off: it answers with a cookie whenever a listener's SYN queue is full")
			}
			v := tcpip.TCPAlwaysUseSynCookies(f[0] == 2)
			return c.setOption(&v, f[0] >= 1 && f[0] <= 2)
		}},
	"net.ipv4.tcp_rmem": {means: "tcpip.TCPReceiveBufferSizeRangeOption",
		get: func(c *sysctls) string {
			var v tcpip.TCPReceiveBufferSizeRangeOption
			c.option(&v)
			return fields(v.Min, v.Default, v.Max)
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPReceiveBufferSizeRangeOption{Min: int(f[0]), Default: int(f[1]), Max: int(f[2])}
			return c.setOption(&v, f[0] >= 1 && f[0] <= f[1] && f[1] <= f[2])
		}},
	"net.ipv4.tcp_wmem": {means: "tcpip.TCPSendBufferSizeRangeOption",
		get: func(c *sysctls) string {
			var v tcpip.TCPSendBufferSizeRangeOption
			c.option(&v)
			return fields(v.Min, v.Default, v.Max)
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPSendBufferSizeRangeOption{Min: int(f[0]), Default: int(f[1]), Max: int(f[2])}
			return c.setOption(&v, f[0] >= 1 && f[0] <= f[1] && f[1] <= f[2])
		}},
	"net.ipv4.tcp_moderate_rcvbuf": {means: "tcpip.TCPModerateReceiveBufferOption",
		get: func(c *sysctls) string {
			var v tcpip.TCPModerateReceiveBufferOption
			c.option(&v)
			return boolText(bool(v))
		},
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPModerateReceiveBufferOption(f[0] != 0)
			return c.setOption(&v, f[0] >= 0 && f[0] <= 1)
		}},
	"net.ipv4.tcp_tw_reuse": {means: "tcpip.TCPTimeWaitReuseOption (0 off, 1 global, 2 loopback only: Linux's values)",
		get: func(c *sysctls) string { var v tcpip.TCPTimeWaitReuseOption; c.option(&v); return strconv.Itoa(int(v)) },
		set: func(c *sysctls, f []int64) error {
			v := tcpip.TCPTimeWaitReuseOption(f[0])
			return c.setOption(&v, f[0] >= 0 && f[0] <= 2)
		}},
	"net.ipv4.ip_local_port_range": {means: "the stack's ephemeral port range (stack.SetPortRange)",
		get: func(c *sysctls) string { lo, hi := c.stack.PortRange(); return fields(int(lo), int(hi)) },
		set: func(c *sysctls, f []int64) error {
			if f[0] < 1 || f[0] > f[1] || f[1] > 65535 {
				return invalid()
			}
			if err := c.stack.SetPortRange(uint16(f[0]), uint16(f[1])); err != nil {
				return failure(err, "ip_local_port_range")
			}
			return nil
		}},
	"net.ipv4.tcp_keepalive_time":   keepaliveSysctl(0, "idle time (tcpip.KeepaliveIdleOption of each new connection)"),
	"net.ipv4.tcp_keepalive_intvl":  keepaliveSysctl(1, "interval (tcpip.KeepaliveIntervalOption of each new connection)"),
	"net.ipv4.tcp_keepalive_probes": keepaliveSysctl(2, "count (tcpip.KeepaliveCountOption of each new connection)"),

	"net.ipv4.tcp_timestamps":          {means: "netstack always offers and accepts timestamps", fixed: "1"},
	"net.ipv4.tcp_window_scaling":      {means: "netstack always offers and accepts window scaling", fixed: "1"},
	"net.ipv4.tcp_ecn":                 {means: "netstack has no ECN", fixed: "0"},
	"net.ipv4.tcp_fastopen":            {means: "netstack has no TCP Fast Open", fixed: "0"},
	"net.ipv4.tcp_syn_retries":         {means: handshakeTimer, fixed: "5"},
	"net.ipv4.tcp_synack_retries":      {means: handshakeTimer, fixed: "5"},
	"net.ipv4.tcp_syn_linear_timeouts": {means: handshakeTimer, fixed: "0"},
	"net.ipv4.tcp_tw_reuse_delay": {fixed: "1000", means: "a TIME_WAIT 4-tuple is reused (tcp_tw_reuse) once 1 s " +
		"has passed since its last timestamp (endpoint.go's ephemeral port search: recentTSTime + 1 s)"},
	"net.ipv4.tcp_abort_on_overflow": {fixed: "0", means: "a final ACK that meets a full accept queue is dropped " +
		"silently, and the peer's retransmission may complete it later (accept.go)"},
}

func keepaliveSysctl(i int, what string) sysctl {
	limits := [3]int64{32767, 32767, 127}
	return sysctl{means: "the agent's keepalive default " + what + ", for sockets that set none",
		get: func(c *sysctls) string {
			c.mu.Lock()
			defer c.mu.Unlock()
			return strconv.FormatInt(c.keepalive[i], 10)
		},
		set: func(c *sysctls, f []int64) error {
			if f[0] < 1 || f[0] > limits[i] {
				return invalid()
			}
			c.mu.Lock()
			c.keepalive[i] = f[0]
			c.mu.Unlock()
			for _, s := range c.handles.connections() { // Linux reads them when the timer runs
				c.applyKeepalive(s)
			}
			return nil
		}}
}

// declared is the hello reply's "sysctls".
func (c *sysctls) declared() map[string]any {
	out := map[string]any{}
	for key, s := range sysctlTable {
		value := s.fixed
		if s.fixed == "" {
			value = s.get(c)
		}
		out[key] = map[string]any{"value": value, "fixed": s.fixed != "", "means": s.means}
	}
	return out
}

func (c *sysctls) lookup(key string) sysctl {
	s, ok := sysctlTable[key]
	if !ok {
		panic(unsupported("netstack has no counterpart of Linux's %s (see hello's \"sysctls\")", key))
	}
	return s
}

func (c *sysctls) getSysctl(a args) job {
	s := c.lookup(a.str("key"))
	return func() (map[string]any, error) {
		if s.fixed != "" {
			return map[string]any{"value": s.fixed}, nil
		}
		return map[string]any{"value": s.get(c)}, nil
	}
}

func (c *sysctls) setSysctl(a args) job {
	key := a.str("key")
	s := c.lookup(key)
	text := strings.TrimSpace(a.str("value"))
	if s.fixed != "" {
		if strings.Join(strings.Fields(text), " ") == s.fixed {
			return func() (map[string]any, error) { return map[string]any{}, nil }
		}
		panic(unsupported("%s is fixed at %s in netstack: %s", key, s.fixed, s.means))
	}
	return func() (map[string]any, error) {
		if s.text {
			return c.setText(key, text)
		}
		var numbers []int64
		for _, f := range strings.Fields(text) {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, invalid()
			}
			numbers = append(numbers, n)
		}
		if want := len(strings.Fields(s.get(c))); len(numbers) != want {
			return nil, failErrno("EINVAL", fmt.Sprintf("%s takes %d number(s), not %q", key, want, text))
		}
		if err := s.set(c, numbers); err != nil {
			return nil, err
		}
		return map[string]any{}, nil
	}
}

func (c *sysctls) setText(key, text string) (map[string]any, error) {
	v := tcpip.CongestionControlOption(text)
	if err := c.stack.SetTransportProtocolOption(tcp.ProtocolNumber, &v); err != nil {
		return nil, failErrno("ENOENT", fmt.Sprintf("%s: netstack has no congestion control %q (it has reno and cubic)", key, text))
	}
	return map[string]any{}, nil
}

// applyKeepalive gives a connection the keepalive defaults, unless setsockopt set its own.
func (c *sysctls) applyKeepalive(s *socket) {
	s.optMu.Lock()
	own := s.keepalive
	s.optMu.Unlock()
	if own {
		return
	}
	c.mu.Lock()
	k := c.keepalive
	c.mu.Unlock()
	idle := tcpip.KeepaliveIdleOption(time.Duration(k[0]) * time.Second)
	interval := tcpip.KeepaliveIntervalOption(time.Duration(k[1]) * time.Second)
	_ = s.ep.SetSockOpt(&idle)
	_ = s.ep.SetSockOpt(&interval)
	_ = s.ep.SetSockOptInt(tcpip.KeepaliveCountOption, int(k[2]))
}

func (c *sysctls) option(v tcpip.GettableTransportProtocolOption) {
	if err := c.stack.TransportProtocolOption(tcp.ProtocolNumber, v); err != nil {
		panic(fmt.Sprintf("netstack's TCP has no option %T: %s", v, err))
	}
}

// setOption sets a stack-wide option whose value passed Linux's own range check (valid).
func (c *sysctls) setOption(v tcpip.SettableTransportProtocolOption, valid bool) error {
	if !valid {
		return invalid()
	}
	if err := c.stack.SetTransportProtocolOption(tcp.ProtocolNumber, v); err != nil {
		return failure(err, "set the stack's option")
	}
	return nil
}

func invalid() *socketError {
	return failErrno("EINVAL", "invalid argument (a value Linux's sysctl refuses too)")
}

func boolText(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// fields prints several numbers as Linux prints a sysctl's fields: tab-separated.
func fields(values ...int) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = strconv.Itoa(v)
	}
	return strings.Join(parts, "\t")
}
