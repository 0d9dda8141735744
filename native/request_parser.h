// Request framing: every complete command of a client chunk, as Redis 7.0 networking.c
// (processInlineBuffer / processMultibulkBuffer) would read it, into caller-owned int32 arrays.
// The caller keeps the unconsumed tail and calls again with more bytes. Two hints keep that
// linear in the size of a huge command arriving in many reads: S_NEED (the tail cannot complete
// before that many bytes, so a large bulk is not rescanned) and the resume point S_RESUME_AT /
// S_RESUME_ARGS (where framing of an incomplete multibulk stopped, passed back on the next call
// so only the new bytes are framed; the argument offsets are recomputed in one pass at the end).
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
// S_RESUME_AT / S_RESUME_ARGS: for an incomplete multibulk at S_CONSUMED, the offset (from its
// start) of its first argument not yet complete and how many arguments precede it; 0/0 = none.
enum StatusField { S_NCMDS = 0, S_CONSUMED, S_ERROR, S_NEED, S_FULL, S_GROW_ARGS, S_ERROR_BYTE, S_RESUME_AT, S_RESUME_ARGS };
constexpr int kStatusLen = 9;

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

// A resume point from an earlier call (S_RESUME_AT / S_RESUME_ARGS) for the command at `from`,
// valid while the bytes from `from` are the same (more may follow). at == 0: none.
struct RequestResume {
  size_t at = 0;
  size_t args = 0;
};

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
  int parse(const uint8_t* buf, size_t len, size_t from, const RequestOutput& out, RequestResume resume = {});

  // Decoded arguments of an inline line (for quoted/escaped inline commands).
  static bool decodeInline(const uint8_t* line, size_t len, std::string* bytes, std::vector<size_t>* lens);

 private:
  enum class LengthResult { Ok, Incomplete, Invalid, TooBig, NotDollar };
  LengthResult readLength(const uint8_t* buf, size_t len, size_t lineStart, bool bulk, long long* value, size_t* next) const;
  LengthResult readLengthSlow(const uint8_t* buf, size_t len, size_t lineStart, bool bulk, long long* value, size_t* next) const;
  enum class BulkScan { Done, Incomplete, Error };
  // Frames `remaining` bulk arguments from *p (offsets into args when it is not null) of the
  // command at `start`. Done: *p is past the last. Incomplete: *p is at the first one not
  // complete (*need set when its header was read). Error: *error / *badByte set.
  BulkScan scanBulks(const uint8_t* buf, size_t len, size_t start, size_t* p, long long remaining, int32_t* args, size_t* argc, long long* need,
                     int* error, uint8_t* badByte) const;
  enum class ResumeOutcome { NotApplicable, Complete, Stopped };
  struct ResumeStop {
    long long need = 0;
    int error = PE_NONE;
    uint8_t badByte = 0;
    long long grow = 0;
    size_t resumeAt = 0, resumeArgs = 0;
  };
  // Frames the rest of the resumed command at `from`. Complete: the normal loop frames it whole;
  // Stopped: the call ends here with *stop; NotApplicable: the resume point does not fit (ignored).
  ResumeOutcome resumeFirst(const uint8_t* buf, size_t len, size_t from, RequestResume resume, size_t argCap, ResumeStop* stop) const;
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
