// Request framing: every complete command of a client chunk, as Redis 7.0 networking.c
// (processInlineBuffer / processMultibulkBuffer) would read it, into caller-owned int32 arrays.
// Stateless across calls: the caller keeps the unconsumed tail and calls again with more bytes;
// S_NEED tells it how many bytes the tail needs so a large bulk is not rescanned.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "command_table.h"
#include "slot_hash.h"

namespace kvstore {

// Layout constants (src/native/api.ts).
constexpr int kCmdStride = 9;
enum CmdField { C_START = 0, C_END, C_ARGC, C_CMD, C_ARG0, C_KEY0, C_NKEYS, C_SLOT, C_FLAGS };
constexpr int kSlotNone = -1;
constexpr int kSlotCross = -2;
constexpr int F_INLINE = 1;
constexpr int F_NEEDS_DECODE = 2;
constexpr int F_BAD_KEYS = 4;
// S_ERROR_BYTE (an extension shared with the reference): the byte quoted by "expected '$', got '%c'".
enum StatusField { S_NCMDS = 0, S_CONSUMED, S_ERROR, S_NEED, S_FULL, S_GROW_ARGS, S_ERROR_BYTE };
constexpr int kStatusLen = 8;

enum ProtocolError {
  PE_NONE = 0,
  PE_INVALID_MULTIBULK_LENGTH = 1,
  PE_INVALID_BULK_LENGTH = 2,
  PE_EXPECTED_DOLLAR = 3,
  PE_UNBALANCED_QUOTES = 4,
  PE_TOO_BIG_INLINE_REQUEST = 5,
  PE_TOO_BIG_MBULK_COUNT_STRING = 6,
  PE_TOO_BIG_BULK_COUNT_STRING = 7,
};

enum class HashKind { Crc16, Murmur };

struct EngineConfig {
  long long maxBulkBytes = 512LL * 1024 * 1024;
  long long maxInlineBytes = 64 * 1024;
  HashKind hash = HashKind::Crc16;
  uint32_t murmurSeed = 0;
};

inline int keySlotFor(const EngineConfig& cfg, const uint8_t* key, size_t len) {
  return cfg.hash == HashKind::Murmur ? murmurSlot(key, len, cfg.murmurSeed) : crc16Slot(key, len);
}

struct RequestOutput {
  int32_t* cmds;
  size_t cmdCap;  // commands
  int32_t* args;
  size_t argCap;  // argument pairs
  int32_t* keys;
  size_t keyCap;  // key pairs
  int32_t* status;  // kStatusLen
};

class RequestParser {
 public:
  void configure(const EngineConfig& cfg) { cfg_ = cfg; }
  const EngineConfig& config() const { return cfg_; }
  void setTable(const CommandTable* table) { table_ = table; }

  // Frames complete commands in buf[from..len). Returns the number of commands.
  int parse(const uint8_t* buf, size_t len, size_t from, const RequestOutput& out);

  // Decoded arguments of an inline line (for quoted/escaped inline commands).
  static bool decodeInline(const uint8_t* line, size_t len, std::string* bytes, std::vector<size_t>* lens);

 private:
  enum class LengthResult { Ok, Incomplete, Invalid, TooBig, NotDollar };
  LengthResult readLength(const uint8_t* buf, size_t len, size_t lineStart, bool bulk, long long* value, size_t* next) const;
  LengthResult readLengthSlow(const uint8_t* buf, size_t len, size_t lineStart, bool bulk, long long* value, size_t* next) const;
  // Fills id, keys and slot of a complete command whose args are in `args`. Returns false when
  // its keys do not fit in keyRoom (*nkeysOut then says how many it has).
  bool describe(const uint8_t* buf, int32_t* cmd, const int32_t* args, size_t argc, int32_t argBase, int32_t* keys, size_t keyRoom,
                size_t* nkeysOut);

  EngineConfig cfg_;
  const CommandTable* table_ = nullptr;
  std::vector<ArgView> views_;
  ArgView head_[2];
  std::vector<int32_t> keyPos_;
  std::string scratch_;
  std::vector<size_t> scratchLens_;
};

}  // namespace kvstore
