// unicode.cpp — UTF-8 coding and code point classes from the generated table.
#include "unicode.h"

#include <algorithm>
#include <array>

#include "error.h"

namespace blip2 {
namespace {

struct CodepointRange {
  char32_t first;
  char32_t last;
  CodepointClass cls;
};

#include "unicode_tables.inc"

std::array<CodepointClass, 128> make_ascii_classes() {
  std::array<CodepointClass, 128> classes{};
  for (char32_t cp = 0; cp < 128; ++cp) {
    auto it = std::upper_bound(std::begin(kUnicodeRanges), std::end(kUnicodeRanges), cp,
                               [](char32_t c, const CodepointRange& r) { return c < r.first; });
    classes[cp] = CodepointClass::kOther;
    if (it != std::begin(kUnicodeRanges) && cp <= std::prev(it)->last) {
      classes[cp] = std::prev(it)->cls;
    }
  }
  return classes;
}

// Length of the valid UTF-8 sequence starting at `pos`, or 0 when invalid; on
// failure `*valid_prefix` is the length of the maximal subpart (at least 1).
size_t utf8_sequence_length(std::string_view s, size_t pos, char32_t* cp, size_t* valid_prefix) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(pos);
  *valid_prefix = 1;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t need;
  char32_t value;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1, value = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2, value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3, value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (pos + k >= s.size()) return 0;
    const unsigned char b = byte(pos + k);
    const unsigned char min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) return 0;
    value = (value << 6) | (b & 0x3F);
    *valid_prefix = k + 1;
  }
  *cp = value;
  return need + 1;
}

}  // namespace

CodepointClass codepoint_class(char32_t cp) {
  static const std::array<CodepointClass, 128> ascii = make_ascii_classes();
  if (cp < 128) return ascii[cp];
  auto it = std::upper_bound(std::begin(kUnicodeRanges), std::end(kUnicodeRanges), cp,
                             [](char32_t c, const CodepointRange& r) { return c < r.first; });
  if (it == std::begin(kUnicodeRanges)) return CodepointClass::kOther;
  --it;
  return cp <= it->last ? it->cls : CodepointClass::kOther;
}

std::u32string decode_utf8_strict(std::string_view text, std::string_view what) {
  std::u32string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp = 0;
    size_t prefix = 0;
    const size_t len = utf8_sequence_length(text, pos, &cp, &prefix);
    if (len == 0) {
      throw Error(ErrorCode::kInvalidArgument,
                  std::string(what) + ": invalid UTF-8 at byte " + std::to_string(pos));
    }
    out.push_back(cp);
    pos += len;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string decode_utf8_lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    char32_t cp = 0;
    size_t prefix = 0;
    const size_t len = utf8_sequence_length(bytes, pos, &cp, &prefix);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD for the maximal invalid subpart
      pos += prefix;
    } else {
      out.append(bytes.substr(pos, len));
      pos += len;
    }
  }
  return out;
}

}  // namespace blip2
