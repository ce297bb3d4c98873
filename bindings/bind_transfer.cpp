// Bulk transfers checked byte by byte, and the byte pattern they carry.
//
//   report = net.transfer(client, conn, 10_000_000, seed=1, timeout=30)
//   report = net.transfer(client, conn, 10_000_000, timeout=600, stall_timeout=130)  # slow is fine, stuck is not
//   net.expect_intact(report)
//   tcpfault.pattern(seed=1, offset=0, n=16)   # the bytes a transfer sends
#include <pybind11/stl.h>

#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

namespace {

py::bytes as_bytes(const std::vector<std::uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

// The scenario behind a tcpfault.Scenario object (its parts hold it weakly).
std::shared_ptr<Scenario> scenario_of(const py::object& net) { return net.attr("faults").cast<FaultsProxy>().ref.lock(); }

// How often a waiting transfer looks for Ctrl-C.
constexpr auto kSignalCheck = std::chrono::milliseconds(100);

TransferReport run_transfer(const py::object& net, const Connection& sender, const Connection& receiver,
                            const py::object& nbytes, const py::object& seed, const py::object& timeout,
                            const py::object& stall_timeout, bool shutdown) {
  TransferOptions o;
  o.bytes = static_cast<std::uint64_t>(int_arg(nbytes, "nbytes", 0, INT64_MAX));
  o.seed = static_cast<std::uint64_t>(int_arg(seed, "seed", 0, INT64_MAX));
  o.timeout = seconds_arg(timeout, "timeout");
  if (o.timeout.count() <= 0) throw py::value_error("timeout must be positive, got " + std::string(py::str(timeout)));
  if (!stall_timeout.is_none()) {
    o.stall = seconds_arg(stall_timeout, "stall_timeout");
    if (o.stall.count() <= 0)
      throw py::value_error("stall_timeout must be positive (or None for none), got " + std::string(py::str(stall_timeout)));
  }
  o.shutdown = shutdown;
  auto s = scenario_of(net);
  std::shared_ptr<Transfer> t;
  {
    py::gil_scoped_release unlocked;
    t = s->start_transfer(sender, receiver, o);
  }
  // Wait without the GIL, but wake now and then so that Ctrl-C stops the transfer.
  while (true) {
    bool done;
    {
      py::gil_scoped_release unlocked;
      done = t->wait_for(kSignalCheck);
    }
    if (done) break;
    if (PyErr_CheckSignals() != 0) {
      {
        py::gil_scoped_release unlocked;
        t->stop("interrupted");
        t->wait_quietly();
      }
      throw py::error_already_set();
    }
  }
  return t->wait();
}

}  // namespace

void bind_transfer(py::module_& m) {
  py::class_<StreamMismatch>(m, "StreamMismatch",
                             "Where a received stream first differs from the pattern, and how.")
      .def_property_readonly("kind", [](const StreamMismatch& s) { return to_string(s.kind); },
                             "'wrong' (same place, other value), 'missing' (the stream jumps ahead) or\n"
                             "'repeated' (the stream jumps back).")
      .def_readonly("offset", &StreamMismatch::offset, "The first bad offset of the received stream.")
      .def_readonly("count", &StreamMismatch::count,
                    "Wrong: bytes up to the last bad one; missing / repeated: how far the stream jumps.")
      .def_readonly("continues_at", &StreamMismatch::continues_at,
                    "The sender's offset the received data goes on from, when recognised.")
      .def_property_readonly("expected", [](const StreamMismatch& s) { return as_bytes(s.expected); })
      .def_property_readonly("seen", [](const StreamMismatch& s) { return as_bytes(s.seen); })
      .def_readonly("why", &StreamMismatch::why)
      .def("__str__", &StreamMismatch::describe)
      .def("__repr__", [](const StreamMismatch& s) { return "<StreamMismatch " + s.describe() + ">"; });

  py::class_<TransferReport>(m, "TransferReport", "What a checked transfer sent, received and saw.")
      .def_readonly("sender", &TransferReport::sender)
      .def_readonly("receiver", &TransferReport::receiver)
      .def_readonly("seed", &TransferReport::seed)
      .def_readonly("bytes_expected", &TransferReport::bytes_expected)
      .def_readonly("bytes_sent", &TransferReport::bytes_sent)
      .def_readonly("bytes_received", &TransferReport::bytes_received)
      .def_readonly("eof", &TransferReport::eof, "The receiver read EOF.")
      .def_readonly("send_errno", &TransferReport::send_errno)
      .def_readonly("recv_errno", &TransferReport::recv_errno)
      .def_readonly("deadline_passed", &TransferReport::deadline_passed)
      .def_readonly("stalled", &TransferReport::stalled, "It ended because nothing moved, and the middlebox lost none of its segments, for its stall_timeout.")
      .def_readonly("stopped", &TransferReport::stopped, "Why it was stopped early; '' if it was not.")
      .def_property_readonly("duration", &TransferReport::seconds, "Seconds from the start until the receiver ended.")
      .def_property_readonly("throughput", &TransferReport::throughput_mb_s, "Received MB (10^6 bytes) per second.")
      .def_readonly("first_bad", &TransferReport::first_bad, "The first bad byte, or None.")
      .def_property_readonly("intact", &TransferReport::intact,
                             "Every byte arrived in order and unchanged, nothing more, then EOF; no call failed.")
      .def("__str__", &TransferReport::describe)
      .def("__repr__", [](const TransferReport& r) { return "<TransferReport " + r.describe() + ">"; });

  m.def(
      "pattern",
      [](const py::object& seed, const py::object& offset, const py::object& n) {
        BytePattern p(static_cast<std::uint64_t>(int_arg(seed, "seed", 0, INT64_MAX)));
        auto bytes = p.bytes(static_cast<std::uint64_t>(int_arg(offset, "offset", 0, INT64_MAX)),
                             static_cast<std::size_t>(int_arg(n, "n", 0, 1 << 30)));
        return as_bytes(bytes);
      },
      py::arg("seed"), py::arg("offset"), py::arg("n"), "The n bytes a transfer with this seed sends from offset on.");
  m.def(
      "check_stream",
      [](const py::object& seed, const py::object& expected, const py::bytes& data) {
        std::string bytes = data;
        return check_stream(static_cast<std::uint64_t>(int_arg(seed, "seed", 0, INT64_MAX)),
                            static_cast<std::uint64_t>(int_arg(expected, "expected", 0, INT64_MAX)),
                            std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
      },
      py::arg("seed"), py::arg("expected"), py::arg("data"),
      "Checks received bytes against `expected` bytes of the pattern: None, or the first StreamMismatch.");

  // Scenario.transfer and Scenario.expect_intact.
  py::object scenario = m.attr("Scenario");
  scenario.attr("transfer") = py::cpp_function(
      &run_transfer, py::name("transfer"), py::is_method(scenario), py::arg("sender"), py::arg("receiver"),
      py::arg("nbytes"), py::kw_only(), py::arg("seed") = 1, py::arg("timeout") = 30.0, py::arg("stall_timeout") = py::none(),
      py::arg("shutdown") = true,
      "Sends `nbytes` of the seeded pattern from `sender` to `receiver` (the two ends of one connection)\n"
      "while the receiver checks every byte; the sender then half-closes (shutdown=True) and the receiver\n"
      "reads to EOF. Waits (without the GIL) until done or `timeout` seconds, or, with `stall_timeout`,\n"
      "until for that many seconds no byte was sent or received and the middlebox lost no segment of\n"
      "the connection (the wait after a loss is the sender's timer: slow, not stuck); Ctrl-C stops it.\n"
      "Never raises for what happened on the wire: see the report, and net.expect_intact(report).");
  scenario.attr("expect_intact") = py::cpp_function(
      [](const py::object& net, const TransferReport& r) { scenario_of(net)->expect_intact(r); },
      py::name("expect_intact"), py::is_method(scenario), py::arg("report"),
      "Every byte of the transfer arrived, in order and unchanged, then EOF. The failure names the first\n"
      "bad offset: a wrong, missing or repeated byte, with the bytes expected and seen there.");
}

}  // namespace tcpfault::py_bindings
