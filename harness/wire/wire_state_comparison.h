// The wire-inferred states (wire_states.h) against each stack's own record of them, for
// every connection of one scenario: per end, the two sequences of steps aligned, each
// step agreeing or not, and each disagreement put down to a cause. A kernel side's record
// is the sock:inet_sock_set_state tracepoint, completed by sock_diag; an agent's side's is
// the agent's state events alone (source "agent state event", docs/agent-protocol.md):
// its sockets are not the kernel's, so nothing of the kernel's observer or socket table
// is ever read for it (ComparisonInput::agents says which side that is).
//
// Matching: a kernel socket is one (host, kernel socket identity) whose steps run from a
// start (CLOSED -> SYN_SENT, LISTEN -> SYN_RECV) to wherever it was last seen; it belongs
// to the wire connection of its 4-tuple that was current when it started (a SYN_SENT
// socket to the first one that starts after it: its SYN follows its connect()).
// Listeners are not connections and are left out, and so are kernel steps that change
// no state (a second close() after shutdown() sets FIN_WAIT1 again; an orphan's full
// socket handing over to its FIN_WAIT2 minisocket).
//
// Aligning: the longest common subsequence of steps (same from and to); the rest are
// steps only the kernel recorded or only the wire shows. Those are classified from the
// segments around them (their fates, roles, times), the kernel step's own source, and
// the end's other steps; what no rule explains is "unexplained": a bug in the inference,
// in the observer, or a kind of case the rules do not know yet. Below, "the kernel" is
// the stack whose record is compared, and "kernel-only" a step only that stack recorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/observe/state_observer.h"
#include "harness/trace/trace.h"
#include "harness/wire/wire_states.h"

namespace tcpfault {

// Why the wire and the kernel disagree about a step: what the wire cannot show, or what
// the kernel's record leaves out. Each has a stable key (to_string) used in reports.
enum class DisagreementCause {
  // A request socket (NEW_SYN_RECV) never became a full socket: with the fallback
  // observer (full sockets only) the wire shows SYN_RECV and on where the kernel has
  // nothing; with the BPF observer, where a full accept queue dropped the handshake's ACK,
  // the wire shows ESTABLISHED while the kernel kept the request (and dropped it later).
  RequestSocket,
  // connect() failed in the kernel before a SYN left (EADDRINUSE, EADDRNOTAVAIL): the
  // socket went SYN_SENT and back to CLOSED with nothing on the wire.
  ConnectFailedLocally,
  // close() or shutdown() moved the socket on (FIN_WAIT1, LAST_ACK), but its FIN had
  // not left when the comparison was made: it waits in the send queue behind data
  // nobody acknowledged. The wire shows a close only when the FIN leaves.
  FinNotSent,
  // A timer gave up (SYN, SYN-ACK, retransmission, keepalive or zero-window probe
  // budget spent): the kernel (or an agent's stack) closes the socket without sending
  // anything.
  TimerGaveUp,
  // tcp_fin_timeout ended an orphan's FIN_WAIT2 minisocket (an agent's stack: its
  // FIN_WAIT2 timer, the wire's machine waiting in FIN_WAIT2 too): no segment shows it.
  OrphanFinWait2Timeout,
  // The kernel closed the socket where it would have entered TIME_WAIT, because no
  // timewait minisocket could be made (tcp_max_tw_buckets reached): the wire shows a
  // normal close into TIME_WAIT.
  TimeWaitNotKept,
  // Fallback observer only (the BPF observer records both): an orphan's FIN_WAIT2
  // minisocket has no tracepoint event; the fallback looks at it every 2 ms and found
  // it gone, so it missed the TIME_WAIT the wire shows in between.
  MinisocketPolled,
  // Fallback observer only: a TIME_WAIT minisocket ended (an RST at rcv_nxt with
  // tcp_rfc1337 = 0, a new SYN taking the 4-tuple) without a tracepoint event: the
  // kernel's record stops at TIME_WAIT.
  TimeWaitEndUnrecorded,
  // A new connection took over a TIME_WAIT minisocket's 4-tuple: a connect() (tcp_tw_reuse,
  // a bound port with timestamps) ended it without a segment, or a new SYN to the listener
  // (and what that exchange brought) ended it; the wire shows the new connection, and the
  // old one just stops. Seen only with the BPF observer, which records the end, and in an
  // agent's events.
  TimeWaitTakenOver,
  // The application closed a socket still in SYN_SENT (RFC 9293 3.10.4: CLOSE there
  // deletes the TCB and sends nothing): its connect() had given up waiting (EINPROGRESS),
  // and the step came before the SYN timer could fire again. The wire's machine stays in
  // SYN_SENT.
  ClosedInSynSent,
  // A passive-open child in SYN_RECV whose listener closed: the stack dropped it sending
  // nothing (Linux when the request socket's SYN-ACK timer next fires and finds its
  // listener gone). The wire's machine stays in SYN_RECV.
  ListenerClosed,
  // The kernel's socket was gone already when the wire shows this step: segments that
  // reached the host afterwards met no socket (the host answers with an RST of its
  // own), while the wire still moved the connection's machine.
  SocketGone,
  // A kernel socket with this topology's addresses that is none of this scenario's:
  // the tracepoint is machine-wide and tells sockets apart by address only (sockets of
  // an earlier topology in the same address slot, still closing in its dying
  // namespaces, or of another program using these addresses).
  ForeignSocket,
  // Agents' sides (the record is the stack's own events, made when a step happens):
  // The stack's TIME_WAIT timer (2 x MSL, its own length) ran out: it forgot the
  // connection, TIME_WAIT -> CLOSED, with no segment; nothing for the 4-tuple reached it
  // while it waited.
  TimeWaitExpired,
  // An RST reset a passive-open child in SYN_RECV: the stack reports SYN_RECV -> CLOSED
  // (a connection it forgets goes to CLOSED; the child never was the listener, which
  // stays LISTEN), the wire's RFC 9293 machine SYN_RECV -> LISTEN: one event, two names.
  SynRecvChildClosed,
  // The stack answered the SYN with a SYN cookie and kept no state: its connection is
  // born when the cookie comes back, LISTEN -> ESTABLISHED, where the wire's machine is
  // in SYN_RECV from the SYN on: one life, two namings.
  SynCookieChild,
  // The stack's own state machine departs from RFC 9293's as the wire reads it, shown by
  // a rule that identifies it: a transition RFC 9293 does not have (LAST_ACK -> FIN_WAIT1
  // when a FIN is retransmitted), one step where the wire takes two on the same segment
  // (FIN_WAIT1 -> TIME_WAIT on a FIN that acknowledges its FIN), or an RST the wire's
  // RFC 5961 machine answers with a challenge ACK that closed the stack; and the steps
  // that follow from it until both machines are in one state again. Real disagreements:
  // the explanation names the stack's steps and the wire's.
  StackDeviation,
  // No rule explains it: a bug in the inference or the observer, or a new kind of case.
  Unexplained,
};
std::string to_string(DisagreementCause c);  // "request-socket", "timer-gave-up" ...

enum class StepAgreement { Agree, KernelOnly, WireOnly };
std::string to_string(StepAgreement a);  // "agree", "kernel-only", "wire-only"

struct AlignedStep {
  StepAgreement agreement = StepAgreement::Agree;
  TcpState from = TcpState::CLOSED;
  TcpState to = TcpState::CLOSED;
  std::int64_t kernel_t_ns = 0;  // 0: the kernel recorded no such step
  std::string kernel_source;     // "tracepoint", "sock_diag (timewait minisocket)" ...
  std::int64_t wire_t_ns = 0;    // 0: the wire shows no such step
  std::uint64_t wire_segment = 0;
  std::string wire_reason;
  // For a disagreement only.
  std::optional<DisagreementCause> cause;
  std::string explanation;  // what happened, with times and segment numbers

  bool agrees() const { return agreement == StepAgreement::Agree; }
};

struct EndComparison {
  WireEnd end = WireEnd::Opener;
  Host host = Host::Client;
  // Whose record the wire is compared with: "kernel", or the agent target's name ("gvisor").
  std::string stack = "kernel";
  SockAddr local, remote;
  bool on_wire = true;          // false: a kernel socket no wire connection matches
  std::size_t kernel_sockets = 0;
  std::vector<AlignedStep> steps;  // in time order
  // The wire's notes about this end ("segment 12: RST in the window but not at rcv_nxt ...").
  std::vector<std::string> wire_notes;

  bool agent() const { return stack != "kernel"; }
  std::size_t agreements() const;
  std::size_t disagreements() const;
};

struct ConnectionComparison {
  std::uint64_t id = 0;  // the wire connection (Classified::connection); 0: none
  EndComparison opener, acceptor;
};

struct WireStateComparison {
  std::vector<ConnectionComparison> connections;
  // Kernel sockets of neither end of any wire connection (their steps are all kernel-only).
  std::vector<EndComparison> kernel_only_sockets;

  std::size_t agreements() const;
  std::size_t disagreements() const;
  std::size_t unexplained() const;
  // Every end compared, those of kernel-only sockets last.
  std::vector<const EndComparison*> ends() const;
  // One block per connection; disagreements with their cause and explanation.
  std::string describe(std::int64_t origin_ns = 0) const;
};

// What a comparison reads from a trace; tests build one by hand.
struct ComparisonInput {
  std::vector<SegmentEvent> segments;        // the middlebox's, in arrival order
  std::vector<TransitionEvent> transitions;  // the kernel's, in time order
  std::vector<CallEvent> calls;              // socket calls and their results
  std::vector<NoteEvent> notes;              // sysctls set, rules added ...
  std::int64_t origin_ns = 0;                // times in explanations are from here
  // The sides run by an agent, with the target's name ("gvisor"): their record is the
  // agent's state events only (any other step on that host is left out). A host with a
  // step whose source is "agent state event" is an agent's even when not listed here
  // (named "agent"); listing it matters for an agent that reported nothing yet.
  std::map<Host, std::string> agents;
};
WireStateComparison compare_wire_states(const ComparisonInput& input);
// From a scenario's trace (refreshes it first, so the kernel's steps so far are in).
// A comparison made right after the last call of a test may catch a segment on its
// way to the middlebox, or a kernel step not read yet: while some disagreement is
// unexplained, it waits up to `settle` for the timeline to change and compares again.
// `agents`: as ComparisonInput::agents (a scenario's target gives it).
WireStateComparison compare_wire_states(const Trace& trace,
                                        std::chrono::milliseconds settle = std::chrono::milliseconds(0),
                                        const std::map<Host, std::string>& agents = {});
// The same for a live scenario, whose observer first fills in, for each end the wire
// saw, a step the tracepoint missed (perf loses some events fired in softirq, a timer
// giving up a connection for one): what the expectations do before they read states.
// Never for an agent's side: its sockets are not the kernel's.
WireStateComparison compare_wire_states(StateObserver& states, const Trace& trace,
                                        std::chrono::milliseconds settle = std::chrono::milliseconds(0),
                                        const std::map<Host, std::string>& agents = {});
// The source of an agent's state events in the trace (harness/agent/agent_lines.cpp).
inline constexpr const char* kAgentStateEvent = "agent state event";

}  // namespace tcpfault
