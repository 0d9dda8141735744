// The data-path stream logic that needs neither libuv nor N-API: output buffers and their
// memory policy, the read batch (arena + event list), and the state rules of one stream.
//
// Why a separate layer: these are the parts with arithmetic that can go wrong (offsets, partial
// writes, buffer reuse), and here they are plain C++ that native/test/stream_core_test.cc and
// native/fuzz/fuzz_stream_core.cc drive directly. io_loop.cc performs the libuv calls these
// classes decide on; io_stream.cc is the N-API glue.
//
// Memory per idle connection is the point of the buffer policy: a client stream holds an output
// buffer only while it has bytes queued. Once the kernel took everything, the buffer goes back to
// a small per-thread pool (BufferPool), from which the next reply of any stream takes it, so the
// request/reply hot path does not call malloc, and 100,000 idle clients hold no output memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvstore {
namespace io {

// Largest single write handed to the kernel (uv_buf_t lengths are 32-bit).
constexpr size_t kMaxWrite = size_t{1} << 30;

// Spare output buffers of one thread. Buffers up to `maxPooled` bytes are kept, at most
// `maxBuffers` of them; anything else is freed. Not thread-safe (one per event loop).
class BufferPool {
 public:
  static constexpr size_t kMinBuffer = 4096;

  BufferPool(size_t maxBuffers = 256, size_t maxPooled = 16 * 1024) : maxBuffers_(maxBuffers), maxPooled_(maxPooled) {}
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer of at least `n` bytes; its capacity in *cap. Never null (aborts when out of memory,
  // like std::vector would).
  char* take(size_t n, size_t* cap);
  // Give back a buffer from take() (or grow()); null is ignored.
  void give(char* p, size_t cap);
  // Free spare buffers beyond `keep` (the worker's memory trim, after many clients went quiet).
  void shrink(size_t keep);

  // Bytes held by spare buffers, and how many.
  size_t bytes() const { return bytes_; }
  size_t count() const { return free_.size(); }

 private:
  struct Spare {
    char* p;
    size_t cap;
  };
  std::vector<Spare> free_;
  size_t bytes_ = 0;
  size_t maxBuffers_;
  size_t maxPooled_;
};

// How a stream's output buffers are kept (see OutputQueue).
struct OutputPolicy {
  bool hold;    // keep the emptied pending buffer (else it goes back to the pool at once)
  size_t keep;  // above this capacity a buffer is never kept
};
// Accepted clients: a buffer only while output is queued (the pool makes that free of malloc);
// 16 KiB at most goes back to the pool, like Redis's per-client reply buffer.
constexpr OutputPolicy kClientOutput{false, 16 * 1024};
// Outgoing (backend) streams are few and carry every client's commands of a turn: one buffer of
// up to 1 MiB is kept between turns.
constexpr OutputPolicy kBackendOutput{true, 1024 * 1024};

// The output of one stream: `pending` (appended, not handed to the kernel yet) and, only while
// an asynchronous write runs, the in-flight buffer (sent from an offset). One asynchronous write
// at a time: while it runs, appends go to a new pending buffer. 32 bytes: the pool and the
// policy are the owner's and passed in (an idle client's state is kept small).
class OutputQueue {
 public:
  OutputQueue() = default;
  ~OutputQueue();  // must be reset() first (the buffers belong to a pool)
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  void append(BufferPool& pool, const char* p, size_t n);

  const char* pendingData() const { return pending_; }
  size_t pendingSize() const { return pendingLen_; }

  // A write is in flight (started by took(), finished by inflightDone()).
  bool writing() const { return inflight_ != nullptr; }
  const char* inflightData() const { return inflight_->p + inflight_->off; }
  size_t inflightSize() const { return inflight_->len - inflight_->off; }

  // Bytes not yet taken by the kernel: pending + the rest of the in-flight write.
  size_t queued() const { return pendingLen_ + (writing() ? inflightSize() : 0); }
  // Bytes of buffer this stream holds (capacity, pending + inflight).
  size_t allocated() const { return pendingCap_ + (writing() ? inflight_->cap : 0); }

  // The kernel took `n` (≤ pendingSize()) bytes of pending synchronously. All of it: pending is
  // emptied (its buffer kept or given back by the policy). Less: the rest becomes the in-flight
  // write (returns true: the caller must start it) and pending starts empty.
  // Must not be called while writing().
  bool took(BufferPool& pool, const OutputPolicy& policy, size_t n);

  // The in-flight write finished (or was cancelled): its buffer goes back.
  void inflightDone(BufferPool& pool, const OutputPolicy& policy);

  // Drop everything (the stream closed); buffers go back to the pool.
  void reset(BufferPool& pool);

 private:
  struct Inflight {
    char* p;
    size_t len, off, cap;
  };
  void releasePending(BufferPool& pool);

  char* pending_ = nullptr;
  size_t pendingLen_ = 0;
  size_t pendingCap_ = 0;
  Inflight* inflight_ = nullptr;  // allocated only while a write is in flight
};

// Reads of one event-loop turn: each read lands at the next free offset of one arena shared by
// every stream of the thread and is recorded as (stream id, start, end). The batch is handed to
// JS in one call per turn, or earlier when the arena has less than `minRoom` left or the event
// list is full.
class ReadBatch {
 public:
  static constexpr size_t kMinRoom = 64 * 1024;

  // `events` holds 3 int32 per read. Requires arenaCap ≥ 2 * kMinRoom and eventCap ≥ 1.
  void bind(char* arena, size_t arenaCap, int32_t* events, size_t eventCap);
  bool bound() const { return arena_ != nullptr; }

  // Where the next read goes (always at least kMinRoom bytes after a delivery).
  char* room() const { return arena_ + used_; }
  size_t roomSize() const { return cap_ - used_; }

  // Record a read of `n` bytes at room(); true when the batch must be delivered now.
  bool record(int32_t id, size_t n);

  size_t count() const { return count_; }
  size_t used() const { return used_; }
  size_t arenaBytes() const { return cap_; }
  const int32_t* events() const { return events_; }

  // The batch was consumed: arena and event list are free again.
  void reset() {
    count_ = 0;
    used_ = 0;
  }

 private:
  char* arena_ = nullptr;
  size_t cap_ = 0;
  size_t used_ = 0;
  int32_t* events_ = nullptr;
  size_t eventCap_ = 0;
  size_t count_ = 0;
};

// The state of one stream and the rules on it (what libuv call is due). Flags only; io_loop.cc
// performs the calls and reports their outcome here.
struct StreamState {
  bool open : 1;          // a socket is attached
  bool connecting : 1;    // outgoing connect in progress
  bool closing : 1;       // close requested (no more I/O)
  bool reading : 1;       // uv_read_start is active
  bool paused : 1;        // JS asked not to read
  bool eof : 1;           // the peer's FIN arrived
  bool wantShutdown : 1;  // JS asked for FIN after the output
  bool shutdownSent : 1;
  bool shutdownDone : 1;
  bool backend : 1;       // an outgoing stream (kBackendOutput), else an accepted client

  StreamState()
      : open(false), connecting(false), closing(false), reading(false), paused(false), eof(false),
        wantShutdown(false), shutdownSent(false), shutdownDone(false), backend(false) {}

  const OutputPolicy& output() const { return backend ? kBackendOutput : kClientOutput; }
  bool usable() const { return open && !closing; }
  // A write (try or async) may be issued now.
  bool canWrite(bool writing) const { return usable() && !connecting && !writing; }
  // Reading should be (re)started now.
  bool shouldRead() const { return usable() && !connecting && !paused && !eof && !reading; }
  // The FIN is due: asked for, output fully written.
  bool shouldShutdown(bool writing, size_t pending) const {
    return wantShutdown && !shutdownSent && canWrite(writing) && pending == 0;
  }
  // Both directions finished: the stream can close.
  bool finished() const { return eof && shutdownDone; }
};

}  // namespace io
}  // namespace kvstore
