// cli_options.cpp — blip2-caption's options, one GOptionEntry each, with the
// default in the help line.
#include "cli_options.h"

#include <glib.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "blip2-build-config.h"
#include "generation_options.h"

namespace blip2_cli {
namespace {

int parse_int(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    const int parsed = std::stoi(value, &used);
    if (used == value.size()) return parsed;
  } catch (const std::exception&) {
  }
  throw UsageError(flag + " expects an integer, got \"" + value + "\"");
}

double parse_double(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    const double parsed = std::stod(value, &used);
    if (used == value.size()) return parsed;
  } catch (const std::exception&) {
  }
  throw UsageError(flag + " expects a number, got \"" + value + "\"");
}

uint64_t parse_seed(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    const unsigned long long parsed = std::stoull(value, &used);
    if (used == value.size() && value.find('-') == std::string::npos) return parsed;
  } catch (const std::exception&) {
  }
  throw UsageError(flag + " expects a non-negative integer, got \"" + value + "\"");
}

bool parse_bool(const std::string& flag, const std::string& value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  throw UsageError(flag + " expects true or false, got \"" + value + "\"");
}

blip2::EarlyStopping parse_early_stopping(const std::string& flag, const std::string& value) {
  if (value == "true") return blip2::EarlyStopping::kTrue;
  if (value == "false") return blip2::EarlyStopping::kFalse;
  if (value == "never") return blip2::EarlyStopping::kNever;
  throw UsageError(flag + " expects true, false or never, got \"" + value + "\"");
}

// The string values GOption fills in; g_free'd by the destructor.
struct RawOptions {
  gchar* model = nullptr;
  gchar* revision = nullptr;
  gchar* device = nullptr;
  gchar* dtype = nullptr;
  gchar* quantize = nullptr;
  gchar* prompt = nullptr;
  gchar* max_new_tokens = nullptr;
  gchar* min_new_tokens = nullptr;
  gchar* num_beams = nullptr;
  gchar* length_penalty = nullptr;
  gchar* early_stopping = nullptr;
  gchar* num_return_sequences = nullptr;
  gchar* repetition_penalty = nullptr;
  gchar* no_repeat_ngram_size = nullptr;
  gchar* do_sample = nullptr;
  gboolean do_sample_flag = FALSE;
  gchar* temperature = nullptr;
  gchar* top_k = nullptr;
  gchar* top_p = nullptr;
  gchar* seed = nullptr;
  gchar* batch = nullptr;
  gchar* repeat = nullptr;
  gchar* server = nullptr;
  gchar* api_key = nullptr;
  gchar* image_format = nullptr;
  gchar* resize = nullptr;
  gchar* request_timeout = nullptr;
  gchar* retries = nullptr;
  gboolean json = FALSE;
  gboolean quiet = FALSE;
  gboolean version = FALSE;
  gchar** images = nullptr;

  ~RawOptions() {
    for (gchar* s : {model, revision, device, dtype, quantize, prompt, max_new_tokens,
                     min_new_tokens, num_beams, length_penalty, early_stopping, num_return_sequences,
                     repetition_penalty, no_repeat_ngram_size, do_sample, temperature, top_k,
                     top_p, seed, batch, repeat, server, image_format, resize, request_timeout,
                     retries}) {
      g_free(s);
    }
    if (api_key != nullptr) {  // a secret: wiped before it is freed
      std::fill(api_key, api_key + std::char_traits<char>::length(api_key), '\0');
      g_free(api_key);
    }
    g_strfreev(images);
  }
};

// --do-sample and --no-do-sample are flags (the last one given wins);
// --do-sample=BOOL is rewritten to one of them before parsing.
gboolean set_do_sample(gpointer data, const char* value) {
  auto* raw = static_cast<RawOptions*>(data);
  raw->do_sample_flag = TRUE;
  g_free(raw->do_sample);
  raw->do_sample = g_strdup(value);
  return TRUE;
}
gboolean on_do_sample(const gchar*, const gchar*, gpointer data, GError**) {
  return set_do_sample(data, "true");
}
gboolean on_no_do_sample(const gchar*, const gchar*, gpointer data, GError**) {
  return set_do_sample(data, "false");
}

// Values are taken as the bytes given (G_OPTION_ARG_FILENAME), never
// converted from the locale's character set: a prompt is UTF-8 whatever the
// locale, and is checked as such (check_utf8).
#define STRING_OPTION(name, short_name, field, help, arg) \
  {name, short_name, 0, G_OPTION_ARG_FILENAME, &raw.field, help, arg}

std::vector<GOptionEntry> entries(RawOptions& raw) {
  return {
      STRING_OPTION("model", 'm', model, "Checkpoint folder or Hugging Face repo id (required)",
                    "MODEL"),
      STRING_OPTION("revision", 0, revision,
                    "Branch, tag or commit of a repo id in the cache (default: main)", "REV"),
      STRING_OPTION("device", 'd', device, "auto, cpu, cuda or cuda:N (default: auto)", "DEV"),
      STRING_OPTION("dtype", 0, dtype, "auto, float32, float16 or bfloat16 (default: auto)",
                    "TYPE"),
      STRING_OPTION("quantize", 0, quantize,
                    "none, or int8 weights for the language model on the CPU (faster, not exact; "
                    "bfloat16) (default: none)",
                    "Q"),
      STRING_OPTION("prompt", 'p', prompt,
                    "Text the caption continues (default: the checkpoint's)", "TEXT"),
      STRING_OPTION("max-new-tokens", 0, max_new_tokens, "Most new tokens, EOS counted (default: 30)",
                    "N"),
      STRING_OPTION("min-new-tokens", 0, min_new_tokens, "EOS banned before N tokens (default: 0)",
                    "N"),
      STRING_OPTION("num-beams", 0, num_beams, "Beam search width; 1 = greedy (default: 1)", "N"),
      STRING_OPTION("length-penalty", 0, length_penalty, "Beam score length exponent (default: 1.0)",
                    "X"),
      STRING_OPTION("early-stopping", 0, early_stopping,
                    "Beam stop rule: true, false or never (default: false)", "WHEN"),
      STRING_OPTION("num-return-sequences", 0, num_return_sequences,
                    "Sequences per image, the best first (default: 1)", "N"),
      STRING_OPTION("repetition-penalty", 0, repetition_penalty,
                    "Penalty on repeated tokens; 1.0 = none (default: 1.0)", "X"),
      STRING_OPTION("no-repeat-ngram-size", 0, no_repeat_ngram_size,
                    "Ban repeated n-grams of size N; 0 = off (default: 0)", "N"),
      {"do-sample", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(on_do_sample),
       "Sample instead of searching; also --do-sample=BOOL (default: false)", nullptr},
      {"no-do-sample", 0, G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK,
       reinterpret_cast<gpointer>(on_no_do_sample),
       "Search, even when the checkpoint samples (default: off)", nullptr},
      STRING_OPTION("temperature", 0, temperature, "Sampling temperature (default: 1.0)", "X"),
      STRING_OPTION("top-k", 0, top_k, "Sample among the K likeliest; 0 = all (default: 50)", "K"),
      STRING_OPTION("top-p", 0, top_p, "Nucleus sampling mass in (0, 1] (default: 1.0)", "P"),
      STRING_OPTION("seed", 0, seed, "Sampling seed (default: 0)", "N"),
      STRING_OPTION("batch", 'b', batch,
                    "Images per model call; with --server, requests in flight (default: 1)", "N"),
      STRING_OPTION("repeat", 0, repeat,
                    "Caption N times, report latency on stderr (default: 0 = once)", "N"),
      STRING_OPTION("server", 0, server,
                    "OpenAI-compatible API base URL, e.g. http://host:8000/v1: captions come from "
                    "that server (vLLM, transformers serve); nothing is loaded (default: in process)",
                    "URL"),
      STRING_OPTION("api-key", 0, api_key,
                    "Bearer token for --server (default: $OPENAI_API_KEY, which keeps it out of "
                    "the process list)",
                    "KEY"),
      STRING_OPTION("image-format", 0, image_format,
                    "--server: how images are sent, png or jpeg (default: png, lossless)", "FMT"),
      STRING_OPTION("resize", 0, resize,
                    "--server: resize images to N x N (Pillow-exact bicubic) before sending; "
                    "0 = as they are (default: 0)",
                    "N"),
      STRING_OPTION("request-timeout", 0, request_timeout,
                    "--server: milliseconds one request may take (default: 60000)", "MS"),
      STRING_OPTION("retries", 0, retries,
                    "--server: further attempts after a connection error, 429 or 5xx (default: 2)",
                    "N"),
      {"json", 'j', 0, G_OPTION_ARG_NONE, &raw.json,
       "One JSON object per image and line (default: IMAGE: caption)", nullptr},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &raw.quiet,
       "No loading progress bar or device line on stderr (default: off)", nullptr},
      {"version", 'V', 0, G_OPTION_ARG_NONE, &raw.version, "Print the version and exit", nullptr},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &raw.images, nullptr, nullptr},
      {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
}

#undef STRING_OPTION

constexpr const char* kDescription =
    "IMAGE is a binary PPM (P6) file, or PNG/JPEG when built with GStreamer; - reads one\n"
    "image from standard input. MODEL is a folder in the Hugging Face layout or a repo id\n"
    "found in the local Hugging Face cache (nothing is downloaded). Decoding options\n"
    "default to the checkpoint's generation_config.json, else to the values shown.\n"
    "On a terminal, stderr shows a loading progress bar, then the device and dtype\n"
    "that auto chose (--quiet turns both off; nothing when stderr is not a terminal).\n"
    "A bad image is reported on stderr and the others are still captioned.\n"
    "With --server URL, MODEL is the name the server serves; the decoding defaults are\n"
    "the checkpoint's when MODEL is also found here, else the values shown; an option\n"
    "the server cannot honour is refused (exit 2); token_ids and score are null when\n"
    "the server does not return them.\n"
    "A prompt is UTF-8 whatever the locale.\n"
    "Exit status: 0 all captioned, 1 a model or image failed, 2 a bad argument (also\n"
    "one only the loaded model can judge, such as a prompt too long for it).\n";

// Throws unless `value` (of `flag`) is valid UTF-8, naming the first bad byte.
void check_utf8(const std::string& flag, const gchar* value) {
  const gchar* end = nullptr;
  if (g_utf8_validate(value, -1, &end)) return;
  throw UsageError(flag + " is not valid UTF-8 (byte " + std::to_string(end - value) +
                   " is not part of a UTF-8 character)");
}

// Whether argv[i] is an option that takes its value from the next argument
// ("--prompt TEXT", "-p TEXT"), judged by the option table.
bool takes_next_argument(const std::vector<GOptionEntry>& table, const std::string& arg) {
  for (const GOptionEntry& e : table) {
    if (e.long_name == nullptr || e.arg == G_OPTION_ARG_NONE ||
        (e.flags & G_OPTION_FLAG_NO_ARG) != 0 || *e.long_name == '\0') {
      continue;
    }
    if (arg == std::string("--") + e.long_name) return true;
    if (e.short_name != 0 && arg == std::string{'-', e.short_name}) return true;
  }
  return false;
}

// argv with --do-sample=BOOL as --do-sample or --no-do-sample: GOption's
// optional values would take the next argument (an image) as the value, so
// the flag takes none and its "=" form is rewritten here. The values of
// other options and everything after "--" are left alone. Throws UsageError.
std::vector<std::string> rewrite_flag_values(int argc,
                                             char** argv,
                                             const std::vector<GOptionEntry>& table) {
  std::vector<std::string> out(argv, argv + argc);
  const std::string prefix = "--do-sample=";
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i] == "--") break;
    if (takes_next_argument(table, out[i])) {
      ++i;  // its value, whatever it looks like
      continue;
    }
    if (out[i].rfind(prefix, 0) == 0) {
      const bool on = parse_bool("--do-sample", out[i].substr(prefix.size()));
      out[i] = on ? "--do-sample" : "--no-do-sample";
    }
  }
  return out;
}

void add_override(Arguments& args, const gchar* value, GenerationOverride apply) {
  if (value != nullptr) args.generation.push_back(std::move(apply));
}

// Parses the decoding values now (a bad one exits 2 before anything loads);
// they are applied to the checkpoint's defaults later.
void collect_generation(const RawOptions& raw, Arguments& args) {
  using G = blip2::GenerationOptions;
  auto s = [](const gchar* v) { return std::string(v); };
  if (raw.max_new_tokens) {
    const int v = parse_int("--max-new-tokens", s(raw.max_new_tokens));
    add_override(args, raw.max_new_tokens, [v](G& g) { g.max_new_tokens = v; });
  }
  if (raw.min_new_tokens) {
    const int v = parse_int("--min-new-tokens", s(raw.min_new_tokens));
    add_override(args, raw.min_new_tokens, [v](G& g) { g.min_new_tokens = v; });
  }
  if (raw.num_beams) {
    const int v = parse_int("--num-beams", s(raw.num_beams));
    add_override(args, raw.num_beams, [v](G& g) { g.num_beams = v; });
  }
  if (raw.length_penalty) {
    const double v = parse_double("--length-penalty", s(raw.length_penalty));
    add_override(args, raw.length_penalty, [v](G& g) { g.length_penalty = v; });
  }
  if (raw.early_stopping) {
    const auto v = parse_early_stopping("--early-stopping", s(raw.early_stopping));
    add_override(args, raw.early_stopping, [v](G& g) { g.early_stopping = v; });
  }
  if (raw.num_return_sequences) {
    const int v = parse_int("--num-return-sequences", s(raw.num_return_sequences));
    add_override(args, raw.num_return_sequences, [v](G& g) { g.num_return_sequences = v; });
  }
  if (raw.repetition_penalty) {
    const double v = parse_double("--repetition-penalty", s(raw.repetition_penalty));
    add_override(args, raw.repetition_penalty, [v](G& g) { g.repetition_penalty = v; });
  }
  if (raw.no_repeat_ngram_size) {
    const int v = parse_int("--no-repeat-ngram-size", s(raw.no_repeat_ngram_size));
    add_override(args, raw.no_repeat_ngram_size, [v](G& g) { g.no_repeat_ngram_size = v; });
  }
  if (raw.do_sample) {
    const bool v = parse_bool("--do-sample", s(raw.do_sample));
    add_override(args, raw.do_sample, [v](G& g) { g.do_sample = v; });
  }
  if (raw.temperature) {
    const double v = parse_double("--temperature", s(raw.temperature));
    add_override(args, raw.temperature, [v](G& g) { g.temperature = v; });
  }
  if (raw.top_k) {
    const int v = parse_int("--top-k", s(raw.top_k));
    add_override(args, raw.top_k, [v](G& g) { g.top_k = v; });
  }
  if (raw.top_p) {
    const double v = parse_double("--top-p", s(raw.top_p));
    add_override(args, raw.top_p, [v](G& g) { g.top_p = v; });
  }
  if (raw.seed) {
    const uint64_t v = parse_seed("--seed", s(raw.seed));
    add_override(args, raw.seed, [v](G& g) { g.seed = v; });
  }
}

void check_model_options(const Arguments& args) {
  try {
    blip2::validate_model_options(args.model_options);
  } catch (const blip2::Error& e) {
    throw UsageError(e.what());
  }
}

// --server and what goes with it; the values are checked by RemoteOptions'
// own constructor rules here, before anything is asked of the server.
void collect_remote(const RawOptions& raw, Arguments& args) {
  const bool any_remote_option =
      raw.api_key || raw.image_format || raw.resize || raw.request_timeout || raw.retries;
  if (raw.server == nullptr || *raw.server == '\0') {
    if (any_remote_option) {
      throw UsageError(
          "--api-key, --image-format, --resize, --request-timeout and --retries need --server");
    }
    return;
  }
  blip2::RemoteOptions& r = args.remote;
  r.server = raw.server;
  r.model = args.model;
  if (raw.api_key) r.api_key = raw.api_key;
  try {
    if (raw.image_format) r.image_format = blip2::image_encoding_from_name(raw.image_format);
  } catch (const blip2::Error& e) {
    throw UsageError(std::string("--image-format: ") + e.what());
  }
  if (raw.resize) r.resize = parse_int("--resize", raw.resize);
  if (raw.request_timeout) {
    r.timeout = std::chrono::milliseconds(parse_int("--request-timeout", raw.request_timeout));
  }
  if (raw.retries) r.retries = parse_int("--retries", raw.retries);
  try {
    blip2::RemoteCaptioner check(r);
  } catch (const blip2::Error& e) {
    throw UsageError(e.what());
  }
}

Arguments to_arguments(const RawOptions& raw) {
  Arguments args;
  args.show_version = raw.version;
  if (args.show_version) return args;
  if (raw.model == nullptr || *raw.model == '\0') throw UsageError("--model MODEL is required");
  args.model = raw.model;
  if (raw.revision) args.revision = raw.revision;
  if (raw.device) args.model_options.device = raw.device;
  if (raw.dtype) args.model_options.dtype = raw.dtype;
  if (raw.quantize) args.model_options.quantize = raw.quantize;
  if (raw.prompt) {
    check_utf8("--prompt", raw.prompt);
    args.prompt = std::string(raw.prompt);
  }
  collect_generation(raw, args);
  if (raw.batch) args.batch = parse_int("--batch", raw.batch);
  if (raw.repeat) args.repeat = parse_int("--repeat", raw.repeat);
  args.json = raw.json;
  args.quiet = raw.quiet;
  for (gchar** image = raw.images; image != nullptr && *image != nullptr; ++image) {
    args.images.emplace_back(*image);
  }
  if (args.images.empty()) throw UsageError("no IMAGE given");
  if (std::count(args.images.begin(), args.images.end(), "-") > 1) {
    throw UsageError("- (standard input) may be given once");
  }
  if (args.batch < 1) throw UsageError("--batch must be at least 1");
  if (args.repeat < 0) throw UsageError("--repeat must not be negative");
  collect_remote(raw, args);
  check_model_options(args);
  generation_options(args, blip2::GenerationOptions{});  // the values alone
  return args;
}

}  // namespace

Arguments parse_arguments(int argc, char** argv) {
  RawOptions raw;
  std::vector<GOptionEntry> options = entries(raw);
  std::unique_ptr<GOptionContext, decltype(&g_option_context_free)> context(
      g_option_context_new("IMAGE... - caption images with BLIP-2 OPT"), g_option_context_free);
  GOptionGroup* main_group =
      g_option_group_new(nullptr, nullptr, nullptr, &raw, nullptr);  // data for callbacks
  g_option_group_add_entries(main_group, options.data());
  g_option_context_set_main_group(context.get(), main_group);
  g_option_context_set_description(context.get(), kDescription);
  g_option_context_set_summary(context.get(), "blip2-caption " BLIP2_VERSION);
  std::vector<std::string> rewritten = rewrite_flag_values(argc, argv, options);
  std::vector<char*> pointers;
  for (std::string& arg : rewritten) pointers.push_back(arg.data());
  int count = static_cast<int>(pointers.size());
  pointers.push_back(nullptr);  // argv[argc]
  char** args = pointers.data();
  GError* error = nullptr;
  if (!g_option_context_parse(context.get(), &count, &args, &error)) {
    std::string message = error != nullptr ? error->message : "bad command line";
    g_clear_error(&error);
    throw UsageError(message);
  }
  return to_arguments(raw);
}

blip2::GenerationOptions generation_options(const Arguments& args,
                                            const blip2::GenerationOptions& defaults) {
  blip2::GenerationOptions options = defaults;
  for (const GenerationOverride& apply : args.generation) apply(options);
  if (args.prompt) options.prompt = *args.prompt;
  try {
    blip2::validate_generation_options(options);
  } catch (const blip2::Error& e) {
    throw UsageError(e.what());
  }
  return options;
}

}  // namespace blip2_cli
