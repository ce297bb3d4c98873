#include "harness/transfer/byte_pattern.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>

namespace tcpfault {

namespace {

// MurmurHash3's 64-bit finaliser: a bijection of 64-bit words, so it can be undone.
constexpr std::uint64_t kMul1 = 0xff51afd7ed558ccdULL;
constexpr std::uint64_t kMul2 = 0xc4ceb9fe1a85ec53ULL;

// The inverse of an odd number modulo 2^64 (Newton's iteration doubles the good bits).
constexpr std::uint64_t inverse(std::uint64_t odd) {
  std::uint64_t x = odd;
  for (int i = 0; i < 6; ++i) x *= 2 - odd * x;
  return x;
}
constexpr std::uint64_t kInv1 = inverse(kMul1);
constexpr std::uint64_t kInv2 = inverse(kMul2);
static_assert(kMul1 * kInv1 == 1 && kMul2 * kInv2 == 1);

constexpr std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= kMul1;
  x ^= x >> 33;
  x *= kMul2;
  x ^= x >> 33;
  return x;
}

// x ^ (x >> 33) is its own inverse: the shift is more than half the width.
constexpr std::uint64_t unmix(std::uint64_t x) {
  x ^= x >> 33;
  x *= kInv2;
  x ^= x >> 33;
  x *= kInv1;
  x ^= x >> 33;
  return x;
}
static_assert(unmix(mix(12345)) == 12345);

constexpr std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Words go on the wire least significant byte first, whatever the host's byte order.
std::uint64_t load_le(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void store_le(std::uint8_t* p, std::uint64_t v) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(p, &v, 8);
  } else {
    for (int i = 0; i < 8; ++i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
  }
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  if (bytes.empty()) return "(nothing)";
  std::string out;
  char b[4];
  for (auto v : bytes) {
    std::snprintf(b, sizeof b, "%02x", v);
    out += (out.empty() ? "" : " ") + std::string(b);
  }
  return out;
}

std::string bytes_word(std::uint64_t n) { return std::to_string(n) + (n == 1 ? " byte" : " bytes"); }

constexpr std::size_t kShown = 16;         // bytes quoted in a report
constexpr std::size_t kChunk = 64 * 1024;  // pattern generated per comparison
constexpr int kMaxWalkBack = 64;           // see StreamMismatch::offset for shifts

}  // namespace

BytePattern::BytePattern(std::uint64_t seed) : seed_(seed), key_(splitmix64(seed)) {}

std::uint64_t BytePattern::word(std::uint64_t index) const { return mix(index ^ key_); }

void BytePattern::fill(std::uint64_t offset, std::span<std::uint8_t> out) const {
  // This runs over every byte sent and every byte checked: whole words go 8 bytes at
  // a time, only the ragged ends byte by byte.
  std::size_t i = 0;
  while (i < out.size() && (offset + i) % 8 != 0) {
    out[i] = at(offset + i);
    ++i;
  }
  std::uint64_t index = (offset + i) / 8;
  for (; i + 8 <= out.size(); i += 8) store_le(out.data() + i, word(index++));
  for (; i < out.size(); ++i) out[i] = at(offset + i);
}

std::uint8_t BytePattern::at(std::uint64_t offset) const {
  return static_cast<std::uint8_t>(word(offset / 8) >> (8 * (offset % 8)));
}

std::vector<std::uint8_t> BytePattern::bytes(std::uint64_t offset, std::size_t n) const {
  std::vector<std::uint8_t> out(n);
  fill(offset, out);
  return out;
}

std::optional<std::uint64_t> BytePattern::locate(const std::uint8_t* at) const {
  std::uint64_t index = unmix(load_le(at)) ^ key_;
  if (index >= (UINT64_MAX >> 3)) return std::nullopt;  // its offset would not fit
  if (word(index + 1) != load_le(at + 8)) return std::nullopt;
  return index * 8;
}

std::string to_string(StreamMismatch::Kind k) {
  switch (k) {
    case StreamMismatch::Kind::Wrong: return "wrong";
    case StreamMismatch::Kind::Missing: return "missing";
    case StreamMismatch::Kind::Repeated: return "repeated";
  }
  return "?";
}

std::string StreamMismatch::describe() const {
  std::string at = " at offset " + std::to_string(offset);
  std::string out;
  switch (kind) {
    case Kind::Wrong:
      out = bytes_word(count) + " wrong" + at;
      break;
    case Kind::Missing:
      out = continues_at ? bytes_word(count) + " missing" + at + " (the stream continues with the sender's byte " +
                               std::to_string(*continues_at) + ")"
                         : "the last " + bytes_word(count) + " missing: the stream ended" + at;
      break;
    case Kind::Repeated:
      out = bytes_word(count) + " repeated" + at + " (the stream goes back to the sender's byte " +
            std::to_string(continues_at.value_or(0)) + ")";
      break;
  }
  if (!why.empty()) out += " (" + why + ")";
  return out + ": expected " + hex(expected) + ", seen " + hex(seen);
}

PatternChecker::PatternChecker(std::uint64_t seed, std::uint64_t expected_bytes)
    : pattern_(seed), expected_(expected_bytes), scratch_(kChunk) {}

void PatternChecker::feed(std::span<const std::uint8_t> chunk) {
  std::size_t pos = 0;
  while (!bad_at_ && !first_bad_ && pos < chunk.size()) {
    std::size_t n = std::min(chunk.size() - pos, kChunk);
    // Bytes past the expected end are all bad.
    std::size_t comparable = received_ < expected_ ? std::min<std::uint64_t>(n, expected_ - received_) : 0;
    pattern_.fill(received_, std::span(scratch_).first(comparable));
    std::size_t good = comparable;
    if (std::memcmp(scratch_.data(), chunk.data() + pos, comparable) != 0)
      good = std::mismatch(scratch_.begin(), scratch_.begin() + comparable, chunk.begin() + pos).first -
             scratch_.begin();
    received_ += good;
    pos += good;
    if (good < n) bad_at_ = received_;
  }
  if (bad_at_ && !first_bad_ && pos < chunk.size()) {
    std::size_t take = std::min(chunk.size() - pos, kLookahead - after_bad_.size());
    after_bad_.insert(after_bad_.end(), chunk.begin() + pos, chunk.begin() + pos + take);
    received_ += take;
    pos += take;
    if (after_bad_.size() == kLookahead) classify();
  }
  received_ += chunk.size() - pos;  // after the first bad byte: counted, not checked
}

void PatternChecker::classify() {
  const std::uint64_t o = *bad_at_;
  const auto& r = after_bad_;
  StreamMismatch m;
  m.offset = o;
  auto seen_from = [&](std::uint64_t at) {
    // The received bytes from `at` (<= o): those before o were the pattern's own.
    std::vector<std::uint8_t> out = pattern_.bytes(at, std::min<std::uint64_t>(o - at, kShown));
    for (std::size_t i = 0; out.size() < kShown && i < r.size(); ++i) out.push_back(r[i]);
    return out;
  };
  auto expected_from = [&](std::uint64_t at) {
    return at < expected_ ? pattern_.bytes(at, std::min<std::uint64_t>(expected_ - at, kShown))
                          : std::vector<std::uint8_t>{};
  };
  std::optional<std::size_t> found;
  std::uint64_t source = 0;
  for (std::size_t p = 0; p + 16 <= r.size() && !found; ++p)
    if (auto s = pattern_.locate(&r[p])) {
      found = p;
      source = *s;
    }
  if (!found) {
    m.kind = StreamMismatch::Kind::Wrong;
    m.count = r.size();
    m.why = o >= expected_ ? "after the end of the stream" : "nothing recognisable in the next " + bytes_word(r.size());
  } else {
    auto shift = static_cast<std::int64_t>(source - (o + *found));
    if (shift == 0) {
      m.kind = StreamMismatch::Kind::Wrong;
      std::size_t last = 0;
      for (std::size_t q = 0; q < *found; ++q)
        if (r[q] != pattern_.at(o + q)) last = q;
      m.count = last + 1;
      m.continues_at = o + m.count;
      if (o >= expected_) m.why = "after the end of the stream";
    } else {
      m.kind = shift > 0 ? StreamMismatch::Kind::Missing : StreamMismatch::Kind::Repeated;
      m.count = static_cast<std::uint64_t>(shift > 0 ? shift : -shift);
      // The last good bytes may equal the shifted ones by chance: the jump is at the
      // first offset from which the received bytes are the shifted stream.
      std::uint64_t g = o;
      for (int k = 0; k < kMaxWalkBack && g > 0 && static_cast<std::int64_t>(g) - 1 + shift >= 0 &&
                      pattern_.at(g - 1) == pattern_.at(g - 1 + shift);
           ++k)
        --g;
      m.offset = g;
      m.continues_at = g + shift;
    }
  }
  m.expected = expected_from(m.offset);
  m.seen = seen_from(m.offset);
  first_bad_ = std::move(m);
  after_bad_.clear();
  after_bad_.shrink_to_fit();
}

void PatternChecker::finish(const std::string& why) {
  if (bad_at_ && !first_bad_) classify();  // with what lookahead there is
  if (first_bad_ || received_ >= expected_) return;
  StreamMismatch m;
  m.kind = StreamMismatch::Kind::Missing;
  m.offset = received_;
  m.count = expected_ - received_;
  m.why = why;
  m.expected = pattern_.bytes(received_, std::min<std::uint64_t>(m.count, kShown));
  first_bad_ = std::move(m);
}

std::optional<StreamMismatch> check_stream(std::uint64_t seed, std::uint64_t expected_bytes,
                                           std::span<const std::uint8_t> received, const std::string& end) {
  PatternChecker c(seed, expected_bytes);
  c.feed(received);
  c.finish(end);
  return c.first_bad();
}

}  // namespace tcpfault
