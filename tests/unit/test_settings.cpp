// The element's settings (gst/settings.h): every property row writes and
// reads the field the mapping to GenerationOptions takes, the property
// defaults are the library's GenerationOptions defaults, and the checkpoint's
// generation_config.json gives defaults to the properties not set.
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
  blip2::GenerationOptions checkpoint;
  checkpoint.prompt = "a photo of";
  blip2::GenerationOptions mapped = generation_options (Settings{}, checkpoint);
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
  blip2::GenerationOptions o = generation_options (s, blip2::GenerationOptions{});
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
  blip2::GenerationOptions checkpoint;
  checkpoint.prompt = "a photo of";
  set (s, "prompt", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, ""); });
  EXPECT_EQ (generation_options (s, checkpoint).prompt, "");
  set (s, "prompt", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, nullptr); });
  EXPECT_EQ (generation_options (s, checkpoint).prompt, "a photo of");
}

// A checkpoint whose generation_config.json sets every decoding key.
blip2::GenerationOptions
checkpoint_with_every_key ()
{
  blip2::GenerationOptions c;
  c.max_new_tokens = 5;
  c.min_new_tokens = 2;
  c.num_beams = 3;
  c.length_penalty = 0.5;
  c.early_stopping = blip2::EarlyStopping::kTrue;
  c.num_return_sequences = 3;
  c.repetition_penalty = 1.3;
  c.no_repeat_ngram_size = 2;
  c.do_sample = true;
  c.temperature = 0.7;
  c.top_k = 9;
  c.top_p = 0.8;
  return c;
}

// Properties not set take the checkpoint's generation_config.json values;
// one set explicitly wins, even when set to its own default.
TEST (Settings, CheckpointDefaultsFillTheUnsetPropertiesOnly)
{
  const blip2::GenerationOptions c = checkpoint_with_every_key ();
  Settings s;
  blip2::GenerationOptions o = generation_options (s, c);
  EXPECT_EQ (o.max_new_tokens, 5);
  EXPECT_EQ (o.min_new_tokens, 2);
  EXPECT_EQ (o.num_beams, 3);
  EXPECT_EQ (o.length_penalty, 0.5);
  EXPECT_EQ (o.early_stopping, blip2::EarlyStopping::kTrue);
  EXPECT_EQ (o.num_return_sequences, 1);  // the element makes one caption
  EXPECT_EQ (o.repetition_penalty, 1.3);
  EXPECT_EQ (o.no_repeat_ngram_size, 2);
  EXPECT_TRUE (o.do_sample);
  EXPECT_EQ (o.temperature, 0.7);
  EXPECT_EQ (o.top_k, 9);
  EXPECT_EQ (o.top_p, 0.8);

  const blip2::GenerationOptions library;
  set (s, "num-beams", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 1); });
  set (s, "max-new-tokens", G_TYPE_UINT, [] (GValue *v) { g_value_set_uint (v, 7); });
  set (s, "do-sample", G_TYPE_BOOLEAN, [] (GValue *v) { g_value_set_boolean (v, FALSE); });
  set (s, "top-p", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 1.0); });
  set (s, "early-stopping", GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING,
       [] (GValue *v) { g_value_set_enum (v, GST_BLIP2_CAPTION_EARLY_STOPPING_FALSE); });
  o = generation_options (s, c);
  EXPECT_EQ (o.num_beams, 1);
  EXPECT_EQ (o.max_new_tokens, 7);
  EXPECT_FALSE (o.do_sample);
  EXPECT_EQ (o.top_p, library.top_p);
  EXPECT_EQ (o.early_stopping, library.early_stopping);
  EXPECT_EQ (o.min_new_tokens, 2);  // still the checkpoint's
  EXPECT_EQ (o.top_k, 9);
}

// A refused value does not count as set: the checkpoint's value stays.
TEST (Settings, ARefusedValueIsNotASetting)
{
  Settings s;
  set (s, "top-p", G_TYPE_DOUBLE, [] (GValue *v) { g_value_set_double (v, 0.0); });
  EXPECT_FALSE (s.user_set.test (spec ("top-p")->param_id));
  EXPECT_EQ (generation_options (s, checkpoint_with_every_key ()).top_p, 0.8);
  set (s, "device", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, "gpu"); });
  EXPECT_EQ (s.device, "auto");
  EXPECT_FALSE (s.user_set.test (spec ("device")->param_id));
  set (s, "device", G_TYPE_STRING, [] (GValue *v) { g_value_set_string (v, "cuda:1"); });
  EXPECT_EQ (s.device, "cuda:1");
}

// model-info's generation-defaults: the checkpoint's values that differ from
// the properties' defaults, by property name.
TEST (Settings, CheckpointDefaultsAreDescribedByPropertyName)
{
  gst_init (nullptr, nullptr);
  blip2::GenerationOptions c;
  GstStructure *none = checkpoint_generation_defaults (c);
  EXPECT_EQ (gst_structure_n_fields (none), 0);
  gst_structure_free (none);
  c.num_beams = 3;
  c.max_new_tokens = 5;
  c.length_penalty = 0.5;
  c.early_stopping = blip2::EarlyStopping::kNever;
  GstStructure *s = checkpoint_generation_defaults (c);
  EXPECT_STREQ (gst_structure_get_name (s), "generation-defaults");
  EXPECT_EQ (gst_structure_n_fields (s), 4);
  guint beams = 0, tokens = 0;
  gdouble penalty = 0.0;
  gint stopping = -1;
  EXPECT_TRUE (gst_structure_get_uint (s, "num-beams", &beams));
  EXPECT_TRUE (gst_structure_get_uint (s, "max-new-tokens", &tokens));
  EXPECT_TRUE (gst_structure_get_double (s, "length-penalty", &penalty));
  EXPECT_TRUE (gst_structure_get_enum (s, "early-stopping", GST_TYPE_BLIP2_CAPTION_EARLY_STOPPING,
                                       &stopping));
  EXPECT_EQ (beams, 3u);
  EXPECT_EQ (tokens, 5u);
  EXPECT_EQ (penalty, 0.5);
  EXPECT_EQ (stopping, GST_BLIP2_CAPTION_EARLY_STOPPING_NEVER);
  gst_structure_free (s);
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
