// SPDX-License-Identifier: MIT
// The counter file: created and zeroed by the supervisor, attached by each data-plane process.
#include "mcr/counters.h"

#include "mcr/fail.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
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

}  // namespace

const char* worker_counter_name(uint32_t index) {
  return index < kWorkerCounterCount ? kWorkerCounterNames[index] : nullptr;
}

const char* span_name(uint32_t index) { return index < kSpanCount ? kSpanNames[index] : nullptr; }

CounterRegion::~CounterRegion() { close(); }

namespace {
// Whether nobody holds a lock on the open file `fd`; if so, this call now holds it exclusively.
bool take_if_unlocked(int fd) { return flock(fd, LOCK_EX | LOCK_NB) == 0; }

bool same_file(int fd, const std::string& path) {
  struct stat by_fd, by_path;
  return fstat(fd, &by_fd) == 0 && lstat(path.c_str(), &by_path) == 0 && by_fd.st_dev == by_path.st_dev &&
         by_fd.st_ino == by_path.st_ino;
}

// Unlinks `path` if it is a regular file of ours that nobody holds locked. Returns true if it did.
bool remove_if_stale(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool removed = false;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() && take_if_unlocked(fd) &&
      same_file(fd, path))
    removed = ::unlink(path.c_str()) == 0;
  ::close(fd);
  return removed;
}
}  // namespace

// The file is made nameless (O_TMPFILE), locked, sized and stamped, and only then linked under
// its name: no reader sees it half made, and a crash before the link leaves nothing behind.
// Where the file system has no O_TMPFILE, a temporary name (never matched by the sweep) stands in.
int CounterRegion::create_file(const std::string& path, std::string* temp_name, std::string* error) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  temp_name->clear();
  int fd = ::open(dir.c_str(), O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string name = path + ".XXXXXX";
    fd = mkostemp(name.data(), O_CLOEXEC);
    if (fd >= 0) *temp_name = name;
  }
  if (fd < 0) return fail(error, "creating the counter file " + path, errno);
  if (flock(fd, LOCK_SH) != 0 || ftruncate(fd, sizeof(Region)) != 0) {
    int err = errno;
    ::close(fd);
    if (!temp_name->empty()) ::unlink(temp_name->c_str());
    return fail(error, "preparing counter file " + path, err);
  }
  return fd;
}

int CounterRegion::open(const std::string& path, bool create, std::string* error) {
  close();
  std::string temp_name;
  int fd = create ? create_file(path, &temp_name, error) : ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return create ? fd : fail(error, "open(" + path + ")", errno);
  if (!create && flock(fd, LOCK_SH) != 0) {
    int err = errno;
    ::close(fd);
    return fail(error, "flock(" + path + ")", err);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || size_t(st.st_size) < sizeof(Region)) {
    ::close(fd);
    return fail(error, "counter file " + path + " is smaller than the layout", EINVAL);
  }
  // ftruncate on a fresh file gives zero pages that the kernel allocates only when touched.
  void* map = mmap(nullptr, sizeof(Region), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    int err = errno;
    ::close(fd);
    return fail(error, "mmap(" + path + ")", err);
  }
  region_ = static_cast<Region*>(map);
  lock_fd_ = fd;
  path_ = path;
  RegionHeader& h = region_->header;
  if (create) {
    h.layout_version = kRegionLayoutVersion;
    h.worker_block_size = sizeof(WorkerBlock);
    h.max_workers = kMaxWorkers;
    h.max_rule_slots = kMaxRuleSlots;
    h.max_output_slots = kMaxOutputSlots;
    h.worker_counter_slots = kWorkerCounterSlots;
    __atomic_store_n(&h.magic, kRegionMagic, __ATOMIC_RELEASE);
    // Named only now. A name already taken is a dead daemon's file (replaced) or a live one's
    // (refused: two daemons must never share counters).
    const std::string self = "/proc/self/fd/" + std::to_string(fd);
    int err = 0;
    for (int attempt = 0;; ++attempt) {
      const int rc = temp_name.empty() ? linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW)
                                       : link(temp_name.c_str(), path.c_str());
      err = rc == 0 ? 0 : errno;
      if (err == EEXIST && attempt == 0 && remove_if_stale(path)) continue;
      break;
    }
    if (!temp_name.empty()) ::unlink(temp_name.c_str());
    if (err != 0) {
      close();
      return fail(error, "counter file " + path + (err == EEXIST ? " belongs to a running process" : ""), err);
    }
  } else if (__atomic_load_n(&h.magic, __ATOMIC_ACQUIRE) != kRegionMagic || h.layout_version != kRegionLayoutVersion ||
             h.worker_block_size != sizeof(WorkerBlock)) {
    close();
    return fail(error, "counter file " + path + " has another layout", EINVAL);
  }
  return 0;
}

void CounterRegion::close() {
  if (region_) munmap(region_, sizeof(Region));
  region_ = nullptr;
  if (lock_fd_ >= 0) ::close(lock_fd_);  // drops the lock
  lock_fd_ = -1;
  path_.clear();
}

int remove_stale_counter_files(const std::string& dir, std::vector<std::string>* removed, std::string* error) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return fail(error, "opendir(" + dir + ")", errno);
  const std::string prefix = kCounterFilePrefix, suffix = kCounterFileSuffix;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string path = dir + "/" + name;
    if (remove_if_stale(path)) removed->push_back(path);
  }
  closedir(d);
  return 0;
}

}  // namespace mcr
