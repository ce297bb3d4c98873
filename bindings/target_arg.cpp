// Scenario(target=..., target_side=...) -> Target.
#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

Target target_arg(const std::string& spec, const py::handle& side) {
  Host h = host_arg(side, "target_side");
  if (h == Host::Middlebox) throw py::value_error("target_side must be 'server' or 'client', not the middlebox");
  if (spec == "lwip") {
    // Where the built agent is: next to the package, or $TCPFAULT_LWIP_AGENT (tcpfault/targets.py).
    std::string command = py::module_::import("tcpfault.targets").attr("lwip_agent")().cast<std::string>();
    return Target::agent(command, h, "lwip");
  }
  return Target::parse(spec, h);  // the kernel runs both sides: target_side is the agent's only
}

}  // namespace tcpfault::py_bindings
