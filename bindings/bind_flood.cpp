// SYN floods from the middlebox (harness/intercept/syn_flood.h):
//
//   flood = net.flood_syns(listener, count=200, rate=1000, sources=16)
//   flood.wait()
//   assert flood.sent == 200 and flood.replies_dropped >= 1
#include <Python.h>
#include <pybind11/stl.h>

#include <cstdio>

#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

namespace {

std::string type_name(const py::handle& v) { return py::str(py::type::of(v).attr("__name__")); }

SynFlood& flood_of(const FloodHandle& h) { return h.ref.lock()->flood(h.id); }
FloodCounts counts_of(const FloodHandle& h) { return flood_of(h).counts(); }

double rate_arg(const py::handle& v) {
  if (py::isinstance<py::bool_>(v) || (!py::isinstance<py::int_>(v) && !py::isinstance<py::float_>(v)))
    throw py::type_error("rate must be a number of SYNs per second, not " + type_name(v));
  return v.cast<double>();
}

std::vector<Address> sources_arg(const py::handle& v, Scenario& s) {
  if (py::isinstance<py::bool_>(v)) throw py::type_error("sources must be an int or a list of addresses, not bool");
  if (py::isinstance<py::int_>(v))
    return flood_sources(s.topology(), s.family(), static_cast<int>(int_arg(v, "sources", 1, kMaxFloodSources)));
  if (py::isinstance<py::str>(v) || !py::isinstance<py::iterable>(v))
    throw py::type_error("sources must be how many (an int) or a list of unused client-subnet addresses, not " +
                         type_name(v));
  std::vector<Address> out;
  for (auto item : v) {
    if (!py::isinstance<py::str>(item))
      throw py::type_error("a flood source must be an address string such as '198.18.1.101', not " +
                           type_name(item));
    std::string text = item.cast<std::string>();
    try {
      out.push_back(Address::parse(text));
    } catch (const std::exception&) {
      throw py::value_error("flood source '" + text + "' is not an IP address");
    }
  }
  return out;
}

SockAddr target_arg(const py::handle& to, const Scenario& s) {
  if (py::isinstance<Listener>(to)) return to.cast<Listener&>().local();
  if (py::isinstance<SockAddr>(to)) return to.cast<SockAddr>();
  if (py::isinstance<py::int_>(to) && !py::isinstance<py::bool_>(to))
    return s.server_at(port_arg(to, "flood_syns: port"));
  throw py::type_error("flood_syns targets a Listener, a SockAddr or a port on the server, not " + type_name(to));
}

// Waits without the GIL in short slices, so Ctrl-C still reaches Python.
void wait_for(const FloodHandle& h, const py::object& timeout) {
  auto scenario = h.ref.lock();
  SynFlood& flood = scenario->flood(h.id);
  std::chrono::milliseconds limit;
  if (timeout.is_none()) {
    // The flood's own length, and a margin for a loaded machine.
    limit = std::chrono::milliseconds(static_cast<long long>(flood.spec().count / flood.spec().rate * 1000) + 5000);
  } else {
    limit = seconds_arg(timeout, "timeout");
  }
  const auto deadline = Clock::now() + limit;
  while (true) {
    bool done;
    {
      py::gil_scoped_release unlocked;
      done = flood.wait(std::min(deadline, Clock::now() + std::chrono::milliseconds(100)));
    }
    if (done) break;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (Clock::now() >= deadline)
      throw Error("flood #" + std::to_string(h.id) + " did not finish within " + std::to_string(limit.count()) +
                  " ms (" + flood.counts().str() + ")");
  }
  if (auto e = flood.error()) throw Error("flood #" + std::to_string(h.id) + " failed: " + *e);
}

}  // namespace

FloodHandle start_flood(const std::shared_ptr<Scenario>& s, const py::handle& to, const py::handle& count,
                       const py::handle& rate, const py::handle& sources) {
  FloodSpec spec;
  spec.target = target_arg(to, *s);
  spec.count = static_cast<int>(int_arg(count, "count", INT32_MIN, INT32_MAX));
  spec.rate = rate_arg(rate);
  spec.sources = sources_arg(sources, *s);
  SynFlood* flood;
  {
    py::gil_scoped_release unlocked;
    flood = &s->flood_syns(std::move(spec));
  }
  return FloodHandle{{s}, flood->id(), flood->describe()};
}

void bind_flood(py::module_& m) {
  py::class_<FloodHandle>(m, "Flood",
                          "A SYN flood from the middlebox (Scenario.flood_syns): crafted SYNs from unused\n"
                          "client-subnet addresses; the server's replies are dropped at the middlebox and counted.")
      .def_readonly("id", &FloodHandle::id)
      .def_readonly("label", &FloodHandle::label)
      .def_property_readonly("sent", [](const FloodHandle& h) { return counts_of(h).sent; }, "SYNs sent so far.")
      .def_property_readonly("replies_dropped", [](const FloodHandle& h) { return counts_of(h).replies_dropped; },
                             "Segments toward the flood's sources dropped at the middlebox so far.")
      .def_property_readonly("syn_acks", [](const FloodHandle& h) { return counts_of(h).syn_acks; },
                             "Of the replies: SYN-ACKs (retransmissions included).")
      .def_property_readonly("rsts", [](const FloodHandle& h) { return counts_of(h).rsts; }, "Of the replies: RSTs.")
      .def_property_readonly("answered", [](const FloodHandle& h) { return counts_of(h).answered; },
                             "How many distinct flood SYNs got any reply.")
      .def_property_readonly("finished", [](const FloodHandle& h) { return flood_of(h).finished(); },
                             "Whether the sender is done (all sent, stopped, or failed).")
      .def_property_readonly("error", [](const FloodHandle& h) { return flood_of(h).error(); },
                             "Why the sender failed, or None.")
      .def("wait", &wait_for, py::arg("timeout") = py::none(),
           "Waits until every SYN was sent (default limit: the flood's length + 5 s). Raises\n"
           "tcpfault.Error if it did not finish in time or the kernel refused a SYN.")
      .def("stop", [](const FloodHandle& h) { flood_of(h).stop(); }, "Stops sending; replies are still dropped.")
      .def("__repr__", [](const FloodHandle& h) {
        auto s = h.ref.scenario.lock();
        std::string counts = s ? " (" + s->flood(h.id).counts().str() + ")" : "";
        return "<Flood " + h.label + counts + ">";
      });
}

}  // namespace tcpfault::py_bindings
