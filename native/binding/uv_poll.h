// SPDX-License-Identifier: MIT
// A uv_poll on the JS thread's loop for one fd, as the protocol sockets' JS faces (IGMP, PIM)
// use it: start is idempotent; stop hands the handle to uv_close (which frees it) and clears its
// data, so a callback already queued finds no owner. No JS is called from here.
#pragma once
#include <napi.h>
#include <uv.h>

#include <cerrno>

namespace mcr::binding {

class UvPoll {
 public:
  UvPoll() = default;
  UvPoll(const UvPoll&) = delete;
  UvPoll& operator=(const UvPoll&) = delete;
  ~UvPoll() { stop(); }

  // Polls `fd` for readability; `owner` is what the callback finds in handle->data. 0 or -errno.
  int start(napi_env env, int fd, uv_poll_cb callback, void* owner) {
    if (poll_) return 0;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || !loop) return -EINVAL;
    auto* handle = new uv_poll_t;
    if (int rc = uv_poll_init(loop, handle, fd); rc != 0) {
      delete handle;
      return rc;
    }
    handle->data = owner;
    if (int rc = uv_poll_start(handle, UV_READABLE, callback); rc != 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(handle), free_handle);
      return rc;
    }
    poll_ = handle;
    return 0;
  }

  void stop() {
    if (!poll_) return;
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), free_handle);
    poll_ = nullptr;
  }

 private:
  static void free_handle(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  uv_poll_t* poll_ = nullptr;
};

}  // namespace mcr::binding
