#include "proxy/event/buffer.h"

#include <event2/buffer.h>

#include <stdexcept>
#include <utility>

namespace rampart::event {

Buffer::Buffer() : raw_(nullptr), owned_(true) {}

evbuffer* Buffer::ensure() {
  if (!raw_) {
    raw_ = evbuffer_new();
    if (!raw_) throw std::bad_alloc();
  }
  return raw_;
}

Buffer::~Buffer() {
  if (owned_ && raw_) evbuffer_free(raw_);
}

Buffer::Buffer(Buffer&& other) noexcept
    : raw_(std::exchange(other.raw_, nullptr)), owned_(other.owned_) {}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    if (owned_ && raw_) evbuffer_free(raw_);
    raw_ = std::exchange(other.raw_, nullptr);
    owned_ = other.owned_;
  }
  return *this;
}

size_t Buffer::length() const {
  return raw_ ? evbuffer_get_length(raw_) : 0;
}

void Buffer::add(std::string_view data) {
  if (!data.empty()) evbuffer_add(ensure(), data.data(), data.size());
}

void Buffer::moveFrom(Buffer& other) {
  if (other.empty()) return;
  evbuffer_add_buffer(ensure(), other.raw_);
}

size_t Buffer::moveFrom(Buffer& other, size_t n) {
  if (other.empty()) return 0;
  const int moved = evbuffer_remove_buffer(other.raw_, ensure(), n);
  return moved > 0 ? static_cast<size_t>(moved) : 0;
}

void Buffer::copyFrom(const Buffer& other) {
  other.forEachChunk([this](std::string_view chunk) {
    add(chunk);
    return true;
  });
}

void Buffer::drain(size_t n) {
  if (raw_) evbuffer_drain(raw_, n);
}

std::string Buffer::toString() const {
  std::string out;
  out.reserve(length());
  forEachChunk([&out](std::string_view chunk) {
    out.append(chunk);
    return true;
  });
  return out;
}

size_t Buffer::peekChunks(std::string_view* chunks, size_t max, size_t* next_offset) const {
  evbuffer_iovec vec[16];
  if (!raw_) return 0;
  if (max > 16) max = 16;
  evbuffer_ptr start;
  if (evbuffer_ptr_set(raw_, &start, *next_offset, EVBUFFER_PTR_SET) != 0) return 0;
  const int n = evbuffer_peek(raw_, -1, &start, vec, static_cast<int>(max));
  const size_t filled = n < 0 ? 0 : std::min(static_cast<size_t>(n), max);
  for (size_t i = 0; i < filled; ++i) {
    chunks[i] = std::string_view(static_cast<const char*>(vec[i].iov_base), vec[i].iov_len);
    *next_offset += vec[i].iov_len;
  }
  return filled;
}

}  // namespace rampart::event
