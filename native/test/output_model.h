// A model check of OutputQueue shared by the unit test (random op lists) and the fuzz harness
// (op lists from libFuzzer): the bytes the "kernel" takes, in order, must be exactly the bytes
// appended, whatever mix of appends, partial synchronous writes and asynchronous completions
// happens; queued() and allocated() must agree with what is outstanding; and a client stream
// must hold no buffer once nothing is queued.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "../stream_core.h"

#define MODEL_CHECK(cond)                                                          \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

namespace kvstore {
namespace io {

// Interprets `ops` as a list of operations on one OutputQueue (client or backend policy).
inline void runOutputModel(const uint8_t* ops, size_t n) {
  if (n == 0) return;
  BufferPool pool(4, 16 * 1024);
  bool backend = ops[0] & 1;
  const OutputPolicy policy{backend, backend ? size_t{64 * 1024} : size_t{16 * 1024}};
  OutputQueue q;
  std::string appended, sent;
  uint8_t counter = 0;
  for (size_t i = 1; i + 1 < n; i += 2) {
    uint8_t op = ops[i] % 4, arg = ops[i + 1];
    switch (op) {
      case 0: {  // append 1..arg*64 bytes (up to ~16 KiB, so buffers grow past the pool size)
        size_t len = 1 + static_cast<size_t>(arg) * 64;
        std::string bytes(len, '\0');
        for (char& c : bytes) c = static_cast<char>(counter++);
        q.append(pool, bytes.data(), bytes.size());
        appended += bytes;
        break;
      }
      case 1: {  // a synchronous write: the kernel takes arg/255 of pending
        if (q.writing()) break;
        size_t before = q.pendingSize();
        size_t take = before * arg / 255;
        sent.append(q.pendingData(), take);
        bool async = q.took(pool, policy, take);
        MODEL_CHECK(async == (take < before));
        MODEL_CHECK(async == q.writing());
        MODEL_CHECK(q.pendingSize() == 0);
        break;
      }
      case 2: {  // the asynchronous write completes
        if (!q.writing()) break;
        sent.append(q.inflightData(), q.inflightSize());
        q.inflightDone(pool, policy);
        break;
      }
      case 3:  // nothing: lets appends pile up between writes
        break;
    }
    MODEL_CHECK(sent.size() + q.queued() == appended.size());
    MODEL_CHECK(q.allocated() >= q.queued());
    if (!backend && q.queued() == 0) MODEL_CHECK(q.allocated() == 0);
    MODEL_CHECK(pool.count() <= 4);
  }
  // Drain: whatever is left goes out in order.
  if (q.writing()) {
    sent.append(q.inflightData(), q.inflightSize());
    q.inflightDone(pool, policy);
  }
  sent.append(q.pendingData(), q.pendingSize());
  q.took(pool, policy, q.pendingSize());
  MODEL_CHECK(sent == appended);
  MODEL_CHECK(q.queued() == 0);
  q.reset(pool);
  MODEL_CHECK(q.allocated() == 0);
}

}  // namespace io
}  // namespace kvstore
