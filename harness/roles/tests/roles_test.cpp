// The role tracker on recorded wire sequences. Each script is one row per segment as
// the middlebox sees it, with the roles the tracker must give it.
#include "harness/roles/roles.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "harness/testing/scripted_connection.h"

namespace tcpfault {
namespace {

// One segment. seq is relative to the sender's ISN and ack to the receiver's, as
// tcpdump prints them; flags are tcpdump's letters ("S", "S.", ".", "P.", "F.", "R.").
struct Row {
  Side from;
  const char* flags;
  std::uint32_t seq, ack;
  std::size_t len;
  std::uint16_t win;
  const char* roles;  // expected, '|'-separated, in any order
  int fin = 0;        // expected fin_number
};

Roles parse_roles(std::string_view text) {
  Roles r = 0;
  while (!text.empty()) {
    const auto bar = text.find('|');
    const std::string name(text.substr(0, bar));
    const auto role = role_from_name(name);
    if (role) r |= *role;
    else ADD_FAILURE() << "unknown role " << name;
    text = bar == std::string_view::npos ? std::string_view{} : text.substr(bar + 1);
  }
  return r;
}

// A client and a server talking through the tracker. Packets are filled in field by
// field: the tracker reads nothing else.
class Wire {
 public:
  Wire(RoleTracker& tracker, Family family, std::uint32_t client_isn = 1000,
       std::uint32_t server_isn = 5000)
      : tracker_(tracker), conn_(family, client_isn, server_isn) {}

  // A new incarnation of the same 4-tuple.
  void new_isns(std::uint32_t client_isn, std::uint32_t server_isn) {
    conn_.isn[C] = client_isn;
    conn_.isn[S] = server_isn;
  }

  Packet segment(Side from, std::string_view flags, std::uint32_t seq, std::uint32_t ack,
                 std::size_t len, std::uint16_t win) const {
    return conn_.packet(from, flags, seq, ack, len, win);
  }

  Classified send(const Row& r, bool injected = false) {
    return tracker_.classify(segment(r.from, r.flags, r.seq, r.ack, r.len, r.win), injected);
  }

  // Sends every row and checks its roles, fin number and sender.
  std::vector<Classified> play(std::initializer_list<Row> rows) {
    std::vector<Classified> seen;
    int line = 0;
    for (const Row& r : rows) {
      ++line;
      const Classified got = send(r);
      const std::string where = "row " + std::to_string(line) + ": " +
                                (r.from == C ? "C " : "S ") + r.flags + " seq " +
                                std::to_string(r.seq) + " ack " + std::to_string(r.ack) +
                                " len " + std::to_string(r.len);
      EXPECT_EQ(roles_string(got.roles), roles_string(parse_roles(r.roles))) << where;
      EXPECT_EQ(got.fin_number, r.fin) << where;
      EXPECT_EQ(got.from_opener, r.from == opener_) << where;
      seen.push_back(got);
    }
    return seen;
  }

  const RoleTracker::Connection* connection() const { return tracker_.find(conn_.client, conn_.server); }
  void opener_is(Side s) { opener_ = s; }
  const SockAddr& client() const { return conn_.client; }
  const SockAddr& server() const { return conn_.server; }

 private:
  RoleTracker& tracker_;
  ScriptedConnection conn_;
  Side opener_ = C;
};

// Connection ids of every classified segment.
std::vector<std::uint64_t> ids(const std::vector<Classified>& seen) {
  std::vector<std::uint64_t> out;
  for (const auto& c : seen) out.push_back(c.connection);
  return out;
}

void handshake(Wire& w) {
  w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK"},
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
  });
}

// 100 bytes from the client, then its FIN, the server's FIN with the ACK of it, the final ACK.
void data_then_close(Wire& w) {
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {C, "F.", 101, 1, 0, 502, "FIN", 1},
      {S, "F.", 1, 102, 0, 509, "FIN|ACK_OF_FIN", 2},
      {C, ".", 102, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
  });
}

TEST(RoleNames, JoinedInEnumOrder) {
  EXPECT_EQ(roles_string(SYN), "SYN");
  EXPECT_EQ(roles_string(ACK_OF_FIN | FIN), "FIN|ACK_OF_FIN");
  EXPECT_EQ(roles_string(RETRANSMISSION | DATA), "DATA|RETRANSMISSION");
  EXPECT_EQ(roles_string(RST_ROLE), "RST");
  EXPECT_EQ(roles_string(0), "NONE");
}

TEST(RoleNames, ParsedInAnySpelling) {
  EXPECT_EQ(role_from_name("FINAL_ACK"), FINAL_ACK);
  EXPECT_EQ(role_from_name("final_ack"), FINAL_ACK);
  EXPECT_EQ(role_from_name("final-ack"), FINAL_ACK);
  EXPECT_EQ(role_from_name("RST"), RST_ROLE);
  EXPECT_EQ(role_from_name("rst_role"), RST_ROLE);
  EXPECT_EQ(role_from_name("Window-Probe"), WINDOW_PROBE);
  EXPECT_EQ(role_from_name("ACK"), std::nullopt);
  EXPECT_EQ(role_from_name(""), std::nullopt);
}

TEST(RoleNames, EveryRoleRoundTrips) {
  for (Roles bit = SYN; bit <= kLastRole; bit <<= 1) {
    EXPECT_EQ(role_from_name(roles_string(bit)), static_cast<Role>(bit)) << bit;
  }
}

class RolesOnBothFamilies : public ::testing::TestWithParam<Family> {};

TEST_P(RolesOnBothFamilies, HandshakeDataAndFourWayClose) {
  RoleTracker t;
  Wire w(t, GetParam());
  const auto seen = w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK"},
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
      {S, "P.", 1, 101, 300, 509, "DATA"},
      {C, ".", 101, 301, 0, 501, "PURE_ACK"},
      {C, "F.", 101, 301, 0, 501, "FIN", 1},
      {S, ".", 301, 102, 0, 509, "ACK_OF_FIN|PURE_ACK"},
      {S, "F.", 301, 102, 0, 509, "FIN", 2},
      {C, ".", 102, 302, 0, 501, "FINAL_ACK|PURE_ACK"},
  });
  EXPECT_EQ(ids(seen), std::vector<std::uint64_t>(seen.size(), 1));

  const auto* c = t.find(w.server(), w.client());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c, t.find(w.client(), w.server()));
  EXPECT_EQ(c->id, 1u);
  EXPECT_EQ(c->opener, w.client());
  EXPECT_EQ(c->listener, w.server());
  EXPECT_EQ(c->from_opener.isn, 1000u);
  EXPECT_EQ(c->from_opener.snd_nxt, 1102u);
  EXPECT_EQ(c->from_opener.fin_seq, 1101u);
  EXPECT_EQ(c->from_opener.last_ack, 5302u);
  EXPECT_EQ(c->from_opener.last_window, 501u);
  EXPECT_EQ(c->to_opener.isn, 5000u);
  EXPECT_EQ(c->to_opener.snd_nxt, 5302u);
  EXPECT_EQ(c->to_opener.fin_seq, 5301u);
  EXPECT_EQ(c->to_opener.last_ack, 1102u);
  EXPECT_EQ(c->fins, 2);
  EXPECT_TRUE(c->opener_fin_first);
  EXPECT_TRUE(c->finished());
}

INSTANTIATE_TEST_SUITE_P(Families, RolesOnBothFamilies,
                         ::testing::Values(Family::V4, Family::V6),
                         [](const auto& info) { return to_string(info.param); });

TEST(Roles, IPv4AndIPv6AreSeparateConnections) {
  RoleTracker t;
  Wire v4(t, Family::V4), v6(t, Family::V6);
  const auto a = v4.play({{C, "S", 0, 0, 0, 64240, "SYN"}});
  const auto b = v6.play({{C, "S", 0, 0, 0, 64240, "SYN"}});
  EXPECT_EQ(a[0].connection, 1u);
  EXPECT_EQ(b[0].connection, 2u);
  EXPECT_EQ(v6.connection()->opener.addr.family, Family::V6);
}

TEST(Roles, HandshakeAckCarryingData) {
  RoleTracker t;
  Wire w(t, Family::V4);
  w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK"},
      {C, "P.", 1, 1, 50, 502, "DATA|HANDSHAKE_ACK"},
      {S, ".", 1, 51, 0, 509, "PURE_ACK"},
      {C, "P.", 51, 1, 50, 502, "DATA"},
      {C, "P.", 1, 1, 50, 502, "DATA|RETRANSMISSION"},  // no longer the handshake ACK
  });
}

TEST(Roles, RetransmittedSynAndSynAckAndRepeatedHandshakeAck) {
  RoleTracker t;
  Wire w(t, Family::V4);
  w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {C, "S", 0, 0, 0, 64240, "SYN|RETRANSMISSION"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK"},
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK|RETRANSMISSION"},  // the ACK was lost
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|RETRANSMISSION|PURE_ACK"},
      {C, ".", 1, 1, 0, 502, "PURE_ACK"},  // answers no SYN-ACK: a plain duplicate
      {C, "P.", 1, 1, 10, 502, "DATA"},
  });
  EXPECT_EQ(w.connection()->to_opener.snd_nxt, 5001u);
}

TEST(Roles, RetransmittedData) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {C, "P.", 101, 1, 100, 502, "DATA"},
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},  // a duplicate ACK is not a retransmission
      {C, "P.", 101, 1, 100, 502, "DATA|RETRANSMISSION"},
      {C, "P.", 101, 1, 200, 502, "DATA|RETRANSMISSION"},  // repacketized, runs past
      {C, "P.", 301, 1, 100, 502, "DATA"},
  });
  EXPECT_EQ(w.connection()->from_opener.snd_nxt, 1401u);
}

TEST(Roles, RetransmittedFinsAndRepeatedSpecialAcks) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "F.", 1, 1, 0, 502, "FIN", 1},
      {C, "F.", 1, 1, 0, 502, "FIN|RETRANSMISSION", 1},
      {S, ".", 1, 2, 0, 509, "ACK_OF_FIN|PURE_ACK"},
      {C, "F.", 1, 1, 0, 502, "FIN|RETRANSMISSION", 1},  // the ACK of FIN was lost
      {S, ".", 1, 2, 0, 600, "ACK_OF_FIN|RETRANSMISSION|PURE_ACK"},
      {S, "F.", 1, 2, 0, 509, "FIN", 2},
      {S, "F.", 1, 2, 0, 509, "FIN|RETRANSMISSION", 2},
      {C, ".", 2, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
      {S, "F.", 1, 2, 0, 509, "FIN|RETRANSMISSION", 2},  // the final ACK was lost
      {C, ".", 2, 2, 0, 502, "FINAL_ACK|RETRANSMISSION|PURE_ACK"},
  });
  EXPECT_TRUE(w.connection()->finished());
}

TEST(Roles, HalfCloseKeepsAckOfFinForTheFirstAckOnly) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "F.", 1, 1, 0, 502, "FIN", 1},
      {S, ".", 1, 2, 0, 509, "ACK_OF_FIN|PURE_ACK"},
      {S, "P.", 1, 2, 100, 509, "DATA"},  // the passive closer goes on sending
      {C, ".", 2, 101, 0, 502, "PURE_ACK"},
      {C, "F.", 1, 101, 0, 502, "FIN|RETRANSMISSION", 1},
      {S, ".", 101, 2, 0, 509, "ACK_OF_FIN|PURE_ACK"},  // a repeat, but not identical
      {S, "F.", 101, 2, 0, 509, "FIN", 2},
      {C, ".", 2, 102, 0, 502, "FINAL_ACK|PURE_ACK"},
  });
}

TEST(Roles, SimultaneousClose) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "F.", 1, 1, 0, 502, "FIN", 1},
      {S, "F.", 1, 1, 0, 509, "FIN", 2},  // crossed: does not ack the client's FIN
      {C, ".", 2, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
      {S, ".", 2, 2, 0, 509, "ACK_OF_FIN|PURE_ACK"},
  });
  EXPECT_TRUE(w.connection()->finished());
}

TEST(Roles, SimultaneousCloseServerFinSeenFirst) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {S, "F.", 1, 1, 0, 509, "FIN", 1},
      {C, "F.", 1, 1, 0, 502, "FIN", 2},
      {S, ".", 2, 2, 0, 509, "FINAL_ACK|PURE_ACK"},
      {C, ".", 2, 2, 0, 502, "ACK_OF_FIN|PURE_ACK"},
  });
  EXPECT_FALSE(w.connection()->opener_fin_first);
}

TEST(Roles, PassiveCloserFinAcksTheFirstFin) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "F.", 1, 1, 0, 502, "FIN", 1},
      {S, "F.", 1, 2, 0, 509, "FIN|ACK_OF_FIN", 2},
      {C, ".", 2, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
  });
  EXPECT_TRUE(w.connection()->finished());
}

TEST(Roles, SimultaneousOpenIsOneConnection) {
  RoleTracker t;
  Wire w(t, Family::V4);
  const auto seen = w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "S", 0, 0, 0, 64240, "SYN"},  // crossed
      {C, "S.", 0, 1, 0, 64240, "SYN_ACK"},
      {S, "S.", 0, 1, 0, 64240, "SYN_ACK"},
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
      {S, ".", 1, 1, 0, 502, "PURE_ACK"},
      {C, "S.", 0, 1, 0, 64240, "SYN_ACK|RETRANSMISSION"},
      {C, "P.", 1, 1, 10, 502, "DATA"},
  });
  EXPECT_EQ(ids(seen), std::vector<std::uint64_t>(seen.size(), 1));
  EXPECT_EQ(w.connection()->opener, w.client());
  EXPECT_EQ(w.connection()->to_opener.isn, 5000u);
}

TEST(Roles, ResetEndsTheConnection) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 10, 502, "DATA"},
      {S, "R.", 1, 11, 0, 0, "RST"},
  });
  EXPECT_TRUE(w.connection()->reset);
  EXPECT_EQ(w.connection()->from_opener.last_window, 502u);
  EXPECT_EQ(w.connection()->to_opener.last_window, 65160u);  // an RST's window is ignored

  w.new_isns(2000, 9000);
  const auto seen = w.play({{C, "S", 0, 0, 0, 64240, "SYN"}});
  EXPECT_EQ(seen[0].connection, 2u);
  EXPECT_FALSE(w.connection()->reset);
}

TEST(Roles, SynRepeatedAfterResetToClosedPortStaysTheSameAttempt) {
  RoleTracker t;
  Wire w(t, Family::V4);
  auto seen = w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "R.", 0, 1, 0, 0, "RST"},
      {C, "S", 0, 0, 0, 64240, "SYN|RETRANSMISSION"},  // the RST never reached it
  });
  EXPECT_EQ(ids(seen), (std::vector<std::uint64_t>{1, 1, 1}));
  w.new_isns(2000, 9000);
  seen = w.play({{C, "S", 0, 0, 0, 64240, "SYN"}});
  EXPECT_EQ(seen[0].connection, 2u);
}

TEST(Roles, NewConnectionOnTheSameTupleAfterClose) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "F.", 1, 1, 0, 502, "FIN", 1},
      {S, "F.", 1, 2, 0, 509, "FIN|ACK_OF_FIN", 2},
      {C, ".", 2, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
  });
  w.new_isns(2000, 9000);
  const auto seen = w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK"},
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
  });
  EXPECT_EQ(ids(seen), (std::vector<std::uint64_t>{2, 2, 2}));
  const auto* c = w.connection();
  EXPECT_EQ(c->id, 2u);
  EXPECT_EQ(c->from_opener.isn, 2000u);
  EXPECT_EQ(c->fins, 0);
  EXPECT_FALSE(c->finished());
}

TEST(Roles, SynWithNewIsnWhileClosingStartsNewConnection) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({{C, "F.", 1, 1, 0, 502, "FIN", 1}});
  w.new_isns(2000, 5000);
  const auto seen = w.play({{C, "S", 0, 0, 0, 64240, "SYN"}});
  EXPECT_EQ(seen[0].connection, 2u);
}

TEST(Roles, ServerOpeningAfterCloseIsTheNewOpener) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "F.", 1, 1, 0, 502, "FIN", 1},
      {S, "F.", 1, 2, 0, 509, "FIN|ACK_OF_FIN", 2},
      {C, ".", 2, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
  });
  w.new_isns(2000, 9000);
  w.opener_is(S);
  const auto seen = w.play({
      {S, "S", 0, 0, 0, 64240, "SYN"},
      {C, "S.", 0, 1, 0, 65160, "SYN_ACK"},
      {S, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
  });
  EXPECT_EQ(seen[0].connection, 2u);
  EXPECT_EQ(w.connection()->opener, w.server());
}

TEST(Roles, Keepalive) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
      {C, ".", 100, 1, 0, 502, "KEEPALIVE|PURE_ACK"},
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
      {C, ".", 100, 1, 1, 502, "KEEPALIVE"},  // one garbage byte, as BSD stacks send
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
      {S, ".", 0, 101, 0, 509, "KEEPALIVE|PURE_ACK"},
      {C, ".", 101, 1, 0, 502, "PURE_ACK"},
  });
  const auto* c = w.connection();
  EXPECT_EQ(c->from_opener.snd_nxt, 1101u);
  EXPECT_EQ(c->to_opener.snd_nxt, 5001u);
}

TEST(Roles, OneUnacknowledgedByteAgainIsARetransmissionNotAKeepalive) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 1, 502, "DATA"},
      {C, "P.", 1, 1, 1, 502, "DATA|RETRANSMISSION"},
  });
}

TEST(Roles, AnswerToKeepaliveBeforeAnyDataIsNoHandshakeAck) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {S, ".", 0, 1, 0, 509, "KEEPALIVE|PURE_ACK"},
      {C, ".", 1, 1, 0, 502, "PURE_ACK"},
      {C, ".", 0, 1, 0, 502, "KEEPALIVE|PURE_ACK"},
  });
}

TEST(Roles, ZeroWindowProbes) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {S, ".", 1, 101, 0, 0, "PURE_ACK"},  // the server's buffer is full
      {C, ".", 100, 1, 0, 502, "WINDOW_PROBE|PURE_ACK"},  // Linux: at snd_una - 1
      {S, ".", 1, 101, 0, 0, "PURE_ACK"},
      {C, "P.", 101, 1, 1, 502, "WINDOW_PROBE"},  // one new byte (lwIP, BSD)
      {S, ".", 1, 101, 0, 0, "PURE_ACK"},         // not taken
      {C, "P.", 101, 1, 1, 502, "WINDOW_PROBE"},  // the same byte again
      {S, ".", 1, 101, 0, 1000, "PURE_ACK"},      // the window opens
      {C, "P.", 101, 1, 10, 502, "DATA|RETRANSMISSION"},  // starts with the probe's byte
      {C, "P.", 111, 1, 10, 502, "DATA"},
  });
}

// The server opens its window again, but the middlebox loses that update: the client still
// sees a zero window, and what it sends next probes it (at snd_una - 1, as Linux does, or
// one new byte, as lwIP does), however idle it looks.
TEST(Roles, AZeroWindowWhoseUpdateWasLostIsStillProbed) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {S, ".", 1, 101, 0, 0, "PURE_ACK"},  // the server's buffer is full
  });
  const Packet update = w.segment(S, ".", 1, 101, 0, 1000);
  EXPECT_EQ(roles_string(t.classify(update).roles), "PURE_ACK");
  t.lost(update);
  EXPECT_EQ(w.connection()->to_opener.last_window, 0u);  // what the client knows
  w.play({
      {C, ".", 100, 1, 0, 502, "WINDOW_PROBE|PURE_ACK"},
      {C, "P.", 101, 1, 1, 502, "WINDOW_PROBE"},
      {S, ".", 1, 101, 0, 1000, "PURE_ACK"},  // the update again, and it arrives
      {C, "P.", 101, 1, 10, 502, "DATA|RETRANSMISSION"},
  });
}

TEST(Roles, InjectedSegmentsLeaveStateUntouched) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {C, "F.", 101, 1, 0, 502, "FIN", 1},
  });
  const RoleTracker::Connection before = *w.connection();

  EXPECT_EQ(w.send({S, "R.", 1, 102, 0, 0, ""}, true).roles, RST_ROLE);
  const auto ack_of_fin = w.send({S, ".", 1, 102, 0, 9, ""}, true);
  EXPECT_EQ(ack_of_fin.roles, ACK_OF_FIN | PURE_ACK);
  EXPECT_EQ(ack_of_fin.connection, 1u);
  EXPECT_EQ(w.send({C, "P.", 1, 1, 50, 0, ""}, true).roles, DATA | COPY);  // imitates sent data
  EXPECT_EQ(w.send({C, "S", 77, 0, 0, 0, ""}, true).connection, 0u);  // would open one
  EXPECT_EQ(*w.connection(), before);
  // A crafted FIN of the server reaches the client, which will answer it: only that count moves.
  EXPECT_EQ(w.send({S, "F.", 1, 102, 0, 0, ""}, true).fin_number, 2);
  RoleTracker::Connection expected = before;
  expected.second_fins = 1;
  EXPECT_EQ(*w.connection(), expected);

  // The real ACK of the FIN is still the first one.
  w.play({{S, ".", 1, 102, 0, 509, "ACK_OF_FIN|PURE_ACK"}});
}

// TW7, the server closing first, as captured: the client's FIN carries the ACK of the
// server's FIN, and 5 us later a pure ACK with the FIN's own sequence number and the same
// TSval leaves behind it: a delayed ACK built on the CPU that got the server's FIN, before
// close() on the other CPU sent the FIN. It sits at snd_nxt - 1, but the FIN is not
// acknowledged yet: the client is not idle, so no keepalive; nor does it acknowledge anything
// the FIN had not. A pure ACK, nothing more.
TEST(Roles, StaleAckOvertakenByTheFinIsAPureAckOnly) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  auto stamped = [&](Side from, const char* flags, std::uint32_t seq, std::uint32_t ack, std::uint32_t tsval) {
    Packet p = w.segment(from, flags, seq, ack, 0, 502);
    p.options.timestamp = std::pair{tsval, 7000u};
    return p;
  };
  const Classified server_fin = t.classify(stamped(S, "F.", 1, 1, 9000));
  EXPECT_EQ(roles_string(server_fin.roles), "FIN");
  const Classified client_fin = t.classify(stamped(C, "F.", 1, 2, 7001));
  EXPECT_EQ(roles_string(client_fin.roles), "FIN|ACK_OF_FIN");
  EXPECT_EQ(client_fin.fin_number, 2);
  const Classified stale = t.classify(stamped(C, ".", 1, 2, 7001));  // 5 us later
  EXPECT_EQ(roles_string(stale.roles), "PURE_ACK");
  const Classified final_ack = t.classify(stamped(S, ".", 2, 2, 9001));
  EXPECT_EQ(roles_string(final_ack.roles), "PURE_ACK|FINAL_ACK");
  EXPECT_TRUE(w.connection()->finished());
}

TEST(Roles, KeepaliveOnlyFromAnIdleEnd) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 1, 502, "DATA"},
      {C, ".", 1, 1, 0, 502, "PURE_ACK"},            // behind its one byte: stale, not a probe
      {S, ".", 1, 2, 0, 509, "PURE_ACK"},
      {C, ".", 1, 1, 0, 502, "KEEPALIVE|PURE_ACK"},  // everything acknowledged: now it is one
      {C, "F.", 2, 1, 0, 502, "FIN", 1},
      {C, ".", 2, 1, 0, 502, "PURE_ACK"},            // the FIN is not acknowledged yet
      {S, ".", 1, 3, 0, 509, "ACK_OF_FIN|PURE_ACK"},
      {C, ".", 2, 1, 0, 502, "KEEPALIVE|PURE_ACK"},  // FIN_WAIT2's keepalive, at the FIN
  });
}

TEST(Roles, StaleAckTakesBackNeitherWindowNorAck) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {S, "P.", 1, 1, 100, 509, "DATA"},
      {C, "P.", 1, 101, 10, 700, "DATA"},
      {C, ".", 1, 51, 0, 300, "PURE_ACK"},  // built before the data, when 50 bytes were in
  });
  EXPECT_EQ(w.connection()->from_opener.last_ack, 5101u);
  EXPECT_EQ(w.connection()->from_opener.last_window, 700u);
}

TEST(Roles, AnAckBehindSndNxtThatAcknowledgesNewDataIsNotStale) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {S, "P.", 1, 1, 50, 509, "DATA"},
      {C, ".", 1, 51, 0, 900, "PURE_ACK"},  // behind snd_nxt, but news: its window counts
  });
  EXPECT_EQ(w.connection()->from_opener.last_ack, 5051u);
  EXPECT_EQ(w.connection()->from_opener.last_window, 900u);
}

TEST(Roles, DuplicateCopyKeepsItsOriginalsRolesAndIsMarkedCopy) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  auto copy = [&](const Row& r) {
    const Packet p = w.segment(r.from, r.flags, r.seq, r.ack, r.len, r.win);
    const Classified original = t.classify(p);
    const Classified c = t.copy_of(p, original);
    EXPECT_EQ(roles_string(original.roles), roles_string(parse_roles(r.roles))) << r.flags;
    EXPECT_EQ(c.roles, original.roles | COPY) << r.flags;
    EXPECT_EQ(c.connection, original.connection);
    EXPECT_EQ(c.fin_number, original.fin_number);
    return c;
  };
  copy({C, "P.", 1, 1, 100, 502, "DATA"});
  copy({S, ".", 1, 101, 0, 509, "PURE_ACK"});
  copy({C, "F.", 101, 1, 0, 502, "FIN", 1});
  copy({S, ".", 1, 102, 0, 509, "ACK_OF_FIN|PURE_ACK"});
  copy({S, "F.", 1, 102, 0, 509, "FIN", 2});
  // The client got the second FIN twice and answers both: the second answer is its
  // stack sending the final ACK again.
  const Classified final_ack = copy({C, ".", 102, 2, 0, 502, "FINAL_ACK|PURE_ACK"});
  EXPECT_EQ(roles_string(final_ack.roles), "PURE_ACK|FINAL_ACK|COPY");
  w.play({{C, ".", 102, 2, 0, 502, "FINAL_ACK|RETRANSMISSION|PURE_ACK"}});
  w.play({{C, ".", 102, 2, 0, 502, "PURE_ACK"}});  // answers nothing more
}

TEST(Roles, AnAckOfACopiedSynAckIsARetransmission) {
  RoleTracker t;
  Wire w(t, Family::V4);
  w.play({{C, "S", 0, 0, 0, 64240, "SYN"}});
  const Packet synack = w.segment(S, "S.", 0, 1, 0, 65160);
  const Classified original = t.classify(synack);
  EXPECT_EQ(t.copy_of(synack, original).roles, SYN_ACK | COPY);
  w.play({
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|RETRANSMISSION|PURE_ACK"},
      {C, ".", 1, 1, 0, 502, "PURE_ACK"},
  });
}

TEST(Roles, ASegmentTheMiddleboxLostIsNotAnswered) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  const Packet again = w.segment(S, "S.", 0, 1, 0, 65160);
  EXPECT_EQ(t.classify(again).roles, SYN_ACK | RETRANSMISSION);
  t.lost(again);  // dropped: the client never answers it
  w.play({{C, ".", 1, 1, 0, 502, "PURE_ACK"}});  // a duplicate ACK for another reason
}

TEST(Roles, CraftedRepeatsAreCopiesNotRetransmissions) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  data_then_close(w);
  EXPECT_EQ(roles_string(w.send({C, "P.", 1, 1, 100, 502, ""}, true).roles), "DATA|COPY");
  EXPECT_EQ(roles_string(w.send({C, "F.", 101, 1, 0, 502, ""}, true).roles), "FIN|COPY");
  EXPECT_EQ(roles_string(w.send({S, "F.", 1, 102, 0, 509, ""}, true).roles), "FIN|COPY");  // as its FIN again
  EXPECT_EQ(roles_string(w.send({C, ".", 102, 2, 0, 502, ""}, true).roles), "PURE_ACK|FINAL_ACK|COPY");
  EXPECT_EQ(roles_string(w.send({C, "R", 102, 0, 0, 0, ""}, true).roles), "RST");  // new: no copy
  // The crafted FIN reached the client: its next ACK answers it.
  w.play({{C, ".", 102, 2, 0, 502, "FINAL_ACK|RETRANSMISSION|PURE_ACK"}});
}

TEST(Roles, InjectedSynOpensNothing) {
  RoleTracker t;
  Wire w(t, Family::V4);
  const auto crafted = w.send({C, "S", 0, 0, 0, 64240, ""}, true);
  EXPECT_EQ(crafted.roles, SYN);
  EXPECT_EQ(crafted.connection, 0u);
  EXPECT_EQ(w.connection(), nullptr);
  EXPECT_EQ(w.play({{C, "S", 0, 0, 0, 64240, "SYN"}})[0].connection, 1u);
}

// The middlebox crafts a SYN with a new ISN on the 4-tuple of a connection the client
// closed first (client TIME_WAIT, server socket gone): the server's listener takes it and
// answers with a SYN-ACK of a new socket, acknowledging the crafted ISN + 1. That SYN-ACK
// repeats nothing the server sent: a SYN_ACK, not a RETRANSMISSION. It stays in the
// connection's record (the wire's inference makes it the listener's new child there).
TEST(Roles, ASynAckAnsweringACraftedSynIsNoRetransmission) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  data_then_close(w);
  // At the server's rcv_nxt, the client's ISN + 102.
  EXPECT_EQ(w.send({C, "S", 102, 0, 0, 64240, ""}, true).connection, 0u);
  const auto seen = w.play({
      {S, "S.", 4000, 103, 0, 65160, "SYN_ACK"},                 // the new socket's ISN: 5000 + 4000
      {C, ".", 102, 2, 0, 502, "PURE_ACK"},                      // TIME_WAIT answers with its old numbers
      {S, "S.", 4000, 103, 0, 65160, "SYN_ACK|RETRANSMISSION"},  // the new socket's SYN-ACK again
      {S, "R", 4001, 0, 0, 0, "RST"},
  });
  EXPECT_EQ(ids(seen), (std::vector<std::uint64_t>{1, 1, 1, 1}));
}

// The same crafted SYN toward an established server meets a challenge ACK (RFC 5961 4):
// an ACK of what the server has, in the connection that goes on.
TEST(Roles, AChallengeAckToACraftedSynIsAnAckOfTheConnection) {
  RoleTracker t;
  Wire w(t, Family::V4);
  handshake(w);
  w.play({
      {C, "P.", 1, 1, 100, 502, "DATA"},
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
  });
  w.send({C, "S", 101, 0, 0, 64240, ""}, true);
  const auto seen = w.play({
      {S, ".", 1, 101, 0, 509, "PURE_ACK"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK|RETRANSMISSION"},  // acknowledges the old SYN, not the crafted one
  });
  EXPECT_EQ(ids(seen), (std::vector<std::uint64_t>{1, 1}));
}

TEST(Roles, SegmentOfUnknownConnectionGetsFlagRolesOnly) {
  RoleTracker t;
  Wire w(t, Family::V4);
  const auto data = w.send({C, "P.", 1, 1, 10, 502, ""});
  EXPECT_EQ(data.roles, DATA);
  EXPECT_EQ(data.connection, 0u);
  EXPECT_EQ(w.send({S, "F.", 1, 1, 0, 502, ""}).roles, FIN);
  EXPECT_EQ(w.send({S, "R.", 1, 1, 0, 0, ""}).roles, RST_ROLE);
  EXPECT_EQ(w.connection(), nullptr);
}

TEST(Roles, SequenceNumbersWrapAround) {
  RoleTracker t;
  Wire w(t, Family::V4, 0xFFFFFF9Cu, 0xFFFFFFFFu);  // 100 below 2^32, and 2^32 - 1
  w.play({
      {C, "S", 0, 0, 0, 64240, "SYN"},
      {S, "S.", 0, 1, 0, 65160, "SYN_ACK"},  // acks 0: the server's ISN + 1 wrapped
      {C, ".", 1, 1, 0, 502, "HANDSHAKE_ACK|PURE_ACK"},
      {C, "P.", 1, 1, 150, 502, "DATA"},  // crosses 2^32
      {S, ".", 1, 151, 0, 509, "PURE_ACK"},
      {C, "P.", 1, 1, 150, 502, "DATA|RETRANSMISSION"},
      {C, "P.", 151, 1, 50, 502, "DATA"},
      {S, ".", 1, 201, 0, 509, "PURE_ACK"},
      {C, ".", 200, 1, 0, 502, "KEEPALIVE|PURE_ACK"},
      {C, "F.", 201, 1, 0, 502, "FIN", 1},
      {S, "F.", 1, 202, 0, 509, "FIN|ACK_OF_FIN", 2},
      {C, ".", 202, 2, 0, 502, "FINAL_ACK|PURE_ACK"},
  });
  const auto* c = w.connection();
  EXPECT_EQ(c->from_opener.snd_nxt, 0xFFFFFF9Cu + 202u);
  EXPECT_EQ(c->from_opener.snd_nxt, 102u);
  EXPECT_EQ(c->to_opener.snd_nxt, 1u);
  EXPECT_TRUE(c->finished());
}

TEST(Roles, WindowScaledOnlyWhenBothSynsOfferIt) {
  RoleTracker t;
  Wire w(t, Family::V4);
  Packet syn = w.segment(C, "S", 0, 0, 0, 64240);
  syn.options.wscale = 7;
  syn.options.timestamp = std::pair{111u, 0u};
  t.classify(syn);
  Packet synack = w.segment(S, "S.", 0, 1, 0, 65160);
  synack.options.wscale = 15;  // taken as 14
  t.classify(synack);
  EXPECT_EQ(w.connection()->from_opener.last_window, 64240u);  // a SYN's is not scaled
  EXPECT_EQ(w.connection()->to_opener.last_window, 65160u);
  t.classify(w.segment(C, ".", 1, 1, 0, 502));
  t.classify(w.segment(S, ".", 1, 1, 0, 3));

  const auto* c = w.connection();
  EXPECT_EQ(c->from_opener.wscale, 7);
  EXPECT_EQ(c->to_opener.wscale, 14);
  EXPECT_EQ(c->from_opener.last_window, 502u << 7);
  EXPECT_EQ(c->to_opener.last_window, 3u << 14);
  EXPECT_EQ(c->from_opener.last_tsval, 111u);
  EXPECT_EQ(c->to_opener.last_tsval, std::nullopt);
}

TEST(Roles, NoScalingWhenOneSynLacksTheOption) {
  RoleTracker t;
  Wire w(t, Family::V6);
  Packet syn = w.segment(C, "S", 0, 0, 0, 64240);
  syn.options.wscale = 7;
  t.classify(syn);
  t.classify(w.segment(S, "S.", 0, 1, 0, 65160));
  t.classify(w.segment(C, ".", 1, 1, 0, 502));
  EXPECT_EQ(w.connection()->from_opener.wscale, 0);
  EXPECT_EQ(w.connection()->from_opener.last_window, 502u);
}

}  // namespace
}  // namespace tcpfault
