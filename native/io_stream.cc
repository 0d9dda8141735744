// Data-path sockets driven by libuv directly, on the loop Node runs.
//
// Why: without pipelining every request costs one client read, one backend write, one backend
// read and one client write, whatever the proxy does. Through net.Socket each of those runs
// Node's stream machinery: a fresh ArrayBuffer per read, Readable push/emit, a WriteWrap and
// Writable bookkeeping (and a nextTick) per write. Measured at -P 1 that was most of the
// worker's user time. Here a read lands in one buffer shared by every stream of the thread and
// calls one JS function; a write is a memcpy into the stream's own output buffer and, at flush,
// one uv_try_write. Only what the kernel does not take goes out asynchronously, from memory the
// stream owns, so JS never has to keep a Buffer alive for a pending write.
//
// Reads are batched: each read lands at the next free offset of one arena shared by all streams
// and is recorded as (stream id, start, end) in an Int32Array; JS gets them all in one call per
// event-loop turn (from a check handle that runs before Node's setImmediate callbacks, so the
// proxy's flush of the turn still comes after), or earlier when the arena or the list fills.
// Any other event of any stream first delivers the reads recorded so far, so a stream's data
// always precedes its end or close.
//
// JS side: src/proxy/io/NativeStream.ts. Handlers are registered once per thread (ioSetup):
//   reads(count)  `count` reads are in the event list; the arena bytes are valid during the call
// and, with `this` = the owner object given to the constructor:
//   end()         the peer half-closed (reading stops)
//   drain()       output that had to wait is now all written
//   connect()     an outgoing connection is up
//   close(error)  the stream is closed, exactly once; error is a libuv error name or null
// The per-request calls (ioAppend, ioFlush) are plain functions taking the stream's id, so
// no wrapper has to be unwrapped on the hot path.
#include "io_stream.h"

#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <string>
#include <vector>

namespace kvstore {
namespace {

class IoStream;

// Per thread (napi env): the handlers, the shared read buffer, and the open streams (closed
// when the env is torn down, so no libuv handle outlives it).
struct IoGlobals {
  napi_env env = nullptr;
  Napi::FunctionReference onReads, onEnd, onDrain, onConnect, onClose;
  Napi::Reference<Napi::Buffer<char>> arenaRef;
  char* arena = nullptr;
  size_t arenaCap = 0;
  size_t arenaUsed = 0;
  Napi::Reference<Napi::Int32Array> eventsRef;
  int32_t* events = nullptr;  // (id, start, end) per read
  size_t eventCap = 0;         // in reads
  size_t eventCount = 0;
  uv_check_t check;
  bool checkStarted = false;
  Napi::ObjectReference resource;
  napi_async_context async = nullptr;
  IoStream* open = nullptr;         // intrusive list of streams with a live handle
  std::vector<IoStream*> byId;      // JS ids -> streams (null when closed)
  bool ready = false;
};

// A read is offered at least this much room; below it the batch is delivered first.
constexpr size_t kMinReadRoom = 64 * 1024;

void deliverReads(IoGlobals* g);

// Largest single uv_buf_t (their length is 32-bit).
constexpr size_t kMaxBuf = size_t{1} << 30;

// An output buffer above its stream's keep size is given back once empty, so one burst does not
// pin its memory for the life of the connection. Accepted clients keep 16 KiB (10,000 clients x
// 16 KiB at most, like Redis's per-client reply buffer; larger replies cost a malloc each);
// outgoing (backend) streams are few and carry every client's commands of a turn: 1 MiB.
constexpr size_t kClientKeep = 16 * 1024;
constexpr size_t kBackendKeep = 1024 * 1024;

void shrinkIfHuge(std::vector<char>& v, size_t keep) {
  if (v.capacity() > keep) std::vector<char>().swap(v);
}

class IoStream : public Napi::ObjectWrap<IoStream> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "IoStream",
                       {
                           InstanceMethod<&IoStream::Open>("open"),
                           InstanceMethod<&IoStream::Connect>("connect"),
                           InstanceMethod<&IoStream::ReadStart>("readStart"),
                           InstanceMethod<&IoStream::ReadStop>("readStop"),
                           InstanceMethod<&IoStream::End>("end"),
                           InstanceMethod<&IoStream::Destroy>("destroy"),
                           InstanceMethod<&IoStream::SetNoDelay>("setNoDelay"),
                           InstanceMethod<&IoStream::SetKeepAlive>("setKeepAlive"),
                           InstanceMethod<&IoStream::Peer>("peer"),
                       });
  }

  explicit IoStream(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IoStream>(info) {
    Napi::Env env = info.Env();
    g_ = env.GetInstanceData<IoGlobals>();
    if (g_ == nullptr || !g_->ready) {
      Napi::Error::New(env, "IoStream: call ioSetup(handlers, arena, events) first").ThrowAsJavaScriptException();
      return;
    }
    if (!info[0].IsObject() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "new IoStream(owner: object, id: number)").ThrowAsJavaScriptException();
      return;
    }
    int64_t id = info[1].As<Napi::Number>().Int64Value();
    if (id < 0 || id > 0x3fffffff || (static_cast<size_t>(id) < g_->byId.size() && g_->byId[id] != nullptr)) {
      Napi::RangeError::New(env, "IoStream: id is negative, too large or in use").ThrowAsJavaScriptException();
      return;
    }
    id_ = static_cast<int32_t>(id);
    if (g_->byId.size() <= static_cast<size_t>(id_)) g_->byId.resize(id_ + 1, nullptr);
    g_->byId[id_] = this;
    // Weak until a handle is open: an unused stream must not keep its owner alive.
    owner_ = Napi::ObjectReference::New(info[0].As<Napi::Object>(), 0);
  }

  ~IoStream() override {
    // Open streams hold a reference to themselves: a live handle here means env teardown.
    if (handle_ != nullptr) {
      unlink();
      closeForTeardown();
    }
    releaseId();
  }

  void releaseId() {
    if (id_ >= 0 && static_cast<size_t>(id_) < g_->byId.size() && g_->byId[id_] == this) g_->byId[id_] = nullptr;
    id_ = -1;
  }

  // ---- the hot-path calls (by id, see ioAppend/ioFlush) ----

  void appendBytes(const char* p, size_t n) {
    if (!closing_ && n > 0) pending_.insert(pending_.end(), p, p + n);
  }

  // flush(): hand the output to the kernel; returns the bytes still queued (0 = all taken).
  size_t flush() {
    if (!usable() || connecting_ || writing_) return queued();
    if (pending_.empty()) {
      maybeShutdown();
      return 0;
    }
    // uv_buf_t lengths are 32-bit: a huge output goes out in pieces of at most 1 GiB.
    uv_buf_t b = uv_buf_init(pending_.data(), static_cast<unsigned>(std::min(pending_.size(), kMaxBuf)));
    int n = uv_try_write(stream(), &b, 1);
    if (n == UV_EAGAIN) n = 0;
    if (n < 0) {
      fail(n);
      return 0;
    }
    if (static_cast<size_t>(n) == pending_.size()) {
      pending_.clear();
      shrinkIfHuge(pending_, keep_);
      maybeShutdown();
      return 0;
    }
    // The kernel took part of it: the rest goes out asynchronously from the handle's inflight
    // buffer, while pending_ (the inflight buffer's old storage) keeps collecting.
    Handle* hd = handle_;
    hd->inflight.swap(pending_);
    pending_.clear();
    hd->inflightOff = static_cast<size_t>(n);
    std::vector<uv_buf_t> bufs;
    for (size_t off = static_cast<size_t>(n); off < hd->inflight.size(); off += kMaxBuf) {
      bufs.push_back(uv_buf_init(hd->inflight.data() + off, static_cast<unsigned>(std::min(hd->inflight.size() - off, kMaxBuf))));
    }
    int r = uv_write(&hd->writeReq, stream(), bufs.data(), static_cast<unsigned>(bufs.size()), OnWrite);
    if (r < 0) {
      fail(r);
      return 0;
    }
    writing_ = true;
    return queued();
  }

  // Delivers one handler call for this stream (after the reads recorded so far).
  void emit(Napi::FunctionReference& fn, napi_value arg = nullptr) {
    deliverReads(g_);
    Napi::HandleScope scope(Env());
    if (arg == nullptr) call(fn, 0, nullptr);
    else call(fn, 1, &arg);
  }

  // Env teardown: detach the handle (this object may be finalized before libuv is done with
  // it) and close it without calling JS; the close callback only frees the handle.
  void closeForTeardown() {
    Handle* hd = handle_;
    if (hd == nullptr) return;
    handle_ = nullptr;
    hd->self = nullptr;
    if (!closing_) uv_close(reinterpret_cast<uv_handle_t*>(&hd->tcp), OnClosed);
    closing_ = true;
  }

  IoStream* next_ = nullptr;
  IoStream* prev_ = nullptr;

 private:
  // Everything libuv points into lives here, freed only by the close callback.
  struct Handle {
    uv_tcp_t tcp;
    uv_write_t writeReq;
    uv_shutdown_t shutdownReq;
    uv_connect_t connectReq;
    std::vector<char> inflight;  // being written asynchronously (from inflightOff)
    size_t inflightOff = 0;
    size_t keep = kClientKeep;
    IoStream* self;
  };

  IoGlobals* g_ = nullptr;
  int32_t id_ = -1;
  Handle* handle_ = nullptr;
  Napi::ObjectReference owner_;
  std::vector<char> pending_;  // appended, not handed to the kernel yet
  size_t keep_ = kClientKeep;   // output capacity kept between bursts
  const char* error_ = nullptr;
  bool connecting_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool reading_ = false;
  bool paused_ = false;
  bool eof_ = false;
  bool wantShutdown_ = false;
  bool shutdownSent_ = false;
  bool shutdownDone_ = false;

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_->tcp); }

  size_t queued() const { return pending_.size() + (writing_ ? handle_->inflight.size() - handle_->inflightOff : 0); }

  bool usable() const { return handle_ != nullptr && !closing_; }

  // ---- handle life ----

  bool initHandle(Napi::Env env) {
    if (handle_ != nullptr) {
      Napi::Error::New(env, "IoStream: already open").ThrowAsJavaScriptException();
      return false;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "IoStream: no event loop").ThrowAsJavaScriptException();
      return false;
    }
    handle_ = new Handle();
    handle_->self = this;
    uv_tcp_init(loop, &handle_->tcp);
    handle_->tcp.data = handle_;
    handle_->writeReq.data = handle_;
    handle_->shutdownReq.data = handle_;
    handle_->connectReq.data = handle_;
    Ref();            // the JS wrapper lives while the handle does
    owner_.Ref();     // and so does its owner (the handlers' `this`)
    next_ = g_->open;
    if (next_ != nullptr) next_->prev_ = this;
    g_->open = this;
    return true;
  }

  void unlink() {
    if (prev_ != nullptr) prev_->next_ = next_;
    else if (g_->open == this) g_->open = next_;
    if (next_ != nullptr) next_->prev_ = prev_;
    next_ = prev_ = nullptr;
  }

  void close() {
    if (handle_ == nullptr || closing_) return;
    closing_ = true;
    if (reading_) uv_read_stop(stream());
    reading_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_->tcp), OnClosed);
  }

  void fail(int code) {
    if (error_ == nullptr) error_ = uv_err_name(code);
    close();
  }

  static void OnClosed(uv_handle_t* h) {
    Handle* hd = static_cast<Handle*>(h->data);
    IoStream* self = hd->self;
    delete hd;
    if (self == nullptr) return;  // detached at env teardown
    self->handle_ = nullptr;
    self->unlink();
    self->pending_.clear();
    shrinkIfHuge(self->pending_, self->keep_);
    deliverReads(self->g_);  // this stream's last reads come before its close
    self->releaseId();
    {
      Napi::Env env(self->Env());
      Napi::HandleScope scope(env);
      napi_value arg = self->error_ != nullptr ? Napi::String::New(env, self->error_) : env.Null();
      self->call(self->g_->onClose, 1, &arg);
    }
    self->owner_.Unref();
    self->Unref();
  }

  // One JS handler call with `this` = owner, as a proper async callback (ticks and microtasks
  // run after it, like after any Node I/O callback). A throw becomes an uncaught exception.
  void call(Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
    napi_env env = Env();
    napi_value result;
    napi_status s = napi_make_callback(env, g_->async, owner_.Value(), fn.Value(), argc, argv, &result);
    if (s == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }

  // ---- reading ----

  void startReading() {
    if (!usable() || connecting_ || paused_ || eof_ || reading_) return;
    int r = uv_read_start(stream(), OnAlloc, OnRead);
    if (r < 0) fail(r);
    else reading_ = true;
  }

  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
    IoGlobals* g = static_cast<Handle*>(h->data)->self->g_;
    // OnRead keeps at least kMinReadRoom free (it delivers the batch before it gets lower).
    buf->base = g->arena + g->arenaUsed;
    buf->len = g->arenaCap - g->arenaUsed;
  }

  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
    IoStream* self = static_cast<Handle*>(s->data)->self;
    if (self == nullptr || self->closing_) return;
    if (nread > 0) {
      IoGlobals* g = self->g_;
      int32_t* ev = g->events + 3 * g->eventCount++;
      ev[0] = self->id_;
      ev[1] = static_cast<int32_t>(g->arenaUsed);
      g->arenaUsed += static_cast<size_t>(nread);
      ev[2] = static_cast<int32_t>(g->arenaUsed);
      if (g->eventCount == g->eventCap || g->arenaCap - g->arenaUsed < kMinReadRoom) deliverReads(g);
    } else if (nread == UV_EOF) {
      self->eof_ = true;
      uv_read_stop(s);
      self->reading_ = false;
      if (self->shutdownDone_) self->close();  // both directions are done
      else self->emit(self->g_->onEnd);
    } else if (nread < 0) {
      self->fail(static_cast<int>(nread));
    }
  }

  // ---- writing ----

  static void OnWrite(uv_write_t* req, int status) {
    Handle* hd = static_cast<Handle*>(req->data);
    hd->inflight.clear();
    shrinkIfHuge(hd->inflight, hd->keep);
    hd->inflightOff = 0;
    IoStream* self = hd->self;
    if (self == nullptr) return;
    self->writing_ = false;
    if (self->closing_) return;
    if (status < 0) return self->fail(status);
    if (!self->pending_.empty()) self->flush();
    if (!self->writing_ && self->usable()) self->emit(self->g_->onDrain);
  }

  void maybeShutdown() {
    if (!wantShutdown_ || shutdownSent_ || !usable() || connecting_ || writing_ || !pending_.empty()) return;
    shutdownSent_ = true;
    int r = uv_shutdown(&handle_->shutdownReq, stream(), OnShutdown);
    if (r < 0) fail(r);
  }

  static void OnShutdown(uv_shutdown_t* req, int status) {
    IoStream* self = static_cast<Handle*>(req->data)->self;
    if (self == nullptr || self->closing_) return;
    self->shutdownDone_ = true;
    if (status < 0) self->fail(status);
    else if (self->eof_) self->close();
  }

  static void OnConnect(uv_connect_t* req, int status) {
    IoStream* self = static_cast<Handle*>(req->data)->self;
    if (self == nullptr) return;
    self->connecting_ = false;
    if (self->closing_) return;
    if (status < 0) return self->fail(status);
    self->startReading();
    self->emit(self->g_->onConnect);
    if (self->usable() && !self->pending_.empty()) self->flush();
  }

  // ---- JS methods ----

  // open(fd): adopt a connected socket. The fd is duplicated: the caller closes its own.
  void Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber()) {
      Napi::TypeError::New(env, "open(fd: number)").ThrowAsJavaScriptException();
      return;
    }
    int fd = dup(info[0].As<Napi::Number>().Int32Value());
    if (fd < 0) {
      Napi::Error::New(env, "IoStream: dup failed").ThrowAsJavaScriptException();
      return;
    }
    if (!initHandle(env)) {
      ::close(fd);
      return;
    }
    int r = uv_tcp_open(&handle_->tcp, fd);
    if (r < 0) {
      ::close(fd);
      fail(r);
      return;
    }
    startReading();
  }

  // connect(ip, port): IPv4 or IPv6 literal only (names are resolved by the caller).
  void Connect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "connect(ip: string, port: number)").ThrowAsJavaScriptException();
      return;
    }
    std::string host = info[0].As<Napi::String>().Utf8Value();
    int port = info[1].As<Napi::Number>().Int32Value();
    sockaddr_storage addr;
    if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
        uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
      Napi::TypeError::New(env, "IoStream: not an IP address: " + host).ThrowAsJavaScriptException();
      return;
    }
    if (!initHandle(env)) return;
    keep_ = handle_->keep = kBackendKeep;
    connecting_ = true;
    int r = uv_tcp_connect(&handle_->connectReq, &handle_->tcp, reinterpret_cast<sockaddr*>(&addr), OnConnect);
    if (r < 0) {
      connecting_ = false;
      fail(r);
    }
  }

  void ReadStart(const Napi::CallbackInfo&) {
    paused_ = false;
    startReading();
  }

  void ReadStop(const Napi::CallbackInfo&) {
    paused_ = true;
    if (reading_ && usable()) uv_read_stop(stream());
    reading_ = false;
  }

  // end(): send FIN once queued output is written; the stream closes when the peer's FIN is in.
  void End(const Napi::CallbackInfo&) {
    wantShutdown_ = true;
    maybeShutdown();
  }

  void Destroy(const Napi::CallbackInfo&) { close(); }

  void SetNoDelay(const Napi::CallbackInfo& info) {
    if (usable()) uv_tcp_nodelay(&handle_->tcp, info[0].ToBoolean() ? 1 : 0);
  }

  void SetKeepAlive(const Napi::CallbackInfo& info) {
    unsigned delay = info[1].IsNumber() ? static_cast<unsigned>(info[1].As<Napi::Number>().Uint32Value()) : 60;
    if (usable()) uv_tcp_keepalive(&handle_->tcp, info[0].ToBoolean() ? 1 : 0, delay);
  }

  // peer(): [address, port] of the other end, or null.
  Napi::Value Peer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!usable()) return env.Null();
    sockaddr_storage addr;
    int len = sizeof(addr);
    if (uv_tcp_getpeername(&handle_->tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return env.Null();
    char name[INET6_ADDRSTRLEN + 1] = {0};
    int port = 0;
    if (addr.ss_family == AF_INET6) {
      const sockaddr_in6* a = reinterpret_cast<const sockaddr_in6*>(&addr);
      uv_ip6_name(a, name, sizeof(name));
      port = ntohs(a->sin6_port);
    } else {
      const sockaddr_in* a = reinterpret_cast<const sockaddr_in*>(&addr);
      uv_ip4_name(a, name, sizeof(name));
      port = ntohs(a->sin_port);
    }
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::String::New(env, name));
    out.Set(1u, Napi::Number::New(env, port));
    return out;
  }
};

void deliverReads(IoGlobals* g) {
  if (g->eventCount == 0) return;
  napi_env env = g->env;
  Napi::HandleScope scope(env);
  napi_value count = Napi::Number::New(env, static_cast<double>(g->eventCount));
  napi_value recv = g->resource.Value();
  napi_value result;
  // JS consumes the batch synchronously (no read can happen during the call), so the arena and
  // the event list are free again once it returns.
  napi_status s = napi_make_callback(env, g->async, recv, g->onReads.Value(), 1, &count, &result);
  g->eventCount = 0;
  g->arenaUsed = 0;
  if (s == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
}

void OnCheck(uv_check_t* check) { deliverReads(static_cast<IoGlobals*>(check->data)); }

void TeardownEnv(void* arg) {
  IoGlobals* g = static_cast<IoGlobals*>(arg);
  for (IoStream* s = g->open; s != nullptr;) {
    IoStream* next = s->next_;
    s->next_ = s->prev_ = nullptr;
    s->closeForTeardown();
    s = next;
  }
  g->open = nullptr;
  g->eventCount = 0;
  if (g->checkStarted) {
    uv_check_stop(&g->check);
    uv_close(reinterpret_cast<uv_handle_t*>(&g->check), nullptr);
    g->checkStarted = false;
  }
}

// The stream for a JS id, or null (closed, or never opened).
IoStream* streamById(const Napi::CallbackInfo& info) {
  IoGlobals* g = info.Env().GetInstanceData<IoGlobals>();
  if (g == nullptr) return nullptr;
  int32_t id = info[0].As<Napi::Number>().Int32Value();
  if (id < 0 || static_cast<size_t>(id) >= g->byId.size()) return nullptr;
  return g->byId[id];
}

// ioAppend(id, data, start, end): copy data[start, end) into the stream's output.
bool appendFromArgs(const Napi::CallbackInfo& info, IoStream* stream) {
  if (!info[1].IsTypedArray()) {
    Napi::TypeError::New(info.Env(), "ioAppend(id: number, data: Buffer, start: number, end: number)").ThrowAsJavaScriptException();
    return false;
  }
  size_t len;
  void* data;
  napi_get_typedarray_info(info.Env(), info[1], nullptr, &len, &data, nullptr, nullptr);
  int64_t start = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  int64_t end = info[3].IsNumber() ? info[3].As<Napi::Number>().Int64Value() : static_cast<int64_t>(len);
  if (start < 0) start = 0;
  if (end > static_cast<int64_t>(len)) end = static_cast<int64_t>(len);
  if (stream != nullptr && start < end) stream->appendBytes(static_cast<const char*>(data) + start, static_cast<size_t>(end - start));
  return true;
}

void IoAppend(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "ioAppend(id: number, data: Buffer, start: number, end: number)").ThrowAsJavaScriptException();
    return;
  }
  appendFromArgs(info, streamById(info));
}

Napi::Value queuedValue(Napi::Env env, size_t queued) {
  if (queued > 0x7fffffff) return Napi::Number::New(env, static_cast<double>(queued));
  napi_value r;
  napi_create_int32(env, static_cast<int32_t>(queued), &r);  // a small integer, no heap number
  return Napi::Value(env, r);
}

// ioFlush(id): the bytes still queued after handing the output to the kernel.
Napi::Value IoFlush(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), "ioFlush(id: number)").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  IoStream* stream = streamById(info);
  return queuedValue(info.Env(), stream != nullptr ? stream->flush() : 0);
}

// ioSetup({ reads, end, drain, connect, close }, arena, events): once per thread, before any
// stream. `arena` receives the reads (at least 128 KiB); `events` holds (id, start, end) per read.
Napi::Value IoSetup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsBuffer() || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(env, "ioSetup(handlers: {reads, end, drain, connect, close}, arena: Buffer, events: Int32Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object handlers = info[0].As<Napi::Object>();
  const char* names[] = {"reads", "end", "drain", "connect", "close"};
  for (const char* n : names) {
    if (!handlers.Get(n).IsFunction()) {
      Napi::TypeError::New(env, std::string("ioSetup: handler '") + n + "' must be a function").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  Napi::Buffer<char> arena = info[1].As<Napi::Buffer<char>>();
  Napi::Int32Array events = info[2].As<Napi::Int32Array>();
  if (arena.Length() < 2 * kMinReadRoom || events.ElementLength() < 3) {
    Napi::RangeError::New(env, "ioSetup: the arena must hold at least 128 KiB and the event list one read").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  IoGlobals* g = env.GetInstanceData<IoGlobals>();
  if (g == nullptr) {
    g = new IoGlobals();
    g->env = env;
    env.SetInstanceData<IoGlobals>(g);
    napi_add_env_cleanup_hook(env, TeardownEnv, g);
    Napi::Object resource = Napi::Object::New(env);
    g->resource = Napi::ObjectReference::New(resource, 1);
    napi_async_init(env, resource, Napi::String::New(env, "kvstore.io"), &g->async);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    uv_check_init(loop, &g->check);
    g->check.data = g;
    uv_check_start(&g->check, OnCheck);  // after Node's: runs first in the check phase
    uv_unref(reinterpret_cast<uv_handle_t*>(&g->check));
    g->checkStarted = true;
  } else if (g->open != nullptr) {
    Napi::Error::New(env, "ioSetup: streams are open; set up once, before the first stream").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  g->onReads = Napi::Persistent(handlers.Get("reads").As<Napi::Function>());
  g->onEnd = Napi::Persistent(handlers.Get("end").As<Napi::Function>());
  g->onDrain = Napi::Persistent(handlers.Get("drain").As<Napi::Function>());
  g->onConnect = Napi::Persistent(handlers.Get("connect").As<Napi::Function>());
  g->onClose = Napi::Persistent(handlers.Get("close").As<Napi::Function>());
  g->arenaRef = Napi::Reference<Napi::Buffer<char>>::New(arena, 1);
  g->arena = arena.Data();
  g->arenaCap = arena.Length();
  g->eventsRef = Napi::Reference<Napi::Int32Array>::New(events, 1);
  g->events = events.Data();
  g->eventCap = events.ElementLength() / 3;
  g->arenaUsed = 0;
  g->eventCount = 0;
  g->ready = true;
  return env.Undefined();
}

}  // namespace

void InitIo(Napi::Env env, Napi::Object exports) {
  exports.Set("IoStream", IoStream::Define(env));
  exports.Set("ioSetup", Napi::Function::New(env, IoSetup));
  exports.Set("ioAppend", Napi::Function::New(env, IoAppend));
  exports.Set("ioFlush", Napi::Function::New(env, IoFlush));
}

}  // namespace kvstore
