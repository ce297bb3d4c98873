#include "harness/intercept/fault_rule.h"

#include "netns/error.h"

namespace tcpfault {

namespace {

std::string describe_craft(const Craft& c) {
  std::string anchor = c.seq_anchor == SeqAnchor::ReceiverRcvNxt ? "rcv_nxt"
                       : c.seq_anchor == SeqAnchor::SenderSndNxt ? "snd_nxt"
                                                                 : "seq";
  std::string out = "[" + flags_string(c.flags) + "] to " + netns::to_string(c.toward) + " at " +
                    anchor;
  if (c.seq_anchor == SeqAnchor::Absolute)
    out += " " + std::to_string(c.seq_offset);
  else if (c.seq_offset)
    out += (c.seq_offset > 0 ? "+" : "") + std::to_string(c.seq_offset);
  if (!c.payload.empty()) out += ", " + std::to_string(c.payload.size()) + " bytes";
  return out;
}

}  // namespace

std::string describe(const Action& a) {
  struct {
    std::string operator()(const Drop&) const { return "drop"; }
    std::string operator()(const Delay& d) const {
      return "delay " + std::to_string(d.by.count()) + " ms";
    }
    std::string operator()(const Hold& h) const {
      std::string out = "hold";
      if (h.after_segments) out += " until " + std::to_string(h.after_segments) + " later segments passed";
      if (h.until) out += std::string(h.after_segments ? " or" : " until") + " " + h.until->describe() + " seen";
      return out + " (at most " + std::to_string(h.max.count()) + " ms)";
    }
    std::string operator()(const Duplicate& d) const {
      return "duplicate x" + std::to_string(d.copies);
    }
    std::string operator()(const Modify& m) const {
      std::string out = "modify";
      if (m.window) out += " win=" + std::to_string(*m.window);
      if (m.set_flags) out += " +[" + flags_string(m.set_flags) + "]";
      if (m.clear_flags) out += " -[" + flags_string(m.clear_flags) + "]";
      if (m.seq_offset) out += " seq" + std::string(m.seq_offset > 0 ? "+" : "") + std::to_string(m.seq_offset);
      if (m.ack_offset) out += " ack" + std::string(m.ack_offset > 0 ? "+" : "") + std::to_string(m.ack_offset);
      if (m.strip_options) out += " strip-options";
      if (m.payload)
        out += std::string(m.payload->xor_bytes ? " xor" : " write") + " payload[" +
               std::to_string(m.payload->offset) + ".." +
               std::to_string(m.payload->offset + m.payload->bytes.size()) + ")";
      return out;
    }
    std::string operator()(const RewriteIsn& r) const {
      return "rewrite the ISN to " + std::to_string(r.first) + " + k x " + std::to_string(r.step) + " (k-th connection)";
    }
    std::string operator()(const Inject& i) const {
      return std::string(i.drop_trigger ? "replace with " : "inject ") + describe_craft(i.segment);
    }
    std::string operator()(const RandomFaults& r) const { return r.describe(); }
  } visitor;
  return std::visit(visitor, a);
}

std::string FaultRule::describe() const {
  std::string out = tcpfault::describe(action) + " " + match.describe();
  if (nth != 1 || times != -1) {
    out += " (";
    if (nth != 1) out += "from the " + (nth > 0 ? ordinal(static_cast<std::size_t>(nth)) : std::to_string(nth)) + " occurrence, ";
    out += times == -1 ? "every time" : times == 1 ? "once" : std::to_string(times) + " times";
    out += ")";
  }
  return out;
}

bool FaultRule::holds() const {
  if (std::holds_alternative<Hold>(action) || std::holds_alternative<Delay>(action)) return true;
  const auto* r = std::get_if<RandomFaults>(&action);
  return r && (r->delay > 0 || r->reorder > 0);
}

void FaultRule::validate() const {
  if (nth < 1) throw Error("fault rule '" + describe() + "': occurrence must be 1 or more, got " + std::to_string(nth));
  // The engine judges each segment as it comes; which occurrence is the rule's to say.
  if (match.occurrence)
    throw Error("fault rule '" + describe() + "': a rule's match takes no nth; give the rule its occurrence (nth=" +
                std::to_string(*match.occurrence) + " on the rule, FaultRule::occurrence)");
  if (times == 0 || times < -1)
    throw Error("fault rule '" + describe() + "': count must be positive (or -1 for every time), got " +
                std::to_string(times));
  if (auto* d = std::get_if<Delay>(&action); d && d->by.count() < 0)
    throw Error("fault rule: delay must not be negative, got " + std::to_string(d->by.count()) + " ms");
  if (auto* d = std::get_if<Duplicate>(&action); d && d->copies < 1)
    throw Error("fault rule: duplicate needs at least 1 copy, got " + std::to_string(d->copies));
  if (auto* h = std::get_if<Hold>(&action)) {
    if (h->after_segments < 0) throw Error("fault rule: hold after a negative number of segments");
    if (h->after_segments == 0 && !h->until)
      throw Error("fault rule: a hold needs a condition (after_segments > 0 or an `until` match); "
                  "use a delay to hold for a time");
    if (h->max.count() <= 0) throw Error("fault rule: a hold's maximum must be positive");
    if (h->until && h->until->occurrence)
      throw Error("fault rule: a hold's `until` match takes no nth: it releases on the first segment that "
                  "matches after the held one");
  }
  if (auto* r = std::get_if<RandomFaults>(&action)) r->validate();
  if (auto* m = std::get_if<Modify>(&action); m && m->payload && m->payload->bytes.empty())
    throw Error("fault rule: a payload rewrite needs at least one byte");
  const bool only_syns = (match.all_roles & (SYN | SYN_ACK)) || (match.flags_set & tcp_flag::SYN) ||
                         (match.any_role && !(match.any_role & ~Roles(SYN | SYN_ACK)));
  if (std::holds_alternative<RewriteIsn>(action) && !only_syns)
    throw Error("fault rule: rewrite_isn acts on the SYN or SYN-ACK that opens a direction; give it a match "
                "with the SYN or SYN_ACK role (or the S flag)");
  if (auto* i = std::get_if<Inject>(&action); i && i->segment.toward == Host::Middlebox)
    throw Error("fault rule: a crafted segment goes toward the client or the server, not the middlebox");
}

namespace {
FaultRule make_rule(Match m, Action a) {
  FaultRule r;
  r.match = std::move(m);
  r.action = std::move(a);
  return r;
}
}  // namespace

FaultRule drop(Match m) { return make_rule(std::move(m), Drop{}); }
FaultRule delay(Match m, milliseconds by) { return make_rule(std::move(m), Delay{by}); }
FaultRule hold(Match m, Hold h) { return make_rule(std::move(m), std::move(h)); }
FaultRule duplicate(Match m, int copies) { return make_rule(std::move(m), Duplicate{copies}); }
FaultRule modify(Match m, Modify change) { return make_rule(std::move(m), std::move(change)); }
FaultRule inject_on(Match m, Inject what) { return make_rule(std::move(m), std::move(what)); }
FaultRule random_faults(Match m, RandomFaults r) { return make_rule(std::move(m), r); }

std::optional<Action> concrete_action(const RandomFaults& r, RandomChoice c) {
  switch (c) {
    case RandomChoice::Pass: return std::nullopt;
    case RandomChoice::Drop: return Drop{};
    case RandomChoice::Delay: return Delay{r.delay_by};
    case RandomChoice::Duplicate: return Duplicate{1};
    case RandomChoice::Reorder: return Hold{.after_segments = r.reorder_after, .until = std::nullopt, .max = r.reorder_max};
  }
  return std::nullopt;
}
FaultRule rewrite_isn(Match m, RewriteIsn isn) { return make_rule(std::move(m), isn); }

}  // namespace tcpfault
