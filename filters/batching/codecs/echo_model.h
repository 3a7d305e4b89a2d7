#pragma once
// An identity "model" for the three batching wire formats: given a merged upstream
// request, it builds the 200 body a backend would send if every output row were a
// copy of its input row. Tests, fuzzers and benchmarks use it to check that merge
// and split hand every caller exactly its own rows; the example GPU backend may use
// it too. Pure: no I/O.

#include <optional>
#include <string>
#include <string_view>

#include "filters/batching/codecs/batch_codec.h"

namespace rampart::batching {

// The echo response to `request` (a body in `format`), or nullopt if it is not a
// well-formed request of that format.
//   kserve_v2:         one output "<input>__echo" per input, same shape/datatype/data,
//                      with model_name/model_version "echo"/"1" and the request id.
//   tfserving:         {"predictions": instances}.
//   openai_embeddings: data[i].embedding = [length of input i, its first char or token],
//                      usage.prompt_tokens = total_tokens = sum of input lengths.
std::optional<std::string> echoResponse(Format format, std::string_view request);

}  // namespace rampart::batching
