// A seeded byte stream for integrity checks, and the checker that verifies a received
// copy of it as it arrives.
//
// The stream is a sequence of 8-byte words; word i is an invertible mix of i and the
// seed. So the bytes look random (a byte repeated or lost does not line up with its
// neighbours by chance), and any 16 bytes that arrive intact say where in the stream
// they come from: after the first bad byte the checker finds where the received data
// continues and tells a wrong byte (same place, other value) from missing bytes (the
// stream jumps ahead) and repeated bytes (the stream jumps back).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tcpfault {

class BytePattern {
 public:
  explicit BytePattern(std::uint64_t seed);
  std::uint64_t seed() const { return seed_; }

  // The stream's bytes [offset, offset + out.size()).
  void fill(std::uint64_t offset, std::span<std::uint8_t> out) const;
  std::uint8_t at(std::uint64_t offset) const;
  std::vector<std::uint8_t> bytes(std::uint64_t offset, std::size_t n) const;

  // If the 16 bytes at `at` are two whole words of the stream, the stream offset of
  // at[0]; nullopt otherwise (a false match has odds of 2^-64).
  std::optional<std::uint64_t> locate(const std::uint8_t* at) const;

 private:
  std::uint64_t word(std::uint64_t index) const;
  std::uint64_t seed_, key_;
};

// The first place where a received stream differs from the pattern.
struct StreamMismatch {
  enum class Kind { Wrong, Missing, Repeated };
  Kind kind = Kind::Wrong;
  std::uint64_t offset = 0;  // in the received stream; also the sender's offset there
  // Wrong: bytes from `offset` to the last bad one before the stream is right again.
  // Missing / Repeated: how far the stream jumps ahead / back.
  std::uint64_t count = 0;
  // The sender's offset the received data continues from, when it was recognised.
  std::optional<std::uint64_t> continues_at;
  std::vector<std::uint8_t> expected, seen;  // up to 16 bytes from `offset`
  std::string why;  // for Missing at the end: "EOF", "deadline passed", ...

  std::string describe() const;  // "1 byte wrong at offset 1000: expected 3f, seen c0"
};
std::string to_string(StreamMismatch::Kind k);  // "wrong", "missing", "repeated"

// Checks a received stream against the pattern, chunk by chunk, in constant memory.
class PatternChecker {
 public:
  PatternChecker(std::uint64_t seed, std::uint64_t expected_bytes);

  void feed(std::span<const std::uint8_t> chunk);
  // The stream ended (`why`: "EOF", "deadline passed" ...): classifies what is pending,
  // and reports a stream that ended early as missing its tail.
  void finish(const std::string& why);

  std::uint64_t received() const { return received_; }
  const std::optional<StreamMismatch>& first_bad() const { return first_bad_; }

  // How many bytes after the first bad one the checker looks at to classify it.
  static constexpr std::size_t kLookahead = 4096;

 private:
  void classify();

  BytePattern pattern_;
  std::uint64_t expected_;
  std::uint64_t received_ = 0;
  std::vector<std::uint8_t> scratch_;
  std::optional<std::uint64_t> bad_at_;  // first bad offset, while collecting lookahead
  std::vector<std::uint8_t> after_bad_;  // received bytes from bad_at_ on
  std::optional<StreamMismatch> first_bad_;
};

// A received stream as a whole (for tests and small payloads).
std::optional<StreamMismatch> check_stream(std::uint64_t seed, std::uint64_t expected_bytes,
                                           std::span<const std::uint8_t> received,
                                           const std::string& end = "EOF");

}  // namespace tcpfault
