// The thin N-API layer over the plain C++ core. (Scaffold: grows with issue #2.)
#include <napi.h>
#include "slot_hash.h"

namespace {

Napi::Value KeySlot(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> key = info[0].As<Napi::Buffer<uint8_t>>();
  return Napi::Number::New(info.Env(), kvstore::crc16Slot(key.Data(), key.Length()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("keySlot", Napi::Function::New(env, KeySlot));
  return exports;
}

}  // namespace

NODE_API_MODULE(kvstore_native, Init)
