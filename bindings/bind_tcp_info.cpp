// TcpInfo: a connection's TCP_INFO, from Connection.tcp_info() or Scenario.tcp_info().
#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

void bind_tcp_info(py::module_& m) {
  py::class_<TcpInfo>(m, "TcpInfo",
                      "The kernel's TCP_INFO of one socket at one moment (times in microseconds, or ms in *_ms).")
      .def_readonly("state", &TcpInfo::state)
      .def_readonly("ca_state", &TcpInfo::ca_state, "0 open, 1 disorder, 2 CWR, 3 recovery, 4 loss.")
      .def_readonly("retransmits", &TcpInfo::retransmits, "Consecutive timeouts of the current RTO.")
      .def_readonly("probes", &TcpInfo::probes, "Unanswered zero-window or keepalive probes.")
      .def_readonly("backoff", &TcpInfo::backoff, "Exponential backoff of the RTO or probe timer.")
      .def_readonly("sack", &TcpInfo::sack, "SACK was negotiated.")
      .def_readonly("timestamps", &TcpInfo::timestamps, "Timestamps were negotiated.")
      .def_readonly("snd_wscale", &TcpInfo::snd_wscale)
      .def_readonly("rcv_wscale", &TcpInfo::rcv_wscale)
      .def_readonly("rto_us", &TcpInfo::rto_us)
      .def_readonly("ato_us", &TcpInfo::ato_us)
      .def_property_readonly("rto_ms", [](const TcpInfo& i) { return i.rto_us / 1e3; })
      .def_property_readonly("rtt_ms", [](const TcpInfo& i) { return i.rtt_us / 1e3; }, "Smoothed RTT.")
      .def_property_readonly("rttvar_ms", [](const TcpInfo& i) { return i.rttvar_us / 1e3; })
      .def_property_readonly("ato_ms", [](const TcpInfo& i) { return i.ato_us / 1e3; })
      .def_readonly("snd_mss", &TcpInfo::snd_mss)
      .def_readonly("rcv_mss", &TcpInfo::rcv_mss)
      .def_readonly("unacked", &TcpInfo::unacked, "Segments sent and not yet acknowledged.")
      .def_readonly("sacked", &TcpInfo::sacked)
      .def_readonly("lost", &TcpInfo::lost)
      .def_readonly("retrans", &TcpInfo::retrans)
      .def_readonly("rtt_us", &TcpInfo::rtt_us)
      .def_readonly("rttvar_us", &TcpInfo::rttvar_us)
      .def_readonly("min_rtt_us", &TcpInfo::min_rtt_us)
      .def_readonly("snd_ssthresh", &TcpInfo::snd_ssthresh)
      .def_readonly("snd_cwnd", &TcpInfo::snd_cwnd)
      .def_readonly("rcv_space", &TcpInfo::rcv_space)
      .def_readonly("total_retrans", &TcpInfo::total_retrans)
      .def_readonly("snd_wnd", &TcpInfo::snd_wnd, "The peer's last advertised window, scaled, in bytes.")
      .def_readonly("bytes_acked", &TcpInfo::bytes_acked)
      .def_readonly("bytes_received", &TcpInfo::bytes_received)
      .def_readonly("segs_out", &TcpInfo::segs_out)
      .def_readonly("segs_in", &TcpInfo::segs_in)
      .def_readonly("reordering", &TcpInfo::reordering, "The duplicate threshold the sender uses now.")
      .def_readonly("dsack_dups", &TcpInfo::dsack_dups, "Duplicate segments the peer reported with D-SACK.")
      .def_readonly("reord_seen", &TcpInfo::reord_seen)
      .def_readonly("rcv_ooopack", &TcpInfo::rcv_ooopack, "Segments received out of order.")
      .def("__repr__", [](const TcpInfo& i) { return "<TcpInfo " + i.str() + ">"; });
}

}  // namespace tcpfault::py_bindings
