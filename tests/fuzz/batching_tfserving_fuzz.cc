// Fuzzes the tfserving batching codec: parse of arbitrary bodies, merge + split
// round trips of whatever parses (each caller must get what it would get alone),
// and split of an arbitrary upstream reply.
// Input: up to four parts separated by 0x1E: request, request, upstream body, path.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>
#include <vector>

#include "filters/batching/codecs/batch_codec.h"
#include "filters/batching/codecs/contract_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace rampart::batching;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() < 3) {
    auto sep = input.find('\x1e');
    if (sep == std::string_view::npos) break;
    parts.push_back(input.substr(0, sep));
    input.remove_prefix(sep + 1);
  }
  parts.push_back(input);
  const std::string_view path = parts.size() > 3 ? parts[3] : "/v1/models/m:predict";
  const std::string_view upstream = parts.size() > 2 ? parts[2] : "";
  const std::vector<std::string_view> requests(
      parts.begin(), parts.begin() + std::min<std::size_t>(parts.size(), 2));
  // Vary the status with the input so the non-2xx path is reached too.
  const int status = upstream.size() % 7 == 3 ? 500 : 200;
  static const auto codec = makeCodec(Format::TfServing, CodecOptions{.max_rows = 256});
  if (auto why = checkCodecContract(*codec, path, requests, status, upstream); !why.empty()) {
    std::fprintf(stderr, "batching codec contract violated: %s\n", why.c_str());
    __builtin_trap();
  }
  return 0;
}
