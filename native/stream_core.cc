// See stream_core.h.
#include "stream_core.h"

#include <cstdlib>
#include <cstring>

namespace kvstore {
namespace io {

namespace {

char* allocOrDie(size_t n) {
  char* p = static_cast<char*>(std::malloc(n));
  if (p == nullptr) std::abort();
  return p;
}

}  // namespace

BufferPool::~BufferPool() {
  for (const Spare& s : free_) std::free(s.p);
}

char* BufferPool::take(size_t n, size_t* cap) {
  if (!free_.empty() && n <= maxPooled_) {
    // Spare buffers are at most maxPooled_: take the last one, growing it if it is short.
    Spare s = free_.back();
    free_.pop_back();
    bytes_ -= s.cap;
    if (s.cap >= n) {
      *cap = s.cap;
      return s.p;
    }
    std::free(s.p);
  }
  size_t c = n < kMinBuffer ? kMinBuffer : n;
  *cap = c;
  return allocOrDie(c);
}

void BufferPool::give(char* p, size_t cap) {
  if (p == nullptr) return;
  if (cap > maxPooled_ || free_.size() >= maxBuffers_) {
    std::free(p);
    return;
  }
  free_.push_back({p, cap});
  bytes_ += cap;
}

void BufferPool::shrink(size_t keep) {
  while (free_.size() > keep) {
    bytes_ -= free_.back().cap;
    std::free(free_.back().p);
    free_.pop_back();
  }
  if (free_.empty()) std::vector<Spare>().swap(free_);
}

OutputQueue::~OutputQueue() {
  // reset() gave the buffers back; anything left here would leak: free it rather than lose it.
  std::free(pending_);
  if (inflight_ != nullptr) std::free(inflight_->p);
  delete inflight_;
}

void OutputQueue::append(BufferPool& pool, const char* p, size_t n) {
  if (n == 0) return;
  size_t need = pendingLen_ + n;
  if (need > pendingCap_) {
    if (pending_ == nullptr) {
      pending_ = pool.take(need, &pendingCap_);
    } else {
      size_t cap = pendingCap_ * 2;
      if (cap < need) cap = need;
      char* grown = static_cast<char*>(std::realloc(pending_, cap));
      if (grown == nullptr) std::abort();
      pending_ = grown;
      pendingCap_ = cap;
    }
  }
  std::memcpy(pending_ + pendingLen_, p, n);
  pendingLen_ = need;
}

void OutputQueue::releasePending(BufferPool& pool) {
  if (pending_ != nullptr) pool.give(pending_, pendingCap_);
  pending_ = nullptr;
  pendingLen_ = 0;
  pendingCap_ = 0;
}

bool OutputQueue::took(BufferPool& pool, const OutputPolicy& policy, size_t n) {
  if (n > pendingLen_) n = pendingLen_;
  if (n == pendingLen_) {
    if (policy.hold && pendingCap_ <= policy.keep) pendingLen_ = 0;
    else releasePending(pool);
    return false;
  }
  // The rest goes out asynchronously from this buffer; pending starts over.
  inflight_ = new Inflight{pending_, pendingLen_, n, pendingCap_};
  pending_ = nullptr;
  pendingLen_ = 0;
  pendingCap_ = 0;
  return true;
}

void OutputQueue::inflightDone(BufferPool& pool, const OutputPolicy& policy) {
  if (inflight_ == nullptr) return;
  if (policy.hold && pending_ == nullptr && inflight_->cap <= policy.keep) {
    // A backend keeps one buffer: the finished one becomes pending again.
    pending_ = inflight_->p;
    pendingCap_ = inflight_->cap;
    pendingLen_ = 0;
  } else {
    pool.give(inflight_->p, inflight_->cap);
  }
  delete inflight_;
  inflight_ = nullptr;
}

void OutputQueue::reset(BufferPool& pool) {
  releasePending(pool);
  if (inflight_ != nullptr) pool.give(inflight_->p, inflight_->cap);
  delete inflight_;
  inflight_ = nullptr;
}

void ReadBatch::bind(char* arena, size_t arenaCap, int32_t* events, size_t eventCap) {
  arena_ = arena;
  cap_ = arenaCap;
  events_ = events;
  eventCap_ = eventCap;
  reset();
}

bool ReadBatch::record(int32_t id, size_t n) {
  int32_t* ev = events_ + 3 * count_++;
  ev[0] = id;
  ev[1] = static_cast<int32_t>(used_);
  used_ += n;
  ev[2] = static_cast<int32_t>(used_);
  return count_ == eventCap_ || cap_ - used_ < kMinRoom;
}

}  // namespace io
}  // namespace kvstore
