// SPDX-License-Identifier: MIT
// Unit tests of the forwarding core without Node: the frame parser (every malformed case), the
// rule index, the counter file, the send batcher against real loopback UDP sockets, and the
// workers' per-frame step (process_frame) with a send function that captures instead of sending.
// Prints "N passed, N failed" and exits non-zero on any failure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mcr/counters.h"
#include "mcr/egress.h"
#include "mcr/forward.h"
#include "mcr/ingress_ring.h"
#include "mcr/parse.h"
#include "mcr/rule_table.h"

namespace {
int passed = 0, failed = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::printf("  check failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ok = false;                                                            \
    }                                                                        \
  } while (0)

void run(const char* name, const std::function<void(bool&)>& body) {
  bool ok = true;
  body(ok);
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", name);
  (ok ? passed : failed)++;
}

// Builds Ethernet + IPv4 (+ options) + UDP frames; each field can be broken on purpose.
struct FrameSpec {
  uint16_t ethertype = 0x0800;
  uint8_t version = 4;
  uint8_t ihl = 5;
  uint8_t protocol = 17;
  uint16_t frag = 0x4000;  // DF
  int total_len_delta = 0;
  int udp_len_delta = 0;
  bool break_checksum = false;
  const char* src = "10.0.1.1";
  const char* dst = "239.1.1.1";
  uint16_t port = 5001;
  size_t payload = 100;
  size_t cut = 0;  // bytes removed from the end after building
  uint8_t ttl = 64;
};

std::vector<uint8_t> build_frame(const FrameSpec& s) {
  const size_t ip_header = size_t(s.ihl) * 4;
  const size_t ip_header_real = ip_header < 20 ? 20 : ip_header;
  std::vector<uint8_t> f(14 + ip_header_real + 8 + s.payload, 0);
  f[12] = uint8_t(s.ethertype >> 8);
  f[13] = uint8_t(s.ethertype);
  uint8_t* ip = f.data() + 14;
  ip[0] = uint8_t(s.version << 4 | s.ihl);
  const int total = int(ip_header_real + 8 + s.payload) + s.total_len_delta;
  ip[2] = uint8_t(total >> 8);
  ip[3] = uint8_t(total);
  ip[6] = uint8_t(s.frag >> 8);
  ip[7] = uint8_t(s.frag);
  ip[8] = s.ttl;
  ip[9] = s.protocol;
  inet_pton(AF_INET, s.src, ip + 12);
  inet_pton(AF_INET, s.dst, ip + 16);
  for (size_t i = 20; i < ip_header_real; ++i) ip[i] = 1;  // NOP options
  uint16_t sum = mcr::ipv4_header_checksum(ip, ip_header_real);
  if (s.break_checksum) sum ^= 0x5555;
  ip[10] = uint8_t(sum >> 8);
  ip[11] = uint8_t(sum);
  uint8_t* udp = ip + ip_header_real;
  udp[0] = 0x13;
  udp[1] = 0x88;
  udp[2] = uint8_t(s.port >> 8);
  udp[3] = uint8_t(s.port);
  const int udp_len = int(8 + s.payload) + s.udp_len_delta;
  udp[4] = uint8_t(udp_len >> 8);
  udp[5] = uint8_t(udp_len);
  for (size_t i = 0; i < s.payload; ++i) udp[8 + i] = uint8_t(i);
  f.resize(f.size() - s.cut);
  return f;
}

void parser_tests() {
  struct Case {
    const char* name;
    FrameSpec spec;
    mcr::WorkerCounter verdict;
  };
  auto spec = [](auto edit) {
    FrameSpec s;
    edit(s);
    return s;
  };
  const Case cases[] = {
      {"well-formed UDP", FrameSpec{}, mcr::matched},
      {"IP options (IHL 7) are skipped", spec([](FrameSpec& s) { s.ihl = 7; }), mcr::matched},
      {"IHL 15 (40 option bytes)", spec([](FrameSpec& s) { s.ihl = 15; }), mcr::matched},
      {"zero-length UDP payload", spec([](FrameSpec& s) { s.payload = 0; }), mcr::matched},
      {"Ethernet padding after total length", spec([](FrameSpec& s) { s.total_len_delta = -10; s.udp_len_delta = -10; }), mcr::matched},
      {"jumbo 8972-byte payload", spec([](FrameSpec& s) { s.payload = 8972; }), mcr::matched},
      {"not IPv4 (ARP)", spec([](FrameSpec& s) { s.ethertype = 0x0806; }), mcr::filtered_not_ipv4},
      {"IP version 6 in an IPv4 frame", spec([](FrameSpec& s) { s.version = 6; }), mcr::filtered_bad_ip_header},
      {"IHL 4", spec([](FrameSpec& s) { s.ihl = 4; }), mcr::filtered_bad_ip_header},
      {"total length below IHL", spec([](FrameSpec& s) { s.total_len_delta = -(8 + 100 + 1); }), mcr::filtered_bad_ip_header},
      {"total length beyond the frame", spec([](FrameSpec& s) { s.total_len_delta = 50; }), mcr::filtered_truncated},
      {"frame cut inside the IP header", spec([](FrameSpec& s) { s.cut = 8 + 100 + 5; }), mcr::filtered_truncated},
      {"frame cut inside the options", spec([](FrameSpec& s) { s.ihl = 15; s.payload = 0; s.cut = 8 + 30; }), mcr::filtered_truncated},
      {"frame of 10 bytes", spec([](FrameSpec& s) { s.cut = 14 + 20 + 8 + 100 - 10; }), mcr::filtered_truncated},
      {"IP payload shorter than a UDP header", spec([](FrameSpec& s) { s.payload = 0; s.total_len_delta = -4; }), mcr::filtered_truncated},
      {"bad header checksum", spec([](FrameSpec& s) { s.break_checksum = true; }), mcr::filtered_bad_ip_checksum},
      {"first fragment (MF)", spec([](FrameSpec& s) { s.frag = 0x2000; }), mcr::filtered_fragment},
      {"later fragment (offset)", spec([](FrameSpec& s) { s.frag = 0x00b9; }), mcr::filtered_fragment},
      {"TCP", spec([](FrameSpec& s) { s.protocol = 6; }), mcr::filtered_not_udp},
      {"UDP length 7", spec([](FrameSpec& s) { s.udp_len_delta = -(8 + 100) + 7; }), mcr::filtered_bad_udp_length},
      {"UDP length beyond IP payload", spec([](FrameSpec& s) { s.udp_len_delta = 1; }), mcr::filtered_bad_udp_length},
  };
  for (const Case& c : cases) {
    run((std::string("parse: ") + c.name).c_str(), [&](bool& ok) {
      std::vector<uint8_t> f = build_frame(c.spec);
      mcr::UdpDatagram d{};
      CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size(), &d) == c.verdict);
      if (c.verdict == mcr::matched) {
        in_addr dst{d.dst_addr};
        CHECK(std::string(inet_ntoa(dst)) == c.spec.dst);
        CHECK(d.dst_port == c.spec.port);
        CHECK(d.payload_len == c.spec.payload + size_t(c.spec.udp_len_delta));
        CHECK(d.payload == f.data() + 14 + std::max<size_t>(20, c.spec.ihl * 4u) + 8);
      }
    });
  }
  run("parse: wire length beyond the captured slot is oversize", [](bool& ok) {
    std::vector<uint8_t> f = build_frame(FrameSpec{});
    mcr::UdpDatagram d{};
    CHECK(mcr::parse_udp_frame(f.data(), f.size(), f.size() + 1, &d) == mcr::filtered_oversize);
  });
  run("parse: every truncation of a good frame is rejected, never read past the end", [](bool& ok) {
    FrameSpec s;
    s.ihl = 6;
    std::vector<uint8_t> f = build_frame(s);
    for (size_t len = 0; len < f.size(); ++len) {
      std::vector<uint8_t> copy(f.begin(), f.begin() + long(len));  // exact-size heap copy for ASan/valgrind
      mcr::UdpDatagram d{};
      CHECK(mcr::parse_udp_frame(copy.data(), len, len, &d) != mcr::matched);
    }
  });
}

void rule_table_tests() {
  run("rule table: exact match on input, group and port", [](bool& ok) {
    mcr::RuleTable t;
    for (uint32_t i = 0; i < 1000; ++i) {
      mcr::RuleEntry r{};
      r.input_index = i % 3;
      r.group = htonl(0xef010000u + i);
      r.port = uint16_t(5000 + i);
      r.counter_slot = i;
      t.rules.push_back(r);
    }
    t.build_index();
    for (uint32_t i = 0; i < 1000; ++i) {
      const mcr::RuleEntry* r = t.lookup(i % 3, htonl(0xef010000u + i), uint16_t(5000 + i));
      CHECK(r != nullptr && r->counter_slot == i);
    }
    CHECK(t.lookup(0, htonl(0xef010000u), 5001) == nullptr);         // wrong port
    CHECK(t.lookup(1, htonl(0xef010000u), 5000) == nullptr);         // wrong input
    CHECK(t.lookup(0, htonl(0xef020000u), 5000) == nullptr);         // wrong group
  });
  run("rule table: empty table matches nothing", [](bool& ok) {
    mcr::RuleTable t;
    CHECK(t.lookup(0, 0, 0) == nullptr);
    t.build_index();
    CHECK(t.lookup(0, htonl(0xef010101u), 5001) == nullptr);
  });
}

void counter_tests() {
  run("spans: log2 microsecond buckets, bucket 0 under 2 us, the last one open", [](bool& ok) {
    CHECK(mcr::span_bucket(0) == 0);
    CHECK(mcr::span_bucket(1999) == 0);
    CHECK(mcr::span_bucket(2000) == 1);
    CHECK(mcr::span_bucket(3999) == 1);
    CHECK(mcr::span_bucket(4000) == 2);
    CHECK(mcr::span_bucket(64000) == 6);
    CHECK(mcr::span_bucket(uint64_t(1) << 40) == mcr::kSpanBuckets - 1);
    CHECK(std::string(mcr::span_name(mcr::span_ring_wait)) == "ring_wait");
    CHECK(mcr::span_name(mcr::kSpanCount) == nullptr);
  });
  run("counters: a re-attached file keeps its values", [](bool& ok) {
    char path[] = "/tmp/mcr-core-test-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    std::string error;
    mcr::CounterRegion writer;
    CHECK(writer.open(path, true, &error) == 0);
    mcr::bump(writer.worker(3).counters[mcr::rx_frames], 41);
    mcr::bump(writer.worker(3).counters[mcr::rx_frames]);
    writer.close();
    mcr::CounterRegion reader;
    CHECK(reader.open(path, false, &error) == 0);
    CHECK(reader.worker(3).counters[mcr::rx_frames].load() == 42);
    CHECK(reader.worker(2).counters[mcr::rx_frames].load() == 0);
    reader.close();
    // A file of the wrong size is refused with a reason.
    int bad = ::open(path, O_WRONLY | O_TRUNC);
    CHECK(write(bad, "x", 1) == 1);
    close(bad);
    CHECK(reader.open(path, false, &error) == -EINVAL);
    CHECK(error.find("smaller") != std::string::npos);
    unlink(path);
  });
  run("counter files: a live one is kept and refused to a second creator, a dead one is removed", [](bool& ok) {
    char dir[] = "/dev/shm/mcr-core-test-XXXXXX";
    CHECK(mkdtemp(dir) != nullptr);
    const std::string live = std::string(dir) + "/mcrd-1.counters";
    const std::string dead = std::string(dir) + "/mcrd-2.counters";
    const std::string other = std::string(dir) + "/not-mcrd.counters";
    std::string error;
    std::vector<std::string> removed;
    mcr::CounterRegion owner, attached, second;
    CHECK(owner.open(live, true, &error) == 0);
    CHECK(attached.open(live, false, &error) == 0);
    CHECK(second.open(live, true, &error) == -EEXIST);
    CHECK(error.find("belongs to a running process") != std::string::npos);
    // A crashed daemon's file: made and then closed without being unlinked.
    mcr::CounterRegion crashed;
    CHECK(crashed.open(dead, true, &error) == 0);
    crashed.close();
    int fd = ::open(other.c_str(), O_CREAT | O_WRONLY, 0600);
    close(fd);
    CHECK(mcr::remove_stale_counter_files(dir, &removed, &error) == 0);
    CHECK(removed == std::vector<std::string>{dead});
    CHECK(access(live.c_str(), F_OK) == 0 && access(dead.c_str(), F_OK) != 0 && access(other.c_str(), F_OK) == 0);
    // Still live while only the attached side (the data plane) holds it.
    owner.close();
    removed.clear();
    CHECK(mcr::remove_stale_counter_files(dir, &removed, &error) == 0);
    CHECK(removed.empty());
    attached.close();
    CHECK(mcr::remove_stale_counter_files(dir, &removed, &error) == 0);
    CHECK(removed == std::vector<std::string>{live});
    unlink(other.c_str());
    CHECK(rmdir(dir) == 0);
  });
  run("counters: names cover every counter", [](bool& ok) {
    for (uint32_t i = 0; i < mcr::kWorkerCounterCount; ++i) CHECK(mcr::worker_counter_name(i) != nullptr);
    CHECK(std::string(mcr::worker_counter_name(mcr::tx_packets)) == "tx_packets");
  });
}

int udp_receiver(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

int drain(int fd, std::vector<std::string>* got) {
  char buf[65536];
  int n = 0;
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof(buf), 0);
    if (r < 0) break;
    if (got) got->emplace_back(buf, size_t(r));
    ++n;
  }
  return n;
}

void batcher_tests() {
  run("batcher: fan-out to 3 receivers on 2 sockets, counted per output, payload shared", [](bool& ok) {
    uint16_t ports[3];
    int rx[3];
    for (int i = 0; i < 3; ++i) rx[i] = udp_receiver(&ports[i]);
    std::string error;
    mcr::EgressKey k1{int(if_nametoindex("lo")), 16, 0}, k2{int(if_nametoindex("lo")), 8, 0};
    int fd1 = mcr::open_egress_socket(k1, "lo", 1 << 20, &error);
    int fd2 = mcr::open_egress_socket(k2, "lo", 1 << 20, &error);
    CHECK(fd1 >= 0 && fd2 >= 0);
    mcr::RuleTable t;
    t.egress_fds = {fd1, fd2};
    std::vector<sockaddr_in> dests(3);
    for (int i = 0; i < 3; ++i) {
      dests[i].sin_family = AF_INET;
      dests[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      dests[i].sin_port = htons(ports[i]);
    }
    auto batcher = std::make_unique<mcr::SendBatcher>();
    auto counters = std::make_unique<mcr::WorkerBlock>();
    const uint8_t payload[] = "relay-me";
    for (int p = 0; p < 10; ++p)
      for (int o = 0; o < 3; ++o)
        CHECK(batcher->add(o == 1 ? 1 : 0, uint32_t(100 + o), &dests[o], payload, 8));
    batcher->flush(t, *counters);
    for (int o = 0; o < 3; ++o) {
      std::vector<std::string> got;
      CHECK(drain(rx[o], &got) == 10);
      CHECK(!got.empty() && got[0] == "relay-me");
      CHECK(counters->outputs[100 + o][mcr::out_packets].load() == 10);
      CHECK(counters->outputs[100 + o][mcr::out_bytes].load() == 80);
    }
    CHECK(counters->counters[mcr::tx_packets].load() == 30);
    CHECK(counters->counters[mcr::tx_bytes].load() == 240);
    CHECK(batcher->size() == 0);
    for (int fd : {fd1, fd2, rx[0], rx[1], rx[2]}) close(fd);
  });
  run("batcher: a send error is counted by errno and per output, the rest still go", [](bool& ok) {
    uint16_t port;
    int rx = udp_receiver(&port);
    std::string error;
    mcr::EgressKey key{int(if_nametoindex("lo")), 16, 0};
    int fd = mcr::open_egress_socket(key, "lo", 1 << 20, &error);
    mcr::RuleTable t;
    t.egress_fds = {fd};
    sockaddr_in good{}, bad{};
    good.sin_family = bad.sin_family = AF_INET;
    good.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    good.sin_port = htons(port);
    bad.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bad.sin_port = 0;  // port 0: EINVAL from the kernel
    auto batcher = std::make_unique<mcr::SendBatcher>();
    auto counters = std::make_unique<mcr::WorkerBlock>();
    const uint8_t payload[] = "x";
    batcher->add(0, 1, &good, payload, 1);
    batcher->add(0, 2, &bad, payload, 1);
    batcher->add(0, 1, &good, payload, 1);
    batcher->flush(t, *counters);
    CHECK(drain(rx, nullptr) == 2);
    CHECK(counters->outputs[1][mcr::out_packets].load() == 2);
    CHECK(counters->outputs[2][mcr::out_errors].load() == 1);
    CHECK(counters->counters[mcr::tx_err_other].load() == 1);
    close(fd);
    close(rx);
  });
  run("batcher: refuses more than its scratch space instead of overflowing", [](bool& ok) {
    auto batcher = std::make_unique<mcr::SendBatcher>();
    sockaddr_in d{};
    const uint8_t p[] = "x";
    uint32_t accepted = 0;
    for (uint32_t i = 0; i < mcr::SendBatcher::kMaxPending + 10; ++i) accepted += batcher->add(0, 0, &d, p, 1);
    CHECK(accepted == mcr::SendBatcher::kMaxPending);
    CHECK(!batcher->add(mcr::SendBatcher::kMaxEgress, 0, &d, p, 1) || batcher->size() == mcr::SendBatcher::kMaxPending);
  });
}

// What a capturing SendFn saw: one entry per call, messages copied out while they are valid.
struct CapturedCall {
  int fd;
  int flags;
  std::vector<std::pair<uint16_t, std::pair<const void*, size_t>>> messages;  // port, payload
};
std::vector<CapturedCall> captured;
std::vector<int> captured_ttls;  // per captured message: its IP_TTL control message, 0 without one
int capture_errno = 0;  // non-zero: fail every call with this errno

int capture_send(int fd, mmsghdr* msgs, unsigned n, int flags) {
  if (capture_errno != 0) {
    errno = capture_errno;
    return -1;
  }
  CapturedCall call{fd, flags, {}};
  for (unsigned i = 0; i < n; ++i) {
    const auto* dest = static_cast<const sockaddr_in*>(msgs[i].msg_hdr.msg_name);
    call.messages.push_back({ntohs(dest->sin_port), {msgs[i].msg_hdr.msg_iov[0].iov_base, msgs[i].msg_hdr.msg_iov[0].iov_len}});
    int ttl = 0;
    for (cmsghdr* cm = CMSG_FIRSTHDR(&msgs[i].msg_hdr); cm != nullptr; cm = CMSG_NXTHDR(&msgs[i].msg_hdr, cm))
      if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_TTL) std::memcpy(&ttl, CMSG_DATA(cm), sizeof(ttl));
    captured_ttls.push_back(ttl);
  }
  captured.push_back(call);
  return int(n);
}

// Rule 0: 239.1.1.1:5001 to ports 6000 (egress 0) and 6001 (egress 1); rule 1: 239.1.1.2:5002
// to port 6002 (egress 1). Egress fds are fake: the capturing send never uses them.
mcr::RuleTable forwarding_table() {
  mcr::RuleTable t;
  t.inputs.push_back(mcr::TableInput{1, {}});
  t.egress_fds = {7, 9};
  auto output = [&](uint16_t port, uint32_t egress) {
    mcr::OutputEntry o{};
    o.dest.sin_family = AF_INET;
    o.dest.sin_addr.s_addr = htonl(0xef020202u);
    o.dest.sin_port = htons(port);
    o.egress_index = egress;
    o.counter_slot = uint32_t(t.outputs.size()) + 10;
    t.outputs.push_back(o);
  };
  output(6000, 0);
  output(6001, 1);
  output(6002, 1);
  t.rules.push_back(mcr::RuleEntry{0, htonl(0xef010101u), 5001, 3, 0, 2});
  t.rules.push_back(mcr::RuleEntry{0, htonl(0xef010102u), 5002, 4, 2, 1});
  t.build_index();
  return t;
}

void forward_tests() {
  run("process_frame: a decrementing output sends TTL-1 and drops TTL 1 as ttl_expired", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    t.outputs[1].decrement_ttl = true;  // rule 0: port 6000 fixed, port 6001 decrements
    t.rules[0].decrements_ttl = true;
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    captured.clear();
    captured_ttls.clear();
    capture_errno = 0;
    for (uint8_t ttl : {uint8_t(9), uint8_t(2), uint8_t(1), uint8_t(0)}) {
      FrameSpec spec;
      spec.ttl = ttl;
      std::vector<uint8_t> f = build_frame(spec);
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
      mcr::flush_batch(t, *batcher, *c);
    }
    // Per frame: the fixed output (no control message), then the decrementing one while TTL > 1.
    CHECK((captured_ttls == std::vector<int>{0, 8, 0, 1, 0, 0}));
    CHECK(c->counters[mcr::ttl_expired].load() == 2);
    CHECK(c->counters[mcr::tx_packets].load() == 6);
    CHECK(c->outputs[11][mcr::out_packets].load() == 2);
  });

  run("process_frame: counts every frame, queues each output, one send per egress socket", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    captured.clear();
    capture_errno = 0;
    auto with = [](auto edit) {
      FrameSpec s;
      edit(s);
      return build_frame(s);
    };
    const std::vector<std::vector<uint8_t>> frames = {
        with([](FrameSpec& s) { s.payload = 100; }),                                     // rule 0
        with([](FrameSpec& s) { s.dst = "239.1.1.2"; s.port = 5002; s.payload = 50; }),  // rule 1
        with([](FrameSpec& s) { s.dst = "239.9.9.9"; }),                                 // no rule
        with([](FrameSpec& s) { s.break_checksum = true; }),
        with([](FrameSpec& s) { s.frag = 0x2000; }),
    };
    uint64_t wire_bytes = 0;
    for (const auto& f : frames) {
      mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
      wire_bytes += f.size();
    }
    CHECK(batcher->size() == 3);
    CHECK(captured.empty());  // nothing leaves before the batch ends
    CHECK(c->counters[mcr::rx_frames].load() == 5);
    CHECK(c->counters[mcr::rx_bytes].load() == wire_bytes);
    CHECK(c->counters[mcr::matched].load() == 2);
    CHECK(c->counters[mcr::no_match].load() == 1);
    CHECK(c->counters[mcr::filtered_bad_ip_checksum].load() == 1);
    CHECK(c->counters[mcr::filtered_fragment].load() == 1);
    CHECK(c->rules[3][mcr::rule_packets].load() == 1 && c->rules[3][mcr::rule_bytes].load() == 100);
    CHECK(c->rules[4][mcr::rule_packets].load() == 1 && c->rules[4][mcr::rule_bytes].load() == 50);

    mcr::flush_batch(t, *batcher, *c);
    CHECK(batcher->size() == 0);
    CHECK(c->counters[mcr::batches].load() == 1);
    CHECK(captured.size() == 2);
    if (captured.size() == 2) {
      const uint8_t* payload0 = frames[0].data() + 14 + 20 + 8;
      const uint8_t* payload1 = frames[1].data() + 14 + 20 + 8;
      CHECK(captured[0].fd == 7 && captured[0].flags == MSG_DONTWAIT);
      CHECK(captured[0].messages.size() == 1);
      CHECK(captured[0].messages[0] == std::make_pair(uint16_t(6000), std::make_pair(static_cast<const void*>(payload0), size_t(100))));
      CHECK(captured[1].fd == 9 && captured[1].messages.size() == 2);
      if (captured[1].messages.size() == 2) {  // queue order kept within a socket
        CHECK(captured[1].messages[0] == std::make_pair(uint16_t(6001), std::make_pair(static_cast<const void*>(payload0), size_t(100))));
        CHECK(captured[1].messages[1] == std::make_pair(uint16_t(6002), std::make_pair(static_cast<const void*>(payload1), size_t(50))));
      }
    }
    CHECK(c->counters[mcr::tx_packets].load() == 3);
    CHECK(c->counters[mcr::tx_bytes].load() == 250);
    CHECK(c->outputs[10][mcr::out_packets].load() == 1 && c->outputs[10][mcr::out_bytes].load() == 100);
    CHECK(c->outputs[11][mcr::out_packets].load() == 1 && c->outputs[11][mcr::out_bytes].load() == 100);
    CHECK(c->outputs[12][mcr::out_packets].load() == 1 && c->outputs[12][mcr::out_bytes].load() == 50);
    mcr::flush_batch(t, *batcher, *c);  // an empty batch sends nothing
    CHECK(captured.size() == 2);
  });
  run("process_frame: a failing send function is counted by errno and per output", [](bool& ok) {
    mcr::RuleTable t = forwarding_table();
    auto batcher = std::make_unique<mcr::SendBatcher>(capture_send);
    auto c = std::make_unique<mcr::WorkerBlock>();
    captured.clear();
    capture_errno = EAGAIN;
    std::vector<uint8_t> f = build_frame(FrameSpec{});
    mcr::process_frame(t, 0, f.data(), uint32_t(f.size()), uint32_t(f.size()), *batcher, *c);
    mcr::flush_batch(t, *batcher, *c);
    capture_errno = 0;
    CHECK(c->counters[mcr::tx_err_eagain].load() == 2);
    CHECK(c->counters[mcr::tx_packets].load() == 0);
    CHECK(c->outputs[10][mcr::out_errors].load() == 1 && c->outputs[11][mcr::out_errors].load() == 1);
    CHECK(batcher->size() == 0);
  });
}
// Receive rings on lo with a fanout group. Needs CAP_NET_RAW (npm test runs as root).
void ring_tests() {
  int probe = socket(AF_PACKET, SOCK_RAW, 0);
  if (probe < 0) {
    std::printf("skip ring tests: socket(AF_PACKET): %s (needs CAP_NET_RAW)\n", std::strerror(errno));
    return;
  }
  close(probe);
  const int lo = int(if_nametoindex("lo"));
  const mcr::RingGeometry g = mcr::ring_geometry_for(1500, 1 << 20);
  auto open_set = [&](bool& ok, mcr::FanoutGroup& fanout, std::unique_ptr<mcr::IngressRing> (&rings)[3]) {
    for (auto& r : rings) {
      r = std::make_unique<mcr::IngressRing>();
      std::string err;
      CHECK(r->open(lo, "lo", g, &fanout, &err) == 0);
      if (!err.empty()) std::printf("  %s\n", err.c_str());
    }
  };

  run("a ring without a fanout group reports none", [&](bool& ok) {
    mcr::IngressRing r;
    std::string err;
    CHECK(r.open(lo, "lo", g, nullptr, &err) == 0);
    CHECK(r.fanout_group() == -1);
  });

  run("three rings share the unique fanout group the first one got", [&](bool& ok) {
    mcr::FanoutGroup fanout;
    std::unique_ptr<mcr::IngressRing> rings[3];
    open_set(ok, fanout, rings);
    CHECK(fanout.assigned);
    for (auto& r : rings) CHECK(r->fanout_group() == int(fanout.id));
  });

  // The case a freshly booted machine gives the first relay: the kernel hands out id 0.
  run("when the kernel hands out fanout id 0, every ring joins group 0", [&](bool& ok) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    CHECK(n > 0);
    if (n <= 0) return;
    self[n] = 0;
    std::string tool = std::string(self);
    tool = tool.substr(0, tool.rfind('/')) + "/fanout_advance 65535 >/dev/null";
    CHECK(std::system(tool.c_str()) == 0);
    mcr::FanoutGroup fanout;
    std::unique_ptr<mcr::IngressRing> rings[3];
    open_set(ok, fanout, rings);
    CHECK(fanout.assigned && fanout.id == 0);
    for (auto& r : rings) CHECK(r->fanout_group() == 0);
  });
}
}  // namespace

int main() {
  parser_tests();
  rule_table_tests();
  counter_tests();
  batcher_tests();
  forward_tests();
  ring_tests();
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
