// N-API glue for the data-path sockets: converts arguments and turns IoEvents into JS calls.
// The sockets themselves are io_loop.cc (libuv), their buffers and state rules stream_core.cc
// (plain C++, unit-tested and fuzzed alone).
//
// Why native sockets at all: without pipelining every request costs one client read, one
// backend write, one backend read and one client write, whatever the proxy does. Through
// net.Socket each of those runs Node's stream machinery (a fresh ArrayBuffer per read, Readable
// push/emit, a WriteWrap, Writable bookkeeping and a nextTick per write); measured at -P 1 that
// was most of the worker's user time. Here reads of every stream land in one arena and reach JS
// in one call per event-loop turn; a write is a memcpy into the stream's output and, at flush,
// one uv_try_write.
//
// JS side: src/proxy/io/NativeStream.ts. Streams are small integer ids (no JS object per
// stream on this side). Handlers, registered once per thread by ioSetup, are called with the
// resource object as `this`:
//   reads(count)          `count` reads (id, start, end) are in the event list; the arena bytes
//                         are valid during the call
//   end(id)               the peer half-closed (reading stops)
//   drain(id)             output that had to wait is now all written
//   connect(id)           an outgoing connection is up
//   close(id, error)      closed, exactly once; error is a libuv error name or null; the id is
//                         reused after the call returns
//   accept(listener, id)  a listener accepted a client (paused until ioReadStart)
#include "io_stream.h"

#include <memory>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <v8.h>

#include "io_loop.h"

namespace kvstore {
namespace {

using io::IoLoop;

class JsEvents : public io::IoEvents {
 public:
  napi_env env = nullptr;
  Napi::FunctionReference onReads, onEnd, onDrain, onConnect, onClose, onAccept;
  Napi::ObjectReference resource;
  napi_async_context async = nullptr;

  void reads(size_t count) override {
    Napi::HandleScope scope(env);
    napi_value arg = Napi::Number::New(env, static_cast<double>(count));
    call(onReads, 1, &arg);
  }
  void end(int32_t id) override { callWithId(onEnd, id); }
  void drain(int32_t id) override { callWithId(onDrain, id); }
  void connect(int32_t id) override { callWithId(onConnect, id); }
  void close(int32_t id, const char* error) override {
    Napi::HandleScope scope(env);
    napi_value args[2] = {Napi::Number::New(env, id), error != nullptr ? Napi::String::New(env, error) : Napi::Env(env).Null()};
    call(onClose, 2, args);
  }
  void accept(int32_t listener, int32_t id) override {
    Napi::HandleScope scope(env);
    napi_value args[2] = {Napi::Number::New(env, listener), Napi::Number::New(env, id)};
    call(onAccept, 2, args);
  }

 private:
  void callWithId(Napi::FunctionReference& fn, int32_t id) {
    Napi::HandleScope scope(env);
    napi_value arg = Napi::Number::New(env, id);
    call(fn, 1, &arg);
  }
  // A proper async callback (ticks and microtasks run after it, like after any Node I/O
  // callback). A throw becomes an uncaught exception.
  void call(Napi::FunctionReference& fn, size_t argc, const napi_value* argv) {
    napi_value result;
    napi_status s = napi_make_callback(env, async, resource.Value(), fn.Value(), argc, argv, &result);
    if (s == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
};

struct IoGlue;
// The stream id and byte range of appendAt/flushAt (see IoHotCalls), bound as their data.
struct HotCallArgs {
  IoGlue* glue;
  Napi::Reference<Napi::Float64Array> ref;
  const double* args;
};

// Per thread (napi env).
struct IoGlue {
  // Every ioHotCalls result's data, freed with the glue (the functions may live as long).
  std::vector<std::unique_ptr<HotCallArgs>> hotCalls;
  JsEvents events;
  IoLoop* loop = nullptr;
  Napi::Reference<Napi::Buffer<char>> arenaRef;
  Napi::Reference<Napi::Int32Array> eventsRef;
  ~IoGlue() { delete loop; }  // after TeardownEnv: nothing left to close
};

void TeardownEnv(void* arg) {
  IoGlue* g = static_cast<IoGlue*>(arg);
  if (g->loop != nullptr) g->loop->teardown();
}

IoLoop* loopOf(const Napi::CallbackInfo& info) {
  IoGlue* g = info.Env().GetInstanceData<IoGlue>();
  if (g == nullptr || g->loop == nullptr) {
    Napi::Error::New(info.Env(), "native io: call ioSetup(handlers, arena, events) first").ThrowAsJavaScriptException();
    return nullptr;
  }
  return g->loop;
}

// The stream id argument (-1 when it is not a number: every call then does nothing).
int32_t idArg(const Napi::CallbackInfo& info) {
  return info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
}

Napi::Error uvError(Napi::Env env, int code, const std::string& what) {
  Napi::Error e = Napi::Error::New(env, what + ": " + uv_strerror(code));
  e.Set("code", Napi::String::New(env, uv_err_name(code)));
  return e;
}

// ioSetup({ reads, end, drain, connect, close, accept }, arena, events): once per thread, before
// any stream. `arena` receives the reads (at least 128 KiB); `events` holds (id, start, end) per read.
Napi::Value IoSetup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsBuffer() || !info[2].IsTypedArray() || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(env, "ioSetup(handlers: {reads, end, drain, connect, close, accept}, arena: Buffer, events: Int32Array)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object handlers = info[0].As<Napi::Object>();
  const char* names[] = {"reads", "end", "drain", "connect", "close", "accept"};
  for (const char* n : names) {
    if (!handlers.Get(n).IsFunction()) {
      Napi::TypeError::New(env, std::string("ioSetup: handler '") + n + "' must be a function").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  Napi::Buffer<char> arena = info[1].As<Napi::Buffer<char>>();
  Napi::Int32Array events = info[2].As<Napi::Int32Array>();
  if (arena.Length() < 2 * io::ReadBatch::kMinRoom || events.ElementLength() < 3) {
    Napi::RangeError::New(env, "ioSetup: the arena must hold at least 128 KiB and the event list one read").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  IoGlue* g = env.GetInstanceData<IoGlue>();
  if (g == nullptr) {
    uv_loop_t* uvLoop = nullptr;
    if (napi_get_uv_event_loop(env, &uvLoop) != napi_ok || uvLoop == nullptr) {
      Napi::Error::New(env, "ioSetup: no event loop").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    g = new IoGlue();
    g->events.env = env;
    env.SetInstanceData<IoGlue>(g);  // deleted at env teardown, after the cleanup hook
    napi_add_env_cleanup_hook(env, TeardownEnv, g);
    Napi::Object resource = Napi::Object::New(env);
    g->events.resource = Napi::ObjectReference::New(resource, 1);
    napi_async_init(env, resource, Napi::String::New(env, "kvstore.io"), &g->events.async);
    g->loop = new IoLoop(uvLoop, &g->events);
  } else if (g->loop->totals().streams > 0) {
    Napi::Error::New(env, "ioSetup: streams are open; set up once, before the first stream").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  JsEvents& ev = g->events;
  ev.onReads = Napi::Persistent(handlers.Get("reads").As<Napi::Function>());
  ev.onEnd = Napi::Persistent(handlers.Get("end").As<Napi::Function>());
  ev.onDrain = Napi::Persistent(handlers.Get("drain").As<Napi::Function>());
  ev.onConnect = Napi::Persistent(handlers.Get("connect").As<Napi::Function>());
  ev.onClose = Napi::Persistent(handlers.Get("close").As<Napi::Function>());
  ev.onAccept = Napi::Persistent(handlers.Get("accept").As<Napi::Function>());
  g->arenaRef = Napi::Reference<Napi::Buffer<char>>::New(arena, 1);
  g->eventsRef = Napi::Reference<Napi::Int32Array>::New(events, 1);
  g->loop->batch().bind(arena.Data(), arena.Length(), events.Data(), events.ElementLength() / 3);
  return env.Undefined();
}

// ioConnect(ip, port): a new stream id; the outcome comes as connect(id) or close(id, error).
Napi::Value IoConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoLoop* loop = loopOf(info);
  if (loop == nullptr) return env.Undefined();
  if (!info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "ioConnect(ip: string, port: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string ip = info[0].As<Napi::String>().Utf8Value();
  int32_t id = loop->connect(ip.c_str(), info[1].As<Napi::Number>().Int32Value());
  if (id < 0) {
    Napi::TypeError::New(env, "ioConnect: not an IP address: " + ip).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, id);
}

// ioListen(ip, port, backlog, reusePort): [listener id, bound port]; throws an Error whose
// `code` is the errno name (EADDRINUSE, EACCES, ...).
Napi::Value IoListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoLoop* loop = loopOf(info);
  if (loop == nullptr) return env.Undefined();
  if (!info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "ioListen(ip: string, port: number, backlog: number, reusePort: boolean)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string ip = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  int bound = 0;
  int32_t id = loop->listen(ip.c_str(), port, info[2].As<Napi::Number>().Int32Value(), info[3].ToBoolean(), &bound);
  if (id < 0) {
    uvError(env, id, "listen " + ip + ":" + std::to_string(port)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, id));
  out.Set(1u, Napi::Number::New(env, bound));
  return out;
}

void IoCloseListener(const Napi::CallbackInfo& info) {
  if (IoLoop* loop = loopOf(info)) loop->closeListener(idArg(info));
}

// ioHotCalls(args: Float64Array(3)) -> { appendAt(data), flushAt() }: the per-request calls, with
// the stream id and the range read from `args` (written by the caller just before) instead of
// arguments. appendAt copies data[start, end) into the stream's output; flushAt returns the bytes
// still queued after handing the output to the kernel. Raw N-API, the glue bound as the
// functions' data: an append (twice per request: the command to its backend, the reply to its
// client) costs two N-API calls (the argument form cost eleven).
napi_value IoAppendAt(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value data;
  void* self;
  if (napi_get_cb_info(env, cb, &argc, &data, nullptr, &self) != napi_ok) return nullptr;
  const HotCallArgs* h = static_cast<const HotCallArgs*>(self);
  napi_typedarray_type t;
  size_t len;
  void* bytes;
  if (argc < 1 || napi_get_typedarray_info(env, data, &t, &len, &bytes, nullptr, nullptr) != napi_ok || t != napi_uint8_array) {
    napi_throw_type_error(env, nullptr, "appendAt(data: Buffer)");
    return nullptr;
  }
  const double id = h->args[0];
  double start = h->args[1], end = h->args[2];
  if (!(start >= 0)) start = 0;
  if (!(end <= static_cast<double>(len))) end = static_cast<double>(len);
  if (id >= 0 && id < 2147483648.0 && start < end)
    h->glue->loop->append(static_cast<int32_t>(id), static_cast<const char*>(bytes) + static_cast<size_t>(start), static_cast<size_t>(end - start));
  return nullptr;
}

napi_value IoFlushAt(napi_env env, napi_callback_info cb) {
  void* self;
  if (napi_get_cb_info(env, cb, nullptr, nullptr, nullptr, &self) != napi_ok) return nullptr;
  const HotCallArgs* h = static_cast<const HotCallArgs*>(self);
  const double id = h->args[0];
  size_t n = id >= 0 && id < 2147483648.0 ? h->glue->loop->flush(static_cast<int32_t>(id)) : 0;
  napi_value r;
  if (n > 0x7fffffff) napi_create_double(env, static_cast<double>(n), &r);
  else napi_create_int32(env, static_cast<int32_t>(n), &r);
  return r;
}

Napi::Value IoHotCalls(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (loopOf(info) == nullptr) return env.Undefined();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || info[0].As<Napi::TypedArray>().ElementLength() < 3) {
    Napi::TypeError::New(env, "ioHotCalls(args: Float64Array of 3)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Float64Array args = info[0].As<Napi::Float64Array>();
  IoGlue* g = env.GetInstanceData<IoGlue>();
  g->hotCalls.push_back(std::make_unique<HotCallArgs>(HotCallArgs{g, Napi::Reference<Napi::Float64Array>::New(args, 1), args.Data()}));
  HotCallArgs* h = g->hotCalls.back().get();
  napi_value append, flush;
  napi_create_function(env, "appendAt", NAPI_AUTO_LENGTH, IoAppendAt, h, &append);
  napi_create_function(env, "flushAt", NAPI_AUTO_LENGTH, IoFlushAt, h, &flush);
  Napi::Object out = Napi::Object::New(env);
  out.Set("appendAt", Napi::Value(env, append));
  out.Set("flushAt", Napi::Value(env, flush));
  return out;
}

void IoReadStart(const Napi::CallbackInfo& info) {
  if (IoLoop* loop = loopOf(info)) loop->readStart(idArg(info));
}
void IoReadStop(const Napi::CallbackInfo& info) {
  if (IoLoop* loop = loopOf(info)) loop->readStop(idArg(info));
}
// ioEnd(id): FIN once queued output is written; the stream closes when the peer's FIN is in.
void IoEnd(const Napi::CallbackInfo& info) {
  if (IoLoop* loop = loopOf(info)) loop->end(idArg(info));
}
void IoDestroy(const Napi::CallbackInfo& info) {
  if (IoLoop* loop = loopOf(info)) loop->destroy(idArg(info));
}
void IoSetNoDelay(const Napi::CallbackInfo& info) {
  if (IoLoop* loop = loopOf(info)) loop->setNoDelay(idArg(info), info[1].ToBoolean());
}
void IoSetKeepAlive(const Napi::CallbackInfo& info) {
  unsigned delay = info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 60;
  if (IoLoop* loop = loopOf(info)) loop->setKeepAlive(idArg(info), info[1].ToBoolean(), delay);
}

// ioPeer(id): [address, port] of the other end, or null.
Napi::Value IoPeer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoLoop* loop = loopOf(info);
  if (loop == nullptr) return env.Undefined();
  char name[64] = {0};
  int port = 0;
  if (!loop->peer(idArg(info), name, sizeof(name), &port)) return env.Null();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::String::New(env, name));
  out.Set(1u, Napi::Number::New(env, port));
  return out;
}

// ioBuffered(id): [output queued, output allocated] bytes of one stream, or null.
Napi::Value IoBuffered(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoLoop* loop = loopOf(info);
  if (loop == nullptr) return env.Undefined();
  size_t queued = 0, allocated = 0;
  if (!loop->buffered(idArg(info), &queued, &allocated)) return env.Null();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(queued)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(allocated)));
  return out;
}

// ioTotals(): native buffered bytes over every stream of this thread (see io::IoTotals).
Napi::Value IoTotals(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  IoLoop* loop = loopOf(info);
  if (loop == nullptr) return env.Undefined();
  io::IoTotals t = loop->totals();
  Napi::Object out = Napi::Object::New(env);
  out.Set("streams", Napi::Number::New(env, static_cast<double>(t.streams)));
  out.Set("outputQueued", Napi::Number::New(env, static_cast<double>(t.outputQueued)));
  out.Set("outputAllocated", Napi::Number::New(env, static_cast<double>(t.outputAllocated)));
  out.Set("poolBytes", Napi::Number::New(env, static_cast<double>(t.poolBytes)));
  out.Set("arenaBytes", Napi::Number::New(env, static_cast<double>(t.arenaBytes)));
  out.Set("inputHeld", Napi::Number::New(env, static_cast<double>(t.inputHeld)));
  out.Set("streamStateBytes", Napi::Number::New(env, static_cast<double>(t.streamStateBytes)));
  out.Set("maxStreamQueued", Napi::Number::New(env, static_cast<double>(t.maxStreamQueued)));
  out.Set("maxStreamAllocated", Napi::Number::New(env, static_cast<double>(t.maxStreamAllocated)));
  return out;
}

// ioTrimMemory(collectJs): give free memory back to the kernel; true when glibc released some.
// Why: an accept burst interleaves long-lived per-stream state with short-lived allocations
// (output buffers beyond the pool, Buffer backing stores of the first commands); once those are
// freed, the holes between the streams stay resident, because free() only returns the top of the
// heap. glibc's malloc_trim also madvises whole free pages inside the heap. The spare output
// buffers beyond a few go first (a busy turn takes new ones from malloc and refills the pool).
//
// collectJs: also tell V8 there is (moderate) memory pressure. An idle worker allocates nothing,
// so V8 runs no GC on its own: the per-command state the idle sweep dropped (and the Buffer
// backing stores it holds in malloc) and the young generation the burst grew stay as they are.
// Moderate pressure starts incremental marking with a reduce-memory finish (compaction, the young
// generation shrunk) on the event loop's tasks, not one long pause. This is V8's own API (v8.h),
// not N-API: the addon is built per Node version by node-gyp, so the ABI matches.
//
// Cost: one walk over malloc's free lists (≈0.1 ms when little is free); the worker calls it after
// many clients went quiet or closed (src/proxy/io/MemoryTrim.ts), not per connection.
constexpr size_t kSparesKeptOnTrim = 16;

Napi::Value IoTrimMemory(const Napi::CallbackInfo& info) {
  IoLoop* loop = loopOf(info);
  if (loop != nullptr) loop->shrinkPool(kSparesKeptOnTrim);
  if (info.Length() > 0 && info[0].ToBoolean().Value()) {
    v8::Isolate* isolate = v8::Isolate::GetCurrent();
    if (isolate != nullptr) isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
  }
#if defined(__GLIBC__)
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace

void InitIo(Napi::Env env, Napi::Object exports) {
  exports.Set("ioSetup", Napi::Function::New(env, IoSetup));
  exports.Set("ioConnect", Napi::Function::New(env, IoConnect));
  exports.Set("ioListen", Napi::Function::New(env, IoListen));
  exports.Set("ioCloseListener", Napi::Function::New(env, IoCloseListener));
  exports.Set("ioHotCalls", Napi::Function::New(env, IoHotCalls));
  exports.Set("ioReadStart", Napi::Function::New(env, IoReadStart));
  exports.Set("ioReadStop", Napi::Function::New(env, IoReadStop));
  exports.Set("ioEnd", Napi::Function::New(env, IoEnd));
  exports.Set("ioDestroy", Napi::Function::New(env, IoDestroy));
  exports.Set("ioSetNoDelay", Napi::Function::New(env, IoSetNoDelay));
  exports.Set("ioSetKeepAlive", Napi::Function::New(env, IoSetKeepAlive));
  exports.Set("ioPeer", Napi::Function::New(env, IoPeer));
  exports.Set("ioBuffered", Napi::Function::New(env, IoBuffered));
  exports.Set("ioTotals", Napi::Function::New(env, IoTotals));
  exports.Set("ioTrimMemory", Napi::Function::New(env, IoTrimMemory));
}

}  // namespace kvstore
