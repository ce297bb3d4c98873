// Scenario: the topology with its endpoints, fault engine, timeline and expectations.
//
//   with tcpfault.Scenario(family=6, name="CL2") as net:
//       server = net.server.listen(8080)
//       client = net.client.connect(server)
//       ...
//       net.expect(conn).passes(CLOSE_WAIT, LAST_ACK, CLOSED, within=2)
#include <pybind11/stl.h>

#include <cmath>

#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

namespace {

using Seconds = std::chrono::milliseconds;

// Owns the scenario; close() ends it even while Python still holds its parts.
struct ScenarioHandle {
  std::shared_ptr<Scenario> scenario;
  std::shared_ptr<Trace> trace;
  std::string name;

  std::shared_ptr<Scenario> get() const { return ScenarioRef{scenario}.lock(); }
  void close() {
    std::shared_ptr<Scenario> ending = std::move(scenario);
    py::gil_scoped_release unlocked;
    ending.reset();  // tears down: lets held packets go, removes the namespaces
  }
};

SocketRef ref_arg(const py::handle& of) {
  if (py::isinstance<Connection>(of)) return of.cast<Connection&>().ref();
  if (py::isinstance<SocketRef>(of)) return of.cast<SocketRef>();
  throw py::type_error("expect() takes a Connection or a SocketRef (conn.peer), not " +
                       std::string(py::str(py::type::of(of).attr("__name__"))));
}

int errno_arg(const py::handle& err) {
  if (py::isinstance<py::int_>(err)) return err.cast<int>();
  std::string name = py::str(err);
  py::module_ errno_module = py::module_::import("errno");
  // Only the E... constants: errno.errorcode is an attribute too, but no errno.
  if (name.rfind('E', 0) != 0 || !py::hasattr(errno_module, name.c_str()) ||
      !py::isinstance<py::int_>(errno_module.attr(name.c_str())))
    throw py::value_error("unknown errno name '" + name + "' (use a name from the errno module, e.g. 'ECONNRESET')");
  return errno_module.attr(name.c_str()).cast<int>();
}

TcpState state_arg(const py::handle& s) {
  if (py::isinstance<TcpState>(s)) return s.cast<TcpState>();
  if (py::isinstance<py::str>(s)) {
    auto st = state_from_name(s.cast<std::string>());
    if (st) return *st;
    throw py::value_error("unknown TCP state '" + s.cast<std::string>() + "' (e.g. 'TIME_WAIT', 'FIN_WAIT1')");
  }
  throw py::type_error("a TCP state must be a tcpfault.State or its name, not " +
                       std::string(py::str(py::type::of(s).attr("__name__"))));
}

// net.expect(conn): expectations about one socket.
struct StateExpect {
  ScenarioHandle handle;
  SocketRef ref;

  void reaches(const py::object& state, const py::object& within) const {
    TcpState want = state_arg(state);
    auto t = seconds_arg(within, "within");
    auto s = handle.get();
    py::gil_scoped_release unlocked;
    s->expect_state(ref, want, t);
  }
  void passes(const py::args& states, const py::object& within) const {
    std::vector<TcpState> seq;
    for (auto st : states) seq.push_back(state_arg(st));
    if (seq.empty()) throw py::value_error("passes() needs at least one state");
    auto t = seconds_arg(within, "within");
    auto s = handle.get();
    py::gil_scoped_release unlocked;
    s->expect_transitions(ref, seq, t);
  }
  void stays(const py::object& state, const py::object& until, const py::object& within) const {
    TcpState held = state_arg(state);
    Match m = match_arg(until, py::kwargs());
    auto t = seconds_arg(within, "within");
    auto s = handle.get();
    py::gil_scoped_release unlocked;
    s->expect_stays_until(ref, held, m, t);
  }
};

}  // namespace

std::shared_ptr<Scenario> scenario_of(const py::handle& net) { return net.cast<ScenarioHandle&>().get(); }

void bind_scenario(py::module_& m) {
  py::class_<StateExpect>(m, "StateExpectation", "Expectations about one socket, from Scenario.expect(conn).")
      .def("reaches", &StateExpect::reaches, py::arg("state"), py::arg("within") = 3.0,
           "The kernel shows the socket in `state` within `within` seconds (CLOSED: no socket).")
      .def("passes", &StateExpect::passes, py::arg("within") = 3.0,
           "The socket's transitions include these states as consecutive steps.")
      .def("stays", &StateExpect::stays, py::arg("state"), py::kw_only(), py::arg("until"), py::arg("within") = 3.0,
           "The socket is in `state` when a segment matching `until` is seen, and leaves it only after.")
      .def("__repr__", [](const StateExpect& e) { return "<StateExpectation " + e.ref.str() + ">"; });

  py::class_<ScenarioHandle>(m, "Scenario",
                             "A fresh client - middlebox - server topology in its own namespaces, with the fault\n"
                             "engine on the middlebox and both ends' kernels observed. Use it as a context manager\n"
                             "or call close(); the pytest plugin's `net` fixture does it for you.")
      .def(py::init([](const py::object& family, const std::string& name, const py::object& artifacts,
                       std::uint16_t queue, bool pin, bool intercept, const py::object& queue_max_len,
                       const py::object& trace_payload_cap, const std::string& target, const py::object& target_side,
                       const py::object& failure_artifacts) {
             ScenarioOptions o;
             o.family = family_arg(family);
             o.name = name;
             if (!artifacts.is_none()) o.artifacts_dir = py::str(artifacts).cast<std::string>();
             if (!failure_artifacts.is_none()) o.failure_artifacts_dir = py::str(failure_artifacts).cast<std::string>();
             o.queue_number = queue;
             o.topology.pin = pin;
             o.intercept = intercept;
             o.queue_max_len = static_cast<std::uint32_t>(int_arg(queue_max_len, "queue_max_len", 1, UINT32_MAX));
             if (!trace_payload_cap.is_none())
               o.trace_payload_cap = static_cast<std::size_t>(int_arg(trace_payload_cap, "trace_payload_cap", 0, INT64_MAX));
             o.target = target_arg(target, target_side);
             std::shared_ptr<Scenario> s;
             {
               py::gil_scoped_release unlocked;
               s = std::make_shared<Scenario>(o);
             }
             return ScenarioHandle{s, s->shared_trace(), o.name};
           }),
           py::arg("family") = 4, py::arg("name") = "scenario", py::arg("artifacts") = py::none(),
           py::arg("queue") = 0, py::arg("pin") = false, py::kw_only(), py::arg("intercept") = true,
           py::arg("queue_max_len") = NfQueue::kDefaultMaxLen, py::arg("trace_payload_cap") = py::none(),
           py::arg("target") = "kernel", py::arg("target_side") = "server", py::arg("failure_artifacts") = py::none(),
           "target: what runs the target side - 'kernel' (both sides, the default), 'lwip' (the agent built in\n"
           "agents/lwip) or 'agent:COMMAND' (any agent, docs/agent-protocol.md) on `target_side` ('server' or\n"
           "'client'); the other side stays the kernel's. What that side cannot do raises NotApplicable; a broken\n"
           "agent raises TargetFailure.\n"
           "intercept=False: the middlebox forwards without NFQUEUE (no faults, no segments seen).\n"
           "queue_max_len: packets the middlebox's queue holds waiting for a verdict; more are dropped by the\n"
           "kernel, counted (faults.stats) and reported. trace_payload_cap: payload bytes the trace keeps\n"
           "(default $TCPFAULT_TRACE_PAYLOAD_CAP or 16 MiB); later segments keep their headers only.\n"
           "failure_artifacts: where a failure writes the pcapng, JSON and ladder when `artifacts` is not given\n"
           "(default: the system's temporary directory's tcpfault/).")
      .def_property_readonly("name", [](const ScenarioHandle& h) { return h.name; })
      .def_property_readonly("target", [](const ScenarioHandle& h) { return h.get()->target().label(); },
                             "What runs the target side: 'kernel', 'lwip', 'agent'.")
      .def_property_readonly("family", [](const ScenarioHandle& h) { return h.get()->family(); })
      .def_property_readonly("closed", [](const ScenarioHandle& h) { return !h.scenario; })
      .def_property_readonly("client", [](const ScenarioHandle& h) { return EndpointProxy{{h.get()}, Host::Client}; })
      .def_property_readonly("server", [](const ScenarioHandle& h) { return EndpointProxy{{h.get()}, Host::Server}; })
      .def_property_readonly("faults", [](const ScenarioHandle& h) { return FaultsProxy{{h.get()}}; })
      .def_property_readonly("trace", [](const ScenarioHandle& h) { return h.trace; })
      .def_property_readonly("slot", [](const ScenarioHandle& h) { return h.get()->topology().slot(); })
      .def("sysctl", [](const ScenarioHandle& h, const py::object& host, const std::string& key) {
             return h.get()->sysctl(host_arg(host, "host"), key);
           }, py::arg("host"), py::arg("key"), "Reads a sysctl in one host's namespace.")
      .def("has_sysctl", [](const ScenarioHandle& h, const py::object& host, const std::string& key) {
             return h.get()->has_sysctl(host_arg(host, "host"), key);
           }, py::arg("host"), py::arg("key"), "Whether this kernel has the sysctl.")
      .def("sysctl_or_built_in", [](const ScenarioHandle& h, const py::object& host, const std::string& key) {
             return h.get()->sysctl_or_built_in(host_arg(host, "host"), key);
           }, py::arg("host"), py::arg("key"),
           "A sysctl's value, or for a key later kernels added, the value this kernel behaves as.")
      .def("set_sysctl", [](const ScenarioHandle& h, const py::object& host, const std::string& key,
                            const py::object& value) {
             h.get()->set_sysctl(host_arg(host, "host"), key, py::str(value));
           }, py::arg("host"), py::arg("key"), py::arg("value"), "Writes a sysctl in one host's namespace.")
      .def("apply_sysctl_conf", [](const ScenarioHandle& h, const py::object& host, const std::string& text) {
             h.get()->apply_sysctl_conf(host_arg(host, "host"), text);
           }, py::arg("host"), py::arg("text"), "Applies sysctl.conf text in one host's namespace.")
      .def("counters", [](const ScenarioHandle& h, const py::object& host) {
             return h.get()->counters(host_arg(host, "host"));
           }, py::arg("host"), "MIB counters now: {'TcpExt.TCPTimeWaitOverflow': 0, ...}.")
      .def("counter_delta", [](const ScenarioHandle& h, const py::object& host, const std::string& key) {
             return h.get()->counter_delta(host_arg(host, "host"), key);
           }, py::arg("host"), py::arg("key"), "How much a counter grew since the scenario began.")
      .def("expect", [](const ScenarioHandle& h, const py::object& of) { return StateExpect{h, ref_arg(of)}; },
           py::arg("connection"), "Expectations about one connection end: .reaches, .passes, .stays.")
      .def(
          "expect_segments",
          [](const ScenarioHandle& h, const py::object& what, int count, const py::object& within,
             const py::kwargs& kw) {
            Match mt = match_arg(what, kw);
            if (count < 0) throw py::value_error("count must be >= 0, got " + std::to_string(count));
            auto t = seconds_arg(within, "within");
            auto s = h.get();
            py::gil_scoped_release unlocked;
            s->expect_segments(mt, count, t);
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("count"), py::arg("within") = 3.0,
          "Exactly `count` matching segments are seen (waits up to `within` seconds for them; later\n"
          "ones are not counted).")
      .def(
          "expect_no_segment",
          [](const ScenarioHandle& h, const py::object& what, const py::object& during, const py::object& since,
             const py::kwargs& kw) {
            Match mt = match_arg(what, kw);
            auto t = seconds_arg(during, "during");
            Since from = since.is_none() ? Since{} : since_arg(since);
            auto s = h.get();
            py::gil_scoped_release unlocked;
            s->expect_no_segment(mt, t, from);
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("during") = 0.0, py::arg("since") = py::none(),
          "No matching segment so far, nor during the next `during` seconds. since=: only segments after\n"
          "it count - a Segment from net.trace (those that came after it), a Transition or a Call (those\n"
          "seen after its time). nth= is still counted from the first segment.")
      .def("expect_error", [](const ScenarioHandle& h, const CallResult& r, const py::object& err) {
             h.get()->expect_error(r, errno_arg(err));
           }, py::arg("result"), py::arg("errno"), "The call failed with this errno (int or name).")
      .def("expect_ok", [](const ScenarioHandle& h, const CallResult& r) { h.get()->expect_ok(r); },
           py::arg("result"), "The call succeeded.")
      .def("expect_counter", [](const ScenarioHandle& h, const py::object& host, const std::string& key,
                                std::int64_t at_least, std::optional<std::int64_t> at_most) {
             h.get()->expect_counter(host_arg(host, "host"), key, at_least, at_most);
           }, py::arg("host"), py::arg("key"), py::arg("at_least"), py::arg("at_most") = py::none(),
           "The counter grew by at least `at_least` (and at most `at_most`) since the start. It does not\n"
           "wait: first wait for a segment that follows the event.")
      .def(
          "ladder",
          [](const ScenarioHandle& h, const py::object& max_rows) {
            h.trace->refresh();
            return render_ladder(*h.trace, max_rows.is_none() ? SIZE_MAX
                                                              : static_cast<std::size_t>(int_arg(max_rows, "max_rows", 1, INT64_MAX)));
          },
          py::arg("max_rows") = py::none(), "The timeline as a ladder; a longer one is cut to `max_rows` events.")
      .def("catch_up_states", [](const ScenarioHandle& h) {
             py::gil_scoped_release unlocked;
             h.get()->catch_up_states();
           },
           "Returns once every state change the stacks made before the call is in the trace (the kernel's\n"
           "recorded, an agent's events up to a round trip to it). Read final states after it.")
      .def(
          "close_calls",
          [](const ScenarioHandle& h, const py::object& within) {
            if (!py::isinstance<py::int_>(within) && !py::isinstance<py::float_>(within))
              throw py::type_error("within must be a number of seconds, not " + std::string(py::repr(within)));
            double s = within.cast<double>();
            if (!std::isfinite(s) || s < 0 || s > 10)
              throw py::value_error("within must be seconds from 0 to 10 (0.001: a millisecond), got " +
                                    std::string(py::repr(within)));
            auto scenario = h.get();
            std::vector<CloseCall> calls;
            {
              py::gil_scoped_release unlocked;
              calls = scenario->expectations().close_calls(std::chrono::nanoseconds(std::llround(s * 1e9)));
            }
            py::list out;
            for (const auto& c : calls) {
              py::dict d;
              d["check"] = c.check;
              d["passed"] = c.passed;
              d["at"] = h.trace->offset(c.check_ns);
              d["gap_ms"] = static_cast<double>(c.gap_ns()) / 1e6;
              d["event"] = c.event;
              d["event_at"] = h.trace->offset(c.event_ns);
              out.append(d);
            }
            return out;
          },
          py::arg("within") = 0.002,
          "The checks whose verdict an event within `within` seconds of their look would have turned: a\n"
          "check that passed just before the segment or state change that would have failed it, or failed\n"
          "on one that came just before it looked ([{'check', 'passed', 'at', 'gap_ms', 'event', 'event_at'}]).\n"
          "Such a verdict is a race between the test's thread and the wire: another run can go the other way.")
      .def("expect_no_undecided_drops", [](const ScenarioHandle& h) { h.get()->expect_no_undecided_drops(); },
           "The middlebox lost no packet that no rule asked for (its queue never overflowed).")
      .def(
          "flood_syns",
          [](const ScenarioHandle& h, const py::object& to, const py::object& count, const py::object& rate,
             const py::object& sources) { return start_flood(h.get(), to, count, rate, sources); },
          py::arg("to"), py::kw_only(), py::arg("count"), py::arg("rate"), py::arg("sources") = 16,
          "Floods a listener on the server with `count` SYNs at `rate` per second from unused\n"
          "client-subnet addresses (`sources`: how many, or a list); the replies are dropped at the\n"
          "middlebox. Returns a Flood; it stops by itself, and with the scenario at the latest.")
      .def("write_artifacts", [](const ScenarioHandle& h, const py::object& dir) {
             auto paths = dir.is_none() ? h.get()->write_artifacts()
                                        : write_artifacts(*h.trace, py::str(dir), artifact_stem(h.name));
             return py::dict(py::arg("pcapng") = paths.pcapng, py::arg("json") = paths.json,
                             py::arg("ladder") = paths.ladder);
           }, py::arg("dir") = py::none(), "Writes pcapng, JSON and ladder; returns their paths.")
      .def("close", &ScenarioHandle::close, "Tears the scenario down (idempotent).")
      .def("__enter__", [](ScenarioHandle& h) -> ScenarioHandle& { return h; })
      .def("__exit__", [](ScenarioHandle& h, const py::args&) { h.close(); })
      .def("__repr__", [](const ScenarioHandle& h) {
        return "<Scenario " + h.name + (h.scenario ? " slot " + std::to_string(h.scenario->topology().slot()) : " closed") + ">";
      });
}

}  // namespace tcpfault::py_bindings
