// The command table as native sees it (built from the CompiledCommandTable that TypeScript
// passes to setCommandTable, itself compiled from src/commands/commands.json: no command list
// is written down here): case-insensitive name → id lookup without allocation, container
// subcommands, routing class and merge kind per command, and Redis 7 key-spec evaluation
// (db.c getKeysUsingKeySpecs).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kvstore {

constexpr int kCmdUnknown = -1;
constexpr int kBeginIndex = 1;
constexpr int kBeginKeyword = 2;
constexpr int kFindRange = 1;
constexpr int kFindKeynum = 2;
constexpr int kSpecStride = 7;

struct KeySpec {
  int32_t beginKind;
  int32_t beginArg;  // index, or startFrom for keyword search
  int32_t keywordId;
  int32_t findKind;
  int32_t a, b, c;
};

// An argument as bytes (decoded for quoted inline commands).
struct ArgView {
  const uint8_t* data;
  size_t len;
};

class CommandTable {
 public:
  // All vectors as in CompiledCommandTable; returns false (and keeps the old table) if the
  // arrays are inconsistent.
  // routing: the routing class code per command (ROUTING_CODE in src/native/api.ts, 1..7);
  // mergeKind: MergeKind per command (1..3 for split commands, else 0).
  bool load(const std::vector<std::string>& names, const std::vector<int32_t>& arity, const std::vector<int32_t>& specStart,
            const std::vector<int32_t>& specCount, const std::vector<int32_t>& specs, const std::vector<std::string>& keywords,
            const std::vector<int32_t>& subStart, const std::vector<int32_t>& subCount, const std::vector<int32_t>& routing,
            const std::vector<int32_t>& mergeKind, std::string* error);

  size_t size() const { return names_.size(); }
  int routing(int id) const { return id >= 0 && static_cast<size_t>(id) < routing_.size() ? routing_[id] : 0; }
  // 0 for commands that are not split (and for unknown ids).
  int mergeKind(int id) const { return id >= 0 && static_cast<size_t>(id) < mergeKind_.size() ? mergeKind_[id] : 0; }
  // Id of the command (or container subcommand) named by argv[0] (and argv[1]).
  int lookup(const ArgView* argv, size_t argc) const {
    if (argc == 0) return kCmdUnknown;
    int id = lookupName(argv[0].data, argv[0].len);
    if (id < 0 || subCount_[id] <= 0 || argc < 2) return id;
    return lookupSub(id, argv[1]);
  }
  int lookupName(const uint8_t* name, size_t len) const {
    // Pipelines repeat the same command: the last name, byte for byte, needs no hashing.
    if (len == lastLen_ && len != 0) {
      size_t i = 0;
      while (i < len && name[i] == lastName_[i]) i++;
      if (i == len) return lastId_;
    }
    return lookupNameSlow(name, len);
  }
  int idOf(const char* lowercaseName) const;

  // Key argument positions per the key specs, appended to `out`. Returns false when a spec
  // cannot be evaluated (bad numkeys, keys out of range): Redis then reports no keys at all.
  bool findKeys(int id, const ArgView* argv, size_t argc, std::vector<int32_t>* out) const;

  // True when every key spec of `id` is index + range (most commands): its key positions then
  // depend on argc only, and rangeKeys() finds them without looking at any argument.
  bool rangeOnly(int id) const { return rangeOnly_[id] != 0; }
  // True when the only key is argument 1 (GET, SET, INCR, HSET, ...: one index 1 + range 0 spec).
  bool firstArgKey(int id) const { return rangeOnly_[id] == 2; }
  // Key positions of a rangeOnly command into out[0..cap) (counting past cap). False = bad keys.
  bool rangeKeys(int id, size_t argc, int32_t* out, size_t cap, size_t* count) const {
    const int iargc = static_cast<int>(argc);
    size_t n = 0;
    for (int32_t si = specStart_[id], se = specStart_[id] + specCount_[id]; si < se; si++) {
      const KeySpec& sp = specs_[si];
      if (sp.beginKind != kBeginIndex || sp.findKind != kFindRange) continue;  // skipped (kind 0) specs
      int first = sp.beginArg, last, step = sp.b;
      if (sp.a >= 0) last = first + sp.a;
      else if (!sp.c) last = iargc + sp.a;
      else last = first + ((iargc - first) / sp.c + sp.a);
      if (last >= iargc || last < first || first >= iargc || first < 0 || step <= 0) return false;
      for (int i = first; i <= last; i += step) {
        if (n < cap) out[n] = i;
        n++;
      }
    }
    *count = n;
    return true;
  }

 private:
  static uint32_t hashLower(const uint8_t* p, size_t len);
  int lookupNameSlow(const uint8_t* name, size_t len) const;
  int lookupSub(int container, const ArgView& sub) const;
  std::vector<std::string> names_;
  std::vector<int32_t> arity_, specStart_, specCount_, subStart_, subCount_, routing_, mergeKind_;
  std::vector<KeySpec> specs_;
  std::vector<uint8_t> rangeOnly_;
  std::vector<std::string> keywords_;
  std::vector<int32_t> slots_;  // open addressing: id+1 per slot, 0 empty
  // The last name looked up, as sent (pipelines repeat the same command): a memcmp, no hashing.
  mutable uint8_t lastName_[16] = {};
  mutable size_t lastLen_ = 0;
  mutable int lastId_ = kCmdUnknown;
  uint32_t mask_ = 0;
};

}  // namespace kvstore
