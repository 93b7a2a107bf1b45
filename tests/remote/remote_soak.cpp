// remote_soak — N captions of one image through RemoteCaptioner, one after
// the other, and the process's resident memory along the way (torch-free).
//   remote_soak URL MODEL IMAGE.ppm PROMPT MAX_NEW_TOKENS N
// Prints one JSON object: the last caption and its token count, the
// counters, and the RSS (kB) after the first min(N, 100) requests and at the end.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "ppm.h"
#include "remote_captioner.h"

namespace {

long rss_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: remote_soak URL MODEL IMAGE.ppm PROMPT MAX_NEW_TOKENS N\n";
    return 2;
  }
  try {
    blip2::RemoteOptions options;
    options.server = argv[1];
    options.model = argv[2];
    const blip2::RgbImage image = blip2::read_ppm(argv[3]);
    blip2::GenerationOptions generation;
    generation.prompt = argv[4];
    generation.max_new_tokens = std::stoi(argv[5]);
    const int n = std::stoi(argv[6]);
    blip2::RemoteCaptioner remote(options);
    remote.connect();
    blip2::Caption last;
    long rss_warm = 0;
    for (int i = 0; i < n; ++i) {
      last = remote.caption(image.view(), generation);
      if (i + 1 == std::min(n, 100)) rss_warm = rss_kb();
    }
    const blip2::RemoteCounters c = remote.counters();
    nlohmann::json report = {{"caption", last.text},
                             {"token_count", last.token_count()},
                             {"requests", c.requests},
                             {"failures", c.failures},
                             {"retries", c.retries},
                             {"mean_round_trip_ms", c.mean_round_trip_ms()},
                             {"encode_ms", last.timings.encode_ms},
                             {"rss_kb_after_100", rss_warm},
                             {"rss_kb_end", rss_kb()}};
    std::cout << report.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "remote_soak: " << e.what() << "\n";
    return 1;
  }
}
