// Plain values: families, hosts, states, roles, addresses, call results, matches.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string known_roles() {
  std::string out;
  for (Roles bit = 1; bit <= kLastRole; bit <<= 1) out += (out.empty() ? "" : ", ") + roles_string(bit);
  return out;
}

std::string type_name(const py::handle& v) { return py::str(py::type::of(v).attr("__name__")); }

}  // namespace

std::shared_ptr<Scenario> ScenarioRef::lock() const {
  auto s = scenario.lock();
  if (!s)
    throw Error("this scenario is closed: its endpoints and fault engine are gone (its trace and the "
                "connections' tuples can still be read)");
  return s;
}

std::chrono::milliseconds seconds_arg(const py::handle& value, const char* what) {
  if (!py::isinstance<py::int_>(value) && !py::isinstance<py::float_>(value))
    throw py::type_error(std::string(what) + " must be a number of seconds, not " + type_name(value));
  double s = value.cast<double>();
  if (!std::isfinite(s) || s < 0)
    throw py::value_error(std::string(what) + " must be a number of seconds >= 0, got " +
                          std::string(py::repr(value)));
  return std::chrono::milliseconds(static_cast<long long>(std::llround(s * 1000)));
}

std::int64_t int_arg(const py::handle& value, const char* what, std::int64_t lo, std::int64_t hi) {
  if (!py::isinstance<py::int_>(value))
    throw py::type_error(std::string(what) + " must be an int, not " + type_name(value));
  // Compared as Python ints, so huge values are out of range rather than a cast error.
  if (value < py::int_(lo) || value > py::int_(hi))
    throw py::value_error(std::string(what) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) +
                          ", got " + std::string(py::repr(value)));
  return value.cast<std::int64_t>();
}

std::uint16_t port_arg(const py::handle& value, const char* what) {
  return static_cast<std::uint16_t>(int_arg(value, what, 0, 65535));
}

Host host_arg(const py::handle& value, const char* what) {
  if (py::isinstance<Host>(value)) return value.cast<Host>();
  if (py::isinstance<EndpointProxy>(value)) return value.cast<EndpointProxy&>().host;
  if (py::isinstance<py::str>(value)) {
    std::string s = lower(value.cast<std::string>());
    if (s == "client") return Host::Client;
    if (s == "server") return Host::Server;
    if (s == "middlebox") return Host::Middlebox;
    throw py::value_error(std::string(what) + ": unknown host '" + value.cast<std::string>() +
                          "' (use 'client', 'server' or 'middlebox')");
  }
  throw py::type_error(std::string(what) + " must be a Host, 'client'/'server'/'middlebox' or an endpoint, not " +
                       type_name(value));
}

Roles roles_arg(const py::handle& value, const char* what) {
  if (py::isinstance<PyRoles>(value)) return value.cast<PyRoles>().bits;
  if (py::isinstance<py::str>(value)) {
    Roles out = 0;
    std::string text = value.cast<std::string>();
    std::size_t start = 0;
    while (start <= text.size()) {
      auto bar = text.find('|', start);
      std::string name = text.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
      auto role = role_from_name(name);
      if (!role)
        throw py::value_error(std::string(what) + ": unknown role '" + name + "' (known: " + known_roles() + ")");
      out |= *role;
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    return out;
  }
  if (py::isinstance<py::iterable>(value)) {
    Roles out = 0;
    for (auto item : value) out |= roles_arg(item, what);
    return out;
  }
  throw py::type_error(std::string(what) + " must be a role such as tcpfault.FIN or 'FIN', not " + type_name(value));
}

std::uint8_t flags_arg(const py::handle& value, const char* what) {
  if (py::isinstance<py::int_>(value)) return static_cast<std::uint8_t>(int_arg(value, what, 0, 255));
  if (!py::isinstance<py::str>(value))
    throw py::type_error(std::string(what) + " must be TCP flags as letters ('R.', 'S', 'FA') or an int, not " +
                         type_name(value));
  const auto letters = value.cast<std::string>();
  if (auto flags = flags_from_letters(letters)) return *flags;
  const char bad = *std::find_if(letters.begin(), letters.end(), [](char c) { return !flag_bit(c); });
  throw py::value_error(std::string(what) + ": unknown TCP flag '" + std::string(1, bad) + "' in " +
                        std::string(py::repr(value)) + " (use F S R P A/. U E W)");
}

Family family_arg(const py::handle& value) {
  if (py::isinstance<Family>(value)) return value.cast<Family>();
  std::string s = lower(py::str(value));
  if (s == "4" || s == "ipv4" || s == "v4") return Family::V4;
  if (s == "6" || s == "ipv6" || s == "v6") return Family::V6;
  throw py::value_error("unknown address family " + std::string(py::repr(value)) + " (use 4 or 6)");
}

Match match_arg(const py::handle& what, const py::kwargs& refine) {
  Match m;
  if (py::isinstance<Match>(what)) m = what.cast<Match>();
  else if (!what.is_none()) m.all_roles = roles_arg(what, "role");
  static const char* const known[] = {"sent_by", "role",          "any_role", "not_role", "flags",
                                      "without_flags", "payload", "port", "relative_seq", "nth"};
  for (auto [k, v] : refine) {
    std::string key = py::str(k);
    if (std::find(std::begin(known), std::end(known), key) == std::end(known))
      throw py::type_error("unknown match keyword '" + key +
                           "' (known: sent_by, role, any_role, not_role, flags, without_flags, payload, port, "
                           "relative_seq, nth)");
    if (v.is_none()) continue;
    if (key == "nth") m.occurrence = static_cast<std::size_t>(int_arg(v, "nth (from 1)", 1, INT64_MAX));
    else if (key == "sent_by") m.from = host_arg(v, "sent_by");
    else if (key == "role") m.all_roles |= roles_arg(v, "role");
    else if (key == "any_role") m.any_role |= roles_arg(v, "any_role");
    else if (key == "not_role") m.no_role |= roles_arg(v, "not_role");
    else if (key == "flags") m.flags_set |= flags_arg(v, "flags");
    else if (key == "without_flags") m.flags_clear |= flags_arg(v, "without_flags");
    else if (key == "port") m.port = port_arg(v, "port");
    else if (key == "relative_seq")
      m.relative_seq = static_cast<std::uint32_t>(int_arg(v, "relative_seq (from the sender's ISN)", 0, UINT32_MAX));
    else if (key == "payload") {
      constexpr std::int64_t kMax = INT64_MAX;  // a large hi means "at least lo"
      if (py::isinstance<py::tuple>(v) && py::len(v) == 2) {
        auto t = v.cast<py::tuple>();
        m.min_payload = static_cast<std::size_t>(int_arg(t[0], "payload (lo, hi): lo", 0, kMax));
        m.max_payload = static_cast<std::size_t>(int_arg(t[1], "payload (lo, hi): hi", 0, kMax));
      } else {
        m.min_payload = m.max_payload = static_cast<std::size_t>(int_arg(v, "payload (a length or (lo, hi))", 0, kMax));
      }
    }
  }
  return m;
}

void bind_values(py::module_& m) {
  py::enum_<Family>(m, "Family", "Address family of a scenario.")
      .value("V4", Family::V4)
      .value("V6", Family::V6);

  // pybind11 2.10 chains a .def("__str__") onto its own `name` property; assigning
  // the attribute replaces it and leaves `name` a plain string.
  auto host = py::enum_<Host>(m, "Host", "A host of the topology.")
                  .value("CLIENT", Host::Client)
                  .value("MIDDLEBOX", Host::Middlebox)
                  .value("SERVER", Host::Server);
  host.attr("__str__") = py::cpp_function([](Host h) { return netns::to_string(h); }, py::name("__str__"),
                                          py::is_method(host));

  auto state = py::enum_<TcpState>(m, "State", "TCP states, numbered as Linux numbers them.");
  for (int s = 1; s <= static_cast<int>(TcpState::NEW_SYN_RECV); ++s) {
    auto st = static_cast<TcpState>(s);
    state.value(to_string(st).c_str(), st);
  }
  state.attr("__str__") = py::cpp_function([](TcpState s) { return to_string(s); }, py::name("__str__"),
                                           py::is_method(state));
  state.export_values();

  py::class_<PyRoles>(m, "Roles",
                      "Roles a segment plays, combinable with |: tcpfault.FIN | tcpfault.RETRANSMISSION.")
      .def(py::init([](const py::object& v) { return PyRoles{roles_arg(v, "Roles")}; }), py::arg("roles"))
      .def("__or__", [](const PyRoles& a, const py::object& b) { return PyRoles{a.bits | roles_arg(b, "role")}; })
      .def("__ror__", [](const PyRoles& a, const py::object& b) { return PyRoles{a.bits | roles_arg(b, "role")}; })
      .def("__contains__", [](const PyRoles& a, const py::object& b) {
        Roles r = roles_arg(b, "role");
        return (a.bits & r) == r;
      })
      .def("__eq__", [](const PyRoles& a, const py::object& b) {
        try {
          return a.bits == roles_arg(b, "role");
        } catch (const py::error_already_set&) {
          return false;
        } catch (const std::exception&) {
          return false;
        }
      })
      .def("__hash__", [](const PyRoles& a) { return a.bits; })
      .def("__int__", [](const PyRoles& a) { return a.bits; })
      .def("__str__", [](const PyRoles& a) { return roles_string(a.bits); })
      .def("__repr__", [](const PyRoles& a) { return roles_string(a.bits); });
  for (Roles bit = 1; bit <= kLastRole; bit <<= 1) m.attr(roles_string(bit).c_str()) = PyRoles{bit};

  py::class_<SockAddr>(m, "SockAddr", "An address and a port: one end of a connection.")
      .def(py::init([](const std::string& addr, std::uint16_t port) { return SockAddr{Address::parse(addr), port}; }),
           py::arg("address"), py::arg("port"))
      .def_property_readonly("address", [](const SockAddr& s) { return s.addr.str(); })
      .def_readonly("port", &SockAddr::port)
      .def_property_readonly("family", [](const SockAddr& s) { return s.addr.family; })
      .def(py::self == py::self)
      .def("__hash__", [](const SockAddr& s) { return py::hash(py::make_tuple(s.addr.str(), s.port)); })
      .def("__str__", &SockAddr::str)
      .def("__repr__", [](const SockAddr& s) { return "SockAddr('" + s.addr.str() + "', " + std::to_string(s.port) + ")"; });

  py::class_<FourTuple>(m, "FourTuple", "A connection as seen from one end: local and remote.")
      .def_readonly("local", &FourTuple::local)
      .def_readonly("remote", &FourTuple::remote)
      .def(py::self == py::self)
      .def("__str__", &FourTuple::str)
      .def("__repr__", [](const FourTuple& t) { return "<FourTuple " + t.str() + ">"; });

  py::class_<SocketRef>(m, "SocketRef", "One end of a connection: which host, which 4-tuple.")
      .def_readonly("host", &SocketRef::host)
      .def_readonly("tuple", &SocketRef::tuple)
      .def("__str__", &SocketRef::str)
      .def("__repr__", [](const SocketRef& r) { return "<SocketRef " + r.str() + ">"; });

  py::class_<CallResult>(m, "CallResult",
                         "The result of one socket call: `value` >= 0 and errno 0, or an errno.")
      .def_readonly("call", &CallResult::call)
      .def_readonly("value", &CallResult::value)
      .def_readonly("errno", &CallResult::err)
      .def_property_readonly("errno_name", [](const CallResult& r) { return r.err ? errno_name(r.err) : ""; })
      .def_readonly("deadline_passed", &CallResult::deadline_passed, "The harness stopped waiting.")
      .def_property_readonly("ok", &CallResult::ok)
      .def("__bool__", &CallResult::ok)
      .def("__repr__", [](const CallResult& r) { return "<" + r.describe() + ">"; })
      .def("__str__", &CallResult::describe);

  py::class_<Match>(m, "Match",
                    "Which segments a rule or an expectation is about; unset fields mean \"don't care\".\n\n"
                    "Match(FIN, sent_by='server'), Match(flags='R'), Match(DATA, payload=(1, 100)).\n"
                    "`role`: all of these roles; any_role: at least one; not_role: none. sent_by='middlebox'\n"
                    "selects the segments the harness crafted (copies, injections). relative_seq=101: its\n"
                    "sequence number relative to its sender's ISN, as the ladder prints it (the SYN's is 0).\n"
                    "nth=3: only the third segment of the timeline that matches the rest (for expectations and\n"
                    "trace queries; a fault rule takes its own nth=).")
      .def(py::init([](const py::object& role, const py::kwargs& kw) { return match_arg(role, kw); }),
           py::arg("role") = py::none())
      .def("__str__", &Match::describe)
      .def("__repr__", [](const Match& mt) { return "<Match " + mt.describe() + ">"; });
}

}  // namespace tcpfault::py_bindings
