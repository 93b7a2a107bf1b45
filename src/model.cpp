// model.cpp — Model::load: config, weights, tokenizer and preprocessor of a
// Hugging Face BLIP-2 OPT checkpoint folder, placed on the chosen device/dtype.
#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

#include "config_check.h"
#include "file_check.h"
#include "generation_options.h"
#include "int8_layers.h"
#include "log.h"
#include "model_impl.h"
#include "safetensors.h"
#include "state_dict.h"
#include "torch_error.h"
#include "weight_check.h"

namespace blip2 {
namespace {

namespace fs = std::filesystem;

constexpr const char* kEmbedTokens = "language_model.model.decoder.embed_tokens.weight";
constexpr const char* kLmHead = "language_model.lm_head.weight";

at::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? at::Device("cuda:0") : at::kCPU;
  if (name == "cpu") return at::kCPU;
  if (name.rfind("cuda", 0) != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "unknown device \"" + name + "\" (expected auto, cpu, cuda or cuda:N)");
  }
  at::Device device = at::kCPU;
  try {
    device = at::Device(name == "cuda" ? std::string("cuda:0") : name);
  } catch (const std::exception&) {
    throw Error(ErrorCode::kInvalidArgument, "malformed device \"" + name + "\" (expected cuda:N)");
  }
  if (!torch::cuda::is_available()) {
    throw Error(ErrorCode::kUnsupported,
                "device \"" + name + "\" requested but no CUDA GPU is usable with this libtorch");
  }
  if (device.index() >= static_cast<int>(torch::cuda::device_count())) {
    throw Error(ErrorCode::kInvalidArgument,
                "device \"" + name + "\" does not exist (" +
                    std::to_string(torch::cuda::device_count()) + " CUDA device(s))");
  }
  return device;
}

at::ScalarType parse_dtype(const std::string& name, const at::Device& device) {
  if (name == "auto") return device.is_cuda() ? at::kHalf : at::kFloat;
  if (name == "float32") return at::kFloat;
  if (name == "float16") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown dtype \"" + name + "\" (expected auto, float32, float16 or bfloat16)");
}

// int8 weights run on the CPU with bfloat16 activations (auto picks it).
at::ScalarType resolve_dtype(const std::string& name, const at::Device& device,
                             Quantization quantization) {
  const at::ScalarType dtype = parse_dtype(name, device);
  if (quantization == Quantization::kNone) return dtype;
  if (device.is_cuda()) {
    throw Error(ErrorCode::kUnsupported,
                "quantize=int8 runs on the CPU only (device cpu); on CUDA use quantize=none "
                "with float16");
  }
  if (name == "auto") return at::kBFloat16;
  if (dtype != at::kBFloat16) {
    throw Error(ErrorCode::kInvalidArgument,
                "quantize=int8 computes in bfloat16: use dtype bfloat16 or auto (got " + name +
                    ")");
  }
  return dtype;
}

// quantize=int8 is refused on CUDA before asking whether a GPU is there.
at::Device resolve_device_for(const ModelOptions& options, Quantization quantization) {
  if (quantization != Quantization::kNone && options.device.rfind("cuda", 0) == 0) {
    throw Error(ErrorCode::kUnsupported,
                "quantize=int8 runs on the CPU only (device cpu), not on \"" + options.device +
                    "\"; on CUDA use quantize=none with float16");
  }
  return resolve_device(options.device);
}

std::string dtype_label(at::ScalarType dtype) {
  return dtype == at::kHalf ? "float16" : dtype == at::kBFloat16 ? "bfloat16" : "float32";
}

void require_directory(const std::string& path) {
  std::error_code ec;
  if (path.empty()) throw Error(ErrorCode::kInvalidArgument, "no model folder given");
  const std::string what = non_folder_entry(path);  // "" for a folder
  if (what.empty()) return;
  const bool absent = !fs::exists(fs::symlink_status(path, ec));
  throw Error(absent ? ErrorCode::kNotFound : ErrorCode::kInvalidFormat,
              "model folder " + path + " " + what);
}

// The vocabulary size is the row count of embed_tokens in the weights (50272
// in the original checkpoints, 50304 in the re-saved ones), whatever config says.
void take_vocab_size_from_weights(Blip2Config& config, const Checkpoint& checkpoint) {
  const TensorView* embed = checkpoint.find(kEmbedTokens);
  if (!embed) return;  // reported as missing by the strict loader
  if (embed->shape.size() == 2 && embed->shape[0] != config.text_config.vocab_size) {
    log_message(LogLevel::kInfo, "vocab size " + std::to_string(embed->shape[0]) +
                                     " taken from the weights (config.json says " +
                                     std::to_string(config.text_config.vocab_size) + ")");
    config.text_config.vocab_size = embed->shape[0];
  }
}

void check_image_token(const Blip2Config& config) {
  if (config.image_token_index &&
      (*config.image_token_index < 0 || *config.image_token_index >= config.text_config.vocab_size)) {
    throw Error(ErrorCode::kConfigMismatch,
                "config.json image_token_index " + std::to_string(*config.image_token_index) +
                    " is outside the vocabulary of the weights (" +
                    std::to_string(config.text_config.vocab_size) + " rows)");
  }
  const int64_t embed_dim = config.text_config.word_embed_proj_dim > 0
                                ? config.text_config.word_embed_proj_dim
                                : config.text_config.hidden_size;
  if (config.text_config.hidden_size < embed_dim) {
    throw Error(ErrorCode::kConfigMismatch,
                "language_projection gives " + std::to_string(config.text_config.hidden_size) +
                    " features per query but the word embeddings have " +
                    std::to_string(embed_dim));
  }
}

// -> bytes of checkpoint tensors placed
uint64_t load_weights(Blip2ForConditionalGenerationImpl& net,
                      const Checkpoint& checkpoint,
                      const ModelOptions& options,
                      Quantization quantization,
                      at::ScalarType dtype) {
  std::vector<std::string> ignored;
  // a stored copy of the tied head (original Salesforce shards) is not a parameter
  if (net.config.text_config.tie_word_embeddings) ignored.push_back(kLmHead);
  LoadOptions load;
  load.on_progress = options.on_progress;
  load.share_mapping = true;   // CPU weights stored in the model's dtype stay in the file mapping
  load.release_copied = true;  // cast, quantized or GPU-bound weights do not stay resident twice
  std::map<std::string, Int8Weight*> int8_targets;
  if (quantization == Quantization::kInt8) int8_targets = use_int8_layers(net);
  load.on_tensor = [&](const std::string& name, const at::Tensor& mapped) {
    const auto target = int8_targets.find(name);
    if (target == int8_targets.end()) return;
    *target->second = quantize_int8(mapped, dtype);
    // a NaN or infinite weight makes its row's scale non-finite
    if (options.check_finite && !all_finite(target->second->scales)) {
      throw_non_finite(options.path, name, mapped);
    }
  };
  return load_state_dict(net, checkpoint, {}, ignored, load).bytes;
}

std::string default_prompt_for(const Blip2Config& config) {
  return default_prompt_for_image_size(config.vision_config.image_size);
}

ModelInfo describe(const Model::Impl& m, const std::string& path) {
  ModelInfo info;
  info.path = path;
  info.device = m.device.str();
  info.dtype = dtype_label(m.dtype);
  info.quantize = quantization_name(m.quantization);
  info.image_size = static_cast<int32_t>(m.image_config.height);
  info.num_query_tokens = static_cast<int32_t>(m.config.num_query_tokens);
  info.vocab_size = m.config.text_config.vocab_size;
  info.eos_token_id = m.config.text_config.eos_token_id;
  info.bos_token_id = m.config.text_config.bos_token_id;
  info.pad_token_id = m.config.text_config.pad_token_id;
  info.max_positions = m.config.text_config.max_position_embeddings;
  info.uses_image_token = m.config.image_token_index.has_value();
  info.default_prompt = default_prompt_for(m.config);
  return info;
}

ImageProcessorConfig read_image_config(const std::string& path, const Blip2Config& config) {
  const fs::path file = fs::path(path) / "preprocessor_config.json";
  ImageProcessorConfig image_config;
  if (fs::exists(file)) {
    image_config = ImageProcessorConfig::from_file(file.string());
  } else {
    image_config.height = image_config.width = static_cast<int32_t>(config.vision_config.image_size);
  }
  if (image_config.height != config.vision_config.image_size ||
      image_config.width != config.vision_config.image_size) {
    throw Error(ErrorCode::kConfigMismatch,
                file.string() + " resizes to " + std::to_string(image_config.width) + "x" +
                    std::to_string(image_config.height) + " but the vision model takes " +
                    std::to_string(config.vision_config.image_size) + " px");
  }
  return image_config;
}

std::string config_path(const std::string& dir) { return (fs::path(dir) / "config.json").string(); }

std::unique_ptr<Model::Impl> load_impl(const ModelOptions& options) {
  require_directory(options.path);
  auto impl = std::make_unique<Model::Impl>(Model::Impl{
      {}, Blip2Config::from_file(config_path(options.path)), {},
      Tokenizer::from_directory(options.path)});
  impl->quantization = parse_quantization(options.quantize);
  impl->device = resolve_device_for(options, impl->quantization);
  impl->dtype = resolve_dtype(options.dtype, impl->device, impl->quantization);
  impl->decode_mode = resolve_decode_mode(options.decode_step, impl->device);
  impl->image_config = read_image_config(options.path, impl->config);
  const Checkpoint checkpoint = Checkpoint::open_directory(options.path);
  take_vocab_size_from_weights(impl->config, checkpoint);
  check_config_against_weights(impl->config, checkpoint, config_path(options.path));
  check_special_token_ids(impl->config, config_path(options.path));
  check_image_token(impl->config);
  c10::InferenceMode guard;
  impl->net = Blip2ForConditionalGeneration(
      impl->config, at::TensorOptions().dtype(impl->dtype).device(impl->device));
  const uint64_t weight_bytes =
      load_weights(*impl->net, checkpoint, options, impl->quantization, impl->dtype);
  if (options.check_finite) check_finite_parameters(*impl->net, options.path);
  impl->net->eval();
  impl->info = describe(*impl, options.path);
  impl->info.weight_bytes = weight_bytes;
  impl->info.decode_step = decode_mode_name(impl->decode_mode);
  return impl;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;

const ModelInfo& Model::info() const { return impl_->info; }

std::shared_ptr<Model> Model::load(const ModelOptions& options) {
  try {
    return std::make_shared<Model>(load_impl(options));
  } catch (...) {  // c10::Error and friends, on one line
    rethrow_as_blip2_error("loading " + options.path + " failed");
  }
}

std::shared_ptr<Model> Model::load_shared(const ModelOptions& options) {
  static std::mutex mutex;
  static std::map<std::tuple<std::string, std::string, std::string, std::string>,
                  std::weak_ptr<Model>>
      cache;
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(options.path, ec).string();
  const auto key = std::make_tuple(ec ? options.path : canonical, options.device, options.dtype,
                                   options.quantize);
  std::lock_guard<std::mutex> lock(mutex);
  if (auto model = cache[key].lock()) {
    const uint64_t bytes = model->info().weight_bytes;
    if (options.on_progress) options.on_progress(bytes, bytes);
    return model;
  }
  auto model = load(options);
  cache[key] = model;
  return model;
}

void validate_model_options(const ModelOptions& options) {
  const Quantization quantization = parse_quantization(options.quantize);
  resolve_dtype(options.dtype, resolve_device_for(options, quantization), quantization);
}

}  // namespace blip2
