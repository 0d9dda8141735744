// Inline command tokenizing exactly as Redis sdssplitargs() (sds.c) does it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace kvstore {

// One token of an inline line: raw byte range [start, end) in the line (quotes included)
// and whether it used quotes (its bytes then differ from the raw range).
struct InlineToken {
  size_t start;
  size_t end;
  bool quoted;
};

// Splits line[0..len) like sdssplitargs (the line is treated as a C string: it ends at the
// first NUL). For each token calls onToken(const InlineToken&); when `decoded` is non-null the
// decoded bytes of each token are appended to it and their lengths passed to onToken as the
// second argument. Returns false on unbalanced quotes.
template <typename F>
bool splitInlineArgs(const uint8_t* line, size_t len, std::string* decoded, F&& onToken);

// isspace() in the C locale (high bytes are never space).
inline bool cIsSpace(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
inline bool isHexDigit(uint8_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
inline int hexValue(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

template <typename F>
bool splitInlineArgs(const uint8_t* line, size_t len, std::string* decoded, F&& onToken) {
  // at(i): the byte, or the terminating NUL past the end.
  auto at = [&](size_t i) -> uint8_t { return i < len ? line[i] : 0; };
  size_t p = 0;
  for (;;) {
    while (at(p) && cIsSpace(at(p))) p++;
    if (!at(p)) return true;
    bool inq = false, insq = false, done = false, quoted = false;
    size_t start = p;
    size_t before = decoded ? decoded->size() : 0;
    auto put = [&](uint8_t c) {
      if (decoded) decoded->push_back(static_cast<char>(c));
    };
    while (!done) {
      uint8_t c = at(p);
      if (inq) {
        if (c == '\\' && at(p + 1) == 'x' && isHexDigit(at(p + 2)) && isHexDigit(at(p + 3))) {
          put(static_cast<uint8_t>(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3))));
          p += 3;
        } else if (c == '\\' && at(p + 1)) {
          p++;
          uint8_t e = at(p);
          switch (e) {
            case 'n': e = '\n'; break;
            case 'r': e = '\r'; break;
            case 't': e = '\t'; break;
            case 'b': e = '\b'; break;
            case 'a': e = '\a'; break;
            default: break;
          }
          put(e);
        } else if (c == '"') {
          // A closing quote must be followed by a space or nothing at all.
          if (at(p + 1) && !cIsSpace(at(p + 1))) return false;
          done = true;
        } else if (!c) {
          return false;
        } else {
          put(c);
        }
      } else if (insq) {
        if (c == '\\' && at(p + 1) == '\'') {
          p++;
          put('\'');
        } else if (c == '\'') {
          if (at(p + 1) && !cIsSpace(at(p + 1))) return false;
          done = true;
        } else if (!c) {
          return false;
        } else {
          put(c);
        }
      } else {
        switch (c) {
          case ' ':
          case '\n':
          case '\r':
          case '\t':
          case '\0':
            done = true;
            break;
          case '"':
            inq = true;
            quoted = true;
            break;
          case '\'':
            insq = true;
            quoted = true;
            break;
          default:
            put(c);
            break;
        }
      }
      if (done) {
        // Token end: past a closing quote, or at the separator of an unquoted token.
        size_t end = (inq || insq) ? p + 1 : p;
        onToken(InlineToken{start, end, quoted}, decoded ? decoded->size() - before : 0);
      }
      if (at(p)) p++;
    }
  }
}

}  // namespace kvstore
