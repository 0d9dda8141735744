#include "command_table.h"

#include "resp_util.h"

namespace kvstore {

uint32_t CommandTable::hashLower(const uint8_t* p, size_t len) {
  uint32_t h = 2166136261u;  // FNV-1a over the lowercased bytes
  for (size_t i = 0; i < len; i++) {
    h ^= asciiLower(p[i]);
    h *= 16777619u;
  }
  return h;
}

bool CommandTable::load(const std::vector<std::string>& names, const std::vector<int32_t>& arity, const std::vector<int32_t>& specStart,
                        const std::vector<int32_t>& specCount, const std::vector<int32_t>& specs, const std::vector<std::string>& keywords,
                        const std::vector<int32_t>& subStart, const std::vector<int32_t>& subCount, const std::vector<int32_t>& routing,
                        const std::vector<int32_t>& mergeKind, std::string* error) {
  size_t n = names.size();
  if (arity.size() != n || specStart.size() != n || specCount.size() != n || subStart.size() != n || subCount.size() != n ||
      routing.size() != n || mergeKind.size() != n) {
    *error = "command table arrays differ in length";
    return false;
  }
  for (size_t i = 0; i < n; i++) {
    if (mergeKind[i] < 0 || mergeKind[i] > 3) {
      *error = "merge kind out of range for " + names[i];
      return false;
    }
  }
  if (specs.size() % kSpecStride != 0) {
    *error = "specs length is not a multiple of SPEC_STRIDE";
    return false;
  }
  size_t nspecs = specs.size() / kSpecStride;
  for (size_t i = 0; i < n; i++) {
    if (specCount[i] < 0 || specStart[i] < 0 || static_cast<size_t>(specStart[i]) + specCount[i] > nspecs) {
      *error = "spec range out of bounds for " + names[i];
      return false;
    }
    if (subCount[i] > 0 && (subStart[i] < 0 || static_cast<size_t>(subStart[i]) + subCount[i] > n)) {
      *error = "subcommand range out of bounds for " + names[i];
      return false;
    }
  }
  std::vector<KeySpec> parsed(nspecs);
  for (size_t i = 0; i < nspecs; i++) {
    const int32_t* s = &specs[i * kSpecStride];
    parsed[i] = KeySpec{s[0], s[1], s[2], s[3], s[4], s[5], s[6]};
    if (parsed[i].beginKind == kBeginKeyword && (parsed[i].keywordId < 0 || static_cast<size_t>(parsed[i].keywordId) >= keywords.size())) {
      *error = "keyword id out of range";
      return false;
    }
  }
  uint32_t cap = 16;
  while (cap < n * 4) cap <<= 1;
  std::vector<int32_t> slots(cap, 0);
  for (size_t i = 0; i < n; i++) {
    const std::string& nm = names[i];
    if (nm.find('|') != std::string::npos) continue;  // subcommands are found through their container
    uint32_t h = hashLower(reinterpret_cast<const uint8_t*>(nm.data()), nm.size()) & (cap - 1);
    while (slots[h] != 0) {
      const std::string& other = names[slots[h] - 1];
      if (caseEqual(reinterpret_cast<const uint8_t*>(other.data()), other.size(), reinterpret_cast<const uint8_t*>(nm.data()), nm.size())) break;
      h = (h + 1) & (cap - 1);
    }
    if (slots[h] == 0) slots[h] = static_cast<int32_t>(i + 1);  // first id wins on duplicates
  }
  names_ = names;
  for (auto& nm : names_)
    for (auto& ch : nm) ch = static_cast<char>(asciiLower(static_cast<uint8_t>(ch)));
  arity_ = arity;
  specStart_ = specStart;
  specCount_ = specCount;
  subStart_ = subStart;
  subCount_ = subCount;
  routing_ = routing;
  mergeKind_ = mergeKind;
  specs_ = std::move(parsed);
  rangeOnly_.assign(n, 1);
  for (size_t i = 0; i < n; i++)
    for (int32_t si = specStart[i]; si < specStart[i] + specCount[i]; si++) {
      const KeySpec& sp = specs_[si];
      // Specs with a kind-0 half are skipped by findKeys either way.
      bool skipped = (sp.beginKind != kBeginIndex && sp.beginKind != kBeginKeyword) || (sp.findKind != kFindRange && sp.findKind != kFindKeynum);
      if (!skipped && (sp.beginKind != kBeginIndex || sp.findKind != kFindRange)) rangeOnly_[i] = 0;
    }
  for (size_t i = 0; i < n; i++) {
    if (rangeOnly_[i] != 1 || specCount[i] != 1) continue;
    const KeySpec& sp = specs_[specStart[i]];
    if (sp.beginKind == kBeginIndex && sp.beginArg == 1 && sp.findKind == kFindRange && sp.a == 0 && sp.b >= 1) rangeOnly_[i] = 2;
  }
  keywords_ = keywords;
  slots_ = std::move(slots);
  mask_ = cap - 1;
  lastLen_ = 0;
  return true;
}

int CommandTable::lookupNameSlow(const uint8_t* name, size_t len) const {
  if (slots_.empty()) return kCmdUnknown;
  uint32_t h = hashLower(name, len) & mask_;
  int id = kCmdUnknown;
  for (;;) {
    int32_t v = slots_[h];
    if (v == 0) break;
    const std::string& nm = names_[v - 1];
    if (caseEqual(reinterpret_cast<const uint8_t*>(nm.data()), nm.size(), name, len)) {
      id = v - 1;
      break;
    }
    h = (h + 1) & mask_;
  }
  if (len <= sizeof(lastName_)) {
    std::memcpy(lastName_, name, len);
    lastLen_ = len;
    lastId_ = id;
  }
  return id;
}

int CommandTable::idOf(const char* lowercaseName) const {
  return lookupName(reinterpret_cast<const uint8_t*>(lowercaseName), std::strlen(lowercaseName));
}

int CommandTable::lookupSub(int id, const ArgView& sub) const {
  // Container: its subcommands are named "container|sub".
  const std::string& container = names_[id];
  for (int32_t s = subStart_[id], e = subStart_[id] + subCount_[id]; s < e; s++) {
    const std::string& nm = names_[s];
    if (nm.size() != container.size() + 1 + sub.len) continue;
    if (nm.compare(0, container.size(), container) != 0 || nm[container.size()] != '|') continue;
    if (caseEqual(reinterpret_cast<const uint8_t*>(nm.data()) + container.size() + 1, sub.len, sub.data, sub.len)) return s;
  }
  return id;
}

bool CommandTable::findKeys(int id, const ArgView* argv, size_t argc, std::vector<int32_t>* out) const {
  if (id < 0 || static_cast<size_t>(id) >= names_.size()) return true;
  const int iargc = static_cast<int>(argc);
  for (int32_t si = specStart_[id], se = specStart_[id] + specCount_[id]; si < se; si++) {
    const KeySpec& sp = specs_[si];
    int first = 0;
    if (sp.beginKind == kBeginIndex) {
      first = sp.beginArg;
    } else if (sp.beginKind == kBeginKeyword) {
      int startFrom = sp.beginArg;
      int startIndex = startFrom > 0 ? startFrom : iargc + startFrom;
      int endIndex = startFrom > 0 ? iargc - 1 : 0;
      const std::string& kw = keywords_[sp.keywordId];
      for (int i = startIndex; i != endIndex; i = startIndex <= endIndex ? i + 1 : i - 1) {
        if (i >= iargc || i < 1) break;
        if (caseEqual(argv[i].data, argv[i].len, reinterpret_cast<const uint8_t*>(kw.data()), kw.size())) {
          first = i + 1;
          break;
        }
      }
      if (!first) continue;  // keyword not found: this spec has no keys
    } else {
      continue;  // a spec the hot path cannot follow (compiled as kind 0)
    }
    int last, step;
    if (sp.findKind == kFindRange) {
      step = sp.b;
      if (sp.a >= 0) {
        last = first + sp.a;
      } else if (!sp.c) {
        last = iargc + sp.a;
      } else {
        last = first + ((iargc - first) / sp.c + sp.a);
      }
    } else if (sp.findKind == kFindKeynum) {
      step = sp.c;
      long long numkeys;
      long long idx = static_cast<long long>(first) + sp.a;
      if (idx < 0 || idx >= iargc) return false;
      if (!string2ll(argv[idx].data, argv[idx].len, &numkeys) || numkeys < 0 || numkeys > iargc) return false;
      first += sp.b;
      last = first + static_cast<int>(numkeys) - 1;
      // numkeys 0 is a valid empty key list (EVAL script 0), as Redis's getkeys procedures say.
      if (numkeys == 0) continue;
    } else {
      continue;
    }
    if (last >= iargc || last < first || first >= iargc || first < 0 || step <= 0) return false;
    for (int i = first; i <= last; i += step) out->push_back(i);
  }
  return true;
}

}  // namespace kvstore
