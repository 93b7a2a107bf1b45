// state_dict.cpp — strict loading of a mapped checkpoint into a torch module.
//
// Two passes: first every parameter/buffer is matched to a checkpoint tensor
// (directly or through an alias) and its shape checked, collecting every
// problem; only when nothing is wrong are the tensors placed, one by one:
//   share - a CPU parameter with the file's dtype becomes a view of the mapping
//   copy  - one copy_ from the mapping (casting), then the mapped pages are released
//   stage - GPU parameters: through a bounded pinned buffer, then released
//   none  - a meta placeholder (filled by LoadOptions::on_tensor), then released
#include "state_dict.h"

#include <torch/torch.h>

#include <algorithm>
#include <set>

#include "error.h"

namespace blip2 {
namespace {

constexpr size_t kMaxListedProblems = 20;

at::ScalarType scalar_type(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return at::kFloat;
    case DType::kF16:
      return at::kHalf;
    case DType::kBF16:
      return at::kBFloat16;
    case DType::kF64:
      return at::kDouble;
    case DType::kI64:
      return at::kLong;
    case DType::kI32:
      return at::kInt;
    case DType::kI16:
      return at::kShort;
    case DType::kI8:
      return at::kChar;
    case DType::kU8:
      return at::kByte;
    case DType::kBool:
      return at::kBool;
  }
  throw Error(ErrorCode::kUnsupported, "unknown safetensors dtype");
}

std::string shape_string(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

// `ignored` entries match exactly, or as a prefix when they end with '*'.
bool is_ignored(const std::string& name, const std::vector<std::string>& ignored) {
  for (const auto& pattern : ignored) {
    if (!pattern.empty() && pattern.back() == '*') {
      if (name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0) return true;
    } else if (name == pattern) {
      return true;
    }
  }
  return false;
}

bool is_floating(DType dtype) {
  return dtype == DType::kF32 || dtype == DType::kF16 || dtype == DType::kBF16 ||
         dtype == DType::kF64;
}

struct Assignment {
  at::Tensor target;
  const TensorView* source;
};

// Every parameter and buffer of `module`, by dotted name.
std::vector<std::pair<std::string, at::Tensor>> module_tensors(torch::nn::Module& module) {
  std::vector<std::pair<std::string, at::Tensor>> result;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    result.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    result.emplace_back(item.key(), item.value());
  }
  return result;
}

const TensorView* resolve(const std::string& name,
                          const Checkpoint& checkpoint,
                          const std::map<std::string, std::string>& aliases) {
  if (const TensorView* view = checkpoint.find(name)) return view;
  auto alias = aliases.find(name);
  return alias == aliases.end() ? nullptr : checkpoint.find(alias->second);
}

std::vector<std::string> problem_lines(const LoadReport& report) {
  std::vector<std::string> lines;
  for (const auto& name : report.missing) lines.push_back("missing from checkpoint: " + name);
  for (const auto& name : report.unexpected) lines.push_back("not used by the model: " + name);
  for (const auto& text : report.mismatched) lines.push_back("shape mismatch: " + text);
  return lines;
}

[[noreturn]] void throw_report(const LoadReport& report, const Checkpoint& checkpoint) {
  auto lines = problem_lines(report);
  std::string message = checkpoint.directory() + ": checkpoint does not match the model (" +
                        std::to_string(report.missing.size()) + " missing, " +
                        std::to_string(report.unexpected.size()) + " unexpected, " +
                        std::to_string(report.mismatched.size()) + " mismatched):";
  for (size_t i = 0; i < lines.size() && i < kMaxListedProblems; ++i) message += "\n  " + lines[i];
  if (lines.size() > kMaxListedProblems) {
    message += "\n  ... and " + std::to_string(lines.size() - kMaxListedProblems) + " more";
  }
  throw Error(ErrorCode::kConfigMismatch, message);
}

}  // namespace

at::Tensor to_torch(const TensorView& view) {
  auto options = at::TensorOptions().dtype(scalar_type(view.dtype)).device(at::kCPU);
  // The mapping is read-only: the tensor must only ever be read from.
  return at::from_blob(const_cast<uint8_t*>(view.data), view.shape, options);
}

namespace {

bool aligned_for(const TensorView& view) {
  return reinterpret_cast<uintptr_t>(view.data) % dtype_size(view.dtype) == 0;
}

// The parameter becomes the mapped bytes themselves; the storage holds the file.
void share_into(at::Tensor& target, const TensorView& source,
                std::shared_ptr<const SafetensorsFile> file) {
  auto options = at::TensorOptions().dtype(scalar_type(source.dtype)).device(at::kCPU);
  const at::Tensor mapped = at::from_blob(
      const_cast<uint8_t*>(source.data), source.shape, [file](void*) {}, options);
  target.set_(mapped);
}

// One copy from the mapping into the parameter (cast, same device).
void copy_into(at::Tensor& target, const TensorView& source) { target.copy_(to_torch(source)); }

// To a GPU through `buffer` (pinned bytes), chunk by chunk, synchronously.
void stage_into(at::Tensor& target, const TensorView& source, at::Tensor& buffer,
                size_t buffer_bytes) {
  const size_t element = dtype_size(source.dtype);
  const int64_t count = source.numel();
  if (count == 0) return;
  if (!buffer.defined()) {
    buffer = at::empty({static_cast<int64_t>(buffer_bytes)},
                       at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  }
  const int64_t per_chunk = std::max<int64_t>(1, static_cast<int64_t>(buffer_bytes / element));
  const at::Tensor from = to_torch(source).view(-1);
  at::Tensor to = target.view(-1);
  for (int64_t start = 0; start < count; start += per_chunk) {
    const int64_t n = std::min(per_chunk, count - start);
    at::Tensor staged =
        buffer.narrow(0, 0, n * static_cast<int64_t>(element)).view(scalar_type(source.dtype));
    staged.copy_(from.narrow(0, start, n));
    to.narrow(0, start, n).copy_(staged);  // blocking: the buffer is reused next
  }
}

// Places tensors according to LoadOptions; holds the staging buffer.
class Placer {
 public:
  Placer(const Checkpoint& checkpoint, const LoadOptions& options)
      : checkpoint_(checkpoint), options_(options) {}

  void place(at::Tensor& target, const TensorView& source) {
    try {
      if (options_.on_tensor) options_.on_tensor(source.name, to_torch(source));
      if (target.is_meta()) {
        // the module fills it from on_tensor
      } else if (target.is_cuda()) {
        stage_into(target, source, staging_, staging_bytes(source));
      } else if (options_.share_mapping && target.scalar_type() == scalar_type(source.dtype) &&
                 aligned_for(source)) {
        share_into(target, source, checkpoint_.file_of(source));
        return;
      } else {
        copy_into(target, source);
      }
    } catch (const c10::Error& e) {
      throw Error(ErrorCode::kRuntime, source.file + ": copying tensor '" + source.name +
                                           "' into the model failed: " + e.what_without_backtrace());
    }
    if (options_.release_copied) release_pages(source);
  }

 private:
  // the buffer is allocated once, for the first GPU tensor: never larger than needed
  size_t staging_bytes(const TensorView& source) {
    if (!staging_.defined()) {
      buffer_bytes_ = std::max(dtype_size(source.dtype), options_.staging_bytes);
    }
    return buffer_bytes_;
  }

  const Checkpoint& checkpoint_;
  const LoadOptions& options_;
  at::Tensor staging_;
  size_t buffer_bytes_ = 0;
};

}  // namespace

std::string LoadReport::to_string() const {
  std::string text;
  for (const auto& line : problem_lines(*this)) text += line + "\n";
  return text;
}

LoadReport load_state_dict(torch::nn::Module& module,
                           const Checkpoint& checkpoint,
                           const std::map<std::string, std::string>& aliases,
                           const std::vector<std::string>& ignored,
                           const LoadOptions& options) {
  LoadReport report;
  std::vector<Assignment> assignments;
  std::set<std::string> used;
  for (auto& [name, target] : module_tensors(module)) {
    const TensorView* source = resolve(name, checkpoint, aliases);
    if (source == nullptr) {
      report.missing.push_back(name);
      continue;
    }
    used.insert(source->name);
    if (at::IntArrayRef(source->shape) != target.sizes()) {
      report.mismatched.push_back(name + ": file " + shape_string(source->shape) + " vs model " +
                                  shape_string(target.sizes()));
      continue;
    }
    if (target.is_floating_point() && !is_floating(source->dtype)) {
      report.mismatched.push_back(name + ": file dtype " + dtype_name(source->dtype) +
                                  " where a floating-point tensor is expected");
      continue;
    }
    assignments.push_back({target, source});
  }
  for (const auto& [name, view] : checkpoint.tensors()) {
    if (!used.count(name) && !is_ignored(name, ignored)) report.unexpected.push_back(name);
  }
  if (!report.ok()) throw_report(report, checkpoint);

  torch::NoGradGuard no_grad;
  uint64_t total = 0, done = 0;
  for (const auto& a : assignments) total += a.source->nbytes;
  if (options.on_progress) options.on_progress(0, total);
  Placer placer(checkpoint, options);
  for (auto& [target, source] : assignments) {
    placer.place(target, *source);
    done += source->nbytes;
    if (options.on_progress) options.on_progress(done, total);
  }
  report.bytes = total;
  return report;
}

}  // namespace blip2
