// The fault engine: rules (match + action) and crafted segments.
//
//   net.faults.drop(FINAL_ACK, sent_by="client", count=1)
//   net.faults.delay(SYN_ACK, by=0.3)
//   net.faults.hold(FIN, sent_by="client", until=Match(FIN, sent_by="server"))
//   net.faults.inject(conn, toward="server", flags="R")
#include <pybind11/stl.h>

#include "bindings/conversions.h"

namespace tcpfault::py_bindings {

namespace {

// The variation every random rule made in this process takes (RandomFaults::variation):
// tcpfault explore's repeat of a clean run sets it for the test it runs, for every
// scenario the test makes (a second topology must draw as the first does).
std::uint64_t random_variation = 0;

// One entry of a random rule's fault log, with its trace's time origin.
struct TimedDecision {
  FaultDecision d;
  std::int64_t start_ns;
};

// A rule the engine holds; reads its live counts.
struct RuleHandle {
  ScenarioRef ref;
  int id;
  std::string label;
  RuleBook::Counts counts() const { return ref.lock()->faults().counts(id); }
};

// Keyword arguments every rule takes besides its match: which occurrences it acts on.
struct Occurrence {
  int nth = 1;
  int count = -1;
};

// Splits the occurrence keywords (nth, count) from the match keywords.
Occurrence take_occurrence(py::kwargs& kw) {
  Occurrence o;
  for (const char* key : {"nth", "count"}) {
    if (!kw.contains(key)) continue;
    py::object v = kw[key];
    PyDict_DelItemString(kw.ptr(), key);
    if (v.is_none()) continue;
    // The range is the engine's to judge (FaultRule::validate says why a value means nothing).
    (std::string(key) == "nth" ? o.nth : o.count) = static_cast<int>(int_arg(v, key, INT32_MIN, INT32_MAX));
  }
  return o;
}

RuleHandle add(const FaultsProxy& faults, const py::object& what, py::kwargs kw, Action action) {
  auto scenario = faults.ref.lock();
  FaultEngine& engine = scenario->faults();
  Occurrence o = take_occurrence(kw);
  FaultRule rule;
  rule.match = match_arg(what, kw);
  rule.action = std::move(action);
  rule.nth = o.nth;
  rule.times = o.count;
  std::string label = rule.describe();
  int id;
  {
    py::gil_scoped_release unlocked;
    id = engine.add(std::move(rule));
  }
  return RuleHandle{faults.ref, id, label};
}

SeqAnchor anchor_arg(const py::handle& seq, std::int64_t& offset) {
  if (py::isinstance<py::int_>(seq)) {
    offset += seq.cast<std::int64_t>();
    return SeqAnchor::Absolute;
  }
  std::string s = py::str(seq);
  if (s == "rcv_nxt") return SeqAnchor::ReceiverRcvNxt;
  if (s == "snd_nxt") return SeqAnchor::SenderSndNxt;
  throw py::value_error("seq: use 'rcv_nxt' (what the receiver expects next), 'snd_nxt' (what the "
                        "impersonated sender would send next) or an absolute number, not '" + s + "'");
}

Craft craft_arg(const py::object& toward, const py::object& flags, const py::object& seq,
                std::int64_t seq_offset, std::int64_t ack_offset, const py::object& window,
                const py::object& tsval_offset, const py::object& payload) {
  Craft c;
  c.toward = host_arg(toward, "toward");
  if (c.toward == Host::Middlebox) throw py::value_error("toward: a crafted segment goes to 'client' or 'server'");
  c.flags = flags_arg(flags, "flags");
  c.seq_offset = seq_offset;
  c.seq_anchor = anchor_arg(seq, c.seq_offset);
  c.ack_offset = ack_offset;
  if (!window.is_none()) c.window = static_cast<std::uint16_t>(int_arg(window, "window", 0, 65535));
  if (!tsval_offset.is_none()) c.tsval_offset = int_arg(tsval_offset, "tsval_offset", INT64_MIN, INT64_MAX);
  std::string bytes = payload.cast<std::string>();
  c.payload.assign(bytes.begin(), bytes.end());
  return c;
}

#define CRAFT_ARGS                                                                          \
  py::arg("toward"), py::arg("flags") = "R", py::arg("seq") = "rcv_nxt", py::arg("seq_offset") = 0, \
      py::arg("ack_offset") = 0, py::arg("window") = py::none(), py::arg("tsval_offset") = py::none(), \
      py::arg("payload") = py::bytes()

}  // namespace

void bind_faults(py::module_& m) {
  m.def(
      "_set_random_variation", [](std::uint64_t v) { random_variation = v; }, py::arg("variation"),
      "For tcpfault explore's repeats of a clean run: random rules made from now on draw another sequence\n"
      "for their seed (0: the seed's own). Not for tests.");
  py::class_<TimedDecision>(m, "FaultDecision", "What a random rule did to one segment.")
      .def_property_readonly("ordinal", [](const TimedDecision& t) { return t.d.ordinal; },
                             "The segment's number among those the rule matched, from 1.")
      .def_property_readonly("action", [](const TimedDecision& t) { return t.d.action; },
                             "'drop', 'delay', 'duplicate' or 'reorder'.")
      .def_property_readonly("summary", [](const TimedDecision& t) { return t.d.summary; }, "The segment.")
      .def_property_readonly(
          "preempted_by", [](const TimedDecision& t) -> std::optional<int> {
            return t.d.preempted_by ? std::optional<int>(t.d.preempted_by) : std::nullopt;
          },
          "The id of the rule that acted on the segment first (this draw was then not applied), or None.")
      .def_property_readonly("t_ms", [](const TimedDecision& t) { return double(t.d.t_ns - t.start_ns) / 1e6; })
      .def("__repr__", [](const TimedDecision& t) {
        return "<FaultDecision #" + std::to_string(t.d.ordinal) + " " + t.d.action + ": " + t.d.summary + ">";
      });

  py::class_<RuleHandle>(m, "Rule", "A fault rule the engine holds.")
      .def_readonly("id", &RuleHandle::id)
      .def_readonly("label", &RuleHandle::label)
      .def_property_readonly("matched", [](const RuleHandle& r) { return r.counts().matched; },
                             "Segments the rule's match selected so far.")
      .def_property_readonly("applied", [](const RuleHandle& r) { return r.counts().applied; },
                             "Segments the action was applied to so far.")
      .def_property_readonly(
          "log",
          [](const RuleHandle& r) {
            auto s = r.ref.lock();
            std::vector<FaultDecision> log = s->faults().fault_log(r.id);
            std::vector<TimedDecision> out;
            for (auto& d : log) out.push_back(TimedDecision{std::move(d), s->trace().start_ns()});
            return out;
          },
          "A random rule's fault log: what it drew for each segment it matched and did not pass, in\n"
          "order: applied, or preempted_by the rule that acted on that segment first (empty for other rules).")
      .def(
          "released",
          [](const RuleHandle& r, const py::object& within, const py::object& nth) {
            auto t = seconds_arg(within, "within");
            const int n = static_cast<int>(int_arg(nth, "nth (from 1)", 1, INT32_MAX));
            auto s = r.ref.lock();
            SegmentEvent e;
            {
              py::gil_scoped_release unlocked;
              e = s->expect_released(r.id, t, n);
            }
            return SegmentRecord{std::move(e), s->trace().start_ns()};
          },
          py::arg("within") = 3.0, py::kw_only(), py::arg("nth") = 1,
          "Waits until the nth segment (from 1) this rule kept back - a hold, a delay, a random rule's\n"
          "reorder or delay - has been let go, and returns it (its released_ms set). Raises\n"
          "ExpectationFailed when it is still held after `within` seconds (or the rule held none), and\n"
          "Error for a rule that never keeps a segment back.")
      .def("__repr__", [](const RuleHandle& r) { return "<Rule #" + std::to_string(r.id) + ": " + r.label + ">"; });

  py::class_<FaultEngine::Stats>(m, "FaultStats", "What the fault engine has handled so far.")
      .def_readonly("segments", &FaultEngine::Stats::segments)
      .def_readonly("unparsed", &FaultEngine::Stats::unparsed)
      .def_readonly("held_now", &FaultEngine::Stats::held_now)
      .def_readonly("released_at_end", &FaultEngine::Stats::released_at_end,
                    "Held segments let through when the engine stopped.")
      .def_readonly("queue_dropped", &FaultEngine::Stats::queue_dropped,
                    "Packets the kernel dropped because the queue was full: losses no rule asked for.")
      .def_readonly("user_dropped", &FaultEngine::Stats::user_dropped,
                    "Packets the kernel could not hand to the harness: losses no rule asked for.")
      .def_readonly("overruns", &FaultEngine::Stats::overruns)
      .def_readonly("verdict_errors", &FaultEngine::Stats::verdict_errors)
      .def_readonly("intercepting", &FaultEngine::Stats::intercepting)
      .def_property_readonly("undecided_drops", &FaultEngine::Stats::undecided_drops)
      .def_property_readonly("loop_cpu", [](const FaultEngine::Stats& s) { return double(s.loop_cpu_ns) / 1e9; },
                             "CPU seconds the verdict loop used so far.")
      .def_readonly("flood_syns_sent", &FaultEngine::Stats::flood_syns_sent)
      .def_readonly("flood_replies_dropped", &FaultEngine::Stats::flood_replies_dropped)
      .def("__repr__", [](const FaultEngine::Stats& s) {
        return "<FaultStats segments=" + std::to_string(s.segments) + " unparsed=" + std::to_string(s.unparsed) +
               " held_now=" + std::to_string(s.held_now) + " undecided_drops=" + std::to_string(s.undecided_drops()) +
               " flood_syns_sent=" + std::to_string(s.flood_syns_sent) +
               " flood_replies_dropped=" + std::to_string(s.flood_replies_dropped) + ">";
      });

  py::class_<FaultsProxy>(m, "Faults",
                          "The middlebox's fault engine. Every rule takes a match (a Match, a role, or None for any\n"
                          "segment) refined by match keywords (sent_by, flags, without_flags, any_role, not_role,\n"
                          "payload, port, relative_seq), and the occurrence keywords nth (first occurrence it\n"
                          "acts on, from 1) and count (how many times; default: every time).")
      .def("drop", [](const FaultsProxy& e, const py::object& what, py::kwargs kw) { return add(e, what, kw, Drop{}); },
           py::arg("match") = py::none(), "Lose matching segments in the network.")
      .def(
          "delay",
          [](const FaultsProxy& e, const py::object& what, const py::object& by, py::kwargs kw) {
            return add(e, what, kw, Delay{seconds_arg(by, "by")});
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("by"), "Let matching segments go `by` seconds later.")
      .def(
          "hold",
          [](const FaultsProxy& e, const py::object& what, const py::object& after, const py::object& until,
             const py::object& max, py::kwargs kw) {
            Hold h;
            if (!after.is_none()) h.after_segments = static_cast<int>(int_arg(after, "after", 0, INT32_MAX));
            if (!until.is_none()) h.until = match_arg(until, py::kwargs());
            h.max = seconds_arg(max, "max");
            return add(e, what, kw, h);
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("after") = py::none(), py::arg("until") = py::none(),
          py::arg("max") = 10.0,
          "Hold matching segments until `after` later segments of the same sender passed, or until a segment\n"
          "matching `until` is seen; never longer than `max` seconds.")
      .def(
          "duplicate",
          [](const FaultsProxy& e, const py::object& what, int copies, py::kwargs kw) {
            return add(e, what, kw, Duplicate{copies});
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("copies") = 1,
          "Let matching segments pass, then send `copies` copies (sent by the middlebox).")
      .def(
          "modify",
          [](const FaultsProxy& e, const py::object& what, const py::object& window, const py::object& set_flags,
             const py::object& clear_flags, std::int64_t seq_offset, std::int64_t ack_offset, bool strip_options,
             const py::object& write_payload, const py::object& xor_payload, py::kwargs kw) {
            Modify mod;
            if (!write_payload.is_none() && !xor_payload.is_none())
              throw py::value_error("modify: give write_payload or xor_payload, not both");
            for (auto [given, xor_bytes] : {std::pair{&write_payload, false}, {&xor_payload, true}}) {
              if (given->is_none()) continue;
              const char* what = xor_bytes ? "xor_payload" : "write_payload";
              auto pair = py::reinterpret_borrow<py::object>(*given);
              if (!py::isinstance<py::tuple>(pair) || py::len(pair) != 2 || !py::isinstance<py::bytes>(pair[py::int_(1)]))
                throw py::type_error(std::string(what) + " takes (offset, bytes), e.g. (100, b'\\xff')");
              std::string bytes = pair[py::int_(1)].cast<std::string>();
              if (bytes.empty()) throw py::value_error(std::string(what) + ": give at least one byte");
              mod.payload = PayloadPatch{static_cast<std::size_t>(int_arg(pair[py::int_(0)], what, 0, 65535)),
                                         std::vector<std::uint8_t>(bytes.begin(), bytes.end()), xor_bytes};
            }
            if (!window.is_none()) mod.window = static_cast<std::uint16_t>(int_arg(window, "window", 0, 65535));
            if (!set_flags.is_none()) mod.set_flags = flags_arg(set_flags, "set_flags");
            if (!clear_flags.is_none()) mod.clear_flags = flags_arg(clear_flags, "clear_flags");
            mod.seq_offset = seq_offset;
            mod.ack_offset = ack_offset;
            mod.strip_options = strip_options;
            return add(e, what, kw, mod);
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("window") = py::none(),
          py::arg("set_flags") = py::none(), py::arg("clear_flags") = py::none(), py::arg("seq_offset") = 0,
          py::arg("ack_offset") = 0, py::arg("strip_options") = false, py::arg("write_payload") = py::none(),
          py::arg("xor_payload") = py::none(),
          "Rewrite fields (checksums are fixed). write_payload=(offset, bytes) overwrites payload bytes from\n"
          "offset; xor_payload=(offset, bytes) XORs them in (b'\\xff' changes a byte whatever it was).")
      .def(
          "random",
          [](const FaultsProxy& e, const py::object& what, double drop, double delay, double duplicate,
             double reorder, const py::object& seed, const py::object& delay_by, const py::object& reorder_after,
             const py::object& reorder_max, py::kwargs kw) {
            RandomFaults r;
            r.drop = drop;
            r.delay = delay;
            r.duplicate = duplicate;
            r.reorder = reorder;
            r.seed = static_cast<std::uint64_t>(int_arg(seed, "seed", 0, INT64_MAX));
            r.variation = random_variation;
            r.delay_by = seconds_arg(delay_by, "delay_by");
            r.reorder_after = static_cast<int>(int_arg(reorder_after, "reorder_after", 1, INT32_MAX));
            r.reorder_max = seconds_arg(reorder_max, "reorder_max");
            return add(e, what, kw, r);
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("drop") = 0.0, py::arg("delay") = 0.0,
          py::arg("duplicate") = 0.0, py::arg("reorder") = 0.0, py::arg("seed"), py::arg("delay_by") = 0.02,
          py::arg("reorder_after") = 2, py::arg("reorder_max") = 0.2,
          "Seeded chance faults: each matching segment is dropped, delayed (delay_by seconds), duplicated or\n"
          "reordered (held until reorder_after later segments of its sender passed, at most reorder_max\n"
          "seconds) with these probabilities, or passed. The draw for the nth matched segment depends only\n"
          "on (seed, n): the same seed gives the same schedule. rule.log lists what it did.")
      .def(
          "inject_on",
          [](const FaultsProxy& e, const py::object& what, const py::object& toward, const py::object& flags,
             const py::object& seq, std::int64_t seq_offset, std::int64_t ack_offset, const py::object& window,
             const py::object& tsval_offset, const py::object& payload, bool drop_trigger, py::kwargs kw) {
            Inject inj{craft_arg(toward, flags, seq, seq_offset, ack_offset, window, tsval_offset, payload),
                       drop_trigger};
            return add(e, what, kw, inj);
          },
          py::arg("match") = py::none(), py::kw_only(), CRAFT_ARGS, py::arg("drop_trigger") = false,
          "When a matching segment passes, send a crafted one in its connection (instead of it with\n"
          "drop_trigger). `flags` and `payload` describe the crafted segment, not the match.")
      .def(
          "rewrite_isn",
          [](const FaultsProxy& e, const py::object& what, const py::object& first, const py::object& step,
             py::kwargs kw) {
            RewriteIsn isn{static_cast<std::uint32_t>(int_arg(first, "first", 0, UINT32_MAX)),
                           static_cast<std::uint32_t>(int_arg(step, "step", 0, UINT32_MAX))};
            return add(e, what, kw, isn);
          },
          py::arg("match") = py::none(), py::kw_only(), py::arg("first"), py::arg("step") = 0,
          "Give each connection whose SYN (or SYN-ACK) matches a chosen ISN in that direction: the k-th\n"
          "such connection (from 0) gets first + k * step (mod 2^32). Every later segment of the\n"
          "connection is translated both ways (seq, ACK, SACK blocks), so both ends stay in step.")
      .def(
          "inject",
          [](const FaultsProxy& e, const Connection& c, const py::object& toward, const py::object& flags,
             const py::object& seq, std::int64_t seq_offset, std::int64_t ack_offset, const py::object& window,
             const py::object& tsval_offset, const py::object& payload) {
            Craft craft = craft_arg(toward, flags, seq, seq_offset, ack_offset, window, tsval_offset, payload);
            auto s = e.ref.lock();
            py::gil_scoped_release unlocked;
            s->faults().inject(c.tuple().local, c.tuple().remote, craft);
          },
          py::arg("connection"), py::kw_only(), CRAFT_ARGS,
          "Send a crafted segment now, in the live connection's sequence space, as if its peer sent it.\n"
          "seq='rcv_nxt' puts it where the receiver expects the next byte.")
      .def("remove", [](const FaultsProxy& e, const RuleHandle& r) { e.ref.lock()->faults().remove(r.id); },
           py::arg("rule"))
      .def("clear", [](const FaultsProxy& e) { e.ref.lock()->faults().clear(); })
      .def_property_readonly("stats", [](const FaultsProxy& e) { return e.ref.lock()->faults().stats(); })
      .def("__repr__", [](const FaultsProxy&) { return std::string("<Faults>"); });
}

}  // namespace tcpfault::py_bindings
