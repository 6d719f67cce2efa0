// SPDX-License-Identifier: MIT
// The counter file and span buckets: values survive re-attaching, a wrong-size file is refused
// with a reason, stale files of dead daemons are removed and live ones kept, every counter has a name.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "harness.h"
#include "mcr/counters.h"

namespace mcr_test {

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

}  // namespace mcr_test
