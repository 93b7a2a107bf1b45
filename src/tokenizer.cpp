// tokenizer.cpp — GPT-2 byte-level BPE with the loading rules of transformers'
// GPT2Tokenizer (tokenizers backend): vocabulary and merges from tokenizer.json
// or vocab.json + merges.txt, added/special tokens gathered from
// tokenizer_config.json, special_tokens_map.json, added_tokens.json and
// tokenizer.json, ids assigned as tokenizers' AddedVocabulary does.
#include "tokenizer.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "error.h"
#include "unicode.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

constexpr uintmax_t kMaxFileBytes = uintmax_t{1} << 30;
constexpr int64_t kMaxTokenId = (int64_t{1} << 31) - 1;
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 16;
const char* const kNamedSpecialKeys[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                         "pad_token", "cls_token", "mask_token"};

// ---------------------------------------------------------------- byte level

struct ByteLevelTables {
  std::array<std::string, 256> byte_to_text;  // UTF-8 of the stand-in character
  std::unordered_map<char32_t, uint8_t> char_to_byte;
};

bool is_printable_byte(int b) {
  return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others
// are shifted to U+0100 and up in byte order.
const ByteLevelTables& byte_level() {
  static const ByteLevelTables tables = [] {
    ByteLevelTables t;
    char32_t next_shifted = 256;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = is_printable_byte(b) ? static_cast<char32_t>(b) : next_shifted++;
      append_utf8(t.byte_to_text[b], cp);
      t.char_to_byte[cp] = static_cast<uint8_t>(b);
    }
    return t;
  }();
  return tables;
}

// ------------------------------------------------------------------- files

std::string path_in(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw Error(ErrorCode::kNotFound, "tokenizer file not found: " + path);
  }
  const uintmax_t size = fs::file_size(path, ec);
  if (ec || size > kMaxFileBytes) {
    throw Error(ErrorCode::kInvalidFormat, path + ": unreadable or larger than 1 GiB");
  }
  std::ifstream in(path, std::ios::binary);
  std::string data(static_cast<size_t>(size), '\0');
  if (!in || !in.read(data.data(), static_cast<std::streamsize>(size))) {
    throw Error(ErrorCode::kInvalidFormat, path + ": cannot be read");
  }
  return data;
}

template <typename J>
J parse_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return J::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::kInvalidFormat, path + ": malformed JSON: " + e.what());
  }
}

template <typename J>
J parse_json_object_file(const std::string& path) {
  J j = parse_json_file<J>(path);
  if (!j.is_object()) throw Error(ErrorCode::kInvalidFormat, path + ": not a JSON object");
  return j;
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

// -------------------------------------------------------------- added tokens

struct AddedToken {
  std::string content;
  bool special = false;
  bool normalized = true;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

bool json_bool(const Json& obj, const char* key, bool fallback, const std::string& where) {
  if (!obj.contains(key) || obj[key].is_null()) return fallback;
  if (!obj[key].is_boolean()) {
    throw Error(ErrorCode::kInvalidFormat, where + ": \"" + key + "\" is not a boolean");
  }
  return obj[key].get<bool>();
}

// An AddedToken dict ({"content": ..., "special": ...}); `special_default`
// is the flag when the dict does not say.
template <typename J>
AddedToken added_token_from_dict(const J& dict, bool special_default, const std::string& where) {
  const Json obj = Json::parse(dict.dump());
  if (!obj.contains("content") || !obj["content"].is_string()) {
    throw Error(ErrorCode::kInvalidFormat, where + ": token without a string \"content\"");
  }
  AddedToken t;
  t.content = obj["content"].get<std::string>();
  t.special = json_bool(obj, "special", special_default, where);
  t.normalized = json_bool(obj, "normalized", !t.special, where);
  t.lstrip = json_bool(obj, "lstrip", false, where);
  t.rstrip = json_bool(obj, "rstrip", false, where);
  t.single_word = json_bool(obj, "single_word", false, where);
  return t;
}

// A special token value: a string, an AddedToken dict, or null (absent).
template <typename J>
std::optional<AddedToken> special_token_value(const J& value, const std::string& where) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) {
    AddedToken t;
    t.content = value.template get<std::string>();
    t.special = true;
    t.normalized = false;
    return t;
  }
  if (value.is_object()) {
    AddedToken t = added_token_from_dict(value, true, where);
    t.special = true;
    return t;
  }
  throw Error(ErrorCode::kInvalidFormat, where + ": expected a string or a token object");
}

template <typename J>
std::vector<AddedToken> special_token_list(const J& value, const std::string& where) {
  if (!value.is_array()) throw Error(ErrorCode::kInvalidFormat, where + ": expected a list");
  std::vector<AddedToken> out;
  for (const auto& item : value) {
    if (auto t = special_token_value(item, where)) out.push_back(*t);
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_standard_special_key(std::string_view key) {
  for (const char* k : kNamedSpecialKeys) {
    if (key == k) return true;
  }
  return false;
}

// What tokenizer_config.json / special_tokens_map.json / added_tokens.json /
// tokenizer.json say about added and special tokens, merged with the
// precedence of transformers 5 (PreTrainedTokenizerBase._from_pretrained).
struct TokenDeclarations {
  std::vector<std::pair<std::string, std::optional<AddedToken>>> named;  // in order
  std::vector<AddedToken> extra;
  bool has_extra = false;                                 // extra_special_tokens was declared
  std::optional<std::vector<AddedToken>> map_additional;  // special_tokens_map's list
  std::map<int64_t, AddedToken> decoder;                  // added_tokens_decoder by declared id

  void set_named(const std::string& key, std::optional<AddedToken> value) {
    for (auto& [k, v] : named) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    named.emplace_back(key, std::move(value));
  }

  std::set<std::string> special_contents() const {
    std::set<std::string> out;
    for (const auto& [key, value] : named) {
      if (value) out.insert(value->content);
    }
    for (const auto& t : extra) out.insert(t.content);
    return out;
  }
};

struct PostProcessor {
  std::vector<std::string> prefix;  // token contents before the text
  std::vector<std::string> suffix;  // and after it
};

// -------------------------------------------------------------- pre-tokenizer

struct CodepointCursor {
  std::u32string cps;
  std::vector<size_t> offsets;  // byte offset of each code point, plus the end
};

CodepointCursor decode_with_offsets(std::string_view text) {
  CodepointCursor c;
  c.cps = decode_utf8_strict(text, "tokenizer input");
  c.offsets.reserve(c.cps.size() + 1);
  size_t pos = 0;
  for (char32_t cp : c.cps) {
    c.offsets.push_back(pos);
    pos += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  c.offsets.push_back(pos);
  return c;
}

// Length of a contraction ('s 't 're 've 'm 'll 'd, case-sensitive) at i.
size_t contraction_length(const std::u32string& s, size_t i) {
  if (s[i] != U'\'' || i + 1 >= s.size()) return 0;
  const char32_t a = s[i + 1];
  if (a == U's' || a == U't' || a == U'm' || a == U'd') return 2;
  if (i + 2 >= s.size()) return 0;
  const char32_t b = s[i + 2];
  if ((a == U'r' && b == U'e') || (a == U'v' && b == U'e') || (a == U'l' && b == U'l')) return 3;
  return 0;
}

// Length of " ?\p{L}+", " ?\p{N}+" or " ?[^\s\p{L}\p{N}]+" at i, or 0.
size_t class_run_length(const std::u32string& s, const std::vector<CodepointClass>& cls, size_t i) {
  size_t start = i;
  if (s[i] == U' ' && i + 1 < s.size() && cls[i + 1] != CodepointClass::kWhitespace) ++start;
  const CodepointClass run = cls[start];
  if (run == CodepointClass::kWhitespace) return 0;
  size_t end = start + 1;
  while (end < s.size() && cls[end] == run) ++end;
  return end - i;
}

// Length of "\s+(?!\S)|\s+" at i (i is white space).
size_t whitespace_run_length(const std::vector<CodepointClass>& cls, size_t i) {
  size_t end = i;
  while (end < cls.size() && cls[end] == CodepointClass::kWhitespace) ++end;
  if (end == cls.size() || end - i == 1) return end - i;
  return end - i - 1;  // leave the last space to the word that follows
}

// Splits text as the GPT-2 regex
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
std::vector<std::string_view> split_gpt2_pieces(std::string_view text) {
  const CodepointCursor c = decode_with_offsets(text);
  const std::u32string& s = c.cps;
  std::vector<CodepointClass> cls(s.size());
  for (size_t i = 0; i < s.size(); ++i) cls[i] = codepoint_class(s[i]);
  std::vector<std::string_view> pieces;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = contraction_length(s, i);
    if (len == 0) len = class_run_length(s, cls, i);
    if (len == 0) len = whitespace_run_length(cls, i);
    pieces.push_back(text.substr(c.offsets[i], c.offsets[i + len] - c.offsets[i]));
    i += len;
  }
  return pieces;
}

bool is_whitespace_at(std::string_view text, size_t pos, size_t* cp_len) {
  size_t len = 1;
  const unsigned char b = static_cast<unsigned char>(text[pos]);
  if (b >= 0xF0) {
    len = 4;
  } else if (b >= 0xE0) {
    len = 3;
  } else if (b >= 0xC0) {
    len = 2;
  }
  len = std::min(len, text.size() - pos);
  *cp_len = len;
  const std::u32string cp = decode_utf8_strict(text.substr(pos, len), "tokenizer input");
  return !cp.empty() && codepoint_class(cp[0]) == CodepointClass::kWhitespace;
}

size_t previous_codepoint_start(std::string_view text, size_t pos) {
  do {
    --pos;
  } while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80);
  return pos;
}

}  // namespace

// ------------------------------------------------------------------- Impl

struct Tokenizer::Impl {
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  struct Added {
    AddedToken token;
    int64_t id;
  };
  struct Segment {
    size_t begin;
    size_t end;
    int64_t added_id;  // -1: plain text
  };

  std::unordered_map<std::string, int64_t> vocab;
  std::vector<std::string> id_to_token;  // model vocabulary
  std::vector<bool> id_present;
  std::unordered_map<uint64_t, Merge> merges;
  std::array<int32_t, 256> byte_ids{};  // vocab id of each byte's character, -1 if none

  std::vector<Added> added;  // in the order they were added
  std::unordered_map<std::string, size_t> added_by_content;
  std::unordered_map<int64_t, size_t> added_by_id;
  std::unordered_set<std::string> special_contents;
  std::array<std::vector<size_t>, 256> match_raw;         // non-normalized, by first byte
  std::array<std::vector<size_t>, 256> match_normalized;  // normalized, by first byte

  std::string bos, eos, pad;
  std::vector<int64_t> prefix_ids, suffix_ids;
  bool add_prefix_space = false;
  bool clean_up_spaces = false;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  // ---- loading
  void set_vocab(const Json& vocab_json, const std::string& where);
  void add_merge(std::string_view a, std::string_view b, int32_t rank, const std::string& where);
  void load_merges_txt(const std::string& path);
  void load_merges_json(const Json& merges_json, const std::string& where);
  void finish_model();
  void add_token(const AddedToken& token);
  void build_matchers();
  std::optional<int64_t> lookup(std::string_view content) const;

  // ---- encoding
  std::vector<Segment> split_added(std::string_view text) const;
  void split_pass(std::string_view text,
                  size_t begin,
                  size_t end,
                  bool normalized,
                  std::vector<Segment>& out) const;
  void encode_plain(std::string_view text, std::vector<int64_t>& ids) const;
  void encode_word(std::string_view word, std::vector<int64_t>& ids) const;
  std::vector<int32_t> bpe(std::string_view word) const;

  // ---- decoding
  // nullptr for an id outside the vocabulary; throws for a negative id
  const std::string* token_text(int64_t id) const;
};

void Tokenizer::Impl::set_vocab(const Json& vocab_json, const std::string& where) {
  if (vocab_json.is_array()) {  // a list of tokens (or [token, score]) in id order
    Json as_object = Json::object();
    for (size_t i = 0; i < vocab_json.size(); ++i) {
      const Json& e = vocab_json[i];
      const Json& tok = e.is_array() && !e.empty() ? e[0] : e;
      if (!tok.is_string()) throw Error(ErrorCode::kInvalidFormat, where + ": bad vocab entry");
      as_object[tok.get<std::string>()] = i;
    }
    set_vocab(as_object, where);
    return;
  }
  if (!vocab_json.is_object() || vocab_json.empty()) {
    throw Error(ErrorCode::kInvalidFormat, where + ": vocabulary is not a non-empty object");
  }
  int64_t max_id = -1;
  for (const auto& [token, value] : vocab_json.items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > kMaxTokenId) {
      throw Error(ErrorCode::kInvalidFormat,
                  where + ": id of token \"" + token + "\" is not an integer in [0, 2^31)");
    }
    vocab[token] = value.get<int64_t>();
    max_id = std::max(max_id, value.get<int64_t>());
  }
  if (max_id >= static_cast<int64_t>(vocab.size()) * 16 + 65536) {
    throw Error(ErrorCode::kInvalidFormat, where + ": implausible token id " +
                                               std::to_string(max_id) + " for " +
                                               std::to_string(vocab.size()) + " entries");
  }
  id_to_token.assign(static_cast<size_t>(max_id) + 1, std::string());
  id_present.assign(static_cast<size_t>(max_id) + 1, false);
  for (const auto& [token, id] : vocab) {
    id_to_token[id] = token;
    id_present[id] = true;
  }
}

// Duplicated merges keep their last rank, as in tokenizers.
void Tokenizer::Impl::add_merge(std::string_view a,
                                std::string_view b,
                                int32_t rank,
                                const std::string& where) {
  const auto id_of = [&](std::string_view tok) {
    auto it = vocab.find(std::string(tok));
    if (it == vocab.end()) {
      throw Error(ErrorCode::kInvalidFormat,
                  where + ": merge token \"" + std::string(tok) + "\" is not in the vocabulary");
    }
    return static_cast<int32_t>(it->second);
  };
  const int32_t left = id_of(a), right = id_of(b);
  const int32_t merged = id_of(std::string(a) + std::string(b));
  const uint64_t key = (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
  merges[key] = Merge{rank, merged};
}

void Tokenizer::Impl::load_merges_txt(const std::string& path) {
  const std::string text = read_file(path);
  std::string_view rest(text);
  size_t line_no = 0;
  int32_t rank = 0;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = strip_cr(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    ++line_no;
    if (line.rfind("#version", 0) == 0) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || line.find(' ', space + 1) != std::string_view::npos) {
      throw Error(ErrorCode::kInvalidFormat, where + ": expected two tokens separated by a space");
    }
    add_merge(line.substr(0, space), line.substr(space + 1), rank++, where);
  }
}

void Tokenizer::Impl::load_merges_json(const Json& merges_json, const std::string& where) {
  if (!merges_json.is_array()) throw Error(ErrorCode::kInvalidFormat, where + ": not a list");
  int32_t rank = 0;
  for (size_t i = 0; i < merges_json.size(); ++i) {
    const Json& m = merges_json[i];
    const std::string at = where + "[" + std::to_string(i) + "]";
    std::string a, b;
    if (m.is_string()) {
      const std::string s = m.get<std::string>();
      const size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        throw Error(ErrorCode::kInvalidFormat, at + ": expected \"a b\"");
      }
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else {
      throw Error(ErrorCode::kInvalidFormat, at + ": expected \"a b\" or [a, b]");
    }
    add_merge(a, b, rank++, at);
  }
}

void Tokenizer::Impl::finish_model() {
  const ByteLevelTables& bl = byte_level();
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(bl.byte_to_text[b]);
    byte_ids[b] = it == vocab.end() ? -1 : static_cast<int32_t>(it->second);
  }
}

std::optional<int64_t> Tokenizer::Impl::lookup(std::string_view content) const {
  const std::string key(content);
  if (auto it = added_by_content.find(key); it != added_by_content.end()) {
    return added[it->second].id;
  }
  if (auto it = vocab.find(key); it != vocab.end()) return it->second;
  return std::nullopt;
}

// tokenizers' AddedVocabulary::add_tokens for one token: an existing token
// keeps its id (its flags are replaced, "special" sticks), a vocabulary token
// gets its vocabulary id, anything else the next free id.
void Tokenizer::Impl::add_token(const AddedToken& token) {
  if (token.content.empty()) return;
  if (token.single_word) {
    throw Error(ErrorCode::kUnsupported,
                "added token \"" + token.content + "\": single_word is not supported");
  }
  if (auto it = added_by_content.find(token.content); it != added_by_content.end()) {
    Added& existing = added[it->second];
    const bool was_special = existing.token.special;
    existing.token = token;
    existing.token.special = token.special || was_special;
  } else {
    int64_t id;
    if (auto v = vocab.find(token.content); v != vocab.end()) {
      id = v->second;
    } else {
      const auto model_size = static_cast<int64_t>(vocab.size());
      int64_t max_added = -1;
      for (const Added& a : added) max_added = std::max(max_added, a.id);
      id = max_added < 0 ? model_size : (max_added >= model_size ? max_added + 1 : model_size);
    }
    added_by_content[token.content] = added.size();
    added_by_id[id] = added.size();
    added.push_back({token, id});
  }
  if (token.special) special_contents.insert(token.content);
}

void Tokenizer::Impl::build_matchers() {
  for (auto& bucket : match_raw) bucket.clear();
  for (auto& bucket : match_normalized) bucket.clear();
  for (size_t i = 0; i < added.size(); ++i) {
    const auto first = static_cast<unsigned char>(added[i].token.content[0]);
    (added[i].token.normalized ? match_normalized : match_raw)[first].push_back(i);
  }
  const auto longest_first = [this](size_t a, size_t b) {
    return added[a].token.content.size() > added[b].token.content.size();
  };
  for (auto& bucket : match_raw) std::stable_sort(bucket.begin(), bucket.end(), longest_first);
  for (auto& bucket : match_normalized) {
    std::stable_sort(bucket.begin(), bucket.end(), longest_first);
  }
}

// Leftmost-longest matches of one class of added tokens in text[begin, end),
// with lstrip/rstrip absorbing neighbouring white space.
void Tokenizer::Impl::split_pass(std::string_view text,
                                 size_t begin,
                                 size_t end,
                                 bool normalized,
                                 std::vector<Segment>& out) const {
  const auto& buckets = normalized ? match_normalized : match_raw;
  size_t plain_start = begin, pos = begin;
  while (pos < end) {
    const Added* hit = nullptr;
    for (size_t idx : buckets[static_cast<unsigned char>(text[pos])]) {
      const std::string& c = added[idx].token.content;
      if (c.size() <= end - pos && text.compare(pos, c.size(), c) == 0) {
        hit = &added[idx];
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + hit->token.content.size(), cp_len = 0;
    while (hit->token.lstrip && start > plain_start) {
      const size_t prev = previous_codepoint_start(text, start);
      if (!is_whitespace_at(text, prev, &cp_len)) break;
      start = prev;
    }
    while (hit->token.rstrip && stop < end && is_whitespace_at(text, stop, &cp_len)) stop += cp_len;
    if (start > plain_start) out.push_back({plain_start, start, -1});
    out.push_back({start, stop, hit->id});
    plain_start = pos = stop;
  }
  if (plain_start < end) out.push_back({plain_start, end, -1});
}

// Non-normalized added tokens are split out first, then the normalized ones
// in what is left (there is no normalizer, so both match the raw text).
std::vector<Tokenizer::Impl::Segment> Tokenizer::Impl::split_added(std::string_view text) const {
  std::vector<Segment> first, out;
  split_pass(text, 0, text.size(), false, first);
  for (const Segment& s : first) {
    if (s.added_id >= 0) {
      out.push_back(s);
    } else {
      split_pass(text, s.begin, s.end, true, out);
    }
  }
  return out;
}

std::vector<int32_t> Tokenizer::Impl::bpe(std::string_view word) const {
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t left;
    int32_t right;
    int32_t new_id;
  };
  std::vector<Symbol> syms;
  syms.reserve(word.size());
  for (char ch : word) {
    const int32_t id = byte_ids[static_cast<unsigned char>(ch)];
    if (id < 0) continue;  // no unknown token in GPT-2's BPE: the byte is dropped
    const auto n = static_cast<int32_t>(syms.size());
    syms.push_back({id, n - 1, -1});
    if (n > 0) syms[n - 1].next = n;
  }
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> heap(later);
  const auto push_pair = [&](int32_t pos) {
    if (pos < 0 || syms[pos].next < 0) return;
    const int32_t l = syms[pos].id, r = syms[syms[pos].next].id;
    auto it = merges.find((static_cast<uint64_t>(l) << 32) | static_cast<uint32_t>(r));
    if (it != merges.end()) heap.push({it->second.rank, pos, l, r, it->second.new_id});
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) push_pair(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Symbol& s = syms[c.pos];
    if (s.id != c.left || s.next < 0 || syms[s.next].id != c.right) continue;  // stale
    const int32_t gone = s.next;
    s.id = c.new_id;
    s.next = syms[gone].next;
    if (s.next >= 0) syms[s.next].prev = c.pos;
    syms[gone].id = -1;
    push_pair(s.prev);
    push_pair(c.pos);
  }
  std::vector<int32_t> ids;
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) ids.push_back(syms[i].id);
  return ids;
}

void Tokenizer::Impl::encode_word(std::string_view word, std::vector<int64_t>& ids) const {
  if (word.size() <= kMaxCachedWordBytes) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (auto it = cache.find(std::string(word)); it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> word_ids = bpe(word);
  ids.insert(ids.end(), word_ids.begin(), word_ids.end());
  if (word.size() <= kMaxCachedWordBytes) {
    std::lock_guard<std::mutex> lock(cache_mutex);
    if (cache.size() >= kMaxCacheEntries) cache.clear();
    cache.emplace(std::string(word), std::move(word_ids));
  }
}

void Tokenizer::Impl::encode_plain(std::string_view text, std::vector<int64_t>& ids) const {
  std::string with_space;
  if (add_prefix_space && text.front() != ' ') {
    with_space.reserve(text.size() + 1);
    with_space.push_back(' ');
    with_space.append(text);
    text = with_space;
  }
  for (std::string_view piece : split_gpt2_pieces(text)) encode_word(piece, ids);
}

const std::string* Tokenizer::Impl::token_text(int64_t id) const {
  if (auto it = added_by_id.find(id); it != added_by_id.end())
    return &added[it->second].token.content;
  if (id < 0) {
    throw Error(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) + " is negative");
  }
  // Ids the tokenizer does not know (a model's padded vocabulary rows, like
  // OPT's 50265..50271, can be generated) decode to nothing, as in transformers.
  if (id >= static_cast<int64_t>(id_to_token.size()) || !id_present[id]) return nullptr;
  return &id_to_token[id];
}

namespace {

// ------------------------------------------------------ gathering the files

void read_named_and_extra(const OrderedJson& config,
                          const std::string& where,
                          TokenDeclarations& decl) {
  for (const char* key : kNamedSpecialKeys) {
    if (config.contains(key))
      decl.set_named(key, special_token_value(config[key], where + ":" + key));
  }
  for (const auto& [key, value] : config.items()) {  // model-specific "*_token" keys
    if (!is_standard_special_key(key) && ends_with(key, "_token") &&
        (value.is_string() || value.is_object())) {
      decl.set_named(key, special_token_value(value, where + ":" + key));
    }
  }
  const char* list_key = config.contains("extra_special_tokens") ? "extra_special_tokens"
                         : config.contains("additional_special_tokens")
                             ? "additional_special_tokens"
                             : nullptr;
  if (list_key == nullptr || config[list_key].is_null()) return;
  const OrderedJson& list = config[list_key];
  const std::string at = where + ":" + list_key;
  if (list.is_object()) {
    for (const auto& [key, value] : list.items())
      decl.set_named(key, special_token_value(value, at));
  } else {
    decl.extra = special_token_list(list, at);
    decl.has_extra = true;
  }
}

void read_special_tokens_map(const std::string& path, TokenDeclarations& decl) {
  const OrderedJson map = parse_json_object_file<OrderedJson>(path);
  for (const auto& [key, value] : map.items()) {
    const std::string at = path + ":" + key;
    if (key == "additional_special_tokens") {
      decl.map_additional = special_token_list(value, at);
    } else if (key == "extra_special_tokens" && value.is_array()) {
      for (const AddedToken& t : special_token_list(value, at)) {
        const bool known = std::any_of(decl.extra.begin(), decl.extra.end(),
                                       [&](const AddedToken& e) { return e.content == t.content; });
        if (!known) decl.extra.push_back(t);
      }
      decl.has_extra = true;
    } else if (key == "extra_special_tokens" && value.is_object()) {
      for (const auto& [k, v] : value.items()) decl.set_named(k, special_token_value(v, at));
    } else if (ends_with(key, "_token")) {
      decl.set_named(key, special_token_value(value, at));
    }
  }
}

int64_t declared_id(const std::string& text, const std::string& where) {
  size_t used = 0;
  int64_t id = -1;
  try {
    id = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || id < 0 || id > kMaxTokenId) {
    throw Error(ErrorCode::kInvalidFormat, where + ": bad token id \"" + text + "\"");
  }
  return id;
}

void read_added_tokens_decoder(const OrderedJson& decoder,
                               const std::string& where,
                               TokenDeclarations& decl) {
  if (!decoder.is_object()) throw Error(ErrorCode::kInvalidFormat, where + ": not an object");
  for (const auto& [key, value] : decoder.items()) {
    const std::string at = where + "[" + key + "]";
    if (!value.is_object()) throw Error(ErrorCode::kInvalidFormat, at + ": not a token object");
    decl.decoder[declared_id(key, at)] = added_token_from_dict(value, false, at);
  }
}

void read_added_tokens_json(const std::string& path, TokenDeclarations& decl) {
  const OrderedJson tokens = parse_json_object_file<OrderedJson>(path);
  std::set<std::string> specials;
  for (const auto& [key, value] : decl.named) {
    if (value) specials.insert(value->content);
  }
  for (const AddedToken& t : decl.extra) specials.insert(t.content);
  for (const auto& [content, id] : tokens.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxTokenId) {
      throw Error(ErrorCode::kInvalidFormat, path + ": bad id for \"" + content + "\"");
    }
    AddedToken t;
    t.content = content;
    t.special = specials.count(content) > 0;
    t.normalized = !t.special;
    decl.decoder[id.get<int64_t>()] = t;
  }
}

void read_tokenizer_json_added(const Json& list,
                               const std::string& where,
                               TokenDeclarations& decl) {
  if (list.is_null()) return;
  if (!list.is_array()) throw Error(ErrorCode::kInvalidFormat, where + ": not a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "[" + std::to_string(i) + "]";
    const Json& t = list[i];
    if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
        t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() > kMaxTokenId) {
      throw Error(ErrorCode::kInvalidFormat, at + ": token without a valid \"id\"");
    }
    decl.decoder[t["id"].get<int64_t>()] = added_token_from_dict(t, false, at);
  }
}

// Token contents a tokenizer.json post_processor puts around the text.
void read_post_processor(const Json& pp, const std::string& where, PostProcessor& out) {
  if (pp.is_null()) return;
  if (!pp.is_object() || (pp.contains("type") && !pp["type"].is_string())) {
    throw Error(ErrorCode::kInvalidFormat, where + ": not an object with a string \"type\"");
  }
  const std::string type = pp.value("type", "");
  if (type == "ByteLevel") return;
  if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    for (const Json& p : pp["processors"]) read_post_processor(p, where, out);
    return;
  }
  if (type == "TemplateProcessing" && pp.contains("single") && pp["single"].is_array()) {
    bool after_text = false;
    for (const Json& piece : pp["single"]) {
      if (piece.contains("Sequence")) {
        after_text = true;
      } else if (piece.contains("SpecialToken") && piece["SpecialToken"].contains("id") &&
                 piece["SpecialToken"]["id"].is_string()) {
        (after_text ? out.suffix : out.prefix)
            .push_back(piece["SpecialToken"]["id"].get<std::string>());
      } else {
        throw Error(ErrorCode::kInvalidFormat, where + ": unexpected template piece");
      }
    }
    return;
  }
  if ((type == "RobertaProcessing" || type == "BertProcessing") && pp.contains("cls") &&
      pp.contains("sep") && pp["cls"].is_array() && pp["sep"].is_array() && !pp["cls"].empty() &&
      !pp["sep"].empty() && pp["cls"][0].is_string() && pp["sep"][0].is_string()) {
    out.prefix.push_back(pp["cls"][0].get<std::string>());
    out.suffix.push_back(pp["sep"][0].get<std::string>());
    return;
  }
  throw Error(ErrorCode::kUnsupported, where + ": post_processor type \"" + type + "\"");
}

bool config_bool(const OrderedJson& config,
                 const char* key,
                 bool fallback,
                 const std::string& where) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) {
    throw Error(ErrorCode::kInvalidFormat, where + ": \"" + key + "\" is not a boolean");
  }
  return config[key].get<bool>();
}

}  // namespace

// ------------------------------------------------------------------ public

// (A function-try-block: a JSON type error that a check above missed still
// leaves as blip2::Error, found by fuzzing.)
Tokenizer Tokenizer::from_directory(const std::string& dir) try {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(ErrorCode::kNotFound, "tokenizer folder not found: " + dir);
  }
  auto impl = std::make_unique<Impl>();
  const std::string tokenizer_json = path_in(dir, "tokenizer.json");
  const std::string vocab_json = path_in(dir, "vocab.json");
  const std::string merges_txt = path_in(dir, "merges.txt");
  const std::string config_path = path_in(dir, "tokenizer_config.json");
  const std::string map_path = path_in(dir, "special_tokens_map.json");
  const std::string added_path = path_in(dir, "added_tokens.json");
  const bool fast = is_file(tokenizer_json);
  if (!fast && !is_file(vocab_json)) {
    throw Error(ErrorCode::kNotFound,
                "tokenizer folder " + dir +
                    " has neither tokenizer.json nor vocab.json: " + tokenizer_json);
  }

  // 1. The BPE model (and, from tokenizer.json, its added tokens and template).
  Json fast_json;
  PostProcessor post;
  if (fast) {
    fast_json = parse_json_object_file<Json>(tokenizer_json);
    if (!fast_json.contains("model") || !fast_json["model"].is_object()) {
      throw Error(ErrorCode::kInvalidFormat, tokenizer_json + ": no \"model\" object");
    }
    const Json& model = fast_json["model"];
    if (model.contains("type") && model["type"] != "BPE") {
      throw Error(ErrorCode::kUnsupported,
                  tokenizer_json + ": model type " + model["type"].dump() + " is not BPE");
    }
    if (!model.contains("vocab") || !model.contains("merges")) {
      throw Error(ErrorCode::kInvalidFormat, tokenizer_json + ": model lacks vocab or merges");
    }
    impl->set_vocab(model["vocab"], tokenizer_json + ": model.vocab");
    impl->load_merges_json(model["merges"], tokenizer_json + ": model.merges");
    read_post_processor(fast_json.value("post_processor", Json()),
                        tokenizer_json + ": post_processor", post);
  } else {
    impl->set_vocab(parse_json_file<Json>(vocab_json), vocab_json);
    impl->load_merges_txt(merges_txt);
  }
  impl->finish_model();

  // 2. Declarations of added and special tokens, with transformers' precedence.
  const OrderedJson config = is_file(config_path) ? parse_json_object_file<OrderedJson>(config_path)
                                                  : OrderedJson::object();
  TokenDeclarations decl;
  decl.named = {{"bos_token", AddedToken{"<|endoftext|>", true, false}},
                {"eos_token", AddedToken{"<|endoftext|>", true, false}},
                {"unk_token", AddedToken{"<|endoftext|>", true, false}}};  // GPT2Tokenizer defaults
  read_named_and_extra(config, config_path, decl);
  if (config.contains("added_tokens_decoder")) {
    read_added_tokens_decoder(config["added_tokens_decoder"], config_path + ":added_tokens_decoder",
                              decl);
  } else {
    if (is_file(map_path)) read_special_tokens_map(map_path, decl);
    if (is_file(added_path)) read_added_tokens_json(added_path, decl);
    if (fast) {
      read_tokenizer_json_added(fast_json.value("added_tokens", Json()),
                                tokenizer_json + ": added_tokens", decl);
    }
  }
  if (!decl.has_extra && decl.map_additional) decl.extra = *decl.map_additional;

  // 3. Add them in transformers' order: declared ones by id, then named
  //    specials, then extra specials, each only if not already there.
  std::vector<AddedToken> to_add;
  std::set<std::string> seen;
  for (const auto& [id, token] : decl.decoder) {
    to_add.push_back(token);
    seen.insert(token.content);
  }
  for (const auto& [key, value] : decl.named) {
    if (value && seen.insert(value->content).second) to_add.push_back(*value);
  }
  for (const AddedToken& t : decl.extra) {
    if (seen.insert(t.content).second) to_add.push_back(t);
  }
  for (const AddedToken& t : to_add) impl->add_token(t);
  impl->build_matchers();

  // 4. Special token names, BOS/EOS template, options.
  const auto named_content = [&](const char* key) -> std::string {
    for (const auto& [k, v] : decl.named) {
      if (k == key && v) return v->content;
    }
    return "";
  };
  impl->bos = named_content("bos_token");
  impl->eos = named_content("eos_token");
  impl->pad = named_content("pad_token");
  if (!fast || fast_json.value("post_processor", Json()).is_null()) {
    // transformers ignores add_bos_token/add_eos_token when tokenizer.json exists.
    post = PostProcessor();
    if (config_bool(config, "add_bos_token", false, config_path) && !impl->bos.empty()) {
      post.prefix.push_back(impl->bos);
    }
    if (config_bool(config, "add_eos_token", false, config_path) && !impl->eos.empty()) {
      post.suffix.push_back(impl->eos);
    }
  }
  const auto ids_of = [&](const std::vector<std::string>& contents) {
    std::vector<int64_t> ids;
    for (const std::string& c : contents) {
      auto id = impl->lookup(c);
      if (!id) {
        throw Error(ErrorCode::kInvalidFormat,
                    dir + ": template token \"" + c + "\" has no id in the vocabulary");
      }
      ids.push_back(*id);
    }
    return ids;
  };
  impl->prefix_ids = ids_of(post.prefix);
  impl->suffix_ids = ids_of(post.suffix);
  impl->add_prefix_space = config_bool(config, "add_prefix_space", false, config_path);
  // transformers 5 skips clean-up for BPE tokenizers unless explicitly forced.
  impl->clean_up_spaces =
      config_bool(config, "clean_up_tokenization_spaces", false, config_path) &&
      config_bool(config, "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output",
                  false, config_path);
  return Tokenizer(std::move(impl));
} catch (const nlohmann::json::exception& e) {
  throw Error(ErrorCode::kInvalidFormat, "tokenizer files in " + dir + ": " + e.what());
}

std::vector<int64_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  decode_utf8_strict(text, "tokenizer input");  // validate once
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (add_bos) ids = impl_->prefix_ids;
  for (const Impl::Segment& s : impl_->split_added(text)) {
    if (s.added_id >= 0) {
      ids.push_back(s.added_id);
    } else {
      impl_->encode_plain(text.substr(s.begin, s.end - s.begin), ids);
    }
  }
  if (add_bos) ids.insert(ids.end(), impl_->suffix_ids.begin(), impl_->suffix_ids.end());
  return ids;
}

namespace {

// The ByteLevel decoder: a token made only of byte stand-ins gives those
// bytes, any other token (e.g. an added one with a space) its own UTF-8.
void append_token_bytes(const std::string& token, std::string& bytes) {
  const ByteLevelTables& bl = byte_level();
  const std::u32string cps = decode_utf8_strict(token, "vocabulary token");
  const size_t mark = bytes.size();
  for (char32_t cp : cps) {
    auto it = bl.char_to_byte.find(cp);
    if (it == bl.char_to_byte.end()) {
      bytes.resize(mark);
      bytes += token;
      return;
    }
    bytes.push_back(static_cast<char>(it->second));
  }
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// transformers' clean_up_tokenization.
void clean_up_tokenization(std::string& s) {
  const std::pair<std::string_view, std::string_view> rules[] = {
      {" .", "."},     {" ?", "?"},   {" !", "!"},   {" ,", ","},     {" ' ", "'"},
      {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : rules) replace_all(s, from, to);
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int64_t id : ids) {
    const std::string* token = impl_->token_text(id);
    if (token == nullptr) continue;
    if (skip_special_tokens && impl_->special_contents.count(*token) > 0) continue;
    append_token_bytes(*token, bytes);
  }
  std::string text = decode_utf8_lossy(bytes);
  if (impl_->clean_up_spaces) clean_up_tokenization(text);
  return text;
}

std::optional<int64_t> Tokenizer::token_to_id(std::string_view token) const {
  return impl_->lookup(token);
}

int64_t Tokenizer::bos_token_id() const { return impl_->lookup(impl_->bos).value_or(-1); }

int64_t Tokenizer::eos_token_id() const { return impl_->lookup(impl_->eos).value_or(-1); }

int64_t Tokenizer::pad_token_id() const {
  return impl_->pad.empty() ? -1 : impl_->lookup(impl_->pad).value_or(-1);
}

int64_t Tokenizer::size() const {
  int64_t n = static_cast<int64_t>(impl_->vocab.size());
  for (const Impl::Added& a : impl_->added) {
    if (impl_->vocab.count(a.token.content) == 0) ++n;
  }
  return n;
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

}  // namespace blip2
