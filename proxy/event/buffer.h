#pragma once
// A byte queue backed by libevent's evbuffer: appends and moves between
// buffers are chain splices, not copies.

#include <cstddef>
#include <string>
#include <string_view>

struct evbuffer;

namespace rampart::event {

class Buffer {
 public:
  // An empty buffer that owns its storage (allocated on first use: many never get data).
  Buffer();
  // A view of a buffer owned elsewhere (a connection's input or output).
  static Buffer borrow(evbuffer* raw) { return Buffer(raw, false); }
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Number of bytes queued.
  size_t length() const;
  bool empty() const { return length() == 0; }
  // Appends a copy of `data`.
  void add(std::string_view data);
  void add(const void* data, size_t len) {
    add(std::string_view(static_cast<const char*>(data), len));
  }
  // Moves every byte of `other` to the end of this buffer (no copy).
  void moveFrom(Buffer& other);
  // Moves up to `n` bytes from the front of `other`; returns how many moved.
  size_t moveFrom(Buffer& other, size_t n);
  // Appends a copy of `other`'s bytes, leaving `other` intact.
  void copyFrom(const Buffer& other);
  // Removes `n` bytes from the front.
  void drain(size_t n);
  // Calls `fn(std::string_view)` for each contiguous chunk, front to back, until it returns false.
  template <class Fn>
  void forEachChunk(Fn&& fn) const;
  // Copies the contents into a string (for small bodies and tests).
  std::string toString() const;
  // The raw evbuffer (allocated if needed), for the event/ layer only.
  evbuffer* raw() { return ensure(); }

 private:
  Buffer(evbuffer* raw, bool owned) : raw_(raw), owned_(owned) {}
  evbuffer* ensure();
  // Fills up to `max` chunks starting at byte `offset`; returns how many were filled.
  size_t peekChunks(std::string_view* chunks, size_t max, size_t* next_offset) const;

  evbuffer* raw_;
  bool owned_;
};

template <class Fn>
void Buffer::forEachChunk(Fn&& fn) const {
  std::string_view chunks[16];
  size_t offset = 0;
  const size_t total = length();
  while (offset < total) {
    size_t next = offset;
    const size_t n = peekChunks(chunks, 16, &next);
    if (n == 0) return;
    for (size_t i = 0; i < n; ++i) {
      if (!fn(chunks[i])) return;
    }
    offset = next;
  }
}

}  // namespace rampart::event
