#include "request_parser.h"

#include "inline_args.h"
#include "resp_util.h"
#include "slot_hash.h"

namespace kvstore {

namespace {

constexpr long long kMaxMultibulkLength = 1024 * 1024;  // Redis 7.0: "invalid multibulk length" above

// strchr(buf + from, ch) on Redis's NUL-terminated query buffer: a short byte loop first
// (length lines are a few bytes), then memchr for long scans.
inline int64_t findByte(const uint8_t* buf, size_t from, size_t end, uint8_t ch) {
  size_t i = from;
  size_t quick = end - from > 32 ? from + 32 : end;
  for (; i < quick; i++) {
    uint8_t c = buf[i];
    if (c == ch) return static_cast<int64_t>(i);
    if (c == 0) return -1;
  }
  if (i >= end) return -1;
  return strchrLike(buf, i, end, ch);
}

}  // namespace

int keySlotFor(const EngineConfig& cfg, const uint8_t* key, size_t len) {
  return cfg.hash == HashKind::Murmur ? murmurSlot(key, len, cfg.murmurSeed) : crc16Slot(key, len);
}

RequestParser::StepResult RequestParser::parseMultibulk(const uint8_t* buf, size_t len, size_t pos, int32_t* args, size_t argRoom) {
  StepResult r{Step::Incomplete, 0, 0, PE_NONE, 0, 0};
  const long long maxLine = cfg_.maxInlineBytes;
  int64_t cr = findByte(buf, pos, len, '\r');
  if (cr < 0) {
    if (static_cast<long long>(len - pos) > maxLine) {
      r.step = Step::Error;
      r.error = PE_TOO_BIG_MBULK_COUNT_STRING;
      r.errorPos = pos;
    }
    return r;
  }
  // The buffer must also hold the byte after '\r' (Redis skips it without looking at it).
  if (static_cast<size_t>(cr) + 1 >= len) return r;
  long long ll;
  if (!string2ll(buf + pos + 1, static_cast<size_t>(cr) - pos - 1, &ll) || ll > kMaxMultibulkLength) {
    r.step = Step::Error;
    r.error = PE_INVALID_MULTIBULK_LENGTH;
    r.errorPos = pos;
    return r;
  }
  size_t p = static_cast<size_t>(cr) + 2;
  if (ll <= 0) {
    r.step = Step::Skip;
    r.end = p;
    return r;
  }
  size_t argc = static_cast<size_t>(ll);
  for (size_t i = 0; i < argc; i++) {
    cr = findByte(buf, p, len, '\r');
    if (cr < 0) {
      if (static_cast<long long>(len - p) > maxLine) {
        r.step = Step::Error;
        r.error = PE_TOO_BIG_BULK_COUNT_STRING;
        r.errorPos = p;
      }
      return r;
    }
    if (static_cast<size_t>(cr) + 1 >= len) return r;
    if (buf[p] != '$') {
      r.step = Step::Error;
      r.error = PE_EXPECTED_DOLLAR;
      r.errorPos = p;
      return r;
    }
    long long bl;
    if (!string2ll(buf + p + 1, static_cast<size_t>(cr) - p - 1, &bl) || bl < 0 || bl > cfg_.maxBulkBytes) {
      r.step = Step::Error;
      r.error = PE_INVALID_BULK_LENGTH;
      r.errorPos = p;
      return r;
    }
    p = static_cast<size_t>(cr) + 2;
    // Redis takes the bulk and skips the two bytes after it without checking they are CRLF.
    if (static_cast<unsigned long long>(len - p) < static_cast<unsigned long long>(bl) + 2) {
      r.need = static_cast<long long>(p - pos) + bl + 2;
      return r;
    }
    if (i < argRoom) {
      args[2 * i] = static_cast<int32_t>(p);
      args[2 * i + 1] = static_cast<int32_t>(bl);
    }
    p += static_cast<size_t>(bl) + 2;
  }
  r.step = Step::Complete;
  r.end = p;
  r.argc = argc;
  return r;
}

RequestParser::StepResult RequestParser::parseInline(const uint8_t* buf, size_t len, size_t pos, int32_t* args, size_t argRoom, bool* needsDecode) {
  StepResult r{Step::Incomplete, 0, 0, PE_NONE, 0, 0};
  int64_t nl = findByte(buf, pos, len, '\n');
  if (nl < 0) {
    if (static_cast<long long>(len - pos) > cfg_.maxInlineBytes) {
      r.step = Step::Error;
      r.error = PE_TOO_BIG_INLINE_REQUEST;
      r.errorPos = pos;
    }
    return r;
  }
  size_t lineEnd = static_cast<size_t>(nl);
  if (lineEnd != pos && buf[lineEnd - 1] == '\r') lineEnd--;
  size_t argc = 0;
  bool quoted = false;
  bool ok = splitInlineArgs(buf + pos, lineEnd - pos, nullptr, [&](const InlineToken& t, size_t) {
    if (argc < argRoom) {
      args[2 * argc] = static_cast<int32_t>(pos + t.start);
      args[2 * argc + 1] = static_cast<int32_t>(t.end - t.start);
    }
    quoted |= t.quoted;
    argc++;
  });
  if (!ok) {
    r.step = Step::Error;
    r.error = PE_UNBALANCED_QUOTES;
    r.errorPos = pos;
    return r;
  }
  r.end = static_cast<size_t>(nl) + 1;
  r.step = argc ? Step::Complete : Step::Skip;
  r.argc = argc;
  *needsDecode = quoted;
  return r;
}

bool RequestParser::decodeInline(const uint8_t* line, size_t len, std::string* bytes, std::vector<size_t>* lens) {
  bytes->clear();
  lens->clear();
  return splitInlineArgs(line, len, bytes, [&](const InlineToken&, size_t n) { lens->push_back(n); });
}

bool RequestParser::describe(const uint8_t* buf, int32_t* cmd, const int32_t* args, size_t argc, int32_t* keys, size_t keyRoom, size_t* nkeysOut) {
  *nkeysOut = 0;
  cmd[C_CMD] = kCmdUnknown;
  cmd[C_SLOT] = kSlotNone;
  if (!table_ || table_->size() == 0) return true;
  views_.resize(argc);
  if (cmd[C_FLAGS] & F_NEEDS_DECODE) {
    size_t lineStart = static_cast<size_t>(cmd[C_START]);
    size_t lineEnd = static_cast<size_t>(cmd[C_END]) - 1;  // the '\n'
    if (lineEnd > lineStart && buf[lineEnd - 1] == '\r') lineEnd--;
    decodeInline(buf + lineStart, lineEnd - lineStart, &scratch_, &scratchLens_);
    size_t off = 0;
    for (size_t i = 0; i < argc && i < scratchLens_.size(); i++) {
      views_[i] = ArgView{reinterpret_cast<const uint8_t*>(scratch_.data()) + off, scratchLens_[i]};
      off += scratchLens_[i];
    }
  } else {
    for (size_t i = 0; i < argc; i++) views_[i] = ArgView{buf + args[2 * i], static_cast<size_t>(args[2 * i + 1])};
  }
  int id = table_->lookup(views_.data(), argc);
  cmd[C_CMD] = id;
  if (id < 0) return true;
  keyPos_.clear();
  if (!table_->findKeys(id, views_.data(), argc, &keyPos_)) {
    cmd[C_FLAGS] |= F_BAD_KEYS;
    return true;
  }
  size_t nk = keyPos_.size();
  *nkeysOut = nk;
  if (nk > keyRoom) return false;
  int common = kSlotNone;
  for (size_t k = 0; k < nk; k++) {
    int a = keyPos_[k];
    int slot = keySlotFor(cfg_, views_[a].data, views_[a].len);
    keys[2 * k] = cmd[C_ARG0] + a;
    keys[2 * k + 1] = slot;
    if (common == kSlotNone) common = slot;
    else if (common != slot) common = kSlotCross;
  }
  cmd[C_SLOT] = common;
  return true;
}

int RequestParser::parse(const uint8_t* buf, size_t len, size_t from, const RequestOutput& out) {
  int32_t* st = out.status;
  for (int i = 0; i < kStatusLen; i++) st[i] = 0;
  size_t pos = from;
  size_t ncmds = 0, argUsed = 0, keyUsed = 0;
  while (pos < len) {
    if (ncmds >= out.cmdCap) {
      st[S_FULL] = 1;
      break;
    }
    size_t argRoom = out.argCap - argUsed;
    int32_t* args = out.args + 2 * argUsed;
    bool needsDecode = false;
    bool isInline = buf[pos] != '*';
    StepResult r = isInline ? parseInline(buf, len, pos, args, argRoom, &needsDecode) : parseMultibulk(buf, len, pos, args, argRoom);
    if (r.step == Step::Skip) {
      pos = r.end;
      continue;
    }
    if (r.step == Step::Incomplete) {
      st[S_NEED] = static_cast<int32_t>(r.need > INT32_MAX ? INT32_MAX : r.need);
      break;
    }
    if (r.step == Step::Error) {
      st[S_ERROR] = r.error;
      st[S_ERROR_POS] = static_cast<int32_t>(r.errorPos);
      st[S_ERROR_BYTE] = buf[r.errorPos];
      break;
    }
    if (r.argc > argRoom) {
      if (ncmds > 0) st[S_FULL] = 1;
      else st[S_GROW_ARGS] = static_cast<int32_t>(r.argc);
      break;
    }
    int32_t* cmd = out.cmds + kCmdStride * ncmds;
    cmd[C_START] = static_cast<int32_t>(pos);
    cmd[C_END] = static_cast<int32_t>(r.end);
    cmd[C_ARGC] = static_cast<int32_t>(r.argc);
    cmd[C_ARG0] = static_cast<int32_t>(argUsed);
    cmd[C_KEY0] = static_cast<int32_t>(keyUsed);
    cmd[C_FLAGS] = (isInline ? F_INLINE : 0) | (needsDecode ? F_NEEDS_DECODE : 0);
    size_t nkeys = 0;
    if (!describe(buf, cmd, args, r.argc, out.keys + 2 * keyUsed, out.keyCap - keyUsed, &nkeys)) {
      if (ncmds > 0) st[S_FULL] = 1;
      else st[S_GROW_ARGS] = static_cast<int32_t>(nkeys > r.argc ? nkeys : r.argc);
      break;
    }
    cmd[C_NKEYS] = static_cast<int32_t>(nkeys);
    ncmds++;
    argUsed += r.argc;
    keyUsed += nkeys;
    pos = r.end;
  }
  st[S_NCMDS] = static_cast<int32_t>(ncmds);
  st[S_CONSUMED] = static_cast<int32_t>(pos - from);
  return static_cast<int>(ncmds);
}

}  // namespace kvstore
