// SPDX-License-Identifier: MIT
// libFuzzer target over mcrgen's payload checker (mcr::payload::verify, the receiving side of
// native/tools/mcrgen/payload.h). The input is one received UDP payload. Besides ASan/UBSan's
// checks it asserts the format's promise: a payload is accepted exactly when it is the one
// fill() writes for its header's stream, seq and send time, byte for byte.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "payload.h"  // native/tools/mcrgen/, on the include path

namespace {

#define FUZZ_CHECK(cond)                                                                              \
  do {                                                                                                \
    if (!(cond)) {                                                                                    \
      std::fprintf(stderr, "payload_fuzzer: check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                                   \
    }                                                                                                 \
  } while (0)

namespace p = mcr::payload;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  p::Header hdr;
  std::memset(&hdr, 0xa5, sizeof(hdr));
  const p::Verdict v = p::verify(data, size, &hdr);
  FUZZ_CHECK(std::strcmp(p::verdict_name(v), "unknown") != 0);
  // For the corpus check in scripts/fuzz.js: which verdict each seed exercises.
  static const bool print_verdicts = std::getenv("MCR_FUZZ_PRINT_VERDICT") != nullptr;
  if (print_verdicts) std::printf("verdict %s\n", p::verdict_name(v));
  if (size < p::kHeaderSize) {
    FUZZ_CHECK(v == p::Verdict::too_short);
    return 0;
  }
  // The header is reported as read, whatever the verdict.
  uint32_t magic;
  uint64_t seq;
  std::memcpy(&magic, data + p::kOffMagic, 4);  // the format is little-endian, as is this host
  std::memcpy(&seq, data + p::kOffSeq, 8);
  FUZZ_CHECK(hdr.magic == magic && hdr.seq == seq);
  if (size > 65535) {
    FUZZ_CHECK(v != p::Verdict::ok);
    return 0;
  }
  // Accepted exactly when fill() would have written these very bytes.
  std::unique_ptr<uint8_t[]> expected(new uint8_t[size]);
  p::fill(expected.get(), size, hdr.stream_id, hdr.seq, hdr.send_ns);
  const bool identical = std::memcmp(expected.get(), data, size) == 0;
  FUZZ_CHECK((v == p::Verdict::ok) == identical);
  // stamp() on a copy of an accepted payload keeps it acceptable under a new seq.
  if (v == p::Verdict::ok) {
    std::unique_ptr<uint8_t[]> copy(new uint8_t[size]);
    std::memcpy(copy.get(), data, size);
    p::stamp(copy.get(), size, hdr.seq + 1, hdr.send_ns + 1);
    p::Header again;
    FUZZ_CHECK(p::verify(copy.get(), size, &again) == p::Verdict::ok);
    FUZZ_CHECK(again.seq == hdr.seq + 1 && again.stream_id == hdr.stream_id);
  }
  return 0;
}
