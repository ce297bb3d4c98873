// Timers: schedules (the backoff model), TCP_INFO, the timing expectation, and silent
// socket destruction.
//
//   schedule = net.syn_schedule("client")            # from the client's own sysctls
//   net.expect_schedule(SYN, schedule, sent_by="client", gives_up=(client, "ETIMEDOUT"))
//   net.destroy_silently(conn)                        # the peer is not told
#include <pybind11/stl.h>

#include "bindings/conversions.h"
#include "harness/scenario/timer_settings.h"

namespace tcpfault::py_bindings {

namespace {

using std::chrono::duration_cast;

double seconds_of(Usec t) { return double(t.count()) / 1e6; }

// Seconds (int or float, > 0) -> microseconds.
Usec usec_arg(const py::handle& value, const char* what) {
  if (!py::isinstance<py::int_>(value) && !py::isinstance<py::float_>(value))
    throw py::type_error(std::string(what) + " must be a number of seconds, not " +
                         std::string(py::str(py::type::of(value).attr("__name__"))));
  double s = value.cast<double>();
  if (!std::isfinite(s) || s <= 0)
    throw py::value_error(std::string(what) + " must be a number of seconds > 0, got " + std::string(py::repr(value)));
  return Usec(static_cast<std::int64_t>(std::llround(s * 1e6)));
}

int count_arg(const py::handle& value, const char* what, std::int64_t lo) {
  return static_cast<int>(int_arg(value, what, lo, 1'000'000));
}

SocketRef socket_arg(const py::handle& of, const char* what) {
  if (py::isinstance<Connection>(of)) return of.cast<Connection&>().ref();
  if (py::isinstance<SocketRef>(of)) return of.cast<SocketRef>();
  throw py::type_error(std::string(what) + " must be a Connection or a SocketRef (conn.peer), not " +
                       std::string(py::str(py::type::of(of).attr("__name__"))));
}

// (who, what): who is a Connection, a SocketRef or a host; what an errno name (a call
// on that host fails with it) or a state (the socket reaches it; CLOSED: it is gone).
GiveUp give_up_arg(const py::handle& value) {
  const char* usage =
      "gives_up must be (connection, errno) - a call on its host fails with it, e.g. (client, 'ETIMEDOUT') - "
      "or (connection, state) - the socket reaches it, e.g. (client.peer, CLOSED)";
  if (!py::isinstance<py::tuple>(value) || py::len(value) != 2) throw py::type_error(usage);
  auto pair = value.cast<py::tuple>();
  py::handle who = pair[0], what = pair[1];
  if (py::isinstance<TcpState>(what)) return GiveUp::reaches(socket_arg(who, "gives_up[0]"), what.cast<TcpState>());
  if (py::isinstance<py::int_>(what)) return GiveUp::call_error(socket_arg(who, "gives_up[0]").host, what.cast<int>());
  if (!py::isinstance<py::str>(what)) throw py::type_error(usage);
  std::string name = what.cast<std::string>();
  py::module_ errno_module = py::module_::import("errno");
  if (name.rfind('E', 0) == 0 && py::hasattr(errno_module, name.c_str()) &&
      py::isinstance<py::int_>(errno_module.attr(name.c_str()))) {
    Host h = py::isinstance<py::str>(who) || py::isinstance<Host>(who) ? host_arg(who, "gives_up[0]")
                                                                        : socket_arg(who, "gives_up[0]").host;
    return GiveUp::call_error(h, errno_module.attr(name.c_str()).cast<int>());
  }
  if (auto st = state_from_name(name)) return GiveUp::reaches(socket_arg(who, "gives_up[0]"), *st);
  throw py::value_error("gives_up: '" + name + "' is neither an errno name (ETIMEDOUT) nor a TCP state (CLOSED)");
}

py::list seconds_list(const Schedule& s) {
  py::list out;
  for (const auto& step : s.steps) out.append(seconds_of(step.at));
  return out;
}

template <class F>
void add_method(py::object& cls, const char* name, F&& f, const char* doc, auto... extra) {
  cls.attr(name) = py::cpp_function(std::forward<F>(f), py::name(name), py::is_method(cls), py::doc(doc), extra...);
}

}  // namespace

void bind_timers(py::module_& m) {
  py::class_<Schedule>(m, "Schedule",
                       "When a stack's timers send a segment again and when they give up, as Linux computes it\n"
                       "(harness/timing/backoff.h). Times are seconds from the first step, or from `origin` when it\n"
                       "has one. Build one from a scenario's settings (net.syn_schedule(...)) or from numbers.")
      .def_property_readonly("description", [](const Schedule& s) { return s.description; })
      .def_property_readonly("times", &seconds_list, "When each step happens, in seconds.")
      .def_property_readonly("labels", [](const Schedule& s) {
        std::vector<std::string> out;
        for (const auto& step : s.steps) out.push_back(step.label);
        return out;
      })
      .def_property_readonly("gives_up", [](const Schedule& s) -> py::object {
        if (!s.give_up) return py::none();
        return py::float_(seconds_of(s.give_up->at));
      }, "When the stack gives up, in seconds (None: it does not).")
      .def_property_readonly("give_up_label", [](const Schedule& s) { return s.give_up ? s.give_up->label : ""; })
      .def_property_readonly("origin", [](const Schedule& s) { return s.origin; },
                             "What time 0 is when it is not the first step ('' otherwise).")
      .def_property_readonly("close_call", [](const Schedule& s) { return s.close_call; },
                             "Non-empty when timer lateness could make the stack give up one expiry earlier.")
      .def("first", [](const Schedule& s, const py::object& n) {
             return s.first(static_cast<std::size_t>(int_arg(n, "first(n)", 1, INT32_MAX)));
           }, py::arg("n"), "The first n steps only, without the give-up (a connection that recovers).")
      .def("__len__", [](const Schedule& s) { return s.steps.size(); })
      .def("__str__", &Schedule::str)
      .def("__repr__", [](const Schedule& s) { return "<Schedule " + s.description + ": " + s.str() + ">"; })
      .def_static(
          "syn",
          [](const py::object& retries, const py::object& linear, const py::object& initial,
             const py::object& rto_max) {
            return syn_schedule(SynRetries{count_arg(retries, "retries", 1), count_arg(linear, "linear_timeouts", 0),
                                           usec_arg(initial, "initial"), usec_arg(rto_max, "rto_max")});
          },
          py::arg("retries"), py::arg("linear_timeouts") = 0, py::arg("initial") = 1.0, py::arg("rto_max") = 120.0,
          "The SYNs of a connect() for tcp_syn_retries and tcp_syn_linear_timeouts.")
      .def_static(
          "synack",
          [](const py::object& retries, const py::object& initial, const py::object& rto_max) {
            return synack_schedule(
                SynAckRetries{count_arg(retries, "retries", 1), usec_arg(initial, "initial"), usec_arg(rto_max, "rto_max")});
          },
          py::arg("retries"), py::arg("initial") = 1.0, py::arg("rto_max") = 120.0,
          "The SYN-ACKs of a request socket for tcp_synack_retries.")
      .def_static(
          "retransmission",
          [](const py::object& rto, const py::object& retries, const py::object& probe_timeout,
             const py::object& rto_max) {
            RtoRetries r;
            r.rto = usec_arg(rto, "rto");
            r.retries = count_arg(retries, "retries", 0);
            r.rto_max = usec_arg(rto_max, "rto_max");
            if (!probe_timeout.is_none()) r.probe_timeout = usec_arg(probe_timeout, "probe_timeout");
            return retransmission_schedule(r);
          },
          py::arg("rto"), py::arg("retries"), py::arg("probe_timeout") = py::none(), py::arg("rto_max") = 120.0,
          "A segment never acknowledged: a tail loss probe after probe_timeout (if given), then\n"
          "retransmissions by the RTO, doubling, until the tcp_retries2 (or orphan) budget is spent.")
      .def_static(
          "keepalive",
          [](const py::object& idle, const py::object& interval, const py::object& count) {
            return keepalive_schedule(KeepaliveSettings{usec_arg(idle, "idle"), usec_arg(interval, "interval"),
                                                        count_arg(count, "count", 1)});
          },
          py::arg("idle"), py::arg("interval"), py::arg("count"),
          "Keepalive probes, timed from the last segment from the peer, then ETIMEDOUT.")
      .def_static(
          "window_probes",
          [](const py::object& base, const py::object& retries2, const py::object& answered,
             const py::object& rto_max) {
            return window_probe_schedule(WindowProbeSettings{usec_arg(base, "base"), count_arg(retries2, "retries2", 1),
                                                             usec_arg(rto_max, "rto_max"),
                                                             count_arg(answered, "answered", 0)});
          },
          py::arg("base"), py::arg("retries2"), py::arg("answered") = 0, py::arg("rto_max") = 120.0,
          "Zero-window probes, timed from the ACK that closed the window: `answered` of them, or\n"
          "with 0 unanswered until the give-up.");

  py::object scenario = m.attr("Scenario");
  add_method(
      scenario, "syn_schedule",
      [](const py::object& net, const py::object& host) { return syn_schedule(*scenario_of(net), host_arg(host, "host")); },
      "The SYNs of a connect() from `host`, from its tcp_syn_retries and tcp_syn_linear_timeouts.",
      py::arg("host") = "client");
  add_method(
      scenario, "synack_schedule",
      [](const py::object& net, const py::object& host) {
        return synack_schedule(*scenario_of(net), host_arg(host, "host"));
      },
      "The SYN-ACKs of a request socket on `host`, from its tcp_synack_retries.", py::arg("host") = "server");
  add_method(
      scenario, "retransmission_schedule",
      [](const py::object& net, const py::object& conn, std::optional<bool> orphan) {
        auto s = scenario_of(net);
        SocketRef ref = socket_arg(conn, "conn");
        py::gil_scoped_release unlocked;
        return retransmission_schedule(*s, ref, orphan);
      },
      "A segment `conn` sends next and nobody acknowledges: from its RTO and RTT now (TCP_INFO), a tail\n"
      "loss probe if it would send one, and tcp_retries2 (tcp_orphan_retries for an orphan; `orphan`\n"
      "overrides). Read it before the loss: TCP_INFO then shows the backed-off RTO.",
      py::arg("conn"), py::kw_only(), py::arg("orphan") = py::none());
  add_method(
      scenario, "keepalive_schedule",
      [](const py::object& net, Connection& conn) {
        scenario_of(net);  // the scenario must be open
        py::gil_scoped_release unlocked;
        return keepalive_schedule(conn);
      },
      "Keepalive of `conn` from its own TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT (SO_KEEPALIVE on).",
      py::arg("conn"));
  add_method(
      scenario, "window_probe_schedule",
      [](const py::object& net, const py::object& conn, const py::object& answered) {
        auto s = scenario_of(net);
        return window_probe_schedule(*s, socket_arg(conn, "conn"), count_arg(answered, "answered", 0));
      },
      "Zero-window probes of `conn` (base max(RTO, 200 ms), tcp_retries2): `answered` of them, or with 0\n"
      "unanswered until the give-up.",
      py::arg("conn"), py::kw_only(), py::arg("answered") = 0);
  add_method(
      scenario, "tcp_info",
      [](const py::object& net, const py::object& conn) { return scenario_of(net)->tcp_info(socket_arg(conn, "conn")); },
      "The kernel's TCP_INFO for the socket now (None when it has no full socket).", py::arg("conn"));
  add_method(
      scenario, "expect_schedule",
      [](const py::object& net, const py::object& what, const Schedule& schedule, const py::object& gives_up,
         const py::object& since, const py::object& within, const py::kwargs& kw) {
        Match mt = match_arg(what, kw);
        ScheduleExpectation o;
        if (!gives_up.is_none()) o.gives_up = give_up_arg(gives_up);
        if (!since.is_none()) o.since = match_arg(since, py::kwargs());
        if (!within.is_none()) o.within = seconds_arg(within, "within");
        auto s = scenario_of(net);
        py::gil_scoped_release unlocked;
        s->expect_schedule(mt, schedule, o);
      },
      "The matching segments follow `schedule`: each interval within max(5 ms, 12.5 %) of the\n"
      "schedule's. gives_up=(conn, 'ETIMEDOUT') or (conn, CLOSED) checks the give-up too;\n"
      "since=Match(...) times a schedule with an origin (keepalive) from the last such segment.\n"
      "Waits for them (`within` seconds; default: the schedule's length and a second).",
      py::arg("match"), py::arg("schedule"), py::kw_only(), py::arg("gives_up") = py::none(),
      py::arg("since") = py::none(), py::arg("within") = py::none());
  add_method(
      scenario, "destroy_silently",
      [](const py::object& net, const py::object& conn) {
        SocketRef ref = socket_arg(conn, "conn");
        auto s = scenario_of(net);
        py::gil_scoped_release unlocked;
        s->destroy_silently(ref);
      },
      "Destroys the socket (SOCK_DESTROY) and loses the RST its kernel sends in the middlebox, so the\n"
      "peer is not told (the peer 'rebooted'). Fails if that RST did not come or got through.",
      py::arg("conn"));
}

}  // namespace tcpfault::py_bindings
