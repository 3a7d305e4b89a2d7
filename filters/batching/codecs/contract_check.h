#pragma once
// Checks the BatchCodec contract on concrete inputs, for fuzzers and tests:
//   - parse() classifies every body, with a reason for PassThrough/Invalid and
//     rows >= 1, a key and state for Batchable;
//   - merge() of equal-key items is itself a batchable request with the same key
//     and the summed rows (merging is closed under parsing);
//   - split() of the echo model's answer to a merged batch gives every caller the
//     same response it would have got alone (apportioned "usage" aside);
//   - split() of an arbitrary upstream answer either fails the whole batch with an
//     error or answers every caller, never anything in between.
// Pure: no I/O.

#include <span>
#include <string>
#include <string_view>

#include "filters/batching/codecs/batch_codec.h"

namespace rampart::batching {

// Runs the checks on `requests` (bodies for `path`) and one arbitrary upstream reply.
// Returns "" when the contract holds, else what was violated.
std::string checkCodecContract(const BatchCodec& codec, std::string_view path,
                               std::span<const std::string_view> requests, int upstream_status,
                               std::string_view upstream_body);

}  // namespace rampart::batching
