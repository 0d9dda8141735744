#include "request_parser.h"

#include "inline_args.h"
#include "resp_util.h"
#include "slot_hash.h"

namespace kvstore {

namespace {

constexpr long long kMaxMultibulkLength = INT32_MAX;  // Redis 7.0.15: "invalid multibulk length" above INT_MAX

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


__attribute__((always_inline)) inline RequestParser::LengthResult RequestParser::readLength(const uint8_t* buf, size_t len, size_t lineStart, bool bulk,
                                                                                            long long* value, size_t* next) const {
  // Fast path (inlined): 1..10 plain digits right before '\r', with the byte after it available.
  // With 13 bytes available (type, 10 digits, CR, one more) no bound check is needed per digit.
  if (lineStart + 13 <= len && (!bulk || buf[lineStart] == '$')) {
    size_t i = lineStart + 1;
    if (buf[i] >= '1' && buf[i] <= '9') {
      long long v = buf[i] - '0';
      const size_t stop = lineStart + 11;
      i++;
      while (i < stop && static_cast<unsigned>(buf[i] - '0') <= 9) v = v * 10 + (buf[i++] - '0');
      if (buf[i] == '\r' && static_cast<long long>(i - lineStart) <= cfg_.maxInlineBytes) {
        *value = v;
        *next = i + 2;
        return LengthResult::Ok;
      }
    }
  }
  return readLengthSlow(buf, len, lineStart, bulk, value, next);
}

// A length line at lineStart ('*' count or '$' bulk length): it ends at the first '\r' (a NUL
// before it hides it, as strchr does) and Redis skips the byte after the '\r' unchecked.
// A line is too big when more than maxInlineBytes precede its end (or the chunk end when there is
// none yet), so the result does not depend on where chunks were cut.
__attribute__((noinline)) RequestParser::LengthResult RequestParser::readLengthSlow(const uint8_t* buf, size_t len, size_t lineStart, bool bulk,
                                                                                   long long* value, size_t* next) const {
  const long long maxLine = cfg_.maxInlineBytes;
  if (lineStart >= len) return LengthResult::Incomplete;
  int64_t r = findByte(buf, lineStart, len, '\r');
  if (r < 0) return static_cast<long long>(len - lineStart) > maxLine ? LengthResult::TooBig : LengthResult::Incomplete;
  if (static_cast<long long>(r - static_cast<int64_t>(lineStart)) > maxLine) return LengthResult::TooBig;
  if (static_cast<size_t>(r) + 2 > len) return LengthResult::Incomplete;
  if (bulk && buf[lineStart] != '$') return LengthResult::NotDollar;
  if (!string2ll(buf + lineStart + 1, static_cast<size_t>(r) - lineStart - 1, value)) return LengthResult::Invalid;
  *next = static_cast<size_t>(r) + 2;
  return LengthResult::Ok;
}

bool RequestParser::decodeInline(const uint8_t* line, size_t len, std::string* bytes, std::vector<size_t>* lens) {
  bytes->clear();
  lens->clear();
  return splitInlineArgs(line, len, bytes, [&](const InlineToken&, size_t n) { lens->push_back(n); });
}

__attribute__((always_inline)) inline bool RequestParser::describe(const uint8_t* buf, int32_t* cmd, const int32_t* args, size_t argc, int32_t argBase, int32_t* keys, size_t keyRoom,
                             size_t* nkeysOut) {
  *nkeysOut = 0;
  cmd[C_CMD] = kCmdUnknown;
  cmd[C_SLOT] = kSlotNone;
  if (!table_ || table_->size() == 0) return true;
  const bool decode = (cmd[C_FLAGS] & F_NEEDS_DECODE) != 0;
  const ArgView* argv;
  if (decode) {
    views_.resize(argc);
    size_t lineStart = static_cast<size_t>(cmd[C_START]);
    size_t lineEnd = static_cast<size_t>(cmd[C_END]) - 1;  // the '\n'
    if (lineEnd > lineStart && buf[lineEnd - 1] == '\r') lineEnd--;
    decodeInline(buf + lineStart, lineEnd - lineStart, &scratch_, &scratchLens_);
    size_t off = 0;
    for (size_t i = 0; i < argc && i < scratchLens_.size(); i++) {
      views_[i] = ArgView{reinterpret_cast<const uint8_t*>(scratch_.data()) + off, scratchLens_[i]};
      off += scratchLens_[i];
    }
    argv = views_.data();
  } else {
    // The name (and a possible subcommand) only; the rest is built if the general path needs it.
    head_[0] = ArgView{buf + args[0], static_cast<size_t>(args[1])};
    if (argc > 1) head_[1] = ArgView{buf + args[2], static_cast<size_t>(args[3])};
    argv = head_;
  }
  int id = table_->lookup(argv, argc);
  cmd[C_CMD] = id;
  if (id < 0) return true;
  size_t nk;
  if (!decode && table_->firstArgKey(id)) {
    // The common case: one key, argument 1 (bad keys when it is missing).
    if (argc < 2) {
      cmd[C_FLAGS] |= F_BAD_KEYS;
      return true;
    }
    *nkeysOut = 1;
    if (keyRoom < 1) return false;
    int slot = keySlotFor(cfg_, buf + args[2], static_cast<size_t>(args[3]));
    keys[0] = argBase + 1;
    keys[1] = slot;
    cmd[C_SLOT] = slot;
    return true;
  }
  if (!decode && table_->rangeOnly(id)) {
    // Fast path: positions from argc alone, written straight into the output.
    if (!table_->rangeKeys(id, argc, keys, keyRoom, &nk)) {
      cmd[C_FLAGS] |= F_BAD_KEYS;
      return true;
    }
    *nkeysOut = nk;
    if (nk > keyRoom) return false;
    int common = kSlotNone;
    for (size_t k = nk; k-- > 0;) {
      // keys[0..nk) hold positions; spread them into pairs from the back so none is overwritten
      // before it is read (pair k lands at 2k, 2k+1 >= k).
      int a = keys[k];
      int slot = keySlotFor(cfg_, buf + args[2 * a], static_cast<size_t>(args[2 * a + 1]));
      keys[2 * k] = argBase + a;
      keys[2 * k + 1] = slot;
      if (common == kSlotNone) common = slot;
      else if (common != slot) common = kSlotCross;
    }
    cmd[C_SLOT] = common;
    return true;
  }
  if (!decode) {
    views_.resize(argc);
    for (size_t i = 0; i < argc; i++) views_[i] = ArgView{buf + args[2 * i], static_cast<size_t>(args[2 * i + 1])};
    argv = views_.data();
  }
  keyPos_.clear();
  if (!table_->findKeys(id, argv, argc, &keyPos_)) {
    cmd[C_FLAGS] |= F_BAD_KEYS;
    return true;
  }
  nk = keyPos_.size();
  *nkeysOut = nk;
  if (nk > keyRoom) return false;
  int common = kSlotNone;
  for (size_t k = 0; k < nk; k++) {
    int a = keyPos_[k];
    int slot = keySlotFor(cfg_, argv[a].data, argv[a].len);
    keys[2 * k] = argBase + a;
    keys[2 * k + 1] = slot;
    if (common == kSlotNone) common = slot;
    else if (common != slot) common = kSlotCross;
  }
  cmd[C_SLOT] = common;
  return true;
}

__attribute__((always_inline)) inline RequestParser::BulkScan RequestParser::scanBulks(const uint8_t* buf, size_t len, size_t start, size_t* pp,
                                                                                     long long remaining, int32_t* args, size_t* argcp,
                                                                                     long long* need, int* error, uint8_t* badByte) const {
  size_t p = *pp;
  size_t argc = *argcp;
  BulkScan result = BulkScan::Done;
  while (remaining > 0) {
    long long bl;
    size_t next;
    LengthResult rc = readLength(buf, len, p, true, &bl, &next);
    if (rc != LengthResult::Ok) {
      // An incomplete length line leaves need at 0: a malformed one shows after 2 more bytes.
      result = BulkScan::Error;
      if (rc == LengthResult::TooBig) *error = PE_TOO_BIG_BULK_COUNT_STRING;
      else if (rc == LengthResult::NotDollar) {
        *error = PE_EXPECTED_DOLLAR;
        // Redis's error replies print CR and LF as spaces.
        *badByte = (buf[p] == '\r' || buf[p] == '\n') ? ' ' : buf[p];
      } else if (rc == LengthResult::Invalid) *error = PE_INVALID_BULK_LENGTH;
      else result = BulkScan::Incomplete;
      break;
    }
    if (bl < 0 || bl > cfg_.maxBulkBytes) {
      *error = PE_INVALID_BULK_LENGTH;
      result = BulkScan::Error;
      break;
    }
    // Redis takes the payload and skips the two bytes after it without checking them.
    unsigned long long end = static_cast<unsigned long long>(next) + static_cast<unsigned long long>(bl) + 2;
    if (end > len) {
      *need = static_cast<long long>(end - start);  // nothing can happen before this bulk is complete
      result = BulkScan::Incomplete;
      break;
    }
    if (args != nullptr) {
      args[2 * argc] = static_cast<int32_t>(next);
      args[2 * argc + 1] = static_cast<int32_t>(bl);
    }
    argc++;
    remaining--;
    p = static_cast<size_t>(end);
  }
  *pp = p;
  *argcp = argc;
  return result;
}

// The resumed command at `from`: the arguments before resume.at were framed by an earlier call;
// frame the rest without storing them. Out of line and before the hot loop, which then frames
// the command again in one pass (storing its offsets) only once it is complete.
__attribute__((noinline)) RequestParser::ResumeOutcome RequestParser::resumeFirst(const uint8_t* buf, size_t len, size_t from, RequestResume resume,
                                                                                  size_t argCap, ResumeStop* stop) const {
  if (from >= len || buf[from] != '*') return ResumeOutcome::NotApplicable;
  long long count;
  size_t next;
  if (readLengthSlow(buf, len, from, false, &count, &next) != LengthResult::Ok || count <= 0 || count > kMaxMultibulkLength)
    return ResumeOutcome::NotApplicable;
  size_t at = from + resume.at;
  if (at < next || at > len || static_cast<long long>(resume.args) >= count) return ResumeOutcome::NotApplicable;
  size_t done = resume.args;
  BulkScan rs = scanBulks(buf, len, from, &at, count - static_cast<long long>(done), nullptr, &done, &stop->need, &stop->error, &stop->badByte);
  if (rs == BulkScan::Incomplete) {
    stop->resumeAt = at - from;
    stop->resumeArgs = done;
    return ResumeOutcome::Stopped;
  }
  if (rs == BulkScan::Error) return ResumeOutcome::Stopped;
  if (static_cast<unsigned long long>(count) > argCap) {
    stop->grow = count;  // complete, and larger than the whole args array
    return ResumeOutcome::Stopped;
  }
  return ResumeOutcome::Complete;
}

int RequestParser::parse(const uint8_t* buf, size_t len, size_t from, const RequestOutput& out, RequestResume resume) {
  int32_t* st = out.status;
  size_t pos = from;
  size_t ncmds = 0, nargs = 0, nkeys = 0;
  int error = PE_NONE;
  long long need = 0;
  int full = 0;
  long long grow = 0;
  uint8_t badByte = 0;
  size_t resumeAt = 0, resumeArgs = 0;
  const long long maxInline = cfg_.maxInlineBytes;
  bool stopped = false;
  if (__builtin_expect(resume.at > 0, 0)) {
    ResumeStop rs;
    stopped = resumeFirst(buf, len, from, resume, out.argCap, &rs) == ResumeOutcome::Stopped;
    need = rs.need;
    error = rs.error;
    badByte = rs.badByte;
    grow = rs.grow;
    resumeAt = rs.resumeAt;
    resumeArgs = rs.resumeArgs;
  }

  if (!stopped) while (pos < len) {
    if (ncmds >= out.cmdCap) {
      full = 1;
      break;
    }
    const size_t start = pos;
    const size_t argBase = nargs;
    int32_t* args = out.args + 2 * argBase;
    const size_t argRoom = out.argCap - argBase;
    size_t argc = 0;
    int flags = 0;
    size_t cmdEnd;

    if (buf[pos] == '*') {
      long long count;
      size_t next;
      LengthResult rc = readLength(buf, len, pos, false, &count, &next);
      if (rc != LengthResult::Ok) {
        if (rc == LengthResult::TooBig) error = PE_TOO_BIG_MBULK_COUNT_STRING;
        else if (rc == LengthResult::Invalid) error = PE_INVALID_MULTIBULK_LENGTH;
        break;
      }
      if (count > kMaxMultibulkLength) {
        error = PE_INVALID_MULTIBULK_LENGTH;
        break;
      }
      pos = next;
      if (count <= 0) continue;  // Redis resets the client: no command
      const bool store = static_cast<unsigned long long>(count) <= argRoom;
      if (!store && ncmds > 0) {
        full = 1;
        pos = start;
        break;
      }
      size_t p = pos;
      BulkScan rs = scanBulks(buf, len, start, &p, count, store ? args : nullptr, &argc, &need, &error, &badByte);
      if (rs != BulkScan::Done) {
        if (rs == BulkScan::Incomplete) {
          resumeAt = p - start;
          resumeArgs = argc;
        }
        pos = start;
        break;
      }
      if (!store) {
        grow = count;  // complete, and larger than the whole args array
        pos = start;
        break;
      }
      cmdEnd = p;
    } else {
      // Inline: up to the first '\n' (a NUL hides it, as strchr would).
      int64_t nl = findByte(buf, pos, len, '\n');
      if (nl < 0) {
        if (static_cast<long long>(len - pos) > maxInline) error = PE_TOO_BIG_INLINE_REQUEST;
        break;
      }
      if (static_cast<long long>(nl - static_cast<int64_t>(pos)) > maxInline) {
        error = PE_TOO_BIG_INLINE_REQUEST;
        break;
      }
      size_t lineEnd = static_cast<size_t>(nl);
      if (lineEnd > pos && buf[lineEnd - 1] == '\r') lineEnd--;
      cmdEnd = static_cast<size_t>(nl) + 1;
      flags = F_INLINE;
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
        error = PE_UNBALANCED_QUOTES;
        break;
      }
      if (quoted) flags |= F_NEEDS_DECODE;
      if (argc == 0) {
        pos = cmdEnd;  // empty line: Redis skips it
        continue;
      }
      if (argc > argRoom) {
        if (ncmds > 0) full = 1;
        else grow = static_cast<long long>(argc);
        break;
      }
    }

    int32_t* cmd = out.cmds + kCmdStride * ncmds;
    cmd[C_START] = static_cast<int32_t>(start);
    cmd[C_END] = static_cast<int32_t>(cmdEnd);
    cmd[C_FLAGS] = flags;
    size_t found = 0;
    if (!describe(buf, cmd, args, argc, static_cast<int32_t>(argBase), out.keys + 2 * nkeys, out.keyCap - nkeys, &found)) {
      if (ncmds > 0) full = 1;
      else grow = static_cast<long long>(found > argc ? found : argc);
      pos = start;
      break;
    }
    cmd[C_ARGC] = static_cast<int32_t>(argc);
    cmd[C_ARG0] = static_cast<int32_t>(argBase);
    cmd[C_KEY0] = static_cast<int32_t>(nkeys);
    cmd[C_NKEYS] = static_cast<int32_t>(found);
    ncmds++;
    nargs += argc;
    nkeys += found;
    pos = cmdEnd;
  }

  st[S_NCMDS] = static_cast<int32_t>(ncmds);
  st[S_CONSUMED] = static_cast<int32_t>(pos - from);
  st[S_ERROR] = error;
  st[S_NEED] = need > static_cast<long long>(len - pos) ? static_cast<int32_t>(need < INT32_MAX ? need : INT32_MAX) : 0;
  st[S_FULL] = full;
  st[S_GROW_ARGS] = static_cast<int32_t>(grow);
  st[S_ERROR_BYTE] = error == PE_EXPECTED_DOLLAR ? badByte : 0;
  // (offsets fit: the binding refuses chunks over 2 GB)
  const bool resumable = error == PE_NONE && full == 0 && grow == 0 && resumeAt > 0;
  st[S_RESUME_AT] = resumable ? static_cast<int32_t>(resumeAt) : 0;
  st[S_RESUME_ARGS] = resumable ? static_cast<int32_t>(resumeArgs) : 0;
  return static_cast<int>(ncmds);
}

}  // namespace kvstore
