// Scenario(target=..., target_side=...) -> Target.
#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

Target target_arg(const std::string& spec, const py::handle& side) {
  Host h = host_arg(side, "target_side");
  if (h == Host::Middlebox) throw py::value_error("target_side must be 'server' or 'client', not the middlebox");
  py::dict named = py::module_::import("tcpfault.targets").attr("AGENTS");
  if (named.contains(spec)) {
    // Where the built agent is: next to the package, or $TCPFAULT_<NAME>_AGENT (tcpfault/targets.py).
    std::string command = py::module_::import("tcpfault.targets").attr("agent")(spec).cast<std::string>();
    return Target::agent(command, h, spec);
  }
  return Target::parse(spec, h);  // the kernel runs both sides: target_side is the agent's only
}

}  // namespace tcpfault::py_bindings
