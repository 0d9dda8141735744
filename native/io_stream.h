// N-API glue of the data-path sockets (see io_stream.cc; the sockets are io_loop.cc, their
// buffers and state rules stream_core.cc): exports ioSetup, ioConnect, ioListen and the
// per-stream calls taking a stream id.
#pragma once
#include <napi.h>

namespace kvstore {
void InitIo(Napi::Env env, Napi::Object exports);
}
