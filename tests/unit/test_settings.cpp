// The element's settings (gst/settings.h): every property row writes and
// reads the field the mapping to GenerationOptions takes, and the property
// defaults are the library's GenerationOptions defaults.
#include <gtest/gtest.h>

#include "settings.h"

using namespace blip2gst;

namespace {

// A throwaway GObject class carrying the settings properties, to read their
// specs.
GParamSpec *specs[PROP_SETTINGS_END];

GType
settings_holder_type ()
{
  static GType type = 0;
  if (type == 0) {
    GTypeInfo info = {};
    info.class_size = sizeof (GObjectClass);
    info.class_init = [] (gpointer klass, gpointer) {
      auto object_class = G_OBJECT_CLASS (klass);
      object_class->set_property = [] (GObject *, guint, const GValue *, GParamSpec *) {};
      object_class->get_property = [] (GObject *, guint, GValue *, GParamSpec *) {};
      install_settings_properties (object_class, specs);
    };
    info.instance_size = sizeof (GObject);
    type = g_type_register_static (G_TYPE_OBJECT, "Blip2SettingsHolder", &info, (GTypeFlags)0);
  }
  return type;
}

GParamSpec *
spec (const char *name)
{
  auto klass = static_cast<GObjectClass *> (g_type_class_ref (settings_holder_type ()));
  GParamSpec *p = g_object_class_find_property (klass, name);
  g_type_class_unref (klass);
  return p;
}

template <typename Setter>
void
set (Settings &s, const char *name, GType type, Setter value_setter)
{
  GValue v = G_VALUE_INIT;
  g_value_init (&v, type);
  value_setter (&v);
  set_setting (s, spec (name)->param_id, &v);
  g_value_unset (&v);
}

}  // namespace

TEST (Settings, DefaultsAreTheLibrarysGenerationOptions)
{
  const blip2::GenerationOptions library;
  blip2::ModelInfo model;
  model.default_prompt = "a photo of";
  blip2::GenerationOptions mapped = generation_options (Settings{}, model);
  EXPECT_EQ (mapped.prompt, "a photo of");
  EXPECT_EQ (mapped.max_new_tokens, library.max_new_tokens);
  EXPECT_EQ (mapped.min_new_tokens, library.min_new_tokens);
  EXPECT_EQ (mapped.num_beams, library.num_beams);
  EXPECT_EQ (mapped.length_penalty, library.length_penalty);
  EXPECT_EQ (mapped.early_stopping, library.early_stopping);
  EXPECT_EQ (mapped.num_return_sequences, 1);
  EXPECT_EQ (mapped.repetition_penalty, library.repetition_penalty);
  EXPECT_EQ (mapped.no_repeat_ngram_size, library.no_repeat_ngram_size);
  EXPECT_EQ (mapped.do_sample, library.do_sample);
  EXPECT_EQ (mapped.temperature, library.temperature);
  EXPECT_EQ (mapped.top_k, library.top_k);
  EXPECT_EQ (mapped.top_p, library.top_p);
  EXPECT_EQ (mapped.seed, library.seed);

  EXPECT_EQ (G_PARAM_SPEC_UINT (spec ("max-new-tokens"))->default_value,
             (guint)library.max_new_tokens);
  EXPECT_EQ (G_PARAM_SPEC_UINT (spec ("num-beams"))->default_value, (guint)library.num_beams);
  EXPECT_EQ (G_PARAM_SPEC_UINT (spec ("top-k"))->default_value, (guint)library.top_k);
  EXPECT_EQ (G_PARAM_SPEC_DOUBLE (spec ("top-p"))->default_value, library.top_p);
  EXPECT_EQ (G_PARAM_SPEC_DOUBLE (spec ("temperature"))->default_value, library.temperature);
  EXPECT_EQ (G_PARAM_SPEC_BOOLEAN (spec ("do-sample"))->default_value, library.do_sample);
  EXPECT_EQ (G_PARAM_SPEC_ENUM (spec ("early-stopping"))->default_value,
             GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE);
}

TEST (Settings, EveryRowWritesWhatTheMappingReads)
{
  Settings s;
  set (s, "prompt", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, "hello"); });
  set (s, "max-new-tokens", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 7); });
  set (s, "min-new-tokens", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 3); });
  set (s, "num-beams", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 4); });
  set (s, "length-penalty", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 0.5); });
  set (s, "early-stopping", GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING,
       [] (GValue *v) { g_value_set_enum (v, GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER); });
  set (s, "repetition-penalty", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 1.5); });
  set (s, "no-repeat-ngram-size", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 2); });
  set (s, "do-sample", G_TYPE_BOOLEAN, [] (GValue *v) { g_value_set_boolean (v, TRUE); });
  set (s, "temperature", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 0.7); });
  set (s, "top-k", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 9); });
  set (s, "top-p", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 0.9); });
  set (s, "seed", G_TYPE_UINT64, [] (GValue *v) { g_value_set_uint64 (v, 42); });
  blip2::GenerationOptions o = generation_options (s, blip2::ModelInfo{});
  EXPECT_EQ (o.prompt, "hello");
  EXPECT_EQ (o.max_new_tokens, 7);
  EXPECT_EQ (o.min_new_tokens, 3);
  EXPECT_EQ (o.num_beams, 4);
  EXPECT_EQ (o.length_penalty, 0.5);
  EXPECT_EQ (o.early_stopping, blip2::EarlyStopping::kNever);
  EXPECT_EQ (o.repetition_penalty, 1.5);
  EXPECT_EQ (o.no_repeat_ngram_size, 2);
  EXPECT_TRUE (o.do_sample);
  EXPECT_EQ (o.temperature, 0.7);
  EXPECT_EQ (o.top_k, 9);
  EXPECT_EQ (o.top_p, 0.9);
  EXPECT_EQ (o.seed, 42u);

  // and each reads back through its getter
  GValue v = G_VALUE_INIT;
  g_value_init (&v, GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING);
  get_setting (s, spec ("early-stopping")->param_id, &v);
  EXPECT_EQ (g_value_get_enum (&v), GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER);
  g_value_unset (&v);
  g_value_init (&v, G_TYPE_UINT64);
  get_setting (s, spec ("seed")->param_id, &v);
  EXPECT_EQ (g_value_get_uint64 (&v), 42u);
  g_value_unset (&v);
}

TEST (Settings, EmptyPromptIsNoPromptAndUnsetIsTheCheckpoints)
{
  Settings s;
  blip2::ModelInfo model;
  model.default_prompt = "a photo of";
  set (s, "prompt", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, ""); });
  EXPECT_EQ (generation_options (s, model).prompt, "");
  set (s, "prompt", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, nullptr); });
  EXPECT_EQ (generation_options (s, model).prompt, "a photo of");
}

TEST (Settings, EnumTypesArePluginApi)
{
  gst_init (nullptr, nullptr);
  mark_settings_types_as_plugin_api ();
  for (GType t : {GST_TYPE_BLIP2_CAPTION_MODE, GST_TYPE_BLIP2_CAPTION_DTYPE,
                  GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING, GST_TYPE_BLIP2_CAPTION_SAMPLING})
    EXPECT_TRUE (gst_type_is_plugin_api (t, nullptr)) << g_type_name (t);
}

// The change sampler gets min-interval, interval (the longest gap) and
// change-threshold; the cue track the subtitle-text properties.
TEST (Settings, SubtitlePropertiesReachTheCores)
{
  Settings s;
  EXPECT_EQ (s.cues.min_duration, GST_SECOND);
  EXPECT_TRUE (s.cues.merge_repeats);
  EXPECT_FALSE (s.cues.raw);
  set (s, "min-interval", G_TYPE_UINT64, [] (GValue *v) { g_value_set_uint64 (v, 2 * GST_SECOND); });
  set (s, "interval", G_TYPE_UINT64, [] (GValue *v) { g_value_set_uint64 (v, 9 * GST_SECOND); });
  set (s, "change-threshold", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 0.2); });
  blip2caption::ChangeSettings c = change_settings (s);
  EXPECT_EQ (c.min_interval, 2 * GST_SECOND);
  EXPECT_EQ (c.max_interval, 9 * GST_SECOND);
  EXPECT_EQ (c.threshold, 0.2);
  set (s, "max-line-length", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 30); });
  set (s, "max-lines", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 1); });
  set (s, "raw-text", G_TYPE_BOOLEAN, [] (GValue *v) { g_value_set_boolean (v, TRUE); });
  set (s, "merge-repeats", G_TYPE_BOOLEAN, [] (GValue *v) { g_value_set_boolean (v, FALSE); });
  set (s, "reading-rate", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 17.0); });
  EXPECT_EQ (s.cues.style.max_line_length, 30);
  EXPECT_EQ (s.cues.style.max_lines, 1);
  EXPECT_TRUE (s.cues.raw);
  EXPECT_FALSE (s.cues.merge_repeats);
  EXPECT_EQ (s.cues.reading_rate, 17.0);
}
