// Endpoints, listeners and connections. Every call that waits releases the GIL.
#include <pybind11/stl.h>
#include <sys/socket.h>

#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

namespace {

using release = py::call_guard<py::gil_scoped_release>;

// A received buffer travels with its call result.
struct RecvResult : CallResult {
  std::string data;
};

// Runs one of the connection's reads without the GIL; the bytes travel with the result.
template <class Read>
RecvResult read_with_data(const py::object& timeout, Read read) {
  auto t = seconds_arg(timeout, "timeout");
  RecvResult out;
  {
    py::gil_scoped_release unlocked;
    static_cast<CallResult&>(out) = read(out.data, t);
  }
  return out;
}

std::string as_bytes(const py::handle& data) {
  if (py::isinstance<py::bytes>(data)) return data.cast<std::string>();
  if (py::isinstance<py::str>(data)) return data.cast<std::string>();  // UTF-8
  if (py::isinstance<py::bytearray>(data)) return std::string(py::bytes(data.cast<py::bytearray>()));
  throw py::type_error("data must be bytes or str, not " +
                       std::string(py::str(py::type::of(data).attr("__name__"))));
}

int shutdown_arg(const py::handle& how) {
  if (py::isinstance<py::int_>(how)) return how.cast<int>();
  std::string s = py::str(how);
  if (s == "SHUT_RD" || s == "rd" || s == "read") return SHUT_RD;
  if (s == "SHUT_WR" || s == "wr" || s == "write") return SHUT_WR;
  if (s == "SHUT_RDWR" || s == "rdwr" || s == "both") return SHUT_RDWR;
  throw py::value_error("shutdown: unknown direction '" + s + "' (use 'SHUT_RD', 'SHUT_WR' or 'SHUT_RDWR')");
}

// Where to connect: a Listener, a SockAddr, or a port on the peer's address.
SockAddr target_arg(const py::handle& to, const Endpoint& self) {
  if (py::isinstance<EndpointProxy>(to))
    throw py::type_error("connect to a Listener, a SockAddr or a port number, not an Endpoint");
  if (py::isinstance<Listener>(to)) return to.cast<Listener&>().local();
  if (py::isinstance<SockAddr>(to)) return to.cast<SockAddr>();
  if (py::isinstance<py::int_>(to)) return self.peer_at(port_arg(to, "connect: port"));
  throw py::type_error("connect to a Listener, a SockAddr or a port number, not " +
                       std::string(py::str(py::type::of(to).attr("__name__"))));
}

}  // namespace

void bind_endpoints(py::module_& m) {
  py::class_<RecvResult, CallResult>(m, "RecvResult", "A recv call's result and the bytes it read.")
      .def_property_readonly("data", [](const RecvResult& r) { return py::bytes(r.data); });

  py::class_<Connection>(m, "Connection",
                         "One end of a TCP connection. It is its 4-tuple first: it can be observed after close().")
      .def_property_readonly("host", &Connection::host)
      .def_property_readonly("tuple", &Connection::tuple)
      .def_property_readonly("local", [](const Connection& c) { return c.tuple().local; })
      .def_property_readonly("remote", [](const Connection& c) { return c.tuple().remote; })
      .def_property_readonly("ref", &Connection::ref)
      .def_property_readonly("peer", &Connection::peer, "The other end of the same connection.")
      .def_property_readonly("is_open", &Connection::is_open, "Whether the file descriptor is still held.")
      .def_property_readonly("state", &Connection::kernel_state, release(),
                             "The stack's state for this 4-tuple now (CLOSED when it holds nothing): the kernel's\n"
                             "socket table, or an agent's own view.")
      .def_property_readonly("connect_result", &Connection::connect_result,
                             "The result of connect() for a connection made by Endpoint.connect.")
      .def(
          "send",
          [](Connection& c, const py::object& data, const py::object& timeout) {
            std::string bytes = as_bytes(data);
            auto t = seconds_arg(timeout, "timeout");
            py::gil_scoped_release unlocked;
            return c.send(bytes, t);
          },
          py::arg("data"), py::arg("timeout") = 5.0, "Sends all of `data` (waits for buffer space).")
      .def(
          "recv",
          [](Connection& c, std::size_t max, const py::object& timeout) {
            return read_with_data(timeout, [&](std::string& out, auto t) { return c.recv(out, max, t); });
          },
          py::arg("max") = 65536, py::arg("timeout") = 5.0, "One recv: up to `max` bytes; value 0 means EOF.")
      .def(
          "recv_exactly",
          [](Connection& c, std::size_t n, const py::object& timeout) {
            return read_with_data(timeout, [&](std::string& out, auto t) { return c.recv_exactly(out, n, t); });
          },
          py::arg("n"), py::arg("timeout") = 5.0, "Reads until `n` bytes, EOF, an error or the deadline.")
      .def("shutdown", [](Connection& c, const py::object& how) { return c.shutdown(shutdown_arg(how)); },
           py::arg("how") = "SHUT_WR", "shutdown(2): 'SHUT_RD', 'SHUT_WR', 'SHUT_RDWR' or the socket module's constant.")
      .def("close", &Connection::close, release())
      .def("set_linger", &Connection::set_linger, py::arg("on"), py::arg("seconds"), release(),
           "SO_LINGER; (True, 0) makes close() send an RST.")
      .def("set_keepalive", &Connection::set_keepalive, py::arg("idle"), py::arg("interval"), py::arg("count"),
           release(), "SO_KEEPALIVE with TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT (seconds, seconds, probes).")
      .def("set_buffers", &Connection::set_buffers, py::arg("send") = py::none(), py::arg("recv") = py::none(),
           "SO_SNDBUF and SO_RCVBUF in bytes; None leaves one as it is.")
      .def("set_option", &Connection::set_option, py::arg("level"), py::arg("name"), py::arg("value"),
           py::arg("label"), "setsockopt with an int value; `label` names it in the trace (\"TCP_NODELAY\").")
      .def("get_option", &Connection::get_option, py::arg("level"), py::arg("name"), py::arg("label"), release(),
           "getsockopt of an int option: the result's value is the option's (on an agent, one the protocol names).")
      .def("tcp_info", &Connection::tcp_info, release(),
           "The kernel's TCP_INFO for this socket now (RTO, cwnd, losses); needs the open socket.")
      .def("__repr__", [](const Connection& c) {
        std::string text;
        {
          py::gil_scoped_release unlocked;
          text = c.str();
        }
        return "<Connection " + text + ">";
      });

  py::class_<Listener>(m, "Listener", "A listening socket.")
      .def_property_readonly("address", &Listener::local)
      .def(
          "accept",
          [](Listener& l, const py::object& timeout) {
            auto t = seconds_arg(timeout, "timeout");
            py::gil_scoped_release unlocked;
            return l.accept(t);
          },
          py::arg("timeout") = 5.0,
          "Waits for a connection in the accept queue; raises tcpfault.Error if none comes in time.")
      .def("close", &Listener::close)
      .def("__repr__", [](const Listener& l) { return "<Listener " + l.local().str() + ">"; });

  py::class_<EndpointProxy>(m, "Endpoint", "The TCP stack on one side of the topology: the kernel's, or an agent's.")
      .def_readonly("host", &EndpointProxy::host)
      .def_property_readonly(
          "target", [](const EndpointProxy& p) { return p.ref.lock()->endpoint(p.host).target(); },
          "What runs this side: 'kernel', or the agent target's name ('lwip', 'agent').")
      .def("at", [](const EndpointProxy& p, std::uint16_t port) { return p.ref.lock()->endpoint(p.host).at(port); },
           py::arg("port"), "This side's address with `port`.")
      .def("peer_at",
           [](const EndpointProxy& p, std::uint16_t port) { return p.ref.lock()->endpoint(p.host).peer_at(port); },
           py::arg("port"), "The other side's address with `port`.")
      .def(
          "listen",
          [](const EndpointProxy& p, const py::object& at, int backlog) {
            auto s = p.ref.lock();
            Endpoint& e = s->endpoint(p.host);
            SockAddr where = py::isinstance<SockAddr>(at) ? at.cast<SockAddr>() : e.at(port_arg(at, "listen: port"));
            py::gil_scoped_release unlocked;
            return e.listen(where, backlog);
          },
          py::arg("port"), py::arg("backlog") = 128, "Listens on a port of this side's address (or a SockAddr).")
      .def(
          "connect",
          [](const EndpointProxy& p, const py::object& to, const py::object& local_port, bool reuse_addr,
             const py::object& timeout) {
            auto s = p.ref.lock();
            Endpoint& e = s->endpoint(p.host);
            SockAddr target = target_arg(to, e);
            ConnectOptions o;
            if (!local_port.is_none()) o.local_port = port_arg(local_port, "local_port");
            o.reuse_addr = reuse_addr;
            o.timeout = seconds_arg(timeout, "timeout");
            py::gil_scoped_release unlocked;
            return e.connect(target, o);
          },
          py::arg("to"), py::arg("local_port") = py::none(), py::arg("reuse_addr") = false,
          py::arg("timeout") = 5.0,
          "Connects to a Listener, a SockAddr or a port on the other side, and waits for the handshake.\n"
          "Never raises for a refused or failed connect: see the connection's connect_result.")
      .def("__repr__", [](const EndpointProxy& p) { return "<Endpoint " + netns::to_string(p.host) + ">"; });
}

}  // namespace tcpfault::py_bindings
