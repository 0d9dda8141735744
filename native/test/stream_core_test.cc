// Unit tests of the plain C++ stream core (native/stream_core.{h,cc}): buffer pool, output
// queue policies, read batch, stream state rules, and a randomized model check of the output
// queue. Built and run by native/test/run.sh (from test/native/stream-core.test.ts when a C++
// compiler is present); exits non-zero on the first failed check.
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "output_model.h"

using namespace kvstore::io;

#define CHECK(cond) MODEL_CHECK(cond)

static int checks = 0;
#define TEST(name) static void name()
#define RUN(name)                       \
  do {                                  \
    name();                             \
    std::printf("ok %s\n", #name);      \
    checks++;                           \
  } while (0)

TEST(pool_reuses_and_bounds) {
  BufferPool pool(2, 16 * 1024);
  size_t cap = 0;
  char* a = pool.take(10, &cap);
  CHECK(cap == BufferPool::kMinBuffer);
  pool.give(a, cap);
  CHECK(pool.count() == 1 && pool.bytes() == cap);
  size_t cap2 = 0;
  char* b = pool.take(100, &cap2);
  CHECK(b == a && cap2 == cap);  // the spare buffer is reused, no malloc
  CHECK(pool.count() == 0 && pool.bytes() == 0);
  char* big = pool.take(64 * 1024, &cap2);
  CHECK(cap2 == 64 * 1024);
  pool.give(big, cap2);  // above maxPooled: freed, not kept
  CHECK(pool.count() == 0);
  size_t c1, c2, c3;
  char* x = pool.take(1, &c1);
  char* y = pool.take(1, &c2);
  char* z = pool.take(1, &c3);
  pool.give(x, c1);
  pool.give(y, c2);
  pool.give(z, c3);  // the pool is full at 2
  CHECK(pool.count() == 2);
  pool.give(b, cap);
  CHECK(pool.count() == 2);
  pool.give(nullptr, 0);
  pool.shrink(1);  // the memory trim: spares beyond 1 freed
  CHECK(pool.count() == 1 && pool.bytes() == BufferPool::kMinBuffer);
  pool.shrink(0);
  CHECK(pool.count() == 0 && pool.bytes() == 0);
  char* again = pool.take(1, &c1);  // still usable after
  CHECK(c1 == BufferPool::kMinBuffer);
  pool.give(again, c1);
  CHECK(pool.count() == 1);
}

TEST(client_output_holds_nothing_when_empty) {
  BufferPool pool;
  OutputQueue q;
  const OutputPolicy& policy = kClientOutput;
  CHECK(q.allocated() == 0 && q.queued() == 0);
  q.append(pool, "+OK\r\n", 5);
  CHECK(q.pendingSize() == 5 && q.queued() == 5 && q.allocated() >= 5);
  CHECK(std::memcmp(q.pendingData(), "+OK\r\n", 5) == 0);
  CHECK(!q.took(pool, policy, 5));  // the kernel took all
  CHECK(q.allocated() == 0 && q.queued() == 0);
  CHECK(pool.count() == 1);  // back in the pool for the next reply of any stream
  q.append(pool, "x", 1);
  CHECK(pool.count() == 0);
  q.reset(pool);
  CHECK(pool.count() == 1);
}

TEST(partial_write_moves_rest_in_flight) {
  BufferPool pool;
  OutputQueue q;
  const OutputPolicy& policy = kClientOutput;
  q.append(pool, "abcdef", 6);
  CHECK(q.took(pool, policy, 2));
  CHECK(q.writing() && q.inflightSize() == 4 && std::memcmp(q.inflightData(), "cdef", 4) == 0);
  CHECK(q.pendingSize() == 0 && q.queued() == 4);
  q.append(pool, "gh", 2);  // appends during the write go to a new pending buffer
  CHECK(q.queued() == 6 && q.pendingSize() == 2);
  q.inflightDone(pool, policy);
  CHECK(!q.writing() && q.queued() == 2);
  CHECK(!q.took(pool, policy, 2));
  CHECK(q.allocated() == 0);
  q.append(pool, "zz", 2);
  CHECK(q.took(pool, policy, 0) && q.inflightSize() == 2);  // EAGAIN: nothing taken, all goes async
  q.reset(pool);
  CHECK(q.allocated() == 0 && !q.writing());
}

TEST(backend_output_keeps_one_buffer_up_to_keep) {
  BufferPool pool;
  OutputQueue q;
  const OutputPolicy policy{true, 64 * 1024};
  q.append(pool, "PING\r\n", 6);
  size_t held = q.allocated();
  CHECK(!q.took(pool, policy, 6));
  CHECK(q.allocated() == held && held > 0);  // kept for the next turn
  std::vector<char> big(200 * 1024, 'x');
  q.append(pool, big.data(), big.size());
  CHECK(!q.took(pool, policy, big.size()));
  CHECK(q.allocated() == 0);  // grew above keep: given back
  q.append(pool, "a", 1);
  CHECK(q.took(pool, policy, 0));
  q.inflightDone(pool, policy);  // the finished buffer becomes pending again
  CHECK(q.allocated() > 0 && q.pendingSize() == 0 && !q.writing());
  q.reset(pool);
  CHECK(kBackendOutput.hold && !kClientOutput.hold);
}

TEST(read_batch_delivers_when_full) {
  std::vector<char> arena(256 * 1024);
  int32_t events[3 * 4];
  ReadBatch b;
  b.bind(arena.data(), arena.size(), events, 4);
  CHECK(b.room() == arena.data() && b.roomSize() == arena.size());
  CHECK(!b.record(7, 100));
  CHECK(events[0] == 7 && events[1] == 0 && events[2] == 100);
  CHECK(b.room() == arena.data() + 100 && b.count() == 1);
  CHECK(!b.record(8, 50));
  CHECK(events[3] == 8 && events[4] == 100 && events[5] == 150);
  // Below kMinRoom left: deliver now.
  CHECK(b.record(9, arena.size() - 150 - ReadBatch::kMinRoom + 1));
  b.reset();
  CHECK(b.count() == 0 && b.used() == 0);
  for (int i = 0; i < 3; i++) CHECK(!b.record(i, 1));
  CHECK(b.record(3, 1));  // the event list is full
}

TEST(stream_state_rules) {
  StreamState s;
  CHECK(&s.output() == &kClientOutput);
  s.backend = true;
  CHECK(&s.output() == &kBackendOutput);
  CHECK(!s.usable() && !s.shouldRead());
  s.open = true;
  CHECK(s.shouldRead() && s.canWrite(false) && !s.canWrite(true));
  s.connecting = true;
  CHECK(!s.shouldRead() && !s.canWrite(false));
  s.connecting = false;
  s.paused = true;
  CHECK(!s.shouldRead());
  s.paused = false;
  s.wantShutdown = true;
  CHECK(!s.shouldShutdown(false, 3));  // output first
  CHECK(!s.shouldShutdown(true, 0));   // a write is in flight
  CHECK(s.shouldShutdown(false, 0));
  s.shutdownSent = true;
  CHECK(!s.shouldShutdown(false, 0));  // once
  s.shutdownDone = true;
  CHECK(!s.finished());
  s.eof = true;
  CHECK(s.finished() && !s.shouldRead());
  s.closing = true;
  CHECK(!s.usable() && !s.canWrite(false));
}

TEST(output_model_random) {
  std::mt19937 rng(12345);
  std::vector<uint8_t> ops;
  for (int round = 0; round < 2000; round++) {
    ops.resize(1 + (rng() % 400));
    for (uint8_t& o : ops) o = static_cast<uint8_t>(rng());
    runOutputModel(ops.data(), ops.size());
  }
}

int main() {
  RUN(pool_reuses_and_bounds);
  RUN(client_output_holds_nothing_when_empty);
  RUN(partial_write_moves_rest_in_flight);
  RUN(backend_output_keeps_one_buffer_up_to_keep);
  RUN(read_batch_delivers_when_full);
  RUN(stream_state_rules);
  RUN(output_model_random);
  std::printf("%d tests passed\n", checks);
  return 0;
}
