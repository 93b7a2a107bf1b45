// tokenizer.h — GPT-2 byte-level BPE, as the Hugging Face OPT tokenizer.
//
// Loads tokenizer.json, or vocab.json + merges.txt with the added tokens that
// tokenizer_config.json / added_tokens.json / special_tokens_map.json declare
// (the original Salesforce layout). Encoding and decoding give exactly the ids
// and text of transformers' tokenizer for the same folder.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace blip2 {

class Tokenizer {
 public:
  // Throws blip2::Error (kNotFound / kInvalidFormat) naming the file.
  static Tokenizer from_directory(const std::string& dir);

  // Text -> ids; with add_bos the BOS id (2, "</s>") is prepended as HF does
  // for OPT (add_bos_token). Special/added tokens in the text are matched first.
  // add_bos means HF's add_special_tokens: the folder decides what is added
  // (tokenizer.json's post_processor, else add_bos_token/add_eos_token of
  // tokenizer_config.json, both false by default as in GPT2Tokenizer).
  // Throws kInvalidArgument when text is not valid UTF-8.
  std::vector<int64_t> encode(std::string_view text, bool add_bos = true) const;

  // Ids -> text (UTF-8, invalid bytes replaced with U+FFFD). With
  // skip_special_tokens the registered special tokens are dropped (for OPT
  // "</s>", "<pad>" and a special "<image>"; "<s>" and "<unk>" stay unless the
  // folder declares them special). Throws kInvalidArgument for unknown ids.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = true) const;

  std::optional<int64_t> token_to_id(std::string_view token) const;
  int64_t bos_token_id() const;
  int64_t eos_token_id() const;
  int64_t pad_token_id() const;  // -1 when the folder declares no pad token
  // Number of ids including added tokens (50266 with <image>).
  int64_t size() const;

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  struct Impl;

 private:
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace blip2
