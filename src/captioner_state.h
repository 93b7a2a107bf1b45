// captioner_state.h — the mutable per-Captioner state (internal; torch).
#pragma once

#include "kv_cache.h"

namespace blip2 {

struct CaptionerState {
  KvCache cache;
};

}  // namespace blip2
