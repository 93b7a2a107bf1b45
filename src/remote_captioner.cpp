// remote_captioner.cpp — the OpenAI-compatible chat completions client.
#include "remote_captioner.h"

#include <curl/curl.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <utility>

#include "generation_options.h"
#include "image_processor.h"

namespace blip2 {

std::string remote_error_prefix(const std::string& server) { return "server " + server + ": "; }

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct EasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct MultiDeleter {
  void operator()(CURLM* h) const { curl_multi_cleanup(h); }
};
struct ListDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

bool cancelled(const std::shared_ptr<std::atomic<bool>>& cancel) { return cancel && *cancel; }

// One HTTP exchange, as it ended.
struct Exchange {
  CURLcode result = CURLE_OK;
  long status = 0;
  std::string body;
  std::string error;  // curl's message when result != CURLE_OK
  bool cancelled = false;
  double ms = 0.0;
};

// GET (empty `post`) or POST of JSON; checks `cancel` every 20 ms.
Exchange http(const std::string& url,
              const std::string* post,
              const std::string& bearer,
              std::chrono::milliseconds timeout,
              const std::shared_ptr<std::atomic<bool>>& cancel) {
  init_curl_once();
  Exchange ex;
  const Clock::time_point start = Clock::now();
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  std::unique_ptr<CURLM, MultiDeleter> multi(curl_multi_init());
  if (!easy || !multi) {
    ex.result = CURLE_FAILED_INIT;
    ex.error = "libcurl could not start a transfer";
    return ex;
  }
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (post) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  }
  if (!bearer.empty()) headers = curl_slist_append(headers, bearer.c_str());
  std::unique_ptr<curl_slist, ListDeleter> header_list(headers);
  char error[CURL_ERROR_SIZE] = {0};
  CURL* h = easy.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<int64_t>(timeout.count(), 10000)));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ex.body);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (post) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, post->data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(post->size()));
  }
  curl_multi_add_handle(multi.get(), h);
  int running = 1;
  while (running) {
    if (curl_multi_perform(multi.get(), &running) != CURLM_OK) break;
    if (!running) break;
    if (cancelled(cancel)) {
      ex.cancelled = true;
      break;
    }
    curl_multi_poll(multi.get(), nullptr, 0, 20, nullptr);
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
    if (msg->msg == CURLMSG_DONE) ex.result = msg->data.result;
  }
  curl_multi_remove_handle(multi.get(), h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &ex.status);
  if (ex.result != CURLE_OK) ex.error = error[0] ? error : curl_easy_strerror(ex.result);
  ex.ms = ms_since(start);
  return ex;
}

bool transient_status(long status) { return status == 429 || status >= 500; }

bool connection_failure(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

// At most `limit` characters of `text` on one line.
std::string one_line(const std::string& text, size_t limit = 200) {
  std::string out;
  for (char c : text) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// What an error answer says: its "detail" / "error" / "message", else its start.
std::string error_detail(const std::string& body) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    for (const char* key : {"detail", "error", "message"}) {
      if (!parsed.contains(key)) continue;
      const json& v = parsed[key];
      if (v.is_string()) return one_line(v.get<std::string>());
      if (v.is_object() && v.contains("message") && v["message"].is_string()) {
        return one_line(v["message"].get<std::string>());
      }
      return one_line(v.dump());
    }
  }
  return one_line(body);
}

std::string status_text(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

// The exchange as an error, or nothing when it is a 2xx answer.
void throw_if_failed(const Exchange& ex,
                     const std::string& prefix,
                     const std::string& path,
                     std::chrono::milliseconds timeout) {
  if (ex.cancelled) throw Error(ErrorCode::kCancelled, prefix + "request to " + path + " cancelled");
  if (ex.result == CURLE_OPERATION_TIMEDOUT) {
    throw RemoteUnavailable(prefix + "no answer from " + path + " within " +
                            std::to_string(timeout.count()) + " ms");
  }
  if (ex.result != CURLE_OK) {
    const std::string message = prefix + "cannot reach " + path + " (" + one_line(ex.error) + ")";
    if (connection_failure(ex.result)) throw RemoteUnavailable(message);
    throw Error(ErrorCode::kRuntime, message);
  }
  if (ex.status >= 200 && ex.status < 300) return;
  std::string message = prefix + "HTTP " + std::to_string(ex.status);
  const std::string text = status_text(ex.status);
  if (!text.empty()) message += " " + text;
  message += " from " + path;
  const std::string detail = error_detail(ex.body);
  if (!detail.empty()) message += ": " + detail;
  if (transient_status(ex.status)) throw RemoteUnavailable(message);
  throw Error(ErrorCode::kRuntime, message);
}

json parse_answer(const Exchange& ex, const std::string& prefix, const std::string& path) {
  json parsed = json::parse(ex.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    throw Error(ErrorCode::kRuntime, prefix + "the answer from " + path +
                                         " is not a JSON object: '" + one_line(ex.body, 80) + "'");
  }
  return parsed;
}

// Waits `wait`, or less when cancelled; returns false when cancelled.
bool sleep_unless_cancelled(std::chrono::milliseconds wait,
                            const std::shared_ptr<std::atomic<bool>>& cancel) {
  const Clock::time_point until = Clock::now() + wait;
  while (Clock::now() < until) {
    if (cancelled(cancel)) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(10),
                                                          until - Clock::now()));
  }
  return !cancelled(cancel);
}

std::string trim(const std::string& text) {
  const char* space = " \t\n\r\f\v";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

std::string base_url(std::string server) {
  while (!server.empty() && server.back() == '/') server.pop_back();
  return server;
}

[[noreturn]] void refuse(const std::string& option, const std::string& why) {
  throw Error(ErrorCode::kUnsupported, option + ": " + why);
}

}  // namespace

struct RemoteCaptioner::Reply {
  Exchange exchange;
  json answer;
};

RemoteCaptioner::RemoteCaptioner(RemoteOptions options) : options_(std::move(options)) {
  options_.server = base_url(options_.server);
  const std::string& s = options_.server;
  if (s.rfind("http://", 0) != 0 && s.rfind("https://", 0) != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "server '" + s + "' is not an http:// or https:// URL (e.g. http://host:8000/v1)");
  }
  if (options_.model.empty()) {
    throw Error(ErrorCode::kInvalidArgument, remote_error_prefix(s) + "no model name to ask for");
  }
  if (options_.resize < 0 || options_.resize > 4096) {
    throw Error(ErrorCode::kInvalidArgument,
                "resize " + std::to_string(options_.resize) + " is outside 0..4096");
  }
  if (options_.jpeg_quality < 1 || options_.jpeg_quality > 100) {
    throw Error(ErrorCode::kInvalidArgument,
                "JPEG quality " + std::to_string(options_.jpeg_quality) + " is outside 1..100");
  }
  if (options_.timeout.count() <= 0 || options_.retries < 0 || options_.backoff.count() < 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "request timeout must be positive, retries and backoff not negative");
  }
  std::string key = options_.api_key;
  if (key.empty()) {
    if (const char* env = std::getenv("OPENAI_API_KEY")) key = env;
  }
  if (!key.empty()) bearer_ = "Authorization: Bearer " + key;
}

RemoteCaptioner::~RemoteCaptioner() = default;

void RemoteCaptioner::connect(const std::shared_ptr<std::atomic<bool>>& cancel) {
  const std::string prefix = remote_error_prefix(options_.server);
  const Exchange ex = http(options_.server + "/models", nullptr, bearer_, options_.timeout, cancel);
  throw_if_failed(ex, prefix, "/models", options_.timeout);
  const json answer = parse_answer(ex, prefix, "/models");
  if (!answer.contains("data") || !answer["data"].is_array()) {
    throw Error(ErrorCode::kRuntime, prefix + "the answer from /models has no \"data\" list");
  }
  std::string served;
  for (const json& entry : answer["data"]) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string()) continue;
    const std::string id = entry["id"].get<std::string>();
    if (id == options_.model) {
      const bool vllm = entry.contains("owned_by") && entry["owned_by"] == "vllm";
      kind_ = vllm ? RemoteServerKind::kVllm : RemoteServerKind::kOpenAI;
      return;
    }
    served += (served.empty() ? "" : ", ") + id;
  }
  throw Error(ErrorCode::kNotFound, prefix + "does not serve model '" + options_.model +
                                        "' (it serves: " + (served.empty() ? "none" : served) +
                                        ")");
}

void RemoteCaptioner::check(const GenerationOptions& o) const {
  if (o.num_return_sequences > 1) {
    refuse("num-return-sequences", "a server request returns one caption here");
  }
  if (o.no_repeat_ngram_size > 0) {
    refuse("no-repeat-ngram-size", "the OpenAI-compatible API has no such field");
  }
  if (kind() != RemoteServerKind::kVllm) {
    const std::string why = "this server takes greedy requests only (vLLM takes more)";
    if (o.num_beams > 1) refuse("num-beams", why);
    if (o.do_sample) refuse("do-sample", why);
    if (o.min_new_tokens > 0) refuse("min-new-tokens", why);
    if (o.repetition_penalty != 1.0) refuse("repetition-penalty", why);
    return;
  }
  if (o.num_beams > 1) {
    const std::string why = "vLLM's beam search ignores it";
    if (o.do_sample) refuse("do-sample", "vLLM does not sample with beams");
    if (o.min_new_tokens > 0) refuse("min-new-tokens", why);
    if (o.repetition_penalty != 1.0) refuse("repetition-penalty", why);
    if (o.early_stopping != EarlyStopping::kFalse) refuse("early-stopping", "vLLM has no such field");
  }
}

std::string RemoteCaptioner::request_body(const ImageView& image,
                                          const GenerationOptions& o,
                                          double* encode_ms) const {
  const Clock::time_point start = Clock::now();
  std::vector<uint8_t> rgb = to_rgb8(image);
  int32_t width = image.width;
  int32_t height = image.height;
  const int32_t n = options_.resize;
  if (n > 0 && (width != n || height != n)) {
    rgb = resize_bicubic_rgb8(rgb.data(), width, height, n, n);
    width = height = n;
  }
  const std::vector<uint8_t> file =
      options_.image_format == ImageEncoding::kPng
          ? encode_png(rgb.data(), width, height)
          : encode_jpeg(rgb.data(), width, height, options_.jpeg_quality);
  json content = json::array();
  content.push_back({{"type", "image_url"},
                     {"image_url", {{"url", data_url(options_.image_format, file)}}}});
  content.push_back({{"type", "text"}, {"text", o.prompt}});
  json body = {{"model", options_.model},
               {"messages", json::array({{{"role", "user"}, {"content", content}}})},
               {"max_tokens", o.max_new_tokens}};
  if (!o.do_sample) body["temperature"] = 0;
  if (kind() == RemoteServerKind::kVllm) {
    body["return_token_ids"] = true;
    if (o.num_beams > 1) {
      body["use_beam_search"] = true;
      body["n"] = o.num_beams;
      body["length_penalty"] = o.length_penalty;
    } else {
      body["logprobs"] = true;
      if (o.min_new_tokens > 0) body["min_tokens"] = o.min_new_tokens;
      if (o.repetition_penalty != 1.0) body["repetition_penalty"] = o.repetition_penalty;
    }
    if (o.do_sample) {
      body["temperature"] = o.temperature;
      body["top_p"] = o.top_p;
      body["top_k"] = o.top_k > 0 ? o.top_k : -1;
      body["seed"] = o.seed;
    }
  }
  std::string text = body.dump(-1, ' ', false, json::error_handler_t::replace);
  *encode_ms = ms_since(start);
  return text;
}

RemoteCaptioner::Reply RemoteCaptioner::post_with_retries(const std::string& body,
                                                          const GenerationOptions& o) {
  const std::string prefix = remote_error_prefix(options_.server);
  const std::string path = "/chat/completions";
  std::chrono::milliseconds wait = options_.backoff;
  for (int32_t attempt = 0;; ++attempt) {
    Reply reply;
    reply.exchange = http(options_.server + path, &body, bearer_, options_.timeout, o.cancel);
    try {
      throw_if_failed(reply.exchange, prefix, path, options_.timeout);
      reply.answer = parse_answer(reply.exchange, prefix, path);
      return reply;
    } catch (const RemoteUnavailable&) {
      // A timeout is not retried: it already took the whole timeout.
      const bool timed_out = reply.exchange.result == CURLE_OPERATION_TIMEDOUT;
      if (attempt >= options_.retries || timed_out) throw;
    }
    {
      std::lock_guard<std::mutex> lk(lock_);
      ++counters_.retries;
    }
    if (!sleep_unless_cancelled(wait, o.cancel)) {
      throw Error(ErrorCode::kCancelled, prefix + "request to " + path + " cancelled");
    }
    wait *= 2;
  }
}

Caption RemoteCaptioner::caption(const ImageView& image, const GenerationOptions& o) {
  if (cancelled(o.cancel)) throw Error(ErrorCode::kCancelled, "caption cancelled");
  validate_generation_options(o);
  check(o);
  {
    std::lock_guard<std::mutex> lk(lock_);
    ++counters_.requests;
  }
  const Clock::time_point start = Clock::now();
  const std::string prefix = remote_error_prefix(options_.server);
  try {
    double encode_ms = 0.0;
    const std::string body = request_body(image, o, &encode_ms);
    const Reply reply = post_with_retries(body, o);
    const json& answer = reply.answer;
    const json* choice = nullptr;
    if (answer.contains("choices") && answer["choices"].is_array() && !answer["choices"].empty()) {
      choice = &answer["choices"][0];
    }
    if (!choice || !choice->is_object() || !choice->contains("message") ||
        !(*choice)["message"].is_object() || !(*choice)["message"].contains("content") ||
        !(*choice)["message"]["content"].is_string()) {
      throw Error(ErrorCode::kRuntime, prefix + "the answer from /chat/completions has no "
                                                "choices[0].message.content string: '" +
                                                one_line(reply.exchange.body, 80) + "'");
    }
    Caption c;
    c.text = trim((*choice)["message"]["content"].get<std::string>());
    if (choice->contains("token_ids") && (*choice)["token_ids"].is_array()) {
      for (const json& id : (*choice)["token_ids"]) {
        if (id.is_number_integer()) c.token_ids.push_back(id.get<int64_t>());
      }
    } else {
      c.token_ids_known = false;
    }
    c.score_known = false;
    if (choice->contains("logprobs") && (*choice)["logprobs"].is_object() &&
        (*choice)["logprobs"].contains("content") && (*choice)["logprobs"]["content"].is_array()) {
      double sum = 0.0;
      size_t count = 0;
      for (const json& t : (*choice)["logprobs"]["content"]) {
        if (t.is_object() && t.contains("logprob") && t["logprob"].is_number()) {
          sum += t["logprob"].get<double>();
          ++count;
        }
      }
      if (count > 0) {
        c.score = sum / static_cast<double>(count);
        c.score_known = true;
      }
    }
    c.server_token_count = static_cast<int32_t>(c.token_ids.size());
    if (answer.contains("usage") && answer["usage"].is_object() &&
        answer["usage"].contains("completion_tokens") &&
        answer["usage"]["completion_tokens"].is_number_integer()) {
      c.server_token_count = answer["usage"]["completion_tokens"].get<int32_t>();
    }
    c.timings.encode_ms = encode_ms;
    c.timings.round_trip_ms = reply.exchange.ms;
    c.timings.decoder = "remote";
    c.inference_ms = ms_since(start);
    std::lock_guard<std::mutex> lk(lock_);
    ++counters_.succeeded;
    counters_.round_trip_ms_total += reply.exchange.ms;
    return c;
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kCancelled) {
      std::lock_guard<std::mutex> lk(lock_);
      ++counters_.failures;
    }
    throw;
  }
}

RemoteCounters RemoteCaptioner::counters() const {
  std::lock_guard<std::mutex> lk(lock_);
  return counters_;
}

}  // namespace blip2
