// The thin N-API layer over the plain C++ core: it only converts arguments and keeps the
// typed arrays bound by bindBatch/bindSlotTable (strong references, data pointers cached once;
// a re-bind replaces them). All behaviour lives in the core files.
#include <napi.h>

#include <cstring>
#include <string>
#include <vector>

#include "command_table.h"
#include "io_stream.h"
#include "reply_framer.h"
#include "request_parser.h"
#include "slot_hash.h"
#include "split_merge.h"

namespace {

using namespace kvstore;

// A typed array kept alive by a strong reference; its data pointer is stable while referenced
// (napi_get_typedarray_info moves on-heap array data to a fixed backing store).
template <typename T>
struct Bound {
  Napi::Reference<Napi::TypedArray> ref;
  T* data = nullptr;
  size_t length = 0;

  // Replaces the binding only when `v` is a typed array of the right type and length.
  bool bind(Napi::Env env, Napi::Value v, napi_typedarray_type type, const char* what, size_t minLength = 0) {
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
      Napi::TypeError::New(env, std::string(what) + " has the wrong typed-array type").ThrowAsJavaScriptException();
      return false;
    }
    Napi::TypedArray arr = v.As<Napi::TypedArray>();
    napi_typedarray_type t;
    size_t len;
    void* d;
    napi_value ab;
    size_t off;
    if (napi_get_typedarray_info(env, arr, &t, &len, &d, &ab, &off) != napi_ok) return false;
    if (len < minLength) {
      Napi::RangeError::New(env, std::string(what) + " is too short").ThrowAsJavaScriptException();
      return false;
    }
    ref = Napi::Reference<Napi::TypedArray>::New(arr, 1);
    data = static_cast<T*>(d);
    length = len;
    return true;
  }
};

bool getBytes(Napi::Env env, Napi::Value v, const uint8_t** data, size_t* len, const char* what) {
  if (!v.IsTypedArray() && !v.IsBuffer()) {
    Napi::TypeError::New(env, std::string(what) + " must be a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  void* d;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok || t != napi_uint8_array) {
    Napi::TypeError::New(env, std::string(what) + " must be a Buffer").ThrowAsJavaScriptException();
    return false;
  }
  *data = static_cast<const uint8_t*>(d);
  return true;
}

bool getInt32Vector(Napi::Env env, Napi::Object o, const char* key, std::vector<int32_t>* out) {
  Napi::Value v = o.Get(key);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    Napi::TypeError::New(env, std::string("command table field ") + key + " must be an Int32Array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  out->assign(a.Data(), a.Data() + a.ElementLength());
  return true;
}

bool getStringVector(Napi::Env env, Napi::Object o, const char* key, std::vector<std::string>* out) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) {
    Napi::TypeError::New(env, std::string("command table field ") + key + " must be an array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Array a = v.As<Napi::Array>();
  out->clear();
  for (uint32_t i = 0; i < a.Length(); i++) out->push_back(a.Get(i).ToString().Utf8Value());
  return true;
}

// One engine per HotPath instance: its own config, command table and bound arrays (two
// instances in one process, e.g. a client side and a backend side, never share state).
class NativeEngine : public Napi::ObjectWrap<NativeEngine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("configure", &NativeEngine::Configure),
                           InstanceMethod("setCommandTable", &NativeEngine::SetCommandTable),
                           InstanceMethod("bindBatch", &NativeEngine::BindBatch),
                           InstanceMethod("bindSlotTable", &NativeEngine::BindSlotTable),
                           InstanceMethod("merge", &NativeEngine::Merge),
                           InstanceMethod("keySlot", &NativeEngine::KeySlot),
                           InstanceMethod("decodeInline", &NativeEngine::DecodeInline),
                           InstanceMethod("hotFunctions", &NativeEngine::HotFunctions),
                           InstanceMethod("bindCallArgs", &NativeEngine::BindCallArgs),
                           InstanceMethod("commandInfo", &NativeEngine::CommandInfo),
                       });
  }

  explicit NativeEngine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeEngine>(info) { parser_.setTable(&table_); }

 private:
  Napi::Value Configure(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      Napi::TypeError::New(env, "configure(options) needs an object").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    EngineConfig cfg = parser_.config();
    Napi::Value v = o.Get("maxBulkBytes");
    if (v.IsNumber()) cfg.maxBulkBytes = v.As<Napi::Number>().Int64Value();
    v = o.Get("maxInlineBytes");
    if (v.IsNumber()) cfg.maxInlineBytes = v.As<Napi::Number>().Int64Value();
    v = o.Get("hash");
    if (v.IsString()) {
      std::string h = v.As<Napi::String>().Utf8Value();
      if (h == "crc16") cfg.hash = HashKind::Crc16;
      else if (h == "murmur") cfg.hash = HashKind::Murmur;
      else {
        Napi::TypeError::New(env, "hash must be 'crc16' or 'murmur'").ThrowAsJavaScriptException();
        return env.Undefined();
      }
    }
    v = o.Get("murmurSeed");
    if (v.IsNumber()) cfg.murmurSeed = static_cast<uint32_t>(v.As<Napi::Number>().Int64Value());
    parser_.configure(cfg);
    return env.Undefined();
  }

  Napi::Value SetCommandTable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      Napi::TypeError::New(env, "setCommandTable(compiled) needs an object").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::vector<std::string> names, keywords;
    std::vector<int32_t> arity, specStart, specCount, specs, subStart, subCount, routing, mergeKind;
    if (!getStringVector(env, o, "names", &names) || !getStringVector(env, o, "keywords", &keywords) ||
        !getInt32Vector(env, o, "arity", &arity) || !getInt32Vector(env, o, "specStart", &specStart) ||
        !getInt32Vector(env, o, "specCount", &specCount) || !getInt32Vector(env, o, "specs", &specs) ||
        !getInt32Vector(env, o, "subStart", &subStart) || !getInt32Vector(env, o, "subCount", &subCount) ||
        !getInt32Vector(env, o, "routing", &routing) || !getInt32Vector(env, o, "mergeKind", &mergeKind))
      return env.Undefined();
    std::string error;
    if (!table_.load(names, arity, specStart, specCount, specs, keywords, subStart, subCount, routing, mergeKind, &error)) {
      Napi::Error::New(env, "invalid command table: " + error).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    lastCmds_ = 0;
    return env.Undefined();
  }

  // [routing code, merge kind] of a command id as this engine loaded them (tests, diagnostics).
  Napi::Value CommandInfo(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    double id = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
    if (!(id >= 0 && id < static_cast<double>(table_.size()))) return env.Null();
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Int(env, table_.routing(static_cast<int>(id))));
    out.Set(1u, Int(env, table_.mergeKind(static_cast<int>(id))));
    return out;
  }

  Napi::Value BindBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    // (cmds, args, keys, status, replyEnds, replyStatus, plan): all or nothing.
    Bound<int32_t> c, a, k, s, re, rs, p;
    if (!c.bind(env, info[0], napi_int32_array, "batch.cmds") || !a.bind(env, info[1], napi_int32_array, "batch.args") ||
        !k.bind(env, info[2], napi_int32_array, "batch.keys") || !s.bind(env, info[3], napi_int32_array, "batch.status", kStatusLen) ||
        !re.bind(env, info[4], napi_int32_array, "replyEnds") || !rs.bind(env, info[5], napi_int32_array, "replyStatus", kReplyStatusLen) ||
        !p.bind(env, info[6], napi_int32_array, "plan"))
      return env.Undefined();
    cmds_ = std::move(c);
    args_ = std::move(a);
    keys_ = std::move(k);
    status_ = std::move(s);
    replyEnds_ = std::move(re);
    replyStatus_ = std::move(rs);
    plan_ = std::move(p);
    lastCmds_ = 0;
    return env.Undefined();
  }

  Napi::Value BindSlotTable(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bound<uint16_t> t;
    if (t.bind(env, info[0], napi_uint16_array, "the slot table (16384 entries)", 16384)) slots_ = std::move(t);
    return env.Undefined();
  }

  // bindCallArgs(Float64Array(5)): where the hot functions read their numbers (see FastChunk).
  Napi::Value BindCallArgs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Bound<double> a;
    if (a.bind(env, info[0], napi_float64_array, "call args (Float64Array of 5)", 5)) callIn_ = std::move(a);
    return env.Undefined();
  }

  // The per-read and per-split calls as plain functions bound to this engine (the pointer rides
  // in the function's data): calling a method of a wrapped object costs a private-symbol lookup
  // to unwrap it, per call, on the hottest path. The caller keeps the engine alive with them.
  Napi::Value HotFunctions(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    napi_value fn;
    napi_create_function(env, "parseAt", NAPI_AUTO_LENGTH, &NativeEngine::ParseAt, this, &fn);
    out.Set("parseAt", Napi::Value(env, fn));
    napi_create_function(env, "frameAt", NAPI_AUTO_LENGTH, &NativeEngine::FrameAt, this, &fn);
    out.Set("frameAt", Napi::Value(env, fn));
    napi_create_function(env, "copyAt", NAPI_AUTO_LENGTH, &NativeEngine::CopyAt, this, &fn);
    out.Set("copyAt", Napi::Value(env, fn));
    napi_create_function(env, "splitAt", NAPI_AUTO_LENGTH, &NativeEngine::SplitAt, this, &fn);
    out.Set("splitAt", Napi::Value(env, fn));
    napi_create_function(env, "mergeStoreAt", NAPI_AUTO_LENGTH, &NativeEngine::MergeStoreAt, this, &fn);
    out.Set("mergeStoreAt", Napi::Value(env, fn));
    return out;
  }

  // parseAt(chunk, copyTo?) / frameAt(chunk): parseRequests / frameReplies with their numbers
  // (from, end, resume point; parseAt: where in copyTo) read from the Float64Array bound by
  // bindCallArgs, written by the caller just before. parseAt with copyTo also copies
  // chunk[from, end) there (SLOWLOG's request log): the copy rides on the crossing the read makes
  // anyway instead of costing one of its own. Raw N-API: one call for the arguments and one for the chunk's bytes, where the
  // argument form pays a type check and a conversion per number (measured: the per-read parse
  // was a third of a -P 1 request's JS time, benchmarks/hot-path.ts). parseAt returns nothing
  // (the count is status[S_NCMDS]); frameAt the reply count.
  static napi_value ParseAt(napi_env env, napi_callback_info cb) {
    NativeEngine* self;
    napi_value argv[2];
    const uint8_t* data;
    size_t len, from;
    size_t argc = 2;
    if (!FastChunk(env, cb, &self, argv, &argc, &data, &len, &from)) return nullptr;
    if (argc >= 2) {
      napi_typedarray_type t;
      void* d;
      size_t n;
      if (napi_get_typedarray_info(env, argv[1], &t, &n, &d, nullptr, nullptr) != napi_ok || t != napi_uint8_array) {
        napi_throw_type_error(env, nullptr, "parseAt(chunk, copyTo?: Buffer)");
        return nullptr;
      }
      double at = self->callIn_.data[4];
      if (at >= 0 && at + static_cast<double>(len - from) <= static_cast<double>(n)) std::memcpy(static_cast<uint8_t*>(d) + static_cast<size_t>(at), data + from, len - from);
    }
    RequestOutput out{self->cmds_.data, self->cmds_.length / kCmdStride, self->args_.data, self->args_.length / 2, self->keys_.data, self->keys_.length / 2, self->status_.data};
    RequestResume resume;
    double at = self->callIn_.data[2], args = self->callIn_.data[3];
    if (at > 0 && at <= static_cast<double>(len - from) && args >= 0 && args < 2147483648.0)
      resume = RequestResume{static_cast<size_t>(at), static_cast<size_t>(args)};
    self->lastCmds_ = static_cast<size_t>(self->parser_.parse(data, len, from, out, resume));
    return nullptr;
  }

  static napi_value FrameAt(napi_env env, napi_callback_info cb) {
    NativeEngine* self;
    napi_value chunk;
    const uint8_t* data;
    size_t len, from;
    size_t argc = 1;
    if (!FastChunk(env, cb, &self, &chunk, &argc, &data, &len, &from)) return nullptr;
    FrameResume resume;
    double at = self->callIn_.data[2], owed = self->callIn_.data[3];
    if (owed > 0 && at > static_cast<double>(from) && at <= static_cast<double>(len)) resume = FrameResume{static_cast<size_t>(at), owed};
    int n = frameReplies(data, len, from, self->replyEnds_.data, self->replyEnds_.length, self->replyStatus_.data, resume);
    napi_value r;
    napi_create_int32(env, n, &r);
    return r;
  }

  // The arguments of a hot function (room for *argc; *argc becomes how many were passed) and the
  // engine bound as its data; null when N-API could not give them.
  static NativeEngine* HotArgs(napi_env env, napi_callback_info cb, size_t* argc, napi_value* argv) {
    void* engine;
    if (napi_get_cb_info(env, cb, argc, argv, nullptr, &engine) != napi_ok) return nullptr;
    return static_cast<NativeEngine*>(engine);
  }

  // copyAt(dst, src): src[start, end) to dst at `at`, with (at, start, end) in the call-args array;
  // out-of-range numbers copy nothing (the caller checked them: this only keeps memory safe).
  static napi_value CopyAt(napi_env env, napi_callback_info cb) {
    size_t argc = 2;
    napi_value argv[2];
    NativeEngine* self = HotArgs(env, cb, &argc, argv);
    if (self == nullptr) return nullptr;
    const uint8_t *d, *s;
    size_t dn, sn;
    if (argc < 2 || !self->callIn_.data || !rawBytes(env, argv[0], &d, &dn) || !rawBytes(env, argv[1], &s, &sn)) {
      napi_throw_type_error(env, nullptr, "copyAt(dst: Buffer, src: Buffer) after bindCallArgs()");
      return nullptr;
    }
    double at = self->callIn_.data[0], start = self->callIn_.data[1], end = self->callIn_.data[2];
    if (start >= 0 && end <= static_cast<double>(sn) && start < end && at >= 0 && at + (end - start) <= static_cast<double>(dn))
      std::memmove(const_cast<uint8_t*>(d) + static_cast<size_t>(at), s + static_cast<size_t>(start), static_cast<size_t>(end - start));
    return nullptr;
  }


  // The checks of the per-read calls, on the call-args array: chunk[0, end) with framing from `from`.
  // argv/argc: room for *argc arguments (the chunk first); *argc becomes how many were passed.
  static bool FastChunk(napi_env env, napi_callback_info cb, NativeEngine** self, napi_value* argv, size_t* argc, const uint8_t** data, size_t* len, size_t* from) {
    if ((*self = HotArgs(env, cb, argc, argv)) == nullptr) return false;
    napi_value* chunk = argv;
    if (!(*self)->status_.data || !(*self)->callIn_.data) {
      napi_throw_error(env, nullptr, "bindBatch() and bindCallArgs() first");
      return false;
    }
    napi_typedarray_type t;
    void* d;
    size_t n;
    if (*argc < 1 || napi_get_typedarray_info(env, *chunk, &t, &n, &d, nullptr, nullptr) != napi_ok || t != napi_uint8_array) {
      napi_throw_type_error(env, nullptr, "chunk must be a Buffer");
      return false;
    }
    double f = (*self)->callIn_.data[0], e = (*self)->callIn_.data[1];
    if (!(e >= 0 && e <= static_cast<double>(n)) || !(f >= 0 && f <= e) || e > 2147483647.0) {
      napi_throw_range_error(env, nullptr, "from/end are outside the chunk (or the chunk is over 2 GB)");
      return false;
    }
    *data = static_cast<const uint8_t*>(d);
    *len = static_cast<size_t>(e);
    *from = static_cast<size_t>(f);
    return true;
  }

  // Small counts as V8 small integers (no heap number).
  static Napi::Value Int(Napi::Env env, int32_t v) {
    napi_value r;
    napi_create_int32(env, v, &r);
    return Napi::Value(env, r);
  }

  // split / splitAt: the sub-commands of command `ci` of the last parse into out[0, cap). Returns
  // their size, or -size when out is too small (the caller grows it); on bad input it sets
  // err (the text, and whether it is a RangeError) and returns 0.
  struct SplitError {
    const char* text = nullptr;
    bool range = false;
  };
  double splitCommand(const uint8_t* data, size_t len, double ci, uint8_t* out, size_t cap, SplitError* err) {
    if (!slots_.data) {
      err->text = "bindSlotTable() first";
      return 0;
    }
    if (!(ci >= 0 && ci < static_cast<double>(lastCmds_)) || ci != static_cast<double>(static_cast<size_t>(ci))) {
      *err = SplitError{"cmdIndex is not a command of the last parse", true};
      return 0;
    }
    const int32_t* cmd = cmds_.data + kCmdStride * static_cast<size_t>(ci);
    int id = cmd[C_CMD];
    MergeKind kind = static_cast<MergeKind>(table_.mergeKind(id));
    if (kind == MK_NONE || (cmd[C_FLAGS] & F_BAD_KEYS)) {
      err->text = "split: not a split command (routing 'split' with a merge kind in commands.json)";
      return 0;
    }
    size_t argc = static_cast<size_t>(cmd[C_ARGC]), arg0 = static_cast<size_t>(cmd[C_ARG0]);
    size_t key0 = static_cast<size_t>(cmd[C_KEY0]), nkeys = static_cast<size_t>(cmd[C_NKEYS]);
    if (arg0 + argc > args_.length / 2 || key0 + nkeys > keys_.length / 2) {
      *err = SplitError{"split: batch arrays changed since the parse", true};
      return 0;
    }
    views_.resize(argc);
    if (cmd[C_FLAGS] & F_NEEDS_DECODE) {
      size_t s = static_cast<size_t>(cmd[C_START]), e = static_cast<size_t>(cmd[C_END]);
      if (e > len || s >= e) {
        *err = SplitError{"split: the command is outside the chunk", true};
        return 0;
      }
      e--;  // '\n'
      if (e > s && data[e - 1] == '\r') e--;
      RequestParser::decodeInline(data + s, e - s, &scratch_, &scratchLens_);
      size_t off = 0;
      for (size_t i = 0; i < argc && i < scratchLens_.size(); i++) {
        views_[i] = ArgView{reinterpret_cast<const uint8_t*>(scratch_.data()) + off, scratchLens_[i]};
        off += scratchLens_[i];
      }
    } else {
      for (size_t i = 0; i < argc; i++) {
        size_t off = static_cast<size_t>(args_.data[2 * (arg0 + i)]), l = static_cast<size_t>(args_.data[2 * (arg0 + i) + 1]);
        if (off + l > len) {
          *err = SplitError{"split: the command is outside the chunk", true};
          return 0;
        }
        views_[i] = ArgView{data + off, l};
      }
    }
    keyArgs_.resize(nkeys);
    keySlots_.resize(nkeys);
    for (size_t k = 0; k < nkeys; k++) {
      keyArgs_[k] = keys_.data[2 * (key0 + k)] - static_cast<int32_t>(arg0);
      keySlots_[k] = keys_.data[2 * (key0 + k) + 1];
    }
    size_t bytes;
    if (!splitter_.plan(kind, views_.data(), argc, keyArgs_.data(), keySlots_.data(), nkeys, slots_.data, plan_.data, plan_.length, &bytes)) {
      *err = SplitError{"split: the plan array is too small or the command is malformed", true};
      return 0;
    }
    if (bytes > cap) return -static_cast<double>(bytes);  // caller grows it
    splitter_.write(out);
    return static_cast<double>(bytes);
  }

  // splitAt(chunk, out): split with cmdIndex in the call-args array (raw N-API: no unwrap, no
  // per-argument conversions; hot for every MGET/MSET/DEL... over several shards).
  static napi_value SplitAt(napi_env env, napi_callback_info cb) {
    size_t argc = 2;
    napi_value argv[2];
    NativeEngine* self = HotArgs(env, cb, &argc, argv);
    if (self == nullptr) return nullptr;
    const uint8_t* data;
    uint8_t* out;
    size_t len, cap;
    if (!self->status_.data || !self->callIn_.data || argc < 2 || !rawBytes(env, argv[0], &data, &len) || !rawBytes(env, argv[1], const_cast<const uint8_t**>(&out), &cap)) {
      napi_throw_type_error(env, nullptr, "splitAt(chunk: Buffer, out: Buffer) after bindBatch() and bindCallArgs()");
      return nullptr;
    }
    SplitError err;
    double r = self->splitCommand(data, len, self->callIn_.data[0], out, cap, &err);
    if (err.text != nullptr) {
      if (err.range) napi_throw_range_error(env, nullptr, err.text);
      else napi_throw_error(env, nullptr, err.text);
      return nullptr;
    }
    napi_value result;
    napi_create_double(env, r, &result);
    return result;
  }

  // A Uint8Array's bytes, or false (raw N-API, one call).
  static bool rawBytes(napi_env env, napi_value v, const uint8_t** data, size_t* len) {
    napi_typedarray_type t;
    void* d;
    if (napi_get_typedarray_info(env, v, &t, len, &d, nullptr, nullptr) != napi_ok || t != napi_uint8_array) return false;
    *data = static_cast<const uint8_t*>(d);
    return true;
  }

  bool outArg(Napi::Env env, Napi::Value v, uint8_t** out, size_t* cap) {
    const uint8_t* data;
    if (!getBytes(env, v, &data, cap, "out")) return false;
    *out = const_cast<uint8_t*>(data);
    return true;
  }

  Napi::Value Merge(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[1].IsArray()) {
      Napi::TypeError::New(env, "merge(plan: Int32Array, replies: Buffer[], out: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Int32Array plan = info[0].As<Napi::Int32Array>();
    Napi::Array arr = info[1].As<Napi::Array>();
    spans_.resize(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) {
      if (!getBytes(env, arr.Get(i), &spans_[i].data, &spans_[i].len, "reply")) return env.Undefined();
    }
    if (!mergeReplies(plan.Data(), plan.ElementLength(), spans_.data(), spans_.size(), &merged_)) {
      Napi::RangeError::New(env, "merge: the plan does not match the replies").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    uint8_t* out;
    size_t cap;
    if (!outArg(env, info[2], &out, &cap)) return env.Undefined();
    if (merged_.size() > cap) return Napi::Number::New(env, -static_cast<double>(merged_.size()));  // caller grows it
    if (!merged_.empty()) memcpy(out, merged_.data(), merged_.size());
    return Napi::Number::New(env, static_cast<double>(merged_.size()));
  }

  // mergeStore(plan, store, spans, out): as merge, with sub-reply s at store[spans[2s], spans[2s+1])
  // (src/proxy/SplitMerge.ts keeps sub-replies in one reused buffer: no Buffer per sub-reply).
  // mergeStore / mergeStoreAt: the sub-replies at store[spans[2s], spans[2s+1]) merged per plan
  // into out[0, cap). Returns the size, or -size when out is too small; on bad input *error.
  double mergeFromStore(const int32_t* plan, size_t planLen, const uint8_t* store, size_t storeLen, const int32_t* sp, size_t spLen, uint8_t* out,
                        size_t cap, const char** error) {
    // One span per sub-command of the plan (the spans array may be longer: it is reused).
    size_t n = planLen > 0 && plan[0] > 0 ? static_cast<size_t>(plan[0]) : 0;
    if (n > spLen / 2) n = spLen / 2;
    spans_.resize(n);
    for (size_t i = 0; i < n; i++) {
      int32_t a = sp[2 * i];
      int32_t b = sp[2 * i + 1];
      if (a < 0 || b < a || static_cast<size_t>(b) > storeLen) {
        *error = "mergeStore: a span is outside the store";
        return 0;
      }
      spans_[i].data = store + a;
      spans_[i].len = static_cast<size_t>(b - a);
    }
    if (!mergeReplies(plan, planLen, spans_.data(), spans_.size(), &merged_)) {
      *error = "merge: the plan does not match the replies";
      return 0;
    }
    if (merged_.size() > cap) return -static_cast<double>(merged_.size());  // caller grows it
    if (!merged_.empty()) memcpy(out, merged_.data(), merged_.size());
    return static_cast<double>(merged_.size());
  }

  // mergeStoreAt(plan, store, spans, out): mergeStore in raw N-API (no unwrap, one call per array).
  static napi_value MergeStoreAt(napi_env env, napi_callback_info cb) {
    size_t argc = 4;
    napi_value argv[4];
    NativeEngine* self = HotArgs(env, cb, &argc, argv);
    if (self == nullptr) return nullptr;
    napi_typedarray_type pt, st;
    void *pd, *sd;
    size_t planLen, spLen, storeLen, cap;
    const uint8_t* store;
    uint8_t* out;
    if (argc < 4 || napi_get_typedarray_info(env, argv[0], &pt, &planLen, &pd, nullptr, nullptr) != napi_ok || pt != napi_int32_array ||
        napi_get_typedarray_info(env, argv[2], &st, &spLen, &sd, nullptr, nullptr) != napi_ok || st != napi_int32_array || !rawBytes(env, argv[1], &store, &storeLen) ||
        !rawBytes(env, argv[3], const_cast<const uint8_t**>(&out), &cap)) {
      napi_throw_type_error(env, nullptr, "mergeStoreAt(plan: Int32Array, store: Buffer, spans: Int32Array, out: Buffer)");
      return nullptr;
    }
    const char* error = nullptr;
    double r = self->mergeFromStore(static_cast<const int32_t*>(pd), planLen, store, storeLen, static_cast<const int32_t*>(sd), spLen, out, cap, &error);
    if (error != nullptr) {
      napi_throw_range_error(env, nullptr, error);
      return nullptr;
    }
    napi_value result;
    napi_create_double(env, r, &result);
    return result;
  }

  Napi::Value KeySlot(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint8_t* data;
    size_t len;
    if (!getBytes(env, info[0], &data, &len, "key")) return env.Undefined();
    return Napi::Number::New(env, keySlotFor(parser_.config(), data, len));
  }

  Napi::Value DecodeInline(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const uint8_t* data;
    size_t len;
    if (!getBytes(env, info[0], &data, &len, "line")) return env.Undefined();
    if (!RequestParser::decodeInline(data, len, &scratch_, &scratchLens_)) return env.Null();
    Napi::Array out = Napi::Array::New(env, scratchLens_.size());
    size_t off = 0;
    for (size_t i = 0; i < scratchLens_.size(); i++) {
      out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<const uint8_t*>(scratch_.data()) + off, scratchLens_[i]));
      off += scratchLens_[i];
    }
    return out;
  }

  CommandTable table_;
  RequestParser parser_;
  Splitter splitter_;
  Bound<int32_t> cmds_, args_, keys_, status_, replyEnds_, replyStatus_, plan_;
  Bound<uint16_t> slots_;
  Bound<double> callIn_;
  size_t lastCmds_ = 0;
  std::vector<ArgView> views_;
  std::vector<int32_t> keyArgs_, keySlots_;
  std::string scratch_;
  std::vector<size_t> scratchLens_;
  std::vector<Span> spans_;
  std::string merged_;
};

Napi::Value Crc16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  if (!getBytes(env, info[0], &data, &len, "data")) return env.Undefined();
  return Napi::Number::New(env, crc16(data, len));
}

Napi::Value Murmur2(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  if (!getBytes(env, info[0], &data, &len, "data")) return env.Undefined();
  uint32_t seed = info[1].IsNumber() ? static_cast<uint32_t>(info[1].As<Napi::Number>().Int64Value()) : 0;
  return Napi::Number::New(env, murmur2(data, len, seed));
}

// CRC16 slot of a key (hash tags honoured), as the scaffold exported it (used without an engine).
Napi::Value KeySlotCrc16(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const uint8_t* data;
  size_t len;
  if (!getBytes(env, info[0], &data, &len, "key")) return env.Undefined();
  return Napi::Number::New(env, crc16Slot(data, len));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", NativeEngine::Define(env));
  exports.Set("keySlot", Napi::Function::New(env, KeySlotCrc16));
  exports.Set("crc16", Napi::Function::New(env, Crc16));
  exports.Set("murmur2", Napi::Function::New(env, Murmur2));
  kvstore::InitIo(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(kvstore_native, Init)
