// Linux's MIB counters (nstat's names) from netstack's statistics: a counter is declared
// only where netstack counts the same event (docs/agent-protocol.md, "Linux counters").
// Not Tcp.AttemptFails: netstack's FailedConnectionAttempts counts connect() calls that
// return an error, not a handshake that fails later (an RST in SYN_RECV, HS7).

package main

import (
	"sort"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

type counter struct {
	means string
	read  func(t *tcpip.TCPStats) uint64
}

var counterTable = map[string]counter{
	"Tcp.ActiveOpens":        {"ActiveConnectionOpenings", func(t *tcpip.TCPStats) uint64 { return t.ActiveConnectionOpenings.Value() }},
	"Tcp.PassiveOpens":       {"PassiveConnectionOpenings", func(t *tcpip.TCPStats) uint64 { return t.PassiveConnectionOpenings.Value() }},
	"Tcp.EstabResets":        {"EstablishedResets", func(t *tcpip.TCPStats) uint64 { return t.EstablishedResets.Value() }},
	"Tcp.CurrEstab":          {"CurrentEstablished", func(t *tcpip.TCPStats) uint64 { return t.CurrentEstablished.Value() }},
	"Tcp.InSegs":             {"ValidSegmentsReceived", func(t *tcpip.TCPStats) uint64 { return t.ValidSegmentsReceived.Value() }},
	"Tcp.OutSegs":            {"SegmentsSent", func(t *tcpip.TCPStats) uint64 { return t.SegmentsSent.Value() }},
	"Tcp.RetransSegs":        {"Retransmits", func(t *tcpip.TCPStats) uint64 { return t.Retransmits.Value() }},
	"Tcp.InErrs":             {"InvalidSegmentsReceived", func(t *tcpip.TCPStats) uint64 { return t.InvalidSegmentsReceived.Value() }},
	"Tcp.InCsumErrors":       {"ChecksumErrors", func(t *tcpip.TCPStats) uint64 { return t.ChecksumErrors.Value() }},
	"Tcp.OutRsts":            {"ResetsSent", func(t *tcpip.TCPStats) uint64 { return t.ResetsSent.Value() }},
	"TcpExt.TCPTimeouts":     {"Timeouts (retransmission timer expiries)", func(t *tcpip.TCPStats) uint64 { return t.Timeouts.Value() }},
	"TcpExt.TCPFastRetrans":  {"FastRetransmit", func(t *tcpip.TCPStats) uint64 { return t.FastRetransmit.Value() }},
	"TcpExt.TCPSackRecovery": {"SACKRecovery", func(t *tcpip.TCPStats) uint64 { return t.SACKRecovery.Value() }},
	"TcpExt.TCPRenoRecovery": {"FastRecovery (NewReno)", func(t *tcpip.TCPStats) uint64 { return t.FastRecovery.Value() }},
	"TcpExt.ListenOverflows": {"ListenOverflowSynDrop + ListenOverflowAckDrop (a full accept queue)",
		listenOverflows},
	"TcpExt.ListenDrops": {"ListenOverflowSynDrop + ListenOverflowAckDrop: netstack drops a listener's segments for no other counted reason",
		listenOverflows},
	"TcpExt.SyncookiesSent": {"ListenOverflowSynCookieSent", func(t *tcpip.TCPStats) uint64 { return t.ListenOverflowSynCookieSent.Value() }},
	"TcpExt.TCPReqQFullDoCookies": {"ListenOverflowSynCookieSent (netstack sends a cookie only when the SYN queue is full, unless always)",
		func(t *tcpip.TCPStats) uint64 { return t.ListenOverflowSynCookieSent.Value() }},
	"TcpExt.SyncookiesRecv":   {"ListenOverflowSynCookieRcvd", func(t *tcpip.TCPStats) uint64 { return t.ListenOverflowSynCookieRcvd.Value() }},
	"TcpExt.SyncookiesFailed": {"ListenOverflowInvalidSynCookieRcvd", func(t *tcpip.TCPStats) uint64 { return t.ListenOverflowInvalidSynCookieRcvd.Value() }},
}

// listenOverflows: the SYNs and ACKs a full accept queue dropped.
func listenOverflows(t *tcpip.TCPStats) uint64 {
	return t.ListenOverflowSynDrop.Value() + t.ListenOverflowAckDrop.Value()
}

// declaredCounters is the hello reply's "counters": each name with what it counts.
func declaredCounters() map[string]string {
	out := map[string]string{}
	for name, c := range counterTable {
		out[name] = "netstack's TCPStats." + c.means
	}
	return out
}

func countersJob(s *stack.Stack) job {
	return func() (map[string]any, error) {
		stats := s.Stats().TCP
		names := make([]string, 0, len(counterTable))
		for name := range counterTable {
			names = append(names, name)
		}
		sort.Strings(names)
		values := map[string]any{}
		for _, name := range names {
			values[name] = counterTable[name].read(&stats)
		}
		return map[string]any{"counters": values}, nil
	}
}
