// SPDX-License-Identifier: LGPL-2.1-or-later
// Copyright (C) 2026 The blip2caption authors
//
// A checkpoint's generation_config.json gives blip2caption its decoding
// defaults, as transformers' pipelines apply it; properties set on the
// element win. Checked on the oracle's tiny-gencfg checkpoint (the tiny
// model plus a generation_config.json with num_beams, max_new_tokens and
// repetition_penalty) against $BLIP2_FIXTURES/reference/tiny-gencfg/
// generation_config.json: the token ids transformers generates with the file
// applied, and with keyword arguments overriding it.
#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "blip2.h"
#include "generation_options.h"
#include "oracle_common.h"

namespace {

std::string
fixture (const std::string& relative)
{
  EXPECT_FALSE (oracle::fixtures ().empty ()) << "BLIP2_FIXTURES is not set";
  return oracle::fixtures () + "/" + relative;
}

blip2::ImageView
view (const oracle::Ppm& image)
{
  return blip2::ImageView::packed (image.rgb.data (), image.width, image.height, image.width * 3,
                                   blip2::PixelFormat::kRGB);
}

nlohmann::json
reference ()
{
  std::ifstream in (fixture ("reference/tiny-gencfg/generation_config.json"));
  EXPECT_TRUE (in.good ()) << "missing reference/tiny-gencfg/generation_config.json";
  return nlohmann::json::parse (in);
}

struct ElementCaption
{
  std::string text;
  guint token_count = 0;
  GstStructure* model_info = nullptr;  // owned; the element's model-info while PAUSED
};

// One RGB frame through blip2caption (offline, interval 0) with `model`, a
// prompt, and the properties `configure` sets; the meta's caption.
ElementCaption
caption_with_element (const std::string& model,
                      const oracle::Ppm& image,
                      const std::string& prompt,
                      const std::function<void (GstElement*)>& configure)
{
  GstElement* element = gst_element_factory_make ("blip2caption", nullptr);
  g_object_set (element, "model", model.c_str (), "device", "cpu", "mode", 1, "interval",
                (guint64)0, "prompt", prompt.c_str (), nullptr);
  configure (element);
  GstHarness* h = gst_harness_new_with_element (element, "sink", "src");
  gst_harness_set_live (h, FALSE);
  gst_harness_set_src_caps_str (h, image.caps ().c_str ());
  GstBuffer* buf = oracle::ppm_buffer (image, 0, GST_SECOND);
  EXPECT_EQ (gst_harness_push (h, buf), GST_FLOW_OK);

  ElementCaption result;
  GstBuffer* out = gst_harness_pull (h);
  GstCustomMeta* meta = out ? gst_buffer_get_custom_meta (out, "Blip2CaptionMeta") : nullptr;
  EXPECT_NE (meta, nullptr) << "no caption meta";
  if (meta) {
    const GstStructure* s = gst_custom_meta_get_structure (meta);
    const gchar* text = gst_structure_get_string (s, "caption");
    result.text = text ? text : "";
    gst_structure_get_uint (s, "token-count", &result.token_count);
  }
  if (out)
    gst_buffer_unref (out);
  g_object_get (element, "model-info", &result.model_info, nullptr);
  gst_object_unref (element);
  gst_harness_teardown (h);
  return result;
}

std::vector<int64_t>
ids (const nlohmann::json& list)
{
  return list.get<std::vector<int64_t>> ();
}

blip2::Caption
library_caption (const std::string& model,
                 const oracle::Ppm& image,
                 const blip2::GenerationOptions& options)
{
  blip2::ModelOptions load;
  load.path = model;
  load.device = "cpu";
  load.dtype = "float32";
  blip2::Captioner captioner (blip2::Model::load_shared (load));
  return captioner.caption (view (image), options);
}

// Unset properties: the file's options, as transformers applies them; the
// caption is the oracle's.
TEST (GenerationConfig, UnsetPropertiesTakeTheCheckpointsValues)
{
  const nlohmann::json ref = reference ();
  const nlohmann::json& applied = ref.at ("applied");
  const std::string folder = fixture ("models/tiny-gencfg");
  const oracle::Ppm image = oracle::fixture_image (applied.at ("images")[0].get<std::string> ());
  const std::string prompt = applied.at ("prompt").get<std::string> ();
  const std::vector<int64_t> oracle = ids (applied.at ("token_ids"));

  // the library with the file's options gives the oracle's ids (and its text)
  blip2::GenerationOptions from_file = blip2::generation_defaults (folder);
  from_file.prompt = prompt;
  blip2::Caption library = library_caption (folder, image, from_file);
  ASSERT_EQ (library.token_ids, oracle);
  // and the file decides: without it the caption differs
  blip2::GenerationOptions plain;
  plain.prompt = prompt;
  ASSERT_NE (library_caption (folder, image, plain).token_ids, oracle)
      << "the fixture's options do not change this caption";

  ElementCaption element = caption_with_element (folder, image, prompt, [] (GstElement*) {});
  EXPECT_EQ (element.text, library.text);
  EXPECT_EQ (element.token_count, oracle.size ());

  // model-info names the defaults that came from the checkpoint
  ASSERT_NE (element.model_info, nullptr);
  const GstStructure* defaults = nullptr;
  const GValue* value = gst_structure_get_value (element.model_info, "generation-defaults");
  ASSERT_NE (value, nullptr);
  ASSERT_TRUE (GST_VALUE_HOLDS_STRUCTURE (value));
  defaults = gst_value_get_structure (value);
  const nlohmann::json& file = ref.at ("generation_config");
  guint beams = 0, tokens = 0;
  gdouble penalty = 0.0;
  EXPECT_TRUE (gst_structure_get_uint (defaults, "num-beams", &beams));
  EXPECT_TRUE (gst_structure_get_uint (defaults, "max-new-tokens", &tokens));
  EXPECT_TRUE (gst_structure_get_double (defaults, "repetition-penalty", &penalty));
  EXPECT_EQ (beams, file.at ("num_beams").get<guint> ());
  EXPECT_EQ (tokens, file.at ("max_new_tokens").get<guint> ());
  EXPECT_EQ (penalty, file.at ("repetition_penalty").get<double> ());
  EXPECT_EQ (gst_structure_n_fields (defaults), 3);
  gst_structure_free (element.model_info);
}

// Properties set on the element win over the file, even when set to their
// own defaults: transformers' keyword arguments overriding the file.
TEST (GenerationConfig, PropertiesSetExplicitlyWin)
{
  const nlohmann::json ref = reference ();
  const nlohmann::json& override_case = ref.at ("override");
  const nlohmann::json& options = override_case.at ("options");
  const std::string folder = fixture ("models/tiny-gencfg");
  const oracle::Ppm image = oracle::fixture_image (override_case.at ("images")[0].get<std::string> ());
  const std::string prompt = override_case.at ("prompt").get<std::string> ();
  const std::vector<int64_t> oracle = ids (override_case.at ("token_ids"));

  blip2::GenerationOptions explicit_options;
  explicit_options.prompt = prompt;
  explicit_options.num_beams = options.at ("num_beams").get<int> ();
  explicit_options.repetition_penalty = options.at ("repetition_penalty").get<double> ();
  explicit_options.length_penalty = options.at ("length_penalty").get<double> ();
  explicit_options.no_repeat_ngram_size = options.at ("no_repeat_ngram_size").get<int> ();
  explicit_options.max_new_tokens = options.at ("max_new_tokens").get<int> ();
  explicit_options.min_new_tokens = options.at ("min_new_tokens").get<int> ();
  blip2::Caption library = library_caption (folder, image, explicit_options);
  ASSERT_EQ (library.token_ids, oracle);

  ElementCaption element =
      caption_with_element (folder, image, prompt, [&explicit_options] (GstElement* e) {
        g_object_set (e, "num-beams", (guint)explicit_options.num_beams, "repetition-penalty",
                      explicit_options.repetition_penalty, "length-penalty",
                      explicit_options.length_penalty, "no-repeat-ngram-size",
                      (guint)explicit_options.no_repeat_ngram_size, "max-new-tokens",
                      (guint)explicit_options.max_new_tokens, "min-new-tokens",
                      (guint)explicit_options.min_new_tokens, nullptr);
      });
  EXPECT_EQ (element.text, library.text);
  EXPECT_EQ (element.token_count, oracle.size ());
  if (element.model_info)
    gst_structure_free (element.model_info);
}

// A checkpoint without generation_config.json keys: the properties' defaults,
// and no generation-defaults in model-info.
TEST (GenerationConfig, NoFileNoDefaults)
{
  const std::string folder = fixture ("models/tiny");
  const oracle::Ppm image = oracle::fixture_image ("gradient-64x48.ppm");
  blip2::GenerationOptions defaults;
  blip2::Caption library = library_caption (folder, image, defaults);
  ElementCaption element = caption_with_element (folder, image, "", [] (GstElement*) {});
  EXPECT_EQ (element.text, library.text);
  EXPECT_EQ (element.token_count, library.token_ids.size ());
  ASSERT_NE (element.model_info, nullptr);
  const GValue* value = gst_structure_get_value (element.model_info, "generation-defaults");
  ASSERT_NE (value, nullptr);
  EXPECT_EQ (gst_structure_n_fields (gst_value_get_structure (value)), 0);
  gst_structure_free (element.model_info);
}

}  // namespace
