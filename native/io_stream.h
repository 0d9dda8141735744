// Data-path sockets on libuv (see io_stream.cc): exports IoStream and ioSetup.
#pragma once
#include <napi.h>

namespace kvstore {
void InitIo(Napi::Env env, Napi::Object exports);
}
