// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// The caption blip2caption puts on a frame equals the library's caption for
// the same picture (blip2::Captioner on the same bytes) and the oracle's
// (transformers' greedy generate, $BLIP2_FIXTURES/reference/<model>/greedy.json),
// for every single-image reference case of the tiny checkpoints.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "blip2.h"
#include "oracle_common.h"

namespace {

using oracle::fixtures;
using oracle::Ppm;
using oracle::read_ppm;

struct ElementCaption
{
  std::string text;
  guint token_count = 0;
};

// One RGB frame through blip2caption (offline, interval 0); the meta's caption.
ElementCaption
caption_with_element (const std::string& model, const Ppm& ppm, const blip2::GenerationOptions& gen)
{
  const std::string& prompt = gen.prompt;
  // The harness starts an element with a sink pad at once: configure it first.
  GstElement* element = gst_element_factory_make ("blip2caption", nullptr);
  g_object_set (element, "model", model.c_str (), "device", "cpu", "dtype", 1, "mode", 1,
                "interval", (guint64)0, "prompt", prompt.c_str (), "max-new-tokens",
                (guint)gen.max_new_tokens, "min-new-tokens", (guint)gen.min_new_tokens, "num-beams",
                (guint)gen.num_beams, "length-penalty", gen.length_penalty, "repetition-penalty",
                gen.repetition_penalty, "no-repeat-ngram-size", (guint)gen.no_repeat_ngram_size,
                "do-sample", (gboolean)gen.do_sample, "temperature", gen.temperature, "top-k",
                (guint)gen.top_k, "top-p", gen.top_p, "seed", (guint64)gen.seed, nullptr);
  GstHarness* h = gst_harness_new_with_element (element, "sink", "src");
  gst_object_unref (element);
  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, ppm.caps ().c_str ());
  GstBuffer* buf = oracle::ppm_buffer (ppm, 0, GST_SECOND);
  EXPECT_EQ (gst_harness_push (h, buf), GST_FLOW_OK);

  ElementCaption result;
  GstBuffer* out = gst_harness_pull (h);
  EXPECT_NE (out, nullptr);
  GstCustomMeta* meta = out ? gst_buffer_get_custom_meta (out, "Blip2CaptionMeta") : nullptr;
  EXPECT_NE (meta, nullptr) << "no caption meta";
  if (meta) {
    const GstStructure* s = gst_custom_meta_get_structure (meta);
    const gchar* text = gst_structure_get_string (s, "caption");
    result.text = text ? text : "";
    gst_structure_get_uint (s, "token-count", &result.token_count);
    EXPECT_STREQ (gst_structure_get_string (s, "prompt"), prompt.c_str ());
  }
  if (out)
    gst_buffer_unref (out);
  gst_harness_teardown (h);
  return result;
}

void
check_model (const std::string& name)
{
  const std::string root = fixtures ();
  ASSERT_FALSE (root.empty ()) << "BLIP2_FIXTURES is not set";
  const std::string model_dir = root + "/models/" + name;
  std::ifstream in (root + "/reference/" + name + "/greedy.json");
  ASSERT_TRUE (in.good ()) << "missing greedy.json for " << name;
  nlohmann::json reference = nlohmann::json::parse (in);

  blip2::ModelOptions options;
  options.path = model_dir;
  options.device = "cpu";
  options.dtype = "float32";
  auto model = blip2::Model::load_shared (options);
  blip2::Captioner captioner (model);

  int checked = 0;
  for (const auto& c : reference.at ("cases")) {
    if (c.at ("images").size () != 1)
      continue;
    const std::string image = c.at ("images")[0].get<std::string> ();
    const std::string prompt = c.at ("prompt").get<std::string> ();
    const int max_new = c.at ("max_new_tokens").get<int> ();
    const int min_new = c.at ("min_new_tokens").get<int> ();
    const std::string oracle_text = c.at ("text")[0].get<std::string> ();
    const size_t oracle_tokens = c.at ("token_ids")[0].size ();
    SCOPED_TRACE (name + " / " + image + " / prompt '" + prompt + "'");

    Ppm ppm = read_ppm (root + "/images/" + image);
    blip2::GenerationOptions gen;
    gen.prompt = prompt;
    gen.max_new_tokens = max_new;
    gen.min_new_tokens = min_new;
    ElementCaption element = caption_with_element (model_dir, ppm, gen);

    blip2::Caption library =
        captioner.caption (blip2::ImageView::packed (ppm.rgb.data (), ppm.width, ppm.height,
                                                     ppm.width * 3, blip2::PixelFormat::kRGB),
                           gen);

    EXPECT_EQ (element.text, library.text);
    EXPECT_EQ (element.token_count, library.token_ids.size ());
    EXPECT_EQ (element.text, oracle_text);
    EXPECT_EQ (element.token_count, oracle_tokens);
    ++checked;
  }
  EXPECT_GE (checked, 5) << "too few single-image reference cases";
}

TEST (ElementParity, TinyMatchesLibraryAndOracle)
{
  check_model ("tiny");
}

// Beam search, sampling and the logits processors reach the library through
// the element's properties: same options, same caption as the library.
TEST (ElementParity, GenerationPropertiesMatchLibrary)
{
  const std::string root = fixtures ();
  const std::string model_dir = root + "/models/tiny";
  blip2::ModelOptions options;
  options.path = model_dir;
  options.device = "cpu";
  options.dtype = "float32";
  blip2::Captioner captioner (blip2::Model::load_shared (options));
  Ppm ppm = read_ppm (root + "/images/checker-100x100.ppm");

  std::vector<blip2::GenerationOptions> cases (4);
  cases[0].num_beams = 3;
  cases[0].length_penalty = 0.5;
  cases[0].max_new_tokens = 8;
  cases[1].do_sample = true;
  cases[1].temperature = 0.7;
  cases[1].top_k = 20;
  cases[1].top_p = 0.9;
  cases[1].seed = 1234;
  cases[1].max_new_tokens = 8;
  cases[2].repetition_penalty = 1.5;
  cases[2].no_repeat_ngram_size = 2;
  cases[2].max_new_tokens = 10;
  cases[3].prompt = "a photo of";
  cases[3].num_beams = 2;
  cases[3].early_stopping = blip2::EarlyStopping::kFalse;
  cases[3].max_new_tokens = 6;
  for (size_t i = 0; i < cases.size (); ++i) {
    SCOPED_TRACE ("case " + std::to_string (i));
    ElementCaption element = caption_with_element (model_dir, ppm, cases[i]);
    blip2::Caption library =
        captioner.caption (blip2::ImageView::packed (ppm.rgb.data (), ppm.width, ppm.height,
                                                     ppm.width * 3, blip2::PixelFormat::kRGB),
                           cases[i]);
    EXPECT_EQ (element.text, library.text);
    EXPECT_EQ (element.token_count, library.token_ids.size ());
  }
}

TEST (ElementParity, TinyCocoMatchesLibraryAndOracle)
{
  check_model ("tiny-coco");
}

}  // namespace
