// unicode.h — the small Unicode toolkit the tokenizer needs: UTF-8 decoding
// and encoding, the code point classes of the GPT-2 pre-tokenizer regex, and
// lossy UTF-8 decoding that matches Python's bytes.decode("utf-8", "replace").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace blip2 {

enum class CodepointClass : uint8_t { kOther, kLetter, kNumber, kWhitespace };

// Class of a code point: \p{L}, \p{N}, Unicode White_Space, or anything else.
CodepointClass codepoint_class(char32_t cp);

// Strict UTF-8 -> code points. Throws blip2::Error kInvalidArgument naming
// `what` and the byte offset on malformed input.
std::u32string decode_utf8_strict(std::string_view text, std::string_view what);

// Appends the UTF-8 encoding of one code point.
void append_utf8(std::string& out, char32_t cp);

// Lossy UTF-8 decoding: each maximal invalid subpart becomes U+FFFD, exactly as
// Python's bytes.decode("utf-8", errors="replace") (and Rust's
// String::from_utf8_lossy) do.
std::string decode_utf8_lossy(std::string_view bytes);

}  // namespace blip2
