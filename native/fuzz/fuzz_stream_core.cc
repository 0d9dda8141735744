// libFuzzer harness for the stream core's output queue: the input is an op list (append,
// partial synchronous write, asynchronous completion) run against a model (see
// native/test/output_model.h): bytes leave in order and exactly once, queued/allocated stay
// true, a client stream holds no buffer when nothing is queued.
#include <cstddef>
#include <cstdint>

#include "../test/output_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvstore::io::runOutputModel(data, size);
  return 0;
}
