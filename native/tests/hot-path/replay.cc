// SPDX-License-Identifier: MIT
// mcr_replay: feeds a fixed, in-memory frame set (v2, --frame-set v3-match or pim) through the
// workers' own per-frame code (process_frame, flush_batch from mcr/forward.h) into a null sink,
// so native/tests/hot-path/gate.js can
// count instructions per packet under callgrind. It checks every counter the frame set implies
// and that the measured loop allocates nothing, prints one JSON line, and exits 1 otherwise.
#include <arpa/inet.h>
#include <malloc.h>
// The callgrind client requests are no-ops outside valgrind; without valgrind's headers the
// harness still builds (and the gate, which needs valgrind to run, skips).
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/forward.h"
#include "mcr/parse.h"
#include "mcr/punt.h"
#include "mcr/rule_table.h"
#include "mcr/worker.h"
#include "trace_fixture.h"

// ---- Allocation counter ------------------------------------------------------------------
// Both doors to the heap are counted, so "zero" is a measurement: operator new (every form,
// in case the core or libstdc++ allocates through it) and the malloc family (glibc supports
// replacing it from the main program, and its own internal allocations then come here too).
// The real work is done by glibc's exported __libc_* entry points.
namespace {
uint64_t g_new_calls = 0;
uint64_t g_malloc_calls = 0;
}  // namespace

extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void* __libc_valloc(size_t size);
void* __libc_pvalloc(size_t size);
void __libc_free(void* ptr);

void* malloc(size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_calloc(count, size);
}
void* realloc(void* ptr, size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_realloc(ptr, size);
}
void* memalign(size_t alignment, size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_memalign(alignment, size);
}
void* valloc(size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_valloc(size);
}
void* pvalloc(size_t size) noexcept {
  ++g_malloc_calls;
  return __libc_pvalloc(size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  ++g_malloc_calls;
  void* p = __libc_memalign(alignment, size);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* ptr) noexcept { __libc_free(ptr); }
}

namespace {
void* counted_new(size_t size) {
  ++g_new_calls;
  if (void* p = __libc_malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* counted_new_aligned(size_t size, std::align_val_t alignment) {
  ++g_new_calls;
  if (void* p = __libc_memalign(size_t(alignment), size ? size : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t size) { return counted_new(size); }
void* operator new[](size_t size) { return counted_new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  ++g_new_calls;
  return __libc_malloc(size ? size : 1);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  ++g_new_calls;
  return __libc_malloc(size ? size : 1);
}
void* operator new(size_t size, std::align_val_t a) { return counted_new_aligned(size, a); }
void* operator new[](size_t size, std::align_val_t a) { return counted_new_aligned(size, a); }
void* operator new(size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  ++g_new_calls;
  return __libc_memalign(size_t(a), size ? size : 1);
}
void* operator new[](size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  ++g_new_calls;
  return __libc_memalign(size_t(a), size ? size : 1);
}
void operator delete(void* p) noexcept { __libc_free(p); }
void operator delete[](void* p) noexcept { __libc_free(p); }
void operator delete(void* p, size_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t) noexcept { __libc_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { __libc_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { __libc_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { __libc_free(p); }

namespace {

// ---- Null sink ---------------------------------------------------------------------------
// Stands in for sendmmsg: the kernel accepts every message. Counting its calls lets the harness
// check the batching itself (one call per egress socket per batch).
uint64_t g_sink_calls = 0;
uint64_t g_sink_messages = 0;
int null_send(int, mmsghdr*, unsigned n, int) {
  ++g_sink_calls;
  g_sink_messages += n;
  return int(n);
}

// ---- The frame sets ----------------------------------------------------------------------
// Change anything in a set and its committed baseline no longer applies: bump the version in
// its name so gate.js refuses to compare against it.
// v2 (the default): one- and ten-output (*,G,port) rules, the common case.
// v3-match (--frame-set v3-match): the matching beyond (*,G,port): (S,G,port), (S,G,any) and
// (*,G,any) entries beside (*,G,port) ones, ESP, routed outputs (TTL - 1, sender's addresses)
// and port-0 outputs that keep the datagram's port.
// pim (--frame-set pim): the routes PIM installs at a last hop (src/routing/pim/router.ts): a
// routed (*,G,any) that punts new_source, the switched source's (S,G,any) beside it that does
// not, and the input's (*,*) watch; the punts are rate-limited away (the steady state) unless
// --punt-all.
constexpr const char* kFrameSetV2Name =
    "v2: 64-frame batch; UDP payloads 64/512/1400/8000 B; per size 8 to a 1-output rule, 3 to a 10-output rule, "
    "4 no_match, 1 malformed; 64 rules, 4 UDP egress sockets, 2 packet egress sockets (MTU 1500: 8000 B goes by "
    "UDP socket), UDP checksums alternately complete and partial";
constexpr const char* kFrameSetV3MatchName =
    "v3-match: 64-frame batch; UDP payloads (ESP: 8 + payload) 64/512/1400/8000 B; per size 3 to (*,G,port) "
    "[1 output], 2 to (S,G,port) [1 routed], 2 to (S,G,any) (beside that group's (*,G,port)) [1 keeping the port], "
    "2 to (*,G,any) [2 plain, 1 keeping the port, 1 routed], 2 ESP to (*,G,ESP) [2 routed], 1 TTL 1 to (S,G,port) "
    "(ttl_expired), 3 no_match (unknown group, (S,G) on another port, ESP to a UDP group), 1 malformed; 64 rules "
    "of all four kinds, 4 UDP egress sockets, 2 packet egress sockets (MTU 1500: 8000 B goes by UDP socket, its "
    "routed copies are tx_err_too_big), UDP checksums alternately complete and partial";
constexpr const char* kFrameSetPimName =
    "pim: 64-frame batch; UDP payloads 64/512/1400/8000 B; per size 8 to (S1,G1,any) [2 routed, no punt], 4 from "
    "S2 to (*,G1,any) [2 routed, punts new_source], 2 to an unknown group taken by the input's (*,*) [no output, "
    "punts new_source], 1 to 224.0.0.251 (no_match: (*,*) skips link-local), 1 malformed; 64 rules (61 idle "
    "routed (S,G,any) and (*,G,any)), 4 UDP egress sockets, 2 packet egress sockets (MTU 1500: routed copies of "
    "8000 B are tx_err_too_big), UDP checksums alternately complete and partial; punt rate 0 (every punt "
    "rate-limited) or, with --punt-all, unlimited with the ring emptied after each batch";
constexpr uint32_t kPayloadSizes[] = {64, 512, 1400, 8000};
constexpr uint32_t kSizes = sizeof(kPayloadSizes) / sizeof(kPayloadSizes[0]);
constexpr uint32_t kFrameKinds = 16;  // frames per payload size
constexpr uint32_t kFramesPerBatch = kSizes * kFrameKinds;
static_assert(kFramesPerBatch == mcr::Worker::kBatch, "one pass over a set is one worker batch");
constexpr uint32_t kFanOut = 10;
constexpr uint32_t kEgressSockets = 4;        // UDP sockets
constexpr uint32_t kPacketEgressSockets = 2;  // after the UDP ones: egress indexes 4 and 5
constexpr uint32_t kOutputMtu = 1500;
constexpr uint32_t kRules = 64;  // the ones that match plus idle ones, so the index is not trivial
constexpr uint32_t kFrameSlot = 8192 + 64;

// Addresses (host order). kSourceOne is every v2 frame's source.
constexpr uint32_t kSourceOne = 0x0a000101u, kSourceTwo = 0x0a000102u, kSourceOther = 0x0a000103u;
constexpr uint32_t kGroupOne = 0xef010101u, kGroupFan = 0xef010102u, kGroupEsp = 0xef010103u,
                   kGroupUnknown = 0xef090909u, kGroupLinkLocal = 0xe00000fbu;
constexpr uint16_t kPortOne = 5001, kPortFan = 5002, kPortOther = 5003, kPortUnknown = 5009;

enum class Protocol : uint8_t { udp, esp };

// One frame of a set: what it carries, which rule it must match (-1: none) and the summary
// category it is counted in. Malformed frames are broken the way their size's turn says: bad
// checksum, fragment, truncated, bad UDP length.
struct FrameSpec {
  uint8_t category;
  uint32_t source;
  uint32_t group;
  uint16_t port;  // UDP destination port; ESP has none
  Protocol protocol;
  uint8_t ttl;
  int rule;
  bool malformed;
};

// v2: rule 0 = 239.1.1.1:5001 with one output, rule 1 = 239.1.1.2:5002 with kFanOut.
const char* const kV2Categories[] = {"matchedOneOutput", "matchedFanOut", "noMatch", "malformed"};
constexpr FrameSpec kV2ToOne{0, kSourceOne, kGroupOne, kPortOne, Protocol::udp, 64, 0, false};
constexpr FrameSpec kV2ToFan{1, kSourceOne, kGroupFan, kPortFan, Protocol::udp, 64, 1, false};
constexpr FrameSpec kV2MissGroup{2, kSourceOne, kGroupUnknown, kPortOne, Protocol::udp, 64, -1, false};
constexpr FrameSpec kV2MissPort{2, kSourceOne, kGroupOne, kPortUnknown, Protocol::udp, 64, -1, false};
constexpr FrameSpec kV2Malformed{3, kSourceOne, kGroupOne, kPortOne, Protocol::udp, 64, -1, true};
// The order within one payload size, interleaved so equal frames are not adjacent.
constexpr FrameSpec kV2Order[kFrameKinds] = {kV2ToOne,     kV2ToFan,    kV2ToOne,    kV2MissGroup, kV2ToOne, kV2ToOne,
                                             kV2ToFan,     kV2MissPort, kV2ToOne,    kV2Malformed, kV2ToOne, kV2ToFan,
                                             kV2MissGroup, kV2ToOne,    kV2MissPort, kV2ToOne};

// v3-match rules: 0 (*,G1,5001) one plain output; 1 (S1,G1,5001) one routed; 2 (S2,G1,any) one
// keeping the port; 3 (*,G2,any) two plain, one keeping the port, one routed; 4 (*,G3,ESP) two
// routed. Rule 0 is what every other G1 frame would match were the more specific ones ignored.
const char* const kV3Categories[] = {
    "starGroupPort", "sourceGroupPort", "sourceGroupAnyPort", "starGroupAnyPort", "esp",
    "ttlExpired",    "noMatch",         "malformed"};
constexpr FrameSpec kV3StarPort{0, kSourceOther, kGroupOne, kPortOne, Protocol::udp, 64, 0, false};
constexpr FrameSpec kV3SourcePort{1, kSourceOne, kGroupOne, kPortOne, Protocol::udp, 64, 1, false};
constexpr FrameSpec kV3SourceAnyListed{2, kSourceTwo, kGroupOne, kPortOne, Protocol::udp, 64, 2, false};
constexpr FrameSpec kV3SourceAnyOther{2, kSourceTwo, kGroupOne, kPortOther, Protocol::udp, 64, 2, false};
constexpr FrameSpec kV3StarAny{3, kSourceOther, kGroupFan, kPortFan, Protocol::udp, 64, 3, false};
constexpr FrameSpec kV3StarAnyOther{3, kSourceOne, kGroupFan, kPortOther, Protocol::udp, 64, 3, false};
constexpr FrameSpec kV3Esp{4, kSourceOther, kGroupEsp, 0, Protocol::esp, 64, 4, false};
constexpr FrameSpec kV3TtlOne{5, kSourceOne, kGroupOne, kPortOne, Protocol::udp, 1, 1, false};
constexpr FrameSpec kV3MissGroup{6, kSourceOther, kGroupUnknown, kPortOne, Protocol::udp, 64, -1, false};
constexpr FrameSpec kV3MissSourcePort{6, kSourceOne, kGroupOne, kPortUnknown, Protocol::udp, 64, -1, false};
constexpr FrameSpec kV3MissEsp{6, kSourceOther, kGroupOne, 0, Protocol::esp, 64, -1, false};
constexpr FrameSpec kV3Malformed{7, kSourceOther, kGroupOne, kPortOne, Protocol::udp, 64, -1, true};
constexpr FrameSpec kV3Order[kFrameKinds] = {kV3StarPort,   kV3SourcePort,     kV3Esp,       kV3SourceAnyListed,
                                             kV3StarAny,    kV3MissGroup,      kV3StarPort,  kV3TtlOne,
                                             kV3SourcePort, kV3StarAnyOther,   kV3Malformed, kV3SourceAnyOther,
                                             kV3Esp,        kV3MissSourcePort, kV3StarPort,  kV3MissEsp};

// pim rules: 0 (*,G1,any) two routed outputs, punting new_source; 1 (S1,G1,any) two routed, no
// punt (the source the last hop switched to the shortest-path tree); 2 the input's (*,*), no
// outputs, punting new_source.
const char* const kPimCategories[] = {"sourceGroup", "starGroupPunting", "anyGroupPunting", "noMatch", "malformed"};
constexpr FrameSpec kPimSource{0, kSourceOne, kGroupOne, kPortOne, Protocol::udp, 64, 1, false};
constexpr FrameSpec kPimSourceOtherPort{0, kSourceOne, kGroupOne, kPortOther, Protocol::udp, 64, 1, false};
constexpr FrameSpec kPimNewSource{1, kSourceTwo, kGroupOne, kPortOne, Protocol::udp, 64, 0, false};
constexpr FrameSpec kPimAnyGroup{2, kSourceOther, kGroupUnknown, kPortOne, Protocol::udp, 64, 2, false};
constexpr FrameSpec kPimLinkLocal{3, kSourceOther, kGroupLinkLocal, kPortOne, Protocol::udp, 64, -1, false};
constexpr FrameSpec kPimMalformed{4, kSourceOne, kGroupOne, kPortOne, Protocol::udp, 64, -1, true};
constexpr FrameSpec kPimOrder[kFrameKinds] = {kPimSource,   kPimNewSource,       kPimSource,    kPimAnyGroup,
                                              kPimSource,   kPimSourceOtherPort, kPimNewSource, kPimLinkLocal,
                                              kPimSource,   kPimMalformed,       kPimNewSource, kPimSourceOtherPort,
                                              kPimAnyGroup, kPimSource,          kPimNewSource, kPimSourceOtherPort};

struct FrameSet {
  const char* key;   // --frame-set
  const char* name;  // the version string recorded with the baseline
  const FrameSpec* order;
  const char* const* categories;
  uint32_t category_count;
};
constexpr FrameSet kFrameSets[] = {
    {"v2", kFrameSetV2Name, kV2Order, kV2Categories, 4},
    {"v3-match", kFrameSetV3MatchName, kV3Order, kV3Categories, 8},
    {"pim", kFrameSetPimName, kPimOrder, kPimCategories, 5},
};

// Writes one Ethernet/IPv4 frame (UDP, or ESP with an 8-byte SPI and sequence number before
// `payload` bytes) into `out` and returns its length; *verdict is the counter it must land in.
uint32_t build_frame(const FrameSpec& spec, uint32_t payload, uint32_t size_index, uint8_t* out,
                     mcr::WorkerCounter* verdict) {
  const bool esp = spec.protocol == Protocol::esp;
  const uint32_t len = 14 + 20 + 8 + payload;
  std::memset(out, 0, len);
  out[12] = 0x08;  // IPv4
  uint8_t* ip = out + 14;
  ip[0] = 0x45;
  uint32_t total = 20 + 8 + payload;
  uint32_t udp_len = 8 + payload;
  uint16_t frag = 0x4000;  // DF
  *verdict = spec.rule >= 0 ? mcr::matched : mcr::no_match;
  bool break_checksum = false;
  if (spec.malformed) {
    switch (size_index) {
      case 0: break_checksum = true, *verdict = mcr::filtered_bad_ip_checksum; break;
      case 1: frag = 0x2000, *verdict = mcr::filtered_fragment; break;  // first fragment (MF)
      case 2: total += 40, *verdict = mcr::filtered_truncated; break;   // claims more than arrived
      default: udp_len += 1, *verdict = mcr::filtered_bad_udp_length; break;
    }
  }
  ip[2] = uint8_t(total >> 8), ip[3] = uint8_t(total);
  ip[6] = uint8_t(frag >> 8), ip[7] = uint8_t(frag);
  ip[8] = spec.ttl;
  ip[9] = esp ? 50 : 17;
  const uint32_t src = htonl(spec.source), dst = htonl(spec.group);
  std::memcpy(ip + 12, &src, 4);
  std::memcpy(ip + 16, &dst, 4);
  uint16_t sum = mcr::ipv4_header_checksum(ip, 20);
  if (break_checksum) sum ^= 0x5555;
  ip[10] = uint8_t(sum >> 8), ip[11] = uint8_t(sum);
  uint8_t* l4 = ip + 20;
  for (uint32_t i = 0; i < payload; ++i) l4[8 + i] = uint8_t(i);
  if (esp) {
    l4[2] = 0x10, l4[3] = 0x01;  // SPI 0x1001
    l4[7] = 1;                   // sequence number 1
    return len;
  }
  l4[0] = 0x13, l4[1] = 0x88;
  l4[2] = uint8_t(spec.port >> 8), l4[3] = uint8_t(spec.port);
  l4[4] = uint8_t(udp_len >> 8), l4[5] = uint8_t(udp_len);
  // A complete UDP checksum (used by the frames the replay marks not partial).
  if (!spec.malformed) {
    uint32_t csum = 0;
    for (int i = 12; i < 20; i += 2) csum += uint32_t(ip[i] << 8 | ip[i + 1]);
    csum += 17 + udp_len;
    for (uint32_t i = 0; i < udp_len; i += 2) csum += uint32_t(l4[i] << 8 | (i + 1 < udp_len ? l4[i + 1] : 0));
    while (csum >> 16) csum = (csum & 0xffff) + (csum >> 16);
    uint16_t c = uint16_t(~csum);
    if (c == 0) c = 0xffff;
    l4[6] = uint8_t(c >> 8), l4[7] = uint8_t(c);
  }
  return len;
}

struct Frame {
  const uint8_t* bytes;
  uint32_t len;
  bool checksum_partial;  // as the ring marks a local sender's frame (TP_STATUS_CSUMNOTREADY)
  const FrameSpec* spec;
  uint32_t counted;  // what the rule and output byte counters add: the UDP payload, or ESP's IP payload
  uint32_t ip_len;   // the IP packet's length (a routed copy's size)
  mcr::WorkerCounter verdict;
};

// The worker's punt ring and its switches, as the counter file holds them (mcr/punt_record.h).
struct PuntState {
  mcr::PuntRing ring{};
  mcr::PuntControl control{};
};

struct Fixture {
  const FrameSet* set;
  std::vector<uint8_t> storage;
  std::vector<Frame> frames;
  mcr::RuleTable table;
  // Every set's batcher holds a Punter, as the worker's does (the check is then live, not folded away).
  std::unique_ptr<PuntState> punts;
  mcr::Punter punter;
  bool punt_all = false;  // unlimited rate: every punting packet is copied
};

enum class OutputKind : uint8_t { plain, keep_port, routed };

void build_fixture(Fixture& fx, const FrameSet& set, bool socket_egress, bool punt_all) {
  fx.set = &set;
  fx.punts = std::make_unique<PuntState>();
  // Rate 0: every punt is over the rate, counted and dropped (a PIM route's steady state). "All":
  // a rate and burst no run reaches, so each punting packet is copied into the ring.
  fx.punts->control.per_second.store(punt_all ? 1000000000u : 0u);
  fx.punts->control.burst.store(punt_all ? 0xffffffffu : mcr::kPuntBurstDefault);
  fx.punter = mcr::Punter(&fx.punts->ring, &fx.punts->control);
  fx.punt_all = punt_all;
  // Each frame sits 2 bytes into a 64-byte aligned slot, as in a ring slot, so the IP header
  // is 16-byte aligned the way the kernel lays it out.
  fx.storage.assign(size_t(kFramesPerBatch) * kFrameSlot + 64, 0);
  uint8_t* base = fx.storage.data() + (64 - reinterpret_cast<uintptr_t>(fx.storage.data()) % 64) % 64;
  uint32_t n = 0;
  for (uint32_t k = 0; k < kFrameKinds; ++k) {
    const FrameSpec& spec = set.order[k];
    for (uint32_t s = 0; s < kSizes; ++s) {
      uint8_t* at = base + size_t(n) * kFrameSlot + 2;
      mcr::WorkerCounter verdict;
      const uint32_t len = build_frame(spec, kPayloadSizes[s], s, at, &verdict);
      const bool esp = spec.protocol == Protocol::esp;
      // The ring marks only local UDP senders' frames partial; ESP has no checksum offload.
      const bool partial = n % 2 == 1 && !esp;
      fx.frames.push_back(Frame{at, len, partial, &spec, kPayloadSizes[s] + (esp ? 8 : 0), len - 14, verdict});
      ++n;
    }
  }

  mcr::RuleTable& t = fx.table;
  t.inputs.push_back(mcr::TableInput{1, {}});
  for (uint32_t e = 0; e < kEgressSockets + kPacketEgressSockets; ++e)
    t.egress_fds.push_back(int(100 + e));  // never used: null sink
  const uint8_t mac[6] = {0x02, 0, 0, 0, 0, 1};
  // As Relay::build makes them (native/core/relay.cc): a routed output has no UDP socket and
  // an MTU + 1 limit on the IP packet; a port-keeping one has port 0 in its address and template.
  auto add_output = [&](uint32_t rule_group, uint32_t group, uint16_t port, uint32_t egress, OutputKind kind) {
    mcr::OutputEntry out{};
    out.dest.sin_family = AF_INET;
    out.counter_slot = uint32_t(t.outputs.size());
    if (kind == OutputKind::routed) {
      out.dest.sin_addr.s_addr = htonl(rule_group);
      out.egress_index = out.packet_egress_index = kEgressSockets + egress % kPacketEgressSockets;
      out.decrement_ttl = out.routed = true;
      out.packet_payload_limit = kOutputMtu + 1;
      mcr::build_packet_template(&out.packet_header, mac, 0, 0, htonl(rule_group), 0, 1);
    } else {
      if (kind == OutputKind::keep_port) port = 0, out.keep_port = true;
      out.dest.sin_addr.s_addr = htonl(group);
      out.dest.sin_port = htons(port);
      out.egress_index = egress;
      if (!socket_egress) {
        out.packet_egress_index = kEgressSockets + egress % kPacketEgressSockets;
        out.packet_payload_limit = kOutputMtu - mcr::kIpUdpHeaderLen + 1;
        mcr::build_packet_template(&out.packet_header, mac, htonl(0x0a000201u), 40000, htonl(group), port, 16);
      }
    }
    t.outputs.push_back(out);
  };
  auto add_rule = [&](uint32_t source, uint32_t group, uint16_t port, Protocol protocol,
                      std::initializer_list<OutputKind> outputs, mcr::PuntReason punt = mcr::PuntReason::none) {
    mcr::RuleEntry r{};
    r.punt = punt;
    r.per_output_work = punt != mcr::PuntReason::none;  // as Relay::build sets it
    r.input_index = 0;
    r.source = source == 0 ? 0 : htonl(source);
    r.group = htonl(group);
    r.port = protocol == Protocol::esp ? 0 : port;
    r.protocol = protocol == Protocol::esp ? mcr::Protocol::esp : mcr::Protocol::udp;
    r.counter_slot = uint32_t(t.rules.size());
    r.first_output = uint32_t(t.outputs.size());
    r.output_count = uint32_t(outputs.size());
    uint32_t o = 0;
    for (OutputKind kind : outputs) {
      add_output(group, 0xef020000u + r.counter_slot * 16 + o, uint16_t(6000 + o),
                 (r.counter_slot + o) % kEgressSockets, kind);
      r.per_output_work = r.per_output_work || kind != OutputKind::plain;
      ++o;
    }
    t.rules.push_back(r);
  };
  using enum OutputKind;
  if (set.order == kV2Order) {
    add_rule(0, kGroupOne, kPortOne, Protocol::udp, {plain});
    add_rule(0, kGroupFan, kPortFan, Protocol::udp,
             {plain, plain, plain, plain, plain, plain, plain, plain, plain, plain});
    static_assert(kFanOut == 10);
    for (uint32_t i = 2; i < kRules; ++i) add_rule(0, 0xef030000u + i, uint16_t(7000 + i), Protocol::udp, {plain});
  } else if (set.order == kPimOrder) {
    // Port 0 and routed outputs, as PIM's routes are built (src/routing/pim/router.ts routes()).
    add_rule(0, kGroupOne, 0, Protocol::udp, {routed, routed}, mcr::PuntReason::new_source);
    add_rule(kSourceOne, kGroupOne, 0, Protocol::udp, {routed, routed});
    add_rule(0, 0, 0, Protocol::udp, {}, mcr::PuntReason::new_source);  // (*,*): group 0
    // Idle PIM routes: (S,G,any) and (*,G,any), routed.
    for (uint32_t i = 3; i < kRules; ++i)
      add_rule(i % 2 == 0 ? 0 : 0x0a000300u + i, 0xef030000u + i, 0, Protocol::udp, {routed});
  } else {
    add_rule(0, kGroupOne, kPortOne, Protocol::udp, {plain});
    add_rule(kSourceOne, kGroupOne, kPortOne, Protocol::udp, {routed});
    add_rule(kSourceTwo, kGroupOne, 0, Protocol::udp, {keep_port});
    add_rule(0, kGroupFan, 0, Protocol::udp, {plain, keep_port, plain, routed});
    add_rule(0, kGroupEsp, 0, Protocol::esp, {routed, routed});
    // Idle rules of all four kinds.
    for (uint32_t i = 5; i < kRules; ++i)
      add_rule(i % 2 == 0 ? 0 : 0x0a000300u + i, 0xef030000u + i, i % 4 < 2 ? uint16_t(7000 + i) : 0, Protocol::udp,
               {plain});
  }
  t.build_index();
}

// ---- One pass: exactly what Worker::drain_ring does with a full batch ---------------------
// The span hooks are part of it: begin and end per batch, the timed sends and the rules of a
// traced batch (mcr/trace.h); --sample-every sets how often a batch is traced.
// With --punt-all the harness stands in for mcrd and empties the punt ring after each batch.
void replay_batch(Fixture& fx, mcr::SendBatcher& batcher, mcr::WorkerBlock& counters, mcr::BatchTrace& trace) {
  trace.begin(0, 0, 1);
  for (const Frame& f : fx.frames)
    mcr::process_frame(fx.table, 0, f.bytes, f.len, f.len, batcher, counters, f.checksum_partial);
  mcr::flush_batch(fx.table, batcher, counters, trace);
  if (fx.punt_all) fx.punts->ring.tail.store(fx.punts->ring.head.load(std::memory_order_relaxed));
  if (trace.active())
    for (const Frame& f : fx.frames) mcr::trace_rules(fx.table, 0, f.bytes, f.len, f.len, trace);
  trace.end(uint32_t(fx.frames.size()));
}

// ---- Counter check -------------------------------------------------------------------------
// What becomes of one output's copy of a matched frame, from the output's description: a routed
// copy of a frame with TTL <= 1 is not sent (ttl_expired), nor one whose IP packet is over the
// MTU (tx_err_too_big); others go to the packet egress socket when the payload fits, else to the
// UDP socket.
struct Fate {
  enum { sent, ttl_expired, too_big } what;
  uint32_t egress;
};
Fate fate_of(const mcr::OutputEntry& out, const Frame& f) {
  if (out.routed) {
    if (f.spec->ttl <= 1) return {Fate::ttl_expired, 0};
    if (f.ip_len > kOutputMtu) return {Fate::too_big, 0};
    return {Fate::sent, out.packet_egress_index};
  }
  return {Fate::sent, f.counted < out.packet_payload_limit ? out.packet_egress_index : out.egress_index};
}

// One batch's sends: messages, and the egress sockets they go to (one send call each).
struct BatchSends {
  uint64_t messages = 0;
  uint64_t calls = 0;
};
BatchSends batch_sends(const Fixture& fx) {
  BatchSends b;
  bool used[kEgressSockets + kPacketEgressSockets] = {};
  for (const Frame& f : fx.frames) {
    if (f.verdict != mcr::matched) continue;
    const mcr::RuleEntry& r = fx.table.rules[uint32_t(f.spec->rule)];
    for (uint32_t o = r.first_output; o < r.first_output + r.output_count; ++o) {
      const Fate fate = fate_of(fx.table.outputs[o], f);
      if (fate.what != Fate::sent) continue;
      ++b.messages;
      used[fate.egress] = true;
    }
  }
  for (bool u : used) b.calls += u;
  return b;
}

// Every slot of the worker block is compared with what `passes` passes over the set must give,
// worked out from the frame specs (which rule each must match) and the outputs' descriptions,
// so a path that drops, misroutes or double-counts anything cannot be measured as if it were
// healthy.
bool counters_match(const Fixture& fx, const mcr::WorkerBlock& got, uint64_t passes, uint64_t traced,
                    std::string* report) {
  auto expected = std::make_unique<mcr::WorkerBlock>();
  auto add = [](std::atomic<uint64_t>& c, uint64_t by) { c.store(c.load() + by); };
  for (const Frame& f : fx.frames) {
    add(expected->counters[mcr::rx_frames], passes);
    add(expected->counters[mcr::rx_bytes], passes * f.len);
    add(expected->counters[f.verdict], passes);
    if (f.verdict != mcr::matched) continue;
    const mcr::RuleEntry& r = fx.table.rules[uint32_t(f.spec->rule)];
    if (r.punt != mcr::PuntReason::none)
      add(expected->counters[fx.punt_all ? mcr::punted : mcr::punt_rate_limited], passes);
    add(expected->rules[r.counter_slot][mcr::rule_packets], passes);
    add(expected->rules[r.counter_slot][mcr::rule_bytes], passes * f.counted);
    for (uint32_t o = r.first_output; o < r.first_output + r.output_count; ++o) {
      const mcr::OutputEntry& out = fx.table.outputs[o];
      switch (fate_of(out, f).what) {
        case Fate::ttl_expired: add(expected->counters[mcr::ttl_expired], passes); break;
        case Fate::too_big:
          add(expected->counters[mcr::tx_err_too_big], passes);
          add(expected->outputs[out.counter_slot][mcr::out_errors], passes);
          break;
        case Fate::sent:
          add(expected->outputs[out.counter_slot][mcr::out_packets], passes);
          add(expected->outputs[out.counter_slot][mcr::out_bytes], passes * f.counted);
          add(expected->counters[mcr::tx_packets], passes);
          add(expected->counters[mcr::tx_bytes], passes * f.counted);
          break;
      }
    }
  }
  add(expected->counters[mcr::batches], passes);
  // Every traced batch wrote a record or counted it as dropped (nobody empties the ring here).
  const uint64_t written = traced < mcr::kSpanRingRecords ? traced : mcr::kSpanRingRecords;
  add(expected->counters[mcr::spans_written], written);
  add(expected->counters[mcr::spans_dropped], traced - written);

  bool ok = true;
  auto check = [&](uint64_t want, uint64_t have, auto&& name) {
    if (want == have) return;
    if (ok) *report = name() + " is " + std::to_string(have) + ", expected " + std::to_string(want);
    ok = false;
  };
  for (size_t i = 0; i < mcr::kWorkerCounterSlots; ++i)
    check(expected->counters[i].load(), got.counters[i].load(), [&] {
      return i < mcr::kWorkerCounterCount ? std::string(mcr::worker_counter_name(uint32_t(i)))
                                          : "counter slot " + std::to_string(i);
    });
  static const char* const kRuleNames[] = {"packets", "bytes"};
  static const char* const kOutputNames[] = {"packets", "bytes", "errors"};
  for (size_t i = 0; i < mcr::kMaxRuleSlots; ++i)
    for (size_t j = 0; j < mcr::kRuleCounterCount; ++j)
      check(expected->rules[i][j].load(), got.rules[i][j].load(),
            [&] { return "rule " + std::to_string(i) + " " + kRuleNames[j]; });
  for (size_t i = 0; i < mcr::kMaxOutputSlots; ++i)
    for (size_t j = 0; j < mcr::kOutputCounterCount; ++j)
      check(expected->outputs[i][j].load(), got.outputs[i][j].load(),
            [&] { return "output " + std::to_string(i) + " " + kOutputNames[j]; });
  return ok;
}

uint64_t parse_count(const char* text, const char* flag) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (end == text || *end != '\0' || v == 0) {
    std::fprintf(stderr, "mcr_replay: %s needs a positive integer, got '%s'\n", flag, text);
    std::exit(2);
  }
  return v;
}

// Proves the counter sees both doors before trusting a zero from it: a direct operator new, a
// direct malloc, and a malloc made inside glibc (strdup).
bool allocation_counter_works() {
  const uint64_t new_before = g_new_calls, malloc_before = g_malloc_calls;
  int* volatile boxed = new int(7);
  delete boxed;
  void* (*volatile do_malloc)(size_t) = std::malloc;
  void* raw = do_malloc(32);
  std::free(raw);
  char* copy = strdup("x");
  std::free(copy);
  return g_new_calls == new_before + 1 && g_malloc_calls == malloc_before + 2;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t warmup = 20, iterations = 1000;
  uint32_t sample_every = 0;
  bool socket_egress = false, punt_all = false;
  const FrameSet* set = &kFrameSets[0];
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--warmup") == 0 && i + 1 < argc)
      warmup = parse_count(argv[++i], "--warmup");
    else if (std::strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
      iterations = parse_count(argv[++i], "--iterations");
    else if (std::strcmp(argv[i], "--sample-every") == 0 && i + 1 < argc)
      sample_every = uint32_t(parse_count(argv[++i], "--sample-every"));
    else if (std::strcmp(argv[i], "--socket-egress") == 0)
      socket_egress = true;
    else if (std::strcmp(argv[i], "--punt-all") == 0)
      punt_all = true;
    else if (std::strcmp(argv[i], "--frame-set") == 0 && i + 1 < argc) {
      const char* key = argv[++i];
      set = nullptr;
      for (const FrameSet& s : kFrameSets)
        if (std::strcmp(s.key, key) == 0) set = &s;
      if (set == nullptr) {
        std::fprintf(stderr, "mcr_replay: --frame-set must be v2, v3-match or pim, got '%s'\n", key);
        return 2;
      }
    } else {
      std::fprintf(stderr,
                   "usage: mcr_replay [--frame-set v2|v3-match|pim] [--warmup N] [--iterations N] [--sample-every N] "
                   "[--socket-egress] [--punt-all]\n");
      return 2;
    }
  }
  if (!allocation_counter_works()) {
    std::fprintf(stderr, "mcr_replay: the allocation counter does not see operator new and malloc\n");
    return 1;
  }

  Fixture fx;
  build_fixture(fx, *set, socket_egress, punt_all);
  auto batcher = std::make_unique<mcr::SendBatcher>(null_send);
  batcher->set_punter(&fx.punter);  // as Worker does: the punt check is live, not folded away
  auto counters = std::make_unique<mcr::WorkerBlock>();
  mcr_test::TraceFixture tracing(counters.get(), sample_every);
  mcr::BatchTrace& trace = tracing.trace;

  // Warm-up: lazy symbol binding (memset in flush) and first touches happen here, not below.
  for (uint64_t i = 0; i < warmup; ++i) replay_batch(fx, *batcher, *counters, trace);

  const uint64_t new_before = g_new_calls, malloc_before = g_malloc_calls;
  const uint64_t sink_calls_before = g_sink_calls, sink_messages_before = g_sink_messages;
  CALLGRIND_START_INSTRUMENTATION;
  CALLGRIND_TOGGLE_COLLECT;
  for (uint64_t i = 0; i < iterations; ++i) replay_batch(fx, *batcher, *counters, trace);
  CALLGRIND_TOGGLE_COLLECT;
  CALLGRIND_STOP_INSTRUMENTATION;
  const uint64_t new_in_loop = g_new_calls - new_before, malloc_in_loop = g_malloc_calls - malloc_before;
  const uint64_t sink_calls = g_sink_calls - sink_calls_before, sink_messages = g_sink_messages - sink_messages_before;

  std::string mismatch;
  const uint64_t traced = MCR_ENABLE_SPANS && sample_every != 0 ? (warmup + iterations) / sample_every : 0;
  const bool counters_ok = counters_match(fx, *counters, warmup + iterations, traced, &mismatch);
  // Every batch must reach every egress socket it uses with exactly one call (with packet
  // egress, the 8000 B frames still reach the UDP sockets).
  const BatchSends per_batch = batch_sends(fx);
  const uint64_t want_calls = iterations * per_batch.calls;
  const uint64_t want_messages = iterations * per_batch.messages;
  const bool batching_ok = sink_calls == want_calls && sink_messages == want_messages;

  std::string categories;
  for (uint32_t c = 0; c < set->category_count; ++c) {
    uint64_t frames = 0;
    for (const Frame& f : fx.frames) frames += f.spec->category == c ? iterations : 0;
    categories += (c == 0 ? "\"" : ",\"") + std::string(set->categories[c]) + "\":" + std::to_string(frames);
  }
  std::printf(
      "{\"frameSet\":\"%s\",\"frameSetKey\":\"%s\",\"compiler\":\"g++ %s\",\"underValgrind\":%s,"
      "\"warmupIterations\":%llu,\"measuredIterations\":%llu,\"packets\":%llu,\"sends\":%llu,\"sendCalls\":%llu,"
      "\"categories\":{%s},\"allocationsInLoop\":{\"operatorNew\":%llu,\"malloc\":%llu},\"countersVerified\":%s,"
      "\"batchingVerified\":%s,\"spans\":%s,\"sampleEvery\":%u,\"tracedBatches\":%llu,\"egress\":\"%s\","
      "\"punts\":{\"punted\":%llu,\"rateLimited\":%llu,\"ringFull\":%llu}}\n",
      set->name, set->key, __VERSION__, RUNNING_ON_VALGRIND ? "true" : "false", (unsigned long long)warmup,
      (unsigned long long)iterations, (unsigned long long)(iterations * kFramesPerBatch),
      (unsigned long long)sink_messages, (unsigned long long)sink_calls, categories.c_str(),
      (unsigned long long)new_in_loop, (unsigned long long)malloc_in_loop, counters_ok ? "true" : "false",
      batching_ok ? "true" : "false", MCR_ENABLE_SPANS ? "true" : "false", sample_every, (unsigned long long)traced,
      socket_egress ? "socket" : "packet", (unsigned long long)counters->counters[mcr::punted].load(),
      (unsigned long long)counters->counters[mcr::punt_rate_limited].load(),
      (unsigned long long)counters->counters[mcr::punt_ring_full].load());

  int status = 0;
  if (!counters_ok) {
    std::fprintf(stderr, "mcr_replay: counters do not match the frame set: %s\n", mismatch.c_str());
    status = 1;
  }
  if (!batching_ok) {
    std::fprintf(stderr, "mcr_replay: expected %llu send calls carrying %llu messages, got %llu carrying %llu\n",
                 (unsigned long long)want_calls, (unsigned long long)want_messages, (unsigned long long)sink_calls,
                 (unsigned long long)sink_messages);
    status = 1;
  }
  if (new_in_loop != 0 || malloc_in_loop != 0) {
    std::fprintf(stderr, "mcr_replay: the measured loop allocated: %llu operator new, %llu malloc-family calls\n",
                 (unsigned long long)new_in_loop, (unsigned long long)malloc_in_loop);
    status = 1;
  }
  return status;
}
