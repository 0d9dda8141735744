// The data path's sockets on a libuv loop (the one Node runs): TCP streams addressed by small
// integer ids, listeners that accept natively, and the batched delivery of reads. No N-API here:
// events go out through IoEvents, which io_stream.cc implements by calling JS.
//
// Why ids and not one JS wrapper object per stream: an idle client then costs the kernel socket,
// this file's Stream (a uv_tcp_t and a few words; output buffers only while output is queued,
// see stream_core.h) and whatever JS keeps, nothing else.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "stream_core.h"

namespace kvstore {
namespace io {

// What the loop reports. Every call except reads() is preceded by a reads() of the reads
// recorded so far, so a stream's data always precedes its end or close.
class IoEvents {
 public:
  virtual ~IoEvents() = default;
  // `count` reads are in the batch (ReadBatch::events); the arena bytes are valid during the call.
  virtual void reads(size_t count) = 0;
  virtual void end(int32_t id) = 0;      // the peer half-closed (reading stops)
  virtual void drain(int32_t id) = 0;    // output that had to wait is now all written
  virtual void connect(int32_t id) = 0;  // an outgoing connection is up
  // The stream is closed, exactly once; `error` is a libuv error name or null. The id is free
  // again once this returns.
  virtual void close(int32_t id, const char* error) = 0;
  // Listener `listener` accepted stream `id` (paused: nothing is read before readStart).
  virtual void accept(int32_t listener, int32_t id) = 0;
};

struct Stream;
struct Listener;

// Totals over the open streams (for stats).
struct IoTotals {
  size_t streams = 0;
  size_t outputQueued = 0;     // appended or in flight, not taken by the kernel yet
  size_t outputAllocated = 0;  // output buffer capacity held by streams
  size_t poolBytes = 0;        // spare output buffers kept for reuse
  size_t arenaBytes = 0;       // the shared read arena (fixed)
  size_t inputHeld = 0;        // read bytes recorded but not yet handed to JS
  size_t streamStateBytes = 0; // per-stream native state (sizeof(Stream) x streams)
  size_t maxStreamQueued = 0;    // the most output one stream has queued
  size_t maxStreamAllocated = 0; // the most output buffer one stream holds
};

class IoLoop {
 public:
  IoLoop(uv_loop_t* loop, IoEvents* events);
  ~IoLoop();
  IoLoop(const IoLoop&) = delete;
  IoLoop& operator=(const IoLoop&) = delete;

  ReadBatch& batch() { return batch_; }
  // Hand the reads recorded so far to IoEvents::reads (no-op when there are none).
  void deliverReads();

  // ---- streams (negative results are libuv error codes) ----
  // connect(ip literal, port): the stream id; the connect outcome is reported by connect() or
  // close(). Returns UV_EINVAL when `ip` is not an IPv4/IPv6 literal.
  int32_t connect(const char* ip, int port);
  void append(int32_t id, const char* p, size_t n);
  // Hand the output to the kernel; the bytes still queued (0 = all taken).
  size_t flush(int32_t id);
  void readStart(int32_t id);
  void readStop(int32_t id);
  // FIN once the output is written; the stream closes when the peer's FIN is in too.
  void end(int32_t id);
  void destroy(int32_t id);
  void setNoDelay(int32_t id, bool on);
  void setKeepAlive(int32_t id, bool on, unsigned delaySeconds);
  // The peer's address ("ip", port); false when unknown.
  bool peer(int32_t id, char* name, size_t nameLen, int* port);
  // Queued and allocated output bytes of one stream; false when the id is not open.
  bool buffered(int32_t id, size_t* queued, size_t* allocated);

  // ---- listeners ----
  // Bind ip:port (port 0: any free port; reusePort: SO_REUSEPORT, each process binds its own
  // socket and the kernel balances connections) and listen. Returns the listener id, or a
  // negative libuv error (e.g. UV_EADDRINUSE); *boundPort receives the port.
  int32_t listen(const char* ip, int port, int backlog, bool reusePort, int* boundPort);
  void closeListener(int32_t id);

  IoTotals totals() const;
  // Free spare output buffers beyond `keep` (before a malloc trim; see ioTrimMemory).
  void shrinkPool(size_t keep) { pool_.shrink(keep); }

  // Env teardown: close every handle without reporting anything (the memory libuv still points
  // into is freed by the close callbacks).
  void teardown();

  // ---- called by the libuv callbacks (io_loop.cc) ----
  Stream* stream(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < byId_.size() ? byId_[id] : nullptr;
  }
  void onAccepted(Listener* l);

 private:
  friend struct Stream;
  Stream* newStream(bool client);
  void close(Stream* s);
  void fail(Stream* s, int code);
  void startReading(Stream* s);
  void maybeShutdown(Stream* s);
  void startAsyncWrite(Stream* s);
  void closed(Stream* s);
  static void OnRead(uv_stream_t* h, ssize_t nread, const uv_buf_t*);
  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnConnect(uv_connect_t* req, int status);
  static void OnClosed(uv_handle_t* h);
  static void OnCheck(uv_check_t* check);

  uv_loop_t* loop_;
  IoEvents* events_;
  BufferPool pool_;
  ReadBatch batch_;
  uv_check_t* check_ = nullptr;  // own allocation: freed by its close callback
  std::vector<Stream*> byId_;
  std::vector<int32_t> freeIds_;
  std::vector<Listener*> listeners_;
  bool tornDown_ = false;
};

}  // namespace io
}  // namespace kvstore
