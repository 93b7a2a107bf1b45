// remote_captioner.h — captions from a serving engine over its OpenAI-compatible
// API (vLLM, transformers serve, ...), with the same inputs and Caption as the
// in-process Captioner (torch-free; HTTP through libcurl, JSON with nlohmann).
//
//   blip2::RemoteOptions options;
//   options.server = "http://gpu-pool:8000/v1";     // the API base URL
//   options.model = "Salesforce/blip2-opt-2.7b-coco";  // the served name
//   blip2::RemoteCaptioner remote(options);
//   remote.connect();              // GET {server}/models: reachable, model served
//   remote.check(gen);             // refuses options the server cannot honour
//   blip2::Caption c = remote.caption(image_view, gen);
//
// One caption is one POST {server}/chat/completions: one user message holding
// the picture as a data: URL (PNG by default, lossless; JPEG by choice; with
// `resize` > 0 first resized to resize x resize with the library's
// Pillow-exact bicubic, so that a BLIP-2 server's own resize is the identity)
// and the prompt as text; max_tokens; temperature 0 for greedy. Which decoding
// options are sent depends on the server (RemoteServerKind). The text is
// trimmed of surrounding white space (the EOS "\n") as in process.
//
// Connection errors, HTTP 429 and 5xx are retried `retries` times, waiting
// `backoff`, doubled each time. Every failure is a blip2::Error whose one-line
// message starts with "server URL:". The API key (RemoteOptions::api_key, else
// $OPENAI_API_KEY) is sent as a bearer token and appears in no message.
// caption() may be called from any number of threads at once; setting
// GenerationOptions::cancel abandons the request within milliseconds
// (Error(kCancelled)).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "blip2.h"
#include "image_encode.h"

namespace blip2 {

struct RemoteOptions {
  std::string server;   // API base URL, http(s)://host[:port]/v1 ("/chat/completions" is appended)
  std::string model;    // the `model` of each request: the name the server serves
  std::string api_key;  // "" = $OPENAI_API_KEY when set, else none
  ImageEncoding image_format = ImageEncoding::kPng;
  int32_t jpeg_quality = 95;
  int32_t resize = 0;  // > 0: resized to resize x resize before encoding
  std::chrono::milliseconds timeout{60000};  // one request, connection included
  int32_t retries = 2;                       // further attempts after a transient failure
  std::chrono::milliseconds backoff{250};    // the first wait before a retry
};

// What the server is, as its /models says: vLLM ("owned_by": "vllm") takes
// vLLM's extra sampling fields; any other server gets the standard fields
// only, so it can caption greedily and nothing else.
enum class RemoteServerKind { kUnknown, kVllm, kOpenAI };

// A failure of the server or the way to it: connection refused or lost, a
// timeout, HTTP 429 or 5xx. RemoteCaptioner throws it (an Error(kRuntime))
// once its retries are spent; live callers treat it as an outage.
class RemoteUnavailable : public Error {
 public:
  explicit RemoteUnavailable(const std::string& message) : Error(ErrorCode::kRuntime, message) {}
};

struct RemoteCounters {
  uint64_t requests = 0;  // captions asked for (retries not counted)
  uint64_t failures = 0;  // captions that failed (after their retries; cancels not counted)
  uint64_t retries = 0;   // further attempts made
  double round_trip_ms_total = 0.0;  // of the captions that succeeded
  uint64_t succeeded = 0;
  double mean_round_trip_ms() const {
    return succeeded ? round_trip_ms_total / static_cast<double>(succeeded) : 0.0;
  }
};

class RemoteCaptioner : public CaptionBackend {
 public:
  // Checks the options (URL scheme, sizes); no network. Throws
  // Error(kInvalidArgument).
  explicit RemoteCaptioner(RemoteOptions options);
  ~RemoteCaptioner() override;
  RemoteCaptioner(const RemoteCaptioner&) = delete;
  RemoteCaptioner& operator=(const RemoteCaptioner&) = delete;

  // GET {server}/models (one attempt, within the timeout): throws
  // RemoteUnavailable when the server cannot be reached or answers 5xx/429,
  // Error(kRuntime) for any other bad answer, Error(kNotFound) when the model
  // is not among those it serves. Learns the server's kind.
  void connect(const std::shared_ptr<std::atomic<bool>>& cancel = nullptr);
  // Throws Error(kUnsupported) naming the first option this server cannot
  // honour (after connect(); before, as for an unknown server).
  void check(const GenerationOptions& options) const;

  Caption caption(const ImageView& image, const GenerationOptions& options) override;

  RemoteServerKind kind() const { return kind_.load(); }
  const RemoteOptions& options() const { return options_; }
  RemoteCounters counters() const;

 private:
  struct Reply;
  Reply post_with_retries(const std::string& body, const GenerationOptions& options);
  std::string request_body(const ImageView& image, const GenerationOptions& options,
                           double* encode_ms) const;

  RemoteOptions options_;
  std::string bearer_;  // "Authorization: Bearer ..." or ""
  std::atomic<RemoteServerKind> kind_{RemoteServerKind::kUnknown};
  mutable std::mutex lock_;
  RemoteCounters counters_;
};

// "server URL: ..." — the prefix of every message about `server`.
std::string remote_error_prefix(const std::string& server);

}  // namespace blip2
