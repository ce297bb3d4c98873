// The integrity pattern: a wrong, a missing and a repeated byte are each found at
// their offset and told apart.
#include "harness/transfer/byte_pattern.h"

#include <gtest/gtest.h>

#include <numeric>

namespace tcpfault {
namespace {

using Kind = StreamMismatch::Kind;
constexpr std::uint64_t kSeed = 1;
constexpr std::size_t kSize = 20'000;

std::vector<std::uint8_t> stream(std::uint64_t seed = kSeed, std::size_t n = kSize) {
  return BytePattern(seed).bytes(0, n);
}

// Feeds the stream in uneven chunks, as recv() hands it over.
std::optional<StreamMismatch> check_in_pieces(const std::vector<std::uint8_t>& got, std::size_t expected) {
  PatternChecker c(kSeed, expected);
  std::size_t pos = 0, piece = 1;
  while (pos < got.size()) {
    std::size_t n = std::min(piece, got.size() - pos);
    c.feed(std::span(got).subspan(pos, n));
    pos += n;
    piece = piece * 3 + 7;
  }
  c.finish("EOF");
  EXPECT_EQ(c.received(), got.size());
  return c.first_bad();
}

TEST(BytePattern, FillAtAnyOffsetAgreesWithTheWholeStream) {
  BytePattern p(kSeed);
  auto whole = stream();
  for (std::uint64_t off : {0, 1, 7, 8, 9, 1001, 19'990}) {
    auto part = p.bytes(off, 10);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + off)) << off;
    EXPECT_EQ(p.at(off), whole[off]);
  }
}

TEST(BytePattern, SeedsGiveDifferentStreams) { EXPECT_NE(stream(1, 64), stream(2, 64)); }

TEST(BytePattern, SixteenIntactBytesSayWhereTheyCameFrom) {
  BytePattern p(kSeed);
  auto s = stream();
  for (std::uint64_t word : {0, 1, 100, 2000}) EXPECT_EQ(p.locate(&s[word * 8]), word * 8);
  // Not on a word boundary, or another seed's bytes: not recognised.
  EXPECT_EQ(p.locate(&s[13]), std::nullopt);
  auto other = stream(2, 64);
  EXPECT_EQ(p.locate(other.data()), std::nullopt);
}

TEST(PatternChecker, AnIntactStreamPasses) {
  EXPECT_EQ(check_in_pieces(stream(), kSize), std::nullopt);
}

TEST(PatternChecker, OneWrongByteIsFoundAndCalledWrong) {
  auto got = stream();
  BytePattern p(kSeed);
  got[1000] ^= 0x5a;
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Wrong);
  EXPECT_EQ(bad->offset, 1000u);
  EXPECT_EQ(bad->count, 1u);
  EXPECT_EQ(bad->expected.front(), p.at(1000));
  EXPECT_EQ(bad->seen.front(), p.at(1000) ^ 0x5a);
  EXPECT_NE(bad->describe().find("1 byte wrong at offset 1000: expected"), std::string::npos) << bad->describe();
}

TEST(PatternChecker, OneMissingByteIsFoundAndCalledMissing) {
  auto got = stream();
  BytePattern p(kSeed);
  ASSERT_NE(p.at(4999), p.at(5000));  // else the loss could be placed one byte earlier
  got.erase(got.begin() + 5000);
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Missing);
  EXPECT_EQ(bad->offset, 5000u);
  EXPECT_EQ(bad->count, 1u);
  EXPECT_EQ(bad->continues_at, 5001u);
  EXPECT_EQ(bad->expected.front(), p.at(5000));
  EXPECT_EQ(bad->seen.front(), p.at(5001));
  EXPECT_NE(bad->describe().find("1 byte missing at offset 5000"), std::string::npos) << bad->describe();
}

TEST(PatternChecker, OneRepeatedByteIsFoundAndCalledRepeated) {
  auto got = stream();
  BytePattern p(kSeed);
  ASSERT_NE(p.at(6999), p.at(7000));
  got.insert(got.begin() + 7000, got[6999]);  // byte 6999 arrives twice
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Repeated);
  EXPECT_EQ(bad->offset, 7000u);
  EXPECT_EQ(bad->count, 1u);
  EXPECT_EQ(bad->continues_at, 6999u);
  EXPECT_NE(bad->describe().find("1 byte repeated at offset 7000"), std::string::npos) << bad->describe();
}

TEST(PatternChecker, ASegmentLostOrDeliveredTwiceIsMeasured) {
  auto lost = stream();
  lost.erase(lost.begin() + 2896, lost.begin() + 2896 + 1448);
  auto bad = check_in_pieces(lost, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Missing);
  EXPECT_EQ(bad->count, 1448u);
  EXPECT_LE(bad->offset, 2896u);
  EXPECT_GE(bad->offset, 2896u - 8);

  auto twice = stream();
  std::vector<std::uint8_t> again(twice.begin() + 1448, twice.begin() + 2896);
  twice.insert(twice.begin() + 2896, again.begin(), again.end());
  bad = check_in_pieces(twice, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Repeated);
  EXPECT_EQ(bad->count, 1448u);
}

TEST(PatternChecker, SeveralWrongBytesAreOneRun) {
  auto got = stream();
  for (std::size_t i = 300; i < 310; i += 3) got[i] = static_cast<std::uint8_t>(~got[i]);
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Wrong);
  EXPECT_EQ(bad->offset, 300u);
  EXPECT_EQ(bad->count, 10u);  // 300 to 309
}

TEST(PatternChecker, AStreamThatEndsEarlyMissesItsTail) {
  auto got = stream();
  got.resize(12'345);
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Missing);
  EXPECT_EQ(bad->offset, 12'345u);
  EXPECT_EQ(bad->count, kSize - 12'345u);
  EXPECT_FALSE(bad->continues_at);
  EXPECT_NE(bad->describe().find("the last 7655 bytes missing: the stream ended at offset 12345 (EOF)"),
            std::string::npos)
      << bad->describe();
}

TEST(PatternChecker, BytesAfterTheEndAreBad) {
  auto got = stream(kSeed, kSize + 5);
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->offset, kSize);
  EXPECT_TRUE(bad->expected.empty());
  EXPECT_EQ(bad->seen.size(), 5u);
}

TEST(PatternChecker, AWrongLastByteIsStillFound) {
  auto got = stream();
  got.back() ^= 1;
  auto bad = check_in_pieces(got, kSize);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->kind, Kind::Wrong);
  EXPECT_EQ(bad->offset, kSize - 1);
  EXPECT_EQ(bad->count, 1u);
}

TEST(PatternChecker, CountsEveryByteAfterTheFirstBadOne) {
  auto got = stream(kSeed, 200'000);
  got[10] ^= 1;
  PatternChecker c(kSeed, got.size());
  c.feed(got);
  c.finish("EOF");
  EXPECT_EQ(c.received(), got.size());
  ASSERT_TRUE(c.first_bad());
  EXPECT_EQ(c.first_bad()->offset, 10u);
}

}  // namespace
}  // namespace tcpfault
