{
  "targets": [
    {
      "target_name": "kvstore_native",
      "sources": [
        "native/slot_hash.cc",
        "native/command_table.cc",
        "native/request_parser.cc",
        "native/reply_framer.cc",
        "native/split_merge.cc",
        "native/stream_core.cc",
        "native/io_loop.cc",
        "native/io_stream.cc",
        "native/binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions", "-O2"],
      "cflags_cc!": ["-fno-exceptions", "-O2"],
      "cflags_cc": ["-O3", "-std=c++17", "-fvisibility=hidden", "-fno-exceptions", "-fomit-frame-pointer"],
      "cflags": ["-O3", "-fvisibility=hidden"]
    }
  ]
}
