#pragma once
// An ordered header list with lower-case names, stored in one flat string so a
// request's headers cost two allocations (and none once the map is reused).
// Views returned by get() stay valid until the next mutation.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::http {

// Lower-cases ASCII in place.
void toLowerAscii(std::string& text);
// Case-insensitive ASCII equality.
bool equalsIgnoreCase(std::string_view a, std::string_view b);
// True when `list` (a comma-separated header value) contains `token`, case-insensitively.
bool headerValueHasToken(std::string_view list, std::string_view token);

class HeaderMap {
 public:
  // Appends a header; `name` is lower-cased.
  void add(std::string_view name, std::string_view value);
  // The first value of `name` (lower-case), if present.
  std::optional<std::string_view> get(std::string_view name) const;
  // Replaces every value of `name` with one value.
  void set(std::string_view name, std::string_view value);
  // Removes every header called `name`; returns how many.
  size_t remove(std::string_view name);
  // Removes every header for which pred(name) is true, in one pass; returns how many.
  template <class Pred>
  size_t removeIf(Pred&& pred) {
    size_t removed = 0;
    for (Entry& e : entries_) {
      if (!e.removed && pred(view(e.name_off, e.name_len))) {
        e.removed = true;
        --live_;
        bytes_ -= e.name_len + e.value_len;
        ++removed;
      }
    }
    return removed;
  }
  // Number of headers / total bytes of names and values.
  size_t size() const { return live_; }
  size_t byteSize() const { return bytes_; }
  bool empty() const { return live_ == 0; }
  void clear();
  // Calls fn(name, value) for each header in order.
  template <class Fn>
  void forEach(Fn&& fn) const {
    for (const Entry& e : entries_) {
      if (!e.removed) fn(view(e.name_off, e.name_len), view(e.value_off, e.value_len));
    }
  }

 private:
  struct Entry {
    uint32_t name_off, name_len, value_off, value_len;
    bool removed;
  };
  std::string_view view(uint32_t off, uint32_t len) const {
    return std::string_view(storage_).substr(off, len);
  }
  std::string storage_;
  std::vector<Entry> entries_;
  size_t live_ = 0;
  size_t bytes_ = 0;
};

}  // namespace rampart::http
