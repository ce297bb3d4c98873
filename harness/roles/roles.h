// Names every segment of a connection by the part it plays: the SYN, the final ACK,
// a retransmitted FIN ... A segment can play several parts at once (a FIN that also
// acknowledges the peer's FIN, data on the handshake ACK), so roles are bits.
//
// Who sent it again: RETRANSMISSION is an end's own stack sending again what it already
// sent; COPY is the middlebox repeating a segment (a duplicate fault's copy keeps every
// role of its original; a crafted segment over what its end already sent is named as
// what it imitates). A copy is never a RETRANSMISSION of its own.
//
// The tracker sits at the middlebox: it sees every segment of both directions in the
// order they reach it, including those a fault later drops (lost() is told of them). It
// reads only the parsed header fields of a Packet, never its bytes. Sequence numbers are
// compared in serial arithmetic (RFC 1982), so a connection may wrap past 2^32.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "harness/packet/packet.h"

namespace tcpfault {

enum Role : std::uint32_t {
  SYN = 1u << 0,              // SYN without ACK
  SYN_ACK = 1u << 1,          // SYN with ACK
  HANDSHAKE_ACK = 1u << 2,    // the opener's ACK of the SYN-ACK (may carry data)
  DATA = 1u << 3,             // carries payload (not a keepalive or window probe)
  PURE_ACK = 1u << 4,         // ACK only: no payload, no SYN/FIN/RST
  FIN = 1u << 5,              // carries FIN (see Classified::fin_number)
  ACK_OF_FIN = 1u << 6,       // acknowledges the first FIN, sent by its receiver
  FINAL_ACK = 1u << 7,        // acknowledges the second FIN, sent by the active closer
  RST_ROLE = 1u << 8,         // carries RST
  KEEPALIVE = 1u << 9,        // seq = snd_nxt - 1, at most one byte, from an idle end (all acked)
  WINDOW_PROBE = 1u << 10,    // probe of a zero window
  RETRANSMISSION = 1u << 11,  // its stack repeats sequence space (or a special ACK) already sent
  COPY = 1u << 12             // the middlebox repeats a segment (duplicate, crafted imitation)
};
using Roles = std::uint32_t;
// The highest role bit: for loops over every role.
inline constexpr Roles kLastRole = COPY;

// "SYN", "FIN|ACK_OF_FIN", "DATA|RETRANSMISSION" ...; names in the order of the enum.
// RST_ROLE is spelled "RST"; no role at all is "NONE".
std::string roles_string(Roles r);
// One role from its name ("FINAL_ACK", "final_ack" or "final-ack"); nullopt if unknown.
// "RST" and "RST_ROLE" both name RST_ROLE.
std::optional<Role> role_from_name(const std::string& name);

// The roles a segment's flags alone give (SYN, SYN_ACK, FIN, RST, PURE_ACK): what a
// segment outside every tracked connection plays.
Roles roles_from_flags(const Packet& p);

// The sequence space of one direction of a connection, as seen on the wire.
struct DirectionState {
  bool syn_seen = false;
  std::uint32_t isn = 0;
  std::uint32_t snd_nxt = 0;     // highest seq + seq_len sent so far
  bool ack_seen = false;
  std::uint32_t last_ack = 0;    // latest ACK number sent: the sender's rcv_nxt
  std::uint32_t last_window = 0; // latest window its peer got, scaled by the sender's wscale
  std::uint32_t window_before = 0;  // last_window before the latest segment (see RoleTracker::lost)
  std::uint8_t wscale = 0;       // applies once both SYNs carried wscale
  std::optional<std::uint8_t> syn_wscale;  // the option in this side's SYN, if any
  bool fin_seen = false;
  std::uint32_t fin_seq = 0;     // sequence number of the FIN
  std::optional<std::uint32_t> last_tsval;

  bool operator==(const DirectionState&) const = default;
};

struct Classified {
  Roles roles = 0;
  std::uint64_t connection = 0;  // id of the connection, counting from 1 per tracker;
                                 // 0 when the segment belongs to no tracked connection
  bool from_opener = true;       // sent by the side that sent the first SYN
  int fin_number = 0;            // 1 = first FIN of the connection, 2 = the other side's
};

// Tracks every connection it sees; one instance per topology.
class RoleTracker {
 public:
  // Classifies and then learns from `p`. `injected` segments (crafted by the harness)
  // are classified but do not change what the tracker believes the ends have sent;
  // where they repeat what their end already sent they are COPY, not RETRANSMISSION.
  // A segment on a pair with no connection, other than a SYN, gets connection 0 and
  // the roles its flags alone give. A crafted SYN with a new ISN opens nothing (its
  // segments keep the connection's id): the SYN-ACK its receiver may answer it with (a new
  // socket's, acknowledging that ISN + 1) is a SYN_ACK of its own, not a retransmission
  // of the connection's; only that SYN-ACK sent again is.
  Classified classify(const Packet& p, bool injected = false);
  // A copy the middlebox sends of `p`, which was classified as `original`: the same
  // roles and COPY. Like any repeat of a SYN-ACK or of the second FIN that reaches an
  // end, it makes that end's answer a retransmission of its special ACK.
  Classified copy_of(const Packet& p, const Classified& original);
  // The middlebox dropped `p`, just classified: its receiver will not answer it, nor learn
  // the window it offered (what the receiver probes or keeps alive goes by the window it has).
  void lost(const Packet& p);

  // Enough of an ACK to tell an identical repeat from a new one.
  struct AckSent {
    std::uint32_t seq = 0, ack = 0;
    std::uint8_t flags = 0;
    bool operator==(const AckSent&) const = default;
  };

  struct Connection {
    std::uint64_t id = 0;
    SockAddr opener, listener;  // opener sent the first SYN
    DirectionState from_opener, to_opener;
    int fins = 0;               // FINs seen so far (first/second)
    bool opener_fin_first = false;
    bool reset = false;

    // What tells the first of a special ACK from a repeat of it. An end answers each
    // SYN-ACK (each second FIN) that reaches it, copies and crafted ones too: its answers
    // after the first, up to that many, are its retransmissions of the special ACK.
    int synacks = 0;                       // SYN-ACKs of the listener that reached the opener
    int handshake_acks = 0;                // HANDSHAKE_ACKs seen
    std::optional<AckSent> ack_of_fin;     // the latest ACK_OF_FIN
    int second_fins = 0;                   // the second FIN, each time it reached the first closer
    int final_acks = 0;                    // FINAL_ACKs seen

    // Both FINs acknowledged, or reset: a new SYN on the pair starts a new connection.
    bool finished() const { return reset || (ack_of_fin && final_acks > 0); }
    bool operator==(const Connection&) const = default;
  };
  // The current connection between two ends (either order), if any.
  const Connection* find(const SockAddr& a, const SockAddr& b) const;

 private:
  using PairKey = std::pair<SockAddr, SockAddr>;  // its two ends, the lower first
  // The latest SYN the middlebox crafted on a pair, and the SYN-ACK that answered it.
  struct CraftedSyn {
    SockAddr receiver;
    std::uint32_t isn = 0;
    std::optional<std::uint32_t> answered_with;  // the answering SYN-ACK's ISN
  };
  // Whether `p` is the first SYN-ACK (of its ISN) answering the pair's crafted SYN; notes it.
  bool first_answer_to_crafted_syn(const PairKey& key, const Packet& p);

  std::map<PairKey, Connection> connections_;
  std::map<PairKey, CraftedSyn> crafted_syns_;
  std::uint64_t next_id_ = 1;
};

}  // namespace tcpfault
