// Split of a multi-key command (MGET, MSET, DEL, EXISTS, UNLINK, TOUCH) into one sub-command
// per shard, and merge of the sub-replies back into the one reply the client expects.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "command_table.h"

namespace kvstore {

enum MergeKind { MK_NONE = 0, MK_ARRAY = 1, MK_SUM = 2, MK_ALL_OK = 3 };
constexpr int kPlanHeader = 3;
constexpr int kPlanSubStride = 4;
constexpr int kPlanKeyStride = 2;

struct Span {
  const uint8_t* data;
  size_t len;
};

class Splitter {
 public:
  // argv: the command's arguments (decoded); keyArgs: argument index of each key (client order);
  // keySlots: their slots. MSET keys take the argument after them along as the value.
  // Computes the plan and the byte size of the sub-commands. Returns false when the plan does
  // not fit in planCap int32s or a key has no value.
  bool plan(MergeKind kind, const ArgView* argv, size_t argc, const int32_t* keyArgs, const int32_t* keySlots, size_t nkeys,
            const uint16_t* slotTable, int32_t* plan, size_t planCap, size_t* outBytes);
  // Writes the sub-commands planned by the last plan() call into out (outBytes long).
  void write(uint8_t* out) const;

 private:
  struct Sub {
    int32_t shard;
    size_t keyCount;
    size_t bytes;
    size_t start;
  };
  bool placeKey(MergeKind kind, const ArgView* argv, size_t argc, int32_t keyArg, int32_t slot, const uint16_t* slotTable, int32_t* subOut,
                int32_t* posOut);
  MergeKind kind_ = MK_NONE;
  const ArgView* argv_ = nullptr;
  const int32_t* keyArgs_ = nullptr;
  size_t nkeys_ = 0;
  std::vector<Sub> subs_;
  std::vector<int32_t> keySub_;    // per key: its sub-command
  std::vector<int32_t> order_;     // keys grouped by sub-command, client order within
  std::vector<int32_t> subOfShard_;
  // Scratch of plan(), kept between calls: no heap allocation per split.
  std::vector<int32_t> posInSub_;  // per key: its place in its sub-command
  std::vector<size_t> fill_;       // per sub-command: next slot in order_
};

// Merges sub-replies per plan into `out`. Returns false if the plan is malformed.
bool mergeReplies(const int32_t* plan, size_t planLen, const Span* replies, size_t nreplies, std::string* out);

}  // namespace kvstore
