// The ladder: client on the left, server on the right, the wire in between.
#include <cstdio>
#include <cstring>

#include "harness/packet/dsack.h"
#include "harness/trace/trace_output.h"

namespace tcpfault {

namespace {

constexpr int kSideWidth = 30;
constexpr int kWireWidth = 72;

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// One row: what happened at the client, on the wire, at the server.
std::string row(std::int64_t t_ns, std::int64_t start_ns, const std::string& client,
                const std::string& wire, const std::string& server) {
  char time[24];
  std::snprintf(time, sizeof time, "%10.3f", double(t_ns - start_ns) / 1e6);
  std::string line = std::string(time) + "  " + pad(client, kSideWidth) + " " +
                     pad(wire, kWireWidth) + " " + server;
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

// " sack 2897:5793" (edges relative like the ACK), " dsack 1:1449 ..." when the first
// block reports a duplicate.
std::string sack_text(const SegmentEvent& s) {
  const Packet& p = s.packet;
  if (p.options.sack_blocks.empty()) return "";
  std::uint32_t base = s.relative ? s.relative->dst_isn : 0;
  std::string text = reports_dsack(p) ? " dsack" : " sack";
  for (const auto& [left, right] : p.options.sack_blocks)
    text += " " + std::to_string(left - base) + ":" + std::to_string(right - base);
  return text;
}

std::string segment_text(const SegmentEvent& s) {
  const Packet& p = s.packet;
  std::string text = "[" + flags_string(p.flags) + "]";
  std::uint32_t seq = p.seq, ack = p.ack;
  if (s.relative) {
    seq -= s.relative->src_isn;
    ack -= s.relative->dst_isn;
  }
  text += " seq " + std::to_string(seq);
  if (p.payload_len) text += ":" + std::to_string(seq + p.payload_len);
  if (p.has(tcp_flag::ACK)) text += " ack " + std::to_string(ack);
  text += " win " + std::to_string(p.window);
  if (p.payload_len) text += " len " + std::to_string(p.payload_len);
  text += sack_text(s);
  text += " " + roles_string(s.classified.roles);
  return text;
}

constexpr std::int64_t kLoopLagShown_ns = 1'000'000;

std::string wire_cell(const SegmentEvent& s) {
  bool rightward = s.to == Host::Server;
  bool lost = dropped(s);
  std::string text = segment_text(s);
  std::string arrow_body = s.from == Host::Middlebox ? "~~" : "--";
  std::string cell;
  if (rightward)
    cell = (s.from == Host::Middlebox ? "  " + arrow_body + " " : "") + text + " " +
           (lost ? "--X" : arrow_body + ">");
  else
    cell = (lost ? "X--" : "<" + arrow_body) + " " + text +
           (s.from == Host::Middlebox ? " " + arrow_body : "");
  if (s.fate != "passed") cell += "  {" + s.fate + "}";
  // A verdict loop that read the segment well after the kernel queued it: the harness,
  // not the sender, was late.
  if (s.queued_ns && s.t_ns - s.queued_ns >= kLoopLagShown_ns) {
    char lag[48];
    std::snprintf(lag, sizeof lag, "  (queued %.3f ms before)", double(s.t_ns - s.queued_ns) / 1e6);
    cell += lag;
  }
  return cell;
}

}  // namespace

std::string render_ladder(const Trace& trace, std::size_t max_rows) {
  std::string out = "ladder of " + trace.name() + " (time in ms; ~~ crafted by the middlebox)\n";
  out += row(trace.start_ns(), trace.start_ns(), "client", "wire", "server");
  const std::int64_t start = trace.start_ns();
  const auto events = trace.events();
  const std::size_t head = events.size() > max_rows ? max_rows / 4 : events.size();
  const std::size_t tail_from = events.size() > max_rows ? events.size() - (max_rows - head) : events.size();
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i == head && head < tail_from) {
      out += row(event_time(events[i]), start, "",
                 "... " + std::to_string(tail_from - head) + " events left out (the .ladder.txt has them all)", "");
      i = tail_from - 1;
      continue;
    }
    const Event& e = events[i];
    if (auto* s = std::get_if<SegmentEvent>(&e)) {
      out += row(s->t_ns, start, "", wire_cell(*s), "");
    } else if (auto* t = std::get_if<TransitionEvent>(&e)) {
      std::string text = to_string(t->from) + " -> " + to_string(t->to);
      // Steps of a life's other kernel objects say so (the BPF observer records them).
      if (t->source.find("request socket") != std::string::npos) text += " (request sock)";
      else if (t->source.find("timewait minisocket") != std::string::npos) text += " (minisocket)";
      if (t->host == Host::Client) out += row(t->t_ns, start, text, "", "");
      else out += row(t->t_ns, start, "", "", text);
    } else if (auto* c = std::get_if<CallEvent>(&e)) {
      std::string text = c->call + " = " +
                         (c->err ? "-1 " + std::string(std::strerror(c->err)) : std::to_string(c->result));
      if (c->host == Host::Client) out += row(c->t_ns, start, text, "", "");
      else out += row(c->t_ns, start, "", "", text);
    } else if (auto* n = std::get_if<NoteEvent>(&e)) {
      out += row(n->t_ns, start, "", "# " + n->text, "");
    }
  }
  return out;
}

}  // namespace tcpfault
