// What `tcpfault sysctl-check` asks of the engine (netns/sysctl/sysctl.h, netns/sysctl/sysctl_probe.h):
//
//   conf = tcpfault.read_sysctl_conf(text)        # every setting, and every malformed line
//   probe = tcpfault.probe_sysctl("net.ipv4.tcp_tw_reuse", "3")
//   probe.verdict, probe.message, probe.accepted  # 'refused', '... accepts 0..2', [(0, 2)]
//
// A probe writes only in a scratch namespace of its own; the host is only read.
//
//   net.hold_sysctl("client", "net.ipv4.tcp_tw_reuse", 1, "sysctl-check")  # the case's own
//                                                # set_sysctl of the key now writes 1
#include <pybind11/stl.h>

#include "bindings/conversions.h"
#include "netns/sysctl/sysctl.h"
#include "netns/sysctl/sysctl_probe.h"

namespace tcpfault::py_bindings {

void bind_sysctl_check(py::module_& m) {
  py::class_<netns::SysctlSetting>(m, "SysctlSetting", "One `key = value` line of sysctl.conf text.")
      .def_readonly("key", &netns::SysctlSetting::key, "Dotted: net.ipv4.tcp_fin_timeout.")
      .def_readonly("value", &netns::SysctlSetting::value)
      .def_readonly("ignore_errors", &netns::SysctlSetting::ignore_errors, "The line began with '-'.")
      .def_readonly("line", &netns::SysctlSetting::line)
      .def("__repr__", [](const netns::SysctlSetting& s) {
        return "<SysctlSetting line " + std::to_string(s.line) + ": " + (s.ignore_errors ? "-" : "") + s.key +
               " = " + s.value + ">";
      });

  py::class_<netns::SysctlConf>(m, "SysctlConf", "sysctl.conf text, read on past malformed lines.")
      .def_readonly("settings", &netns::SysctlConf::settings)
      .def_property_readonly(
          "errors",
          [](const netns::SysctlConf& c) {
            std::vector<std::pair<int, std::string>> out;
            for (const auto& e : c.errors) out.emplace_back(e.line, e.message);
            return out;
          },
          "(line, 'line N: what is wrong') for each malformed line.");
  m.def("read_sysctl_conf", &netns::read_sysctl_conf, py::arg("text"),
        "Reads sysctl.conf syntax ('#'/';' comments, `key = value`, `key=value`, a leading '-'); "
        "a malformed line is kept in .errors and the reading goes on.");

  py::class_<netns::SysctlProbe>(m, "SysctlProbe", "What the running kernel makes of one sysctl setting.")
      .def_readonly("key", &netns::SysctlProbe::key)
      .def_property_readonly("verdict", [](const netns::SysctlProbe& p) { return netns::to_string(p.verdict); },
                             "valid, malformed_key, unknown, removed, not_per_netns, other_interface, "
                             "read_only or refused.")
      .def_readonly("value", &netns::SysctlProbe::value, "Valid: the value as the kernel stores it.")
      .def_readonly("default_value", &netns::SysctlProbe::default_value,
                    "A fresh namespace's value ('' when it has none).")
      .def_readonly("host_value", &netns::SysctlProbe::host_value,
                    "The host's value, only read ('' when the host has none).")
      .def_readonly("message", &netns::SysctlProbe::message)
      .def_property_readonly(
          "accepted",
          [](const netns::SysctlProbe& p) {
            std::vector<std::pair<std::int64_t, std::int64_t>> out;
            for (const auto& r : p.accepted) out.emplace_back(r.lo, r.hi);
            return out;
          },
          "Refused: (lo, hi) accepted for each integer field, found by trying values.")
      .def_readonly("value_malformed", &netns::SysctlProbe::value_malformed,
                    "not_per_netns: the value has not the shape of the host's.")
      .def("__repr__", [](const netns::SysctlProbe& p) {
        return "<SysctlProbe " + p.key + " " + netns::to_string(p.verdict) + ">";
      });
  m.def(
      "probe_sysctl",
      [](const std::string& key, std::optional<std::string> value) {
        py::gil_scoped_release unlocked;
        return netns::probe_sysctl(key, value ? std::optional<std::string_view>(*value) : std::nullopt);
      },
      py::arg("key"), py::arg("value") = py::none(),
      "Tries `value` for `key` in a scratch namespace of its own and reads the host's value (never "
      "writing it); without a value, examines the key only.");

  // Scenario.hold_sysctl: the overlay of a sysctl-check run outranks the case's own settings.
  py::object scenario = m.attr("Scenario");
  scenario.attr("hold_sysctl") = py::cpp_function(
      [](const py::object& net, const py::object& host, const std::string& key, const py::object& value,
         const std::string& holder) {
        scenario_of(net)->hold_sysctl(host_arg(host, "host"), key, py::str(value), holder);
      },
      py::name("hold_sysctl"), py::is_method(scenario), py::arg("host"), py::arg("key"), py::arg("value"),
      py::arg("holder"),
      "Writes a sysctl in one host's namespace and holds it there: a later set_sysctl of the key (or a\n"
      "sysctl.conf line) writes this value instead, and the timeline notes what was asked, e.g.\n"
      "'sysctl client net.ipv4.tcp_tw_reuse = 1 (sysctl-check: the case asked for 0)'.");
}

}  // namespace tcpfault::py_bindings
