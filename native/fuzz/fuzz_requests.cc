// libFuzzer harness for the request parser (and split of the multi-key commands it finds).
// Checks, beyond "no crash / no sanitizer report":
//  - every reported range lies inside the input and commands are contiguous and ordered;
//  - resuming at a split point (parse a prefix, then the whole input from S_CONSUMED, passing
//    back S_RESUME_AT / S_RESUME_ARGS) gives the same commands as one parse of the whole input,
//    and so does the input fed in many small pieces, each call resuming where the last stopped;
//  - a resume point lies inside the tail, after its header, and counts arguments really framed;
//  - small output arrays (S_FULL / S_GROW_ARGS, called again) give the same commands too;
//  - S_NEED is a true lower bound: the tail is not complete with fewer bytes;
//  - a split of MGET/MSET/DEL/... parses back into sub-commands holding exactly the keys.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../command_table.h"
#include "../request_parser.h"
#include "../split_merge.h"
#include "table.inc"  // generated into native/fuzz/out by run.sh

using namespace kvstore;

namespace {

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

struct Arrays {
  std::vector<int32_t> cmds, args, keys, status;
  Arrays(size_t c, size_t a, size_t k) : cmds(c * kCmdStride), args(a * 2), keys(k * 2), status(kStatusLen) {}
  RequestOutput out() { return RequestOutput{cmds.data(), cmds.size() / kCmdStride, args.data(), args.size() / 2, keys.data(), keys.size() / 2, status.data()}; }
};

// A command as comparable values: range, id, flags, slot, arg ranges, keys.
struct Cmd {
  std::vector<int32_t> v;
  bool operator==(const Cmd& o) const { return v == o.v; }
};

Cmd capture(const Arrays& a, size_t i) {
  const int32_t* c = &a.cmds[i * kCmdStride];
  Cmd out;
  out.v = {c[C_START], c[C_END], c[C_ARGC], c[C_CMD], c[C_NKEYS], c[C_SLOT], c[C_FLAGS]};
  for (int j = 0; j < c[C_ARGC]; j++) {
    out.v.push_back(a.args[2 * (c[C_ARG0] + j)]);
    out.v.push_back(a.args[2 * (c[C_ARG0] + j) + 1]);
  }
  for (int j = 0; j < c[C_NKEYS]; j++) {
    out.v.push_back(a.keys[2 * (c[C_KEY0] + j)] - c[C_ARG0]);
    out.v.push_back(a.keys[2 * (c[C_KEY0] + j) + 1]);
  }
  return out;
}

struct RunResult {
  std::vector<Cmd> cmds;
  size_t consumed;
  int error;
  int need;
  RequestResume resume;  // for the tail at `consumed`
};

// Parses until done with the given array sizes, growing args when told to. `resume` applies to
// the command at `from`.
RunResult runAll(RequestParser& p, const uint8_t* data, size_t len, size_t from, Arrays& arr, RequestResume resume = {}) {
  RunResult r{{}, from, 0, 0, {}};
  for (int guard = 0; guard < 100000; guard++) {
    int n = p.parse(data, len, r.consumed, arr.out(), resume);
    resume = RequestResume{};
    for (int i = 0; i < n; i++) {
      Cmd cmd = capture(arr, i);
      CHECK(cmd.v[0] >= static_cast<int32_t>(r.consumed) && cmd.v[1] <= static_cast<int32_t>(len) && cmd.v[0] < cmd.v[1]);
      if (!r.cmds.empty()) CHECK(cmd.v[0] >= r.cmds.back().v[1]);
      for (int j = 0; j < cmd.v[2]; j++) {
        int32_t off = cmd.v[7 + 2 * j], l = cmd.v[8 + 2 * j];
        CHECK(off >= cmd.v[0] && l >= 0 && off + l <= cmd.v[1]);
      }
      r.cmds.push_back(cmd);
    }
    size_t consumed = r.consumed + arr.status[S_CONSUMED];
    CHECK(consumed <= len);
    if (n > 0) CHECK(static_cast<int32_t>(consumed) >= r.cmds.back().v[1]);
    r.consumed = consumed;
    if (arr.status[S_GROW_ARGS] > 0) {
      CHECK(n == 0);
      size_t g = static_cast<size_t>(arr.status[S_GROW_ARGS]);
      arr.args.assign(g * 2, 0);
      if (arr.keys.size() < g * 2) arr.keys.assign(g * 2, 0);
      continue;
    }
    if (arr.status[S_FULL]) {
      CHECK(n > 0 || arr.cmds.empty());
      continue;
    }
    r.error = arr.status[S_ERROR];
    r.need = arr.status[S_NEED];
    int32_t at = arr.status[S_RESUME_AT], nargs = arr.status[S_RESUME_ARGS];
    CHECK(at >= 0 && nargs >= 0);
    if (at > 0) {
      // Inside the tail, after a '*' header, with fewer arguments framed than bytes before it.
      CHECK(r.error == 0 && consumed + at <= len && data[consumed] == '*');
      CHECK(static_cast<size_t>(nargs) * 4 <= static_cast<size_t>(at));
      r.resume = RequestResume{static_cast<size_t>(at), static_cast<size_t>(nargs)};
    } else {
      CHECK(nargs == 0);
    }
    return r;
  }
  CHECK(false);
  return r;
}

RunResult runAll(RequestParser& p, const uint8_t* data, size_t len, size_t from, size_t c, size_t a, size_t k, RequestResume resume = {}) {
  Arrays arr(c, a, k);
  return runAll(p, data, len, from, arr, resume);
}

CommandTable* table() {
  static CommandTable* t = [] {
    auto* ct = new CommandTable();
    std::string err;
    CHECK(ct->load(kNames, kArity, kSpecStart, kSpecCount, kSpecs, kKeywords, kSubStart, kSubCount, kRouting, kMergeKind, &err));
    return ct;
  }();
  return t;
}

void checkSplit(RequestParser& p, const uint8_t* data, size_t len, const Arrays& arr, size_t i, uint16_t* slotTable) {
  const int32_t* c = &arr.cmds[i * kCmdStride];
  MergeKind kind = static_cast<MergeKind>(table()->mergeKind(c[C_CMD]));  // from commands.json
  if (kind == MK_NONE || (c[C_FLAGS] & F_BAD_KEYS)) return;
  std::vector<ArgView> views(c[C_ARGC]);
  std::string scratch;
  std::vector<size_t> lens;
  if (c[C_FLAGS] & F_NEEDS_DECODE) {
    size_t s = c[C_START], e = c[C_END] - 1;
    if (e > s && data[e - 1] == '\r') e--;
    CHECK(RequestParser::decodeInline(data + s, e - s, &scratch, &lens));
    CHECK(lens.size() == views.size());
    size_t off = 0;
    for (size_t j = 0; j < lens.size(); j++) {
      views[j] = ArgView{reinterpret_cast<const uint8_t*>(scratch.data()) + off, lens[j]};
      off += lens[j];
    }
  } else {
    for (int j = 0; j < c[C_ARGC]; j++) views[j] = ArgView{data + arr.args[2 * (c[C_ARG0] + j)], static_cast<size_t>(arr.args[2 * (c[C_ARG0] + j) + 1])};
  }
  std::vector<int32_t> keyArgs, keySlots;
  for (int j = 0; j < c[C_NKEYS]; j++) {
    keyArgs.push_back(arr.keys[2 * (c[C_KEY0] + j)] - c[C_ARG0]);
    keySlots.push_back(arr.keys[2 * (c[C_KEY0] + j) + 1]);
  }
  static Splitter sp;  // (its shard map is 64K entries: allocate it once)
  std::vector<int32_t> plan(kPlanHeader + kPlanSubStride * keyArgs.size() + kPlanKeyStride * keyArgs.size() + 1);
  size_t bytes;
  if (!sp.plan(kind, views.data(), views.size(), keyArgs.data(), keySlots.data(), keyArgs.size(), slotTable, plan.data(), plan.size(), &bytes)) {
    CHECK(kind == MK_ALL_OK);  // only MSET with a key lacking its value is refused
    return;
  }
  std::vector<uint8_t> out(bytes);
  sp.write(out.data());
  // The sub-commands parse back: one command per sub, each with its keys in client order.
  static RequestParser back;
  back.configure(EngineConfig{});
  back.setTable(table());
  RunResult rr = runAll(back, out.data(), out.size(), 0, 64, views.size() + 1, views.size() + 1);
  CHECK(rr.error == 0 && rr.consumed == out.size());
  CHECK(rr.cmds.size() == static_cast<size_t>(plan[0]));
  for (size_t k = 0; k < keyArgs.size(); k++) {
    int32_t sub = plan[kPlanHeader + plan[0] * kPlanSubStride + 2 * k];
    int32_t pos = plan[kPlanHeader + plan[0] * kPlanSubStride + 2 * k + 1];
    const Cmd& sc = rr.cmds[sub];
    CHECK(pos < sc.v[4]);
    int32_t keyArg = sc.v[7 + 2 * sc.v[2] + 2 * pos];
    int32_t off = sc.v[7 + 2 * keyArg], l = sc.v[8 + 2 * keyArg];
    const ArgView& orig = views[keyArgs[k]];
    CHECK(static_cast<size_t>(l) == orig.len && memcmp(out.data() + off, orig.data, orig.len) == 0);
    CHECK(slotTable[keySlots[k]] == plan[kPlanHeader + sub * kPlanSubStride]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* raw, size_t size) {
  if (size < 3) return 0;
  // Header: [split point byte][config byte] then the wire bytes.
  uint8_t splitSel = raw[0], cfgSel = raw[1];
  std::vector<uint8_t> buf(raw + 2, raw + size);  // exact-size copy: ASan sees reads past the end
  const uint8_t* data = buf.data();
  size_t len = buf.size();
  EngineConfig cfg;
  cfg.maxInlineBytes = (cfgSel & 1) ? 16 : 64 * 1024;
  cfg.maxBulkBytes = (cfgSel & 2) ? 8 : 512LL * 1024 * 1024;
  cfg.hash = (cfgSel & 4) ? HashKind::Murmur : HashKind::Crc16;
  cfg.murmurSeed = cfgSel;
  RequestParser p;
  p.configure(cfg);
  p.setTable(table());

  const size_t room = len / 2 + 2;  // arrays sized to the input: cheap to allocate per run
  RunResult whole = runAll(p, data, len, 0, room, room, 2 * room);
  // Small arrays, called again on S_FULL / S_GROW_ARGS: same commands.
  RunResult small = runAll(p, data, len, 0, 1 + (cfgSel >> 6), 1 + (cfgSel >> 4 & 3), 1);
  CHECK(small.cmds == whole.cmds && small.consumed == whole.consumed && small.error == whole.error && small.need == whole.need);

  // Resume at a split point: parse a prefix, then everything from where the prefix stopped.
  size_t cut = len ? splitSel % (len + 1) : 0;
  RunResult first = runAll(p, data, cut, 0, room, room, 2 * room);
  if (first.error == 0) {
    RunResult rest = runAll(p, data, len, first.consumed, room, room, 2 * room);
    std::vector<Cmd> joined = first.cmds;
    joined.insert(joined.end(), rest.cmds.begin(), rest.cmds.end());
    CHECK(joined == whole.cmds && rest.consumed == whole.consumed && rest.error == whole.error);
    // The same, resumed where the prefix stopped.
    RunResult resumed = runAll(p, data, len, first.consumed, room, room, 2 * room, first.resume);
    joined = first.cmds;
    joined.insert(joined.end(), resumed.cmds.begin(), resumed.cmds.end());
    CHECK(joined == whole.cmds && resumed.consumed == whole.consumed && resumed.error == whole.error && resumed.need == whole.need);
    // S_NEED: with one byte less than reported, the tail is still incomplete.
    if (first.need > 0) {
      size_t shortEnd = first.consumed + static_cast<size_t>(first.need) - 1;
      CHECK(shortEnd >= cut);
      if (shortEnd <= len) {
        RunResult shortRun = runAll(p, data, shortEnd, first.consumed, room, room, 2 * room);
        CHECK(shortRun.cmds.empty());  // (more bytes may turn into an error: a too-long line)
      }
    }
  }

  // Fed in pieces of 1..16 bytes, each call resuming where the previous one stopped (small
  // arrays too, so S_FULL / S_GROW_ARGS meet resume points): the same as one whole parse.
  {
    size_t step = 1 + (splitSel & 15);
    std::vector<Cmd> joined;
    RunResult last{{}, 0, 0, 0, {}};
    Arrays pieceArrays = (splitSel & 16) ? Arrays(2, 3, 2) : Arrays(room, room, 2 * room);  // reused: no allocation per piece
    for (size_t end = step < len ? step : len;; end = end + step < len ? end + step : len) {
      last = runAll(p, data, end, last.consumed, pieceArrays, last.resume);
      joined.insert(joined.end(), last.cmds.begin(), last.cmds.end());
      if (last.error != 0 || end == len) break;
    }
    CHECK(joined == whole.cmds && last.consumed == whole.consumed && last.error == whole.error && last.need == whole.need);
  }

  // Split of the multi-key commands found.
  static uint16_t slotTable[16384];
  static bool slotTableReady = false;
  if (!slotTableReady) {
    for (int s = 0; s < 16384; s++) slotTable[s] = static_cast<uint16_t>((s * 7) % 5);
    slotTableReady = true;
  }
  Arrays arr(room, room, 2 * room);
  int n = p.parse(data, len, 0, arr.out());
  for (int i = 0; i < n; i++) checkSplit(p, data, len, arr, i, slotTable);
  return 0;
}
