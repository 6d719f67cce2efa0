// SPDX-License-Identifier: MIT
// Test payload format written by mcrgen and checked by mcrgen recv and the relay's tests:
// a 32-byte little-endian header (magic, version, stream, checksum, seq, send time) followed
// by a body derived from seq, so truncation, corruption and reordering are detectable.
// Header-only, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace mcr::payload {

constexpr size_t kHeaderSize = 32;
constexpr uint32_t kMagic = 0x4752434d;  // "MCRG" as little-endian bytes
constexpr uint16_t kVersion = 1;

// Byte offsets of the header fields.
constexpr size_t kOffMagic = 0;
constexpr size_t kOffVersion = 4;
constexpr size_t kOffHeaderLen = 6;
constexpr size_t kOffStreamId = 8;
constexpr size_t kOffChecksum = 12;
constexpr size_t kOffSeq = 16;
constexpr size_t kOffSendNs = 24;

struct Header {
  uint32_t magic;
  uint16_t version;
  uint16_t header_len;
  uint32_t stream_id;
  uint32_t checksum;
  uint64_t seq;
  uint64_t send_ns;  // CLOCK_MONOTONIC of the sender, taken just before the send call
};

enum class Verdict { ok, too_short, bad_magic, bad_checksum, bad_fill };

inline const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::too_short: return "too_short";
    case Verdict::bad_magic: return "bad_magic";
    case Verdict::bad_checksum: return "bad_checksum";
    case Verdict::bad_fill: return "bad_fill";
  }
  return "unknown";
}

namespace detail {

constexpr uint32_t kFnvOffset = 2166136261u;
constexpr uint32_t kFnvPrime = 16777619u;

// Explicit byte order so the format is the same on any host.
inline void put_le(uint8_t* p, uint64_t v, size_t bytes) {
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline uint64_t get_le(const uint8_t* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

inline uint32_t fnv1a(uint32_t h, const uint8_t* p, size_t len) {
  for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

// FNV-1a over the header with the checksum field read as zero.
inline uint32_t header_hash(const uint8_t* buf) {
  static constexpr uint8_t kZero[4] = {0, 0, 0, 0};
  uint32_t h = fnv1a(kFnvOffset, buf, kOffChecksum);
  h = fnv1a(h, kZero, 4);
  return fnv1a(h, buf + kOffChecksum + 4, kHeaderSize - kOffChecksum - 4);
}

inline uint8_t fill_byte(uint64_t seq, size_t index) { return static_cast<uint8_t>(seq * 31 + index); }

}  // namespace detail

// The body is a 256-periodic byte ramp starting at (seq * 31 + 32) mod 256, so every body is a
// window of one static table: the sender fills it with one memcpy and the receiver checks it
// with one memcmp (exact, stronger than a checksum). The checksum covers the header and the
// length. Both ends then cost tens of nanoseconds per packet, not microseconds, which keeps the
// generator and the sink from being the bottleneck of a relay benchmark.
namespace detail {
inline const uint8_t* ramp() {
  static const auto table = [] {
    static uint8_t bytes[256 + 65536];
    for (size_t i = 0; i < sizeof(bytes); ++i) bytes[i] = static_cast<uint8_t>(i);
    return bytes;
  }();
  return table;
}

inline uint32_t checksum(const uint8_t* buf, size_t len) {
  uint8_t length[4];
  put_le(length, len, 4);
  return fnv1a(header_hash(buf), length, 4);
}
}  // namespace detail

// Writes a complete payload of len bytes (kHeaderSize <= len <= 65535) into buf.
inline void fill(uint8_t* buf, size_t len, uint32_t stream, uint64_t seq, uint64_t send_ns) {
  detail::put_le(buf + kOffMagic, kMagic, 4);
  detail::put_le(buf + kOffVersion, kVersion, 2);
  detail::put_le(buf + kOffHeaderLen, kHeaderSize, 2);
  detail::put_le(buf + kOffStreamId, stream, 4);
  detail::put_le(buf + kOffSeq, seq, 8);
  detail::put_le(buf + kOffSendNs, send_ns, 8);
  std::memcpy(buf + kHeaderSize, detail::ramp() + detail::fill_byte(seq, kHeaderSize), len - kHeaderSize);
  detail::put_le(buf + kOffChecksum, detail::checksum(buf, len), 4);
}

// Sender fast path: rewrites seq, time, body and checksum, keeping the stream id.
inline void stamp(uint8_t* buf, size_t len, uint64_t seq, uint64_t send_ns) {
  fill(buf, len, static_cast<uint32_t>(detail::get_le(buf + kOffStreamId, 4)), seq, send_ns);
}

// Checks a received payload. When len >= kHeaderSize, *out (if not null) receives the header
// as read, whatever the verdict. Checked in order: length, magic/version/header_len, header
// checksum (covers the length too), body; bad_fill means the body bytes are wrong.
inline Verdict verify(const uint8_t* buf, size_t len, Header* out) {
  if (len < kHeaderSize) return Verdict::too_short;
  Header hdr;
  hdr.magic = static_cast<uint32_t>(detail::get_le(buf + kOffMagic, 4));
  hdr.version = static_cast<uint16_t>(detail::get_le(buf + kOffVersion, 2));
  hdr.header_len = static_cast<uint16_t>(detail::get_le(buf + kOffHeaderLen, 2));
  hdr.stream_id = static_cast<uint32_t>(detail::get_le(buf + kOffStreamId, 4));
  hdr.checksum = static_cast<uint32_t>(detail::get_le(buf + kOffChecksum, 4));
  hdr.seq = detail::get_le(buf + kOffSeq, 8);
  hdr.send_ns = detail::get_le(buf + kOffSendNs, 8);
  if (out != nullptr) *out = hdr;
  if (hdr.magic != kMagic || hdr.version != kVersion || hdr.header_len != kHeaderSize) {
    return Verdict::bad_magic;
  }
  if (len > 65535 || detail::checksum(buf, len) != hdr.checksum) return Verdict::bad_checksum;
  if (std::memcmp(buf + kHeaderSize, detail::ramp() + detail::fill_byte(hdr.seq, kHeaderSize), len - kHeaderSize) != 0)
    return Verdict::bad_fill;
  return Verdict::ok;
}

}  // namespace mcr::payload
