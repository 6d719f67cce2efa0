// SPDX-License-Identifier: MIT
// The counter file: created and zeroed by the supervisor, attached by each data-plane process.
#include "mcr/counters.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mcr {

namespace {
const char* const kWorkerCounterNames[] = {
#define MCR_X(name) #name,
    MCR_WORKER_COUNTERS(MCR_X)
#undef MCR_X
};

const char* const kSpanNames[] = {
#define MCR_X(name) #name,
    MCR_SPANS(MCR_X)
#undef MCR_X
};

int fail(std::string* error, const std::string& what, int err) {
  if (error) *error = what + ": " + std::strerror(err);
  return -err;
}
}  // namespace

const char* worker_counter_name(uint32_t index) {
  return index < kWorkerCounterCount ? kWorkerCounterNames[index] : nullptr;
}

const char* span_name(uint32_t index) { return index < kSpanCount ? kSpanNames[index] : nullptr; }

CounterRegion::~CounterRegion() { close(); }

int CounterRegion::open(const std::string& path, bool create, std::string* error) {
  close();
  // A new file, never an existing one or a link planted in a shared directory like /dev/shm.
  if (create) ::unlink(path.c_str());
  int fd = ::open(path.c_str(),
                  create ? (O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC) : (O_RDWR | O_NOFOLLOW | O_CLOEXEC),
                  0600);
  if (fd < 0) return fail(error, "open(" + path + ")", errno);
  // ftruncate on a fresh file gives zero pages that the kernel allocates only when touched.
  if (create && ftruncate(fd, sizeof(Region)) != 0) {
    int err = errno;
    ::close(fd);
    return fail(error, "ftruncate(" + path + ")", err);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || size_t(st.st_size) < sizeof(Region)) {
    ::close(fd);
    return fail(error, "counter file " + path + " is smaller than the layout", EINVAL);
  }
  void* map = mmap(nullptr, sizeof(Region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);
  if (map == MAP_FAILED) return fail(error, "mmap(" + path + ")", err);
  region_ = static_cast<Region*>(map);
  RegionHeader& h = region_->header;
  if (create) {
    h.layout_version = kRegionLayoutVersion;
    h.worker_block_size = sizeof(WorkerBlock);
    h.max_workers = kMaxWorkers;
    h.max_rule_slots = kMaxRuleSlots;
    h.max_output_slots = kMaxOutputSlots;
    h.worker_counter_slots = kWorkerCounterSlots;
    __atomic_store_n(&h.magic, kRegionMagic, __ATOMIC_RELEASE);
  } else if (__atomic_load_n(&h.magic, __ATOMIC_ACQUIRE) != kRegionMagic ||
             h.layout_version != kRegionLayoutVersion || h.worker_block_size != sizeof(WorkerBlock)) {
    close();
    return fail(error, "counter file " + path + " has another layout", EINVAL);
  }
  return 0;
}

void CounterRegion::close() {
  if (region_) munmap(region_, sizeof(Region));
  region_ = nullptr;
}

}  // namespace mcr
