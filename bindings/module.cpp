// The `tcpfault` Python module: a thin skin over the C++ engine.
#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

PYBIND11_MODULE(_tcpfault, m) {
  m.doc() = "tcpfault: TCP fault injection and conformance, on real kernels in network namespaces.";

  // C++ errors keep their messages. A failed expectation is an AssertionError (so
  // pytest reports it as a failure, not an error) and a tcpfault.Error.
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  static py::exception<PacketError> packet_error(m, "PacketError", error.ptr());
  static py::exception<ExpectationFailed> expectation_failed(
      m, "ExpectationFailed", py::make_tuple(py::handle(PyExc_AssertionError), error));
  // What a target cannot do (the pytest plugin skips the test), and a broken agent.
  static py::exception<NotApplicable> not_applicable(m, "NotApplicable", error.ptr());
  static py::exception<TargetFailure> target_failure(m, "TargetFailure", error.ptr());
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ExpectationFailed& e) {
      PyErr_SetString(expectation_failed.ptr(), e.what());
    } catch (const PacketError& e) {
      PyErr_SetString(packet_error.ptr(), e.what());
    } catch (const NotApplicable& e) {
      PyErr_SetString(not_applicable.ptr(), e.what());
    } catch (const TargetFailure& e) {
      PyErr_SetString(target_failure.ptr(), e.what());
    } catch (const Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  bind_values(m);
  bind_tcp_info(m);
  bind_endpoints(m);
  bind_trace(m);   // before the faults: Rule.released returns a Segment
  bind_faults(m);
  bind_flood(m);  // before the scenario: its flood_syns returns a Flood
  bind_scenario(m);
  bind_transfer(m);
  bind_timers(m);
  bind_wire_states(m);
  bind_sysctl_check(m);
}

}  // namespace tcpfault::py_bindings
