// async_captioner.cpp — the worker thread behind AsyncCaptioner.
#include "async_captioner.h"

#include <cstring>
#include <exception>
#include <utility>

namespace blip2 {
namespace {

struct PlaneShape {
  int32_t row_bytes = 0;
  int32_t rows = 0;
};

// Bytes per row and rows of each plane `format` uses (0 rows: unused plane).
void plane_shapes(const ImageView& view, PlaneShape shapes[3]) {
  const int32_t w = view.width;
  const int32_t h = view.height;
  const int32_t half_w = (w + 1) / 2;
  const int32_t half_h = (h + 1) / 2;
  switch (view.format) {
    case PixelFormat::kRGB:
    case PixelFormat::kBGR:
      shapes[0] = {w * 3, h};
      break;
    case PixelFormat::kRGBA:
    case PixelFormat::kBGRA:
    case PixelFormat::kRGBx:
    case PixelFormat::kBGRx:
    case PixelFormat::kxRGB:
    case PixelFormat::kxBGR:
    case PixelFormat::kARGB:
    case PixelFormat::kABGR:
      shapes[0] = {w * 4, h};
      break;
    case PixelFormat::kGRAY8:
      shapes[0] = {w, h};
      break;
    case PixelFormat::kI420:
      shapes[0] = {w, h};
      shapes[1] = {half_w, half_h};
      shapes[2] = {half_w, half_h};
      break;
    case PixelFormat::kNV12:
      shapes[0] = {w, h};
      shapes[1] = {half_w * 2, half_h};
      break;
  }
}

}  // namespace

ImageBuffer ImageBuffer::copy_of(const ImageView& view) {
  if (view.width <= 0 || view.height <= 0) {
    throw Error(ErrorCode::kInvalidArgument, "image to copy is empty (" +
                                                 std::to_string(view.width) + "x" +
                                                 std::to_string(view.height) + ")");
  }
  PlaneShape shapes[3];
  plane_shapes(view, shapes);
  size_t total = 0;
  for (int p = 0; p < 3; ++p) {
    if (shapes[p].rows == 0) continue;
    if (view.planes[p] == nullptr || view.strides[p] < shapes[p].row_bytes) {
      throw Error(ErrorCode::kInvalidArgument,
                  "image to copy: plane " + std::to_string(p) + " is missing or its stride (" +
                      std::to_string(view.strides[p]) + ") is below its row size (" +
                      std::to_string(shapes[p].row_bytes) + ")");
    }
    total += static_cast<size_t>(shapes[p].row_bytes) * shapes[p].rows;
  }

  ImageBuffer copy;
  copy.bytes_.resize(total);
  copy.view_.format = view.format;
  copy.view_.width = view.width;
  copy.view_.height = view.height;
  uint8_t* out = copy.bytes_.data();
  for (int p = 0; p < 3; ++p) {
    if (shapes[p].rows == 0) continue;
    copy.view_.planes[p] = out;
    copy.view_.strides[p] = shapes[p].row_bytes;
    for (int32_t row = 0; row < shapes[p].rows; ++row) {
      std::memcpy(out, view.planes[p] + static_cast<size_t>(row) * view.strides[p],
                  shapes[p].row_bytes);
      out += shapes[p].row_bytes;
    }
  }
  return copy;
}

AsyncCaptioner::AsyncCaptioner(std::shared_ptr<const Model> model, ResultCallback on_result)
    : AsyncCaptioner(
          [captioner = std::make_shared<Captioner>(std::move(model))](
              const ImageView& image, const GenerationOptions& options) {
            return captioner->caption(image, options);
          },
          std::move(on_result)) {}

AsyncCaptioner::AsyncCaptioner(CaptionFunction caption, ResultCallback on_result)
    : caption_(std::move(caption)), on_result_(std::move(on_result)) {
  worker_ = std::thread([this] { run(); });
}

AsyncCaptioner::~AsyncCaptioner() { stop(); }

std::optional<uint64_t> AsyncCaptioner::submit(CaptionRequest request) {
  std::optional<uint64_t> replaced;
  {
    std::lock_guard<std::mutex> lk(lock_);
    if (stopping_) return request.id;
    if (waiting_) replaced = waiting_->id;
    waiting_ = std::move(request);
  }
  wake_.notify_one();
  return replaced;
}

std::vector<uint64_t> AsyncCaptioner::flush() {
  std::vector<uint64_t> dropped;
  {
    std::lock_guard<std::mutex> lk(lock_);
    if (waiting_) {
      dropped.push_back(waiting_->id);
      waiting_.reset();
    }
    if (busy_ && !discard_current_) {
      discard_current_ = true;
      dropped.push_back(current_id_);
      if (current_cancel_) current_cancel_->store(true);
    }
    ++interruptions_;
  }
  finished_.notify_all();
  return dropped;
}

bool AsyncCaptioner::drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lk(lock_);
  const uint64_t interruptions = interruptions_;
  auto done = [&] { return (!waiting_ && !busy_) || interruptions_ != interruptions; };
  if (timeout == std::chrono::milliseconds::max()) {
    finished_.wait(lk, done);
  } else if (!finished_.wait_for(lk, timeout, done)) {
    return false;
  }
  return interruptions_ == interruptions;
}

void AsyncCaptioner::stop() {
  {
    std::lock_guard<std::mutex> lk(lock_);
    if (!stopping_) {
      stopping_ = true;
      waiting_.reset();
      discard_current_ = true;
      if (current_cancel_) current_cancel_->store(true);
      ++interruptions_;
    }
  }
  wake_.notify_all();
  finished_.notify_all();
  if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
}

bool AsyncCaptioner::idle() const {
  std::lock_guard<std::mutex> lk(lock_);
  return !waiting_ && !busy_;
}

void AsyncCaptioner::run() {
  std::unique_lock<std::mutex> lk(lock_);
  while (true) {
    wake_.wait(lk, [&] { return stopping_ || waiting_.has_value(); });
    if (stopping_) break;

    CaptionRequest request = std::move(*waiting_);
    waiting_.reset();
    busy_ = true;
    discard_current_ = false;
    current_id_ = request.id;
    if (!request.options.cancel) request.options.cancel = std::make_shared<std::atomic<bool>>(false);
    current_cancel_ = request.options.cancel;
    lk.unlock();

    CaptionResult result;
    result.id = request.id;
    result.options = request.options;
    try {
      result.caption = caption_(request.image.view(), request.options);
    } catch (const Error& e) {
      result.ok = false;
      result.error_code = e.code();
      result.error = e.what();
    } catch (const std::exception& e) {
      result.ok = false;
      result.error = e.what();
    } catch (...) {
      result.ok = false;
      result.error = "unknown exception while captioning";
    }

    lk.lock();
    // The callback runs under no lock of ours, but `busy_` stays set until it
    // returned, so drain() also waits for the delivery.
    if (!discard_current_ && !stopping_) {
      lk.unlock();
      try {
        on_result_(std::move(result));
      } catch (...) {
        // A callback must not throw; there is nobody to report it to here.
      }
      lk.lock();
    }
    busy_ = false;
    discard_current_ = false;
    current_cancel_.reset();
    finished_.notify_all();
  }
}

}  // namespace blip2
