#include "proxy/http/headers.h"

namespace rampart::http {

namespace {
char lowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
}  // namespace

void toLowerAscii(std::string& text) {
  for (char& c : text) c = lowerAscii(c);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

bool headerValueHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (equalsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

void HeaderMap::add(std::string_view name, std::string_view value) {
  if (entries_.empty()) {
    // One allocation each for a typical request head, not one per growth step.
    storage_.reserve(512);
    entries_.reserve(16);
  }
  Entry e{};
  e.name_off = static_cast<uint32_t>(storage_.size());
  e.name_len = static_cast<uint32_t>(name.size());
  storage_.append(name);
  for (size_t i = e.name_off; i < storage_.size(); ++i) storage_[i] = lowerAscii(storage_[i]);
  e.value_off = static_cast<uint32_t>(storage_.size());
  e.value_len = static_cast<uint32_t>(value.size());
  storage_.append(value);
  e.removed = false;
  entries_.push_back(e);
  ++live_;
  bytes_ += name.size() + value.size();
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  for (const Entry& e : entries_) {
    if (!e.removed && e.name_len == name.size() && view(e.name_off, e.name_len) == name) {
      return view(e.value_off, e.value_len);
    }
  }
  return std::nullopt;
}

void HeaderMap::set(std::string_view name, std::string_view value) {
  // `value` may point into storage_, which add() can reallocate: copy it only then.
  const bool inside =
      value.data() >= storage_.data() && value.data() < storage_.data() + storage_.size();
  if (inside) {
    const std::string copy(value);
    remove(name);
    add(name, copy);
    return;
  }
  remove(name);
  add(name, value);
}

size_t HeaderMap::remove(std::string_view name) {
  size_t removed = 0;
  for (Entry& e : entries_) {
    if (!e.removed && e.name_len == name.size() && view(e.name_off, e.name_len) == name) {
      e.removed = true;
      --live_;
      bytes_ -= e.name_len + e.value_len;
      ++removed;
    }
  }
  return removed;
}

void HeaderMap::clear() {
  storage_.clear();
  entries_.clear();
  live_ = 0;
  bytes_ = 0;
}

}  // namespace rampart::http
