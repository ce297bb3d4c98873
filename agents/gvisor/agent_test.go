package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

// fakeEndpoint stands for a netstack endpoint: the translation knows endpoints only by identity.
type fakeEndpoint struct{ tcpip.Endpoint }

func collect(t *testing.T) (*stateEvents, *[]map[string]any) {
	var got []map[string]any
	e := &stateEvents{wake: make(chan struct{}, 1), known: map[tcpip.Endpoint]*tracked{},
		emit: func(m map[string]any) { got = append(got, m) }}
	return e, &got
}

func steps(got []map[string]any) string {
	var parts []string
	for _, m := range got {
		parts = append(parts, m["from"].(string)+">"+m["to"].(string))
	}
	return strings.Join(parts, " ")
}

func id() stack.TransportEndpointID {
	return stack.TransportEndpointID{LocalPort: 8080, LocalAddress: "\xc6\x12\x02\x01", RemotePort: 40000, RemoteAddress: "\xc6\x12\x01\x01"}
}

func TestAPassiveOpenComesFromListenAndInternalStatesAreSilent(t *testing.T) {
	e, got := collect(t)
	ep := &fakeEndpoint{}
	for _, c := range [][2]tcp.EndpointState{{tcp.StateInitial, tcp.StateConnecting}, {tcp.StateConnecting, tcp.StateSynRecv},
		{tcp.StateSynRecv, tcp.StateEstablished}, {tcp.StateEstablished, tcp.StateCloseWait},
		{tcp.StateCloseWait, tcp.StateLastAck}, {tcp.StateLastAck, tcp.StateError}, {tcp.StateError, tcp.StateClose}} {
		e.hook(ep, id(), c[0], c[1])
	}
	e.flush()
	want := "LISTEN>SYN_RECV SYN_RECV>ESTABLISHED ESTABLISHED>CLOSE_WAIT CLOSE_WAIT>LAST_ACK LAST_ACK>CLOSED"
	if s := steps(*got); s != want {
		t.Fatalf("steps %q, want %q", s, want)
	}
	if (*got)[0]["local"] != "198.18.2.1:8080" || (*got)[0]["remote"] != "198.18.1.1:40000" {
		t.Fatalf("tuple %v", (*got)[0])
	}
	if len(e.sockets()) != 0 {
		t.Fatalf("a closed connection is still listed: %v", e.sockets())
	}
}

func TestAnActiveOpenComesFromClosedAndAFailedConnectIsNoConnection(t *testing.T) {
	e, got := collect(t)
	a, b := &fakeEndpoint{}, &fakeEndpoint{}
	e.hook(a, id(), tcp.StateBound, tcp.StateConnecting)
	e.hook(a, id(), tcp.StateConnecting, tcp.StateSynSent)
	e.hook(b, id(), tcp.StateInitial, tcp.StateError) // never sent a SYN
	e.hook(a, id(), tcp.StateSynSent, tcp.StateEstablished)
	e.hook(a, id(), tcp.StateEstablished, tcp.StateFinWait1)
	e.flush()
	if s := steps(*got); s != "CLOSED>SYN_SENT SYN_SENT>ESTABLISHED ESTABLISHED>FIN_WAIT1" {
		t.Fatalf("steps %q", s)
	}
	if l := e.sockets(); len(l) != 1 || l[0]["state"] != "FIN_WAIT1" {
		t.Fatalf("sockets %v", l)
	}
}

func TestListenersDoNotReport(t *testing.T) {
	e, got := collect(t)
	l := &fakeEndpoint{}
	e.hook(l, id(), tcp.StateBound, tcp.StateListen)
	e.hook(l, id(), tcp.StateListen, tcp.StateClose)
	e.flush()
	if len(*got) != 0 {
		t.Fatalf("a listener reported %v", *got)
	}
}

func TestEveryTCPStateHasItsLinuxName(t *testing.T) {
	// Linux's include/net/tcp_states.h numbers; netstack's TCP states use the same.
	linux := []string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSED",
		"CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING"}
	for n := 1; n < len(linux); n++ {
		name, ok := linuxState(tcp.EndpointState(n))
		if linux[n] == "LISTEN" {
			ok, name = true, "LISTEN" // listeners never report
		}
		if !ok || name != linux[n] {
			t.Errorf("state %d (%s) is named %q, Linux says %s", n, tcp.EndpointState(n), name, linux[n])
		}
	}
	for _, s := range []tcp.EndpointState{tcp.StateInitial, tcp.StateBound, tcp.StateConnecting} {
		if _, ok := linuxState(s); ok {
			t.Errorf("netstack's internal state %s has a Linux name", s)
		}
	}
}

func TestArgumentsSayWhichIsWrong(t *testing.T) {
	var fields map[string]json.RawMessage
	_ = json.Unmarshal([]byte(`{"port": 70000, "address": "nope", "data": "abc", "ok": 5}`), &fields)
	a := args{"listen", fields}
	for _, c := range []struct {
		call func()
		want string
	}{
		{func() { a.integer("port", 0, 65535) }, "listen: argument 'port' must be an integer from 0 to 65535, not 70000"},
		{func() { a.address("address") }, `listen: argument 'address' must be an IPv4 or IPv6 address`},
		{func() { a.str("missing") }, "listen: argument 'missing' is missing"},
		{func() { hexBytes(a, "data") }, "hex data has an odd number of digits"},
		{func() { a.boolean("ok") }, "listen: argument 'ok' must be true or false, not 5"},
	} {
		func() {
			defer func() {
				e, ok := recover().(*protocolError)
				if !ok || e.kind != "bad_request" || !strings.Contains(e.message, c.want) {
					t.Errorf("got %v, want a bad_request saying %q", e, c.want)
				}
			}()
			c.call()
		}()
	}
}

func TestLinesOverTheLimitAreReportedOnceAndSkipped(t *testing.T) {
	input := strings.Repeat("x", maxLine+10) + "\n" + `{"id": 1}` + "\n"
	r := newLineReader(bytes.NewBufferString(input))
	if _, tooLong, err := r.next(); !tooLong || err != nil {
		t.Fatalf("the long line: tooLong %v, err %v", tooLong, err)
	}
	if line, tooLong, err := r.next(); string(line) != `{"id": 1}` || tooLong || err != nil {
		t.Fatalf("the next line: %q %v %v", line, tooLong, err)
	}
}

func TestEverySysctlIsFixedOrReadable(t *testing.T) {
	for key, s := range sysctlTable {
		if !strings.HasPrefix(key, "net.ipv4.") || s.means == "" {
			t.Errorf("%s: a Linux key with what it means, please", key)
		}
		if (s.fixed == "") == (s.get == nil) {
			t.Errorf("%s: exactly one of fixed and get", key)
		}
		if s.fixed == "" && s.set == nil && !s.text {
			t.Errorf("%s: settable keys need set", key)
		}
	}
}
