// How Python values become engine values, with errors that say what was expected.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>
#include <cstdint>

#include "harness/scenario/scenario.h"

namespace tcpfault::py_bindings {

namespace py = pybind11;

// A bit set of roles as Python sees it: FIN | RETRANSMISSION.
struct PyRoles {
  Roles bits = 0;
};

// Python objects that live inside a scenario (its endpoints, its fault engine) hold
// it weakly: after Scenario.close() they raise a clear error instead of crashing.
struct ScenarioRef {
  std::weak_ptr<Scenario> scenario;
  std::shared_ptr<Scenario> lock() const;  // throws Error when the scenario is closed
};
struct EndpointProxy {
  ScenarioRef ref;
  Host host;
};
struct FaultsProxy {
  ScenarioRef ref;
};

// Seconds (int or float, >= 0) -> milliseconds. `what` names the argument in errors.
std::chrono::milliseconds seconds_arg(const py::handle& value, const char* what);
// An int in [lo, hi]; TypeError for other types, ValueError out of range (not pybind's
// bare "Unable to cast").
std::int64_t int_arg(const py::handle& value, const char* what, std::int64_t lo, std::int64_t hi);
// A TCP port number, 0..65535.
std::uint16_t port_arg(const py::handle& value, const char* what);
// Host.CLIENT, "client", or an Endpoint of that side.
Host host_arg(const py::handle& value, const char* what);
// A Roles value, a role name ("FINAL_ACK"), or an iterable of them.
Roles roles_arg(const py::handle& value, const char* what);
// TCP flags as an int or tcpdump letters: "S", "S.", "R.", "FA" (A and . both mean ACK).
std::uint8_t flags_arg(const py::handle& value, const char* what);
// Family.V4 / 4 / "4" / "ipv4" ...
Family family_arg(const py::handle& value);
// A Match, a role (or role name), or None, refined by keyword arguments:
// sent_by, flags, without_flags, any_role, not_role, payload (n or (lo, hi)), port,
// relative_seq.
Match match_arg(const py::handle& what, const py::kwargs& refine);

// A trace event with its trace's time origin, so it can say "+12.3 ms": Python's
// Segment, Transition and Call (bind_trace.cpp).
template <class E>
struct Timed {
  E event;
  std::int64_t start_ns;
  double t_ms() const { return double(event.t_ns - start_ns) / 1e6; }
};
using SegmentRecord = Timed<SegmentEvent>;
using TransitionRecord = Timed<TransitionEvent>;
using CallRecord = Timed<CallEvent>;
// since=: a Segment (the segments after it), a Transition or a Call (those after its time).
Since since_arg(const py::handle& value);

// Scenario(target=..., target_side=...): "kernel", "lwip" (the built agents/lwip agent,
// found by tcpfault.targets) or "agent:COMMAND", on "server" or "client" (target_arg.cpp).
Target target_arg(const std::string& spec, const py::handle& side);

// A flood the scenario owns, by number (Python's Flood); its counts are read live.
struct FloodHandle {
  ScenarioRef ref;
  int id;
  std::string label;
};
// Scenario.flood_syns: starts a SYN flood (bind_flood.cpp).
FloodHandle start_flood(const std::shared_ptr<Scenario>& s, const py::handle& to, const py::handle& count,
                       const py::handle& rate, const py::handle& sources);
// The scenario behind a Python Scenario object (throws Error when it is closed).
std::shared_ptr<Scenario> scenario_of(const py::handle& net);

void bind_values(py::module_& m);
void bind_endpoints(py::module_& m);
void bind_faults(py::module_& m);
void bind_trace(py::module_& m);
void bind_scenario(py::module_& m);
void bind_transfer(py::module_& m);  // after bind_scenario: adds Scenario.transfer
void bind_tcp_info(py::module_& m);
void bind_flood(py::module_& m);
void bind_timers(py::module_& m);  // after bind_scenario: it adds Scenario methods
void bind_wire_states(py::module_& m);  // after bind_scenario: it adds Scenario methods
void bind_sysctl_check(py::module_& m);

}  // namespace tcpfault::py_bindings
