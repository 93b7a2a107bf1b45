// test_safetensors.cpp — the safetensors reader and checkpoint folders: valid
// files round trip, every kind of corruption gives the right ErrorCode and
// names the file, truncation and random header damage never crash.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <random>

#include "error.h"
#include "safetensors.h"
#include "safetensors_writer.h"

namespace blip2 {
namespace {

using testing::TempDir;
using testing::TestTensor;
using testing::WriteOptions;

// Runs `action`, expects a blip2::Error with `code` whose message contains
// every string of `needles`; returns the message.
std::string expect_error(const std::function<void()>& action,
                         ErrorCode code,
                         const std::vector<std::string>& needles) {
  try {
    action();
  } catch (const Error& e) {
    EXPECT_EQ(error_code_name(e.code()), std::string(error_code_name(code))) << e.what();
    for (const auto& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
          << "'" << needle << "' not in: " << e.what();
    }
    return e.what();
  }
  ADD_FAILURE() << "no blip2::Error thrown";
  return "";
}

std::string expect_open_error(const std::string& path,
                              ErrorCode code,
                              const std::vector<std::string>& needles = {}) {
  std::vector<std::string> all = needles;
  all.push_back(path);
  return expect_error([&] { SafetensorsFile::open(path); }, code, all);
}

template <typename T>
std::vector<T> values_of(const TensorView& view) {
  std::vector<T> values(view.nbytes / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), view.data, view.nbytes);
  return values;
}

std::vector<TestTensor> three_tensors() {
  return {testing::f32_tensor("a.weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
          testing::f32_tensor("b.bias", {3}, {-1.5f, 0.25f, 1e-8f}),
          testing::i64_tensor("c.ids", {2}, {7, -9})};
}

// ---------------------------------------------------------------- valid files

TEST(Safetensors, F32RoundTripKeepsValuesShapesAndMetadata) {
  TempDir dir;
  WriteOptions options;
  options.metadata = {{"format", "pt"}};
  testing::write_safetensors(dir.file("m.safetensors"), three_tensors(), options);
  auto file = SafetensorsFile::open(dir.file("m.safetensors"));
  ASSERT_EQ(file->tensors().size(), 3u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->path(), dir.file("m.safetensors"));
  const TensorView& a = file->tensors().at("a.weight");
  EXPECT_EQ(a.name, "a.weight");
  EXPECT_EQ(a.file, dir.file("m.safetensors"));
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.numel(), 6);
  EXPECT_EQ(a.nbytes, 24u);
  EXPECT_EQ(values_of<float>(a), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(values_of<float>(file->tensors().at("b.bias")),
            (std::vector<float>{-1.5f, 0.25f, 1e-8f}));
  EXPECT_EQ(file->tensors().at("c.ids").dtype, DType::kI64);
  EXPECT_EQ(values_of<int64_t>(file->tensors().at("c.ids")), (std::vector<int64_t>{7, -9}));
}

TEST(Safetensors, F16AndBF16KeepTheirBitPatterns) {
  TempDir dir;
  std::vector<uint16_t> f16 = {0x3C00, 0xC000, 0x3800, 0x7BFF};   // 1, -2, 0.5, 65504
  std::vector<uint16_t> bf16 = {0x3F80, 0xC010, 0x0001, 0x7F7F};  // 1, -2.25, tiny, max
  testing::write_safetensors(dir.file("h.safetensors"),
                             {testing::bits16_tensor("half", "F16", {2, 2}, f16),
                              testing::bits16_tensor("brain", "BF16", {4}, bf16)});
  auto file = SafetensorsFile::open(dir.file("h.safetensors"));
  EXPECT_EQ(file->tensors().at("half").dtype, DType::kF16);
  EXPECT_EQ(file->tensors().at("brain").dtype, DType::kBF16);
  EXPECT_EQ(values_of<uint16_t>(file->tensors().at("half")), f16);
  EXPECT_EQ(values_of<uint16_t>(file->tensors().at("brain")), bf16);
  EXPECT_TRUE(file->metadata().empty());
}

TEST(Safetensors, WriterConvertsFloatsToHalfPrecision) {
  EXPECT_EQ(testing::float_to_f16_bits(1.0f), 0x3C00);
  EXPECT_EQ(testing::float_to_f16_bits(-2.0f), 0xC000);
  EXPECT_EQ(testing::float_to_f16_bits(65504.0f), 0x7BFF);
  EXPECT_EQ(testing::float_to_f16_bits(5.9604645e-08f), 0x0001);
  EXPECT_EQ(testing::float_to_bf16_bits(1.0f), 0x3F80);
  EXPECT_EQ(testing::float_to_bf16_bits(-2.25f), 0xC010);
}

TEST(Safetensors, EveryDtypeHasItsNameAndSize) {
  struct Case {
    const char* name;
    DType dtype;
    size_t size;
  };
  std::vector<Case> cases = {{"F32", DType::kF32, 4},   {"F16", DType::kF16, 2},
                             {"BF16", DType::kBF16, 2}, {"F64", DType::kF64, 8},
                             {"I64", DType::kI64, 8},   {"I32", DType::kI32, 4},
                             {"I16", DType::kI16, 2},   {"I8", DType::kI8, 1},
                             {"U8", DType::kU8, 1},     {"BOOL", DType::kBool, 1}};
  TempDir dir;
  std::vector<TestTensor> tensors;
  for (const auto& c : cases) {
    tensors.push_back(
        {std::string("t_") + c.name, c.name, {3}, std::vector<uint8_t>(3 * c.size, 1)});
  }
  testing::write_safetensors(dir.file("all.safetensors"), tensors);
  auto file = SafetensorsFile::open(dir.file("all.safetensors"));
  for (const auto& c : cases) {
    EXPECT_STREQ(dtype_name(c.dtype), c.name);
    EXPECT_EQ(dtype_size(c.dtype), c.size);
    const TensorView& view = file->tensors().at(std::string("t_") + c.name);
    EXPECT_EQ(view.dtype, c.dtype) << c.name;
    EXPECT_EQ(view.nbytes, 3 * c.size) << c.name;
  }
}

TEST(Safetensors, EmptyAndScalarTensorsAreFine) {
  TempDir dir;
  testing::write_safetensors(
      dir.file("e.safetensors"),
      {testing::f32_tensor("empty", {0, 4}, {}), testing::f32_tensor("scalar", {}, {3.5f}),
       testing::f32_tensor("huge_but_empty", {0, 1LL << 62, 1LL << 62}, {})});
  auto file = SafetensorsFile::open(dir.file("e.safetensors"));
  EXPECT_EQ(file->tensors().at("empty").numel(), 0);
  EXPECT_EQ(file->tensors().at("empty").nbytes, 0u);
  EXPECT_EQ(file->tensors().at("huge_but_empty").numel(), 0);
  const TensorView& scalar = file->tensors().at("scalar");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.numel(), 1);
  EXPECT_EQ(values_of<float>(scalar), std::vector<float>{3.5f});
}

TEST(Safetensors, HeaderPaddedWithSpacesAndGapsBetweenTensorsAreAccepted) {
  TempDir dir;
  auto tensors = three_tensors();
  WriteOptions options;
  options.extra_padding = 13;
  options.offsets["b.bias"] = {32, 44};  // 8 unused bytes after a.weight
  options.offsets["c.ids"] = {48, 64};
  tensors[1].bytes.insert(tensors[1].bytes.begin(), 8, 0xEE);  // the gap
  tensors[1].bytes.resize(tensors[1].bytes.size() + 4, 0xEE);
  testing::write_safetensors(dir.file("p.safetensors"), tensors, options);
  auto file = SafetensorsFile::open(dir.file("p.safetensors"));
  auto bias = values_of<float>(file->tensors().at("b.bias"));
  EXPECT_EQ(bias, (std::vector<float>{-1.5f, 0.25f, 1e-8f}));
  EXPECT_EQ(values_of<int64_t>(file->tensors().at("c.ids")), (std::vector<int64_t>{7, -9}));
}

TEST(Safetensors, NullMetadataMeansNone) {
  TempDir dir;
  WriteOptions options;
  options.header_json = R"({"__metadata__": null, "x": {"dtype": "U8", "shape": [2], )"
                        R"("data_offsets": [0, 2]}})";
  testing::write_safetensors(dir.file("n.safetensors"), {{"x", "U8", {2}, {4, 5}}}, options);
  auto file = SafetensorsFile::open(dir.file("n.safetensors"));
  EXPECT_TRUE(file->metadata().empty());
  EXPECT_EQ(values_of<uint8_t>(file->tensors().at("x")), (std::vector<uint8_t>{4, 5}));
}

TEST(Safetensors, EmptyHeaderObjectGivesNoTensors) {
  TempDir dir;
  WriteOptions options;
  options.header_json = "{}";
  testing::write_safetensors(dir.file("none.safetensors"), {}, options);
  EXPECT_TRUE(SafetensorsFile::open(dir.file("none.safetensors"))->tensors().empty());
}

// ---------------------------------------------------------------- corrupt files

struct Corruption {
  std::string label;
  std::function<void(std::vector<TestTensor>&, WriteOptions&)> apply;
  ErrorCode code;
  std::vector<std::string> needles;  // besides the file name
};

std::vector<Corruption> corruptions() {
  using T = std::vector<TestTensor>;
  using O = WriteOptions;
  auto header = [](std::string text) { return [text](T&, O& o) { o.header_json = text; }; };
  return {
      {"header length past the end",
       [](T&, O& o) { o.header_length = 1u << 20; },
       ErrorCode::kInvalidFormat,
       {"header length"}},
      {"header length of 2^64-1",
       [](T&, O& o) { o.header_length = UINT64_MAX; },
       ErrorCode::kInvalidFormat,
       {"header length"}},
      {"header length too short",
       [](T&, O& o) { o.header_length = 10; },
       ErrorCode::kInvalidFormat,
       {"JSON"}},
      {"truncated data",
       [](T&, O& o) { o.truncate = 5; },
       ErrorCode::kInvalidFormat,
       {"c.ids", "data_offsets"}},
      {"bad JSON", header("{\"a.weight\": {\"dtype\": "), ErrorCode::kInvalidFormat, {"JSON"}},
      {"binary junk header",
       header(std::string("\xff\xfe\x00\x01", 4)),
       ErrorCode::kInvalidFormat,
       {"JSON"}},
      {"header is an array", header("[1, 2]"), ErrorCode::kInvalidFormat, {"object"}},
      {"entry not an object", header(R"({"x": 5})"), ErrorCode::kInvalidFormat, {"'x'"}},
      {"entry without dtype",
       header(R"({"x": {"shape": [1], "data_offsets": [0, 4]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "dtype"}},
      {"entry without data_offsets",
       header(R"({"x": {"dtype": "F32", "shape": [1]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "data_offsets"}},
      {"dtype not a string",
       header(R"({"x": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "dtype"}},
      {"unsupported dtype",
       [](T& t, O&) { t[0].dtype = "F8_E4M3"; },
       ErrorCode::kUnsupported,
       {"'a.weight'", "F8_E4M3"}},
      {"unknown dtype",
       [](T& t, O&) { t[1].dtype = "Q4_K"; },
       ErrorCode::kUnsupported,
       {"'b.bias'", "Q4_K"}},
      {"lower-case dtype",
       [](T& t, O&) { t[1].dtype = "f32"; },
       ErrorCode::kUnsupported,
       {"'b.bias'", "f32"}},
      {"shape bigger than bytes",
       [](T& t, O&) {
         t[0].shape = {3, 3};
       },
       ErrorCode::kInvalidFormat,
       {"'a.weight'", "[3, 3]"}},
      {"shape smaller than bytes",
       [](T& t, O&) { t[1].shape = {2}; },
       ErrorCode::kInvalidFormat,
       {"'b.bias'"}},
      {"dtype size vs bytes",
       [](T& t, O&) { t[0].dtype = "F64"; },
       ErrorCode::kInvalidFormat,
       {"'a.weight'"}},
      {"shape overflows",
       [](T& t, O&) {
         t[0].shape = {1LL << 40, 1LL << 40, 1LL << 40};
       },
       ErrorCode::kInvalidFormat,
       {"'a.weight'", "overflow"}},
      {"shape product overflows at itemsize",
       [](T& t, O&) {
         t[0].shape = {1LL << 31, 1LL << 31};
       },
       ErrorCode::kInvalidFormat,
       {"'a.weight'", "overflow"}},
      {"negative dim",
       [](T& t, O&) {
         t[0].shape = {-2, -3};
       },
       ErrorCode::kInvalidFormat,
       {"'a.weight'", "shape"}},
      {"float dim",
       header(R"({"x": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "shape"}},
      {"shape not an array",
       header(R"({"x": {"dtype": "F32", "shape": "1", "data_offsets": [0, 4]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "shape"}},
      {"overlapping offsets",
       [](T&, O& o) {
         o.offsets["b.bias"] = {20, 32};
       },
       ErrorCode::kInvalidFormat,
       {"overlap", "a.weight", "b.bias"}},
      {"identical offsets",
       [](T& t, O& o) {
         t[2] = testing::f32_tensor("c.ids", {2, 3}, {0, 0, 0, 0, 0, 0});
         o.offsets["c.ids"] = {0, 24};
       },
       ErrorCode::kInvalidFormat,
       {"overlap"}},
      {"begin after end",
       [](T&, O& o) {
         o.offsets["b.bias"] = {36, 24};
       },
       ErrorCode::kInvalidFormat,
       {"'b.bias'", "data_offsets"}},
      {"negative offset",
       [](T&, O& o) {
         o.offsets["b.bias"] = {-12, 0};
       },
       ErrorCode::kInvalidFormat,
       {"'b.bias'", "data_offsets"}},
      {"offset past the data",
       [](T&, O& o) {
         o.offsets["c.ids"] = {4096, 4112};
       },
       ErrorCode::kInvalidFormat,
       {"'c.ids'", "data_offsets"}},
      {"huge offsets",
       header(R"({"x": {"dtype": "U8", "shape": [2], )"
              R"("data_offsets": [18446744073709551615, 18446744073709551617]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "data_offsets"}},
      {"one offset",
       header(R"({"x": {"dtype": "U8", "shape": [0], "data_offsets": [0]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "data_offsets"}},
      {"duplicate tensor name",
       header(R"({"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
              R"( "x": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})"),
       ErrorCode::kInvalidFormat,
       {"'x'", "twice"}},
      {"metadata not a map",
       header(R"({"__metadata__": ["pt"]})"),
       ErrorCode::kInvalidFormat,
       {"__metadata__"}},
      {"metadata value not a string",
       header(R"({"__metadata__": {"format": 1}})"),
       ErrorCode::kInvalidFormat,
       {"__metadata__", "format"}},
  };
}

TEST(Safetensors, EveryCorruptionIsReportedWithItsCodeAndFile) {
  TempDir dir;
  for (const auto& corruption : corruptions()) {
    SCOPED_TRACE(corruption.label);
    auto tensors = three_tensors();
    WriteOptions options;
    corruption.apply(tensors, options);
    std::string path = dir.file("corrupt.safetensors");
    testing::write_safetensors(path, tensors, options);
    expect_open_error(path, corruption.code, corruption.needles);
  }
}

TEST(Safetensors, HeaderOver100MBIsRejectedEvenIfTheFileIsLarger) {
  TempDir dir;
  std::string path = dir.file("big.safetensors");
  WriteOptions options;
  options.header_length = 100'000'001;
  testing::write_safetensors(path, three_tensors(), options);
  ASSERT_EQ(::truncate(path.c_str(), 100'001'000), 0);  // sparse: costs no disk
  expect_open_error(path, ErrorCode::kInvalidFormat, {"100 MB"});
}

TEST(Safetensors, MissingShortAndNonRegularFiles) {
  TempDir dir;
  expect_open_error(dir.file("absent.safetensors"), ErrorCode::kNotFound);
  expect_open_error(dir.path(), ErrorCode::kInvalidFormat, {"regular"});
  testing::write_file(dir.file("short.safetensors"), {1, 0, 0});
  expect_open_error(dir.file("short.safetensors"), ErrorCode::kInvalidFormat, {"short"});
  testing::write_file(dir.file("zero.safetensors"), {});
  expect_open_error(dir.file("zero.safetensors"), ErrorCode::kInvalidFormat, {"short"});
}

// Every proper prefix of a valid file loses data bytes, so it must be
// rejected as invalid; the full file must load. Nothing may crash.
TEST(Safetensors, TruncatedAtEveryLengthIsRejectedNeverCrashes) {
  TempDir dir;
  WriteOptions options;
  options.metadata = {{"format", "pt"}};
  auto full = testing::safetensors_bytes(three_tensors(), options);
  std::string path = dir.file("cut.safetensors");
  for (size_t length = 0; length <= full.size(); ++length) {
    SCOPED_TRACE("length " + std::to_string(length));
    testing::write_file(path, std::vector<uint8_t>(full.begin(), full.begin() + length));
    if (length == full.size()) {
      EXPECT_EQ(SafetensorsFile::open(path)->tensors().size(), 3u);
    } else {
      expect_open_error(path, ErrorCode::kInvalidFormat);
    }
  }
}

// Random damage to the length field and the JSON: the reader either rejects
// the file with a blip2::Error or returns views that lie inside the file.
TEST(Safetensors, RandomHeaderByteFlipsNeverCrash) {
  TempDir dir;
  auto tensors = three_tensors();
  tensors.push_back(testing::f32_tensor("scalar", {}, {1.0f}));
  auto original = testing::safetensors_bytes(tensors, {});
  uint64_t header_end = 8;
  for (int i = 0; i < 8; ++i) header_end += static_cast<uint64_t>(original[i]) << (8 * i);
  std::mt19937 rng(1234);
  std::string path = dir.file("flip.safetensors");
  int loaded = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    auto bytes = original;
    int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      size_t at = rng() % header_end;
      bytes[at] = (round % 2) ? static_cast<uint8_t>(rng()) : bytes[at] ^ (1u << (rng() % 8));
    }
    testing::write_file(path, bytes);
    try {
      auto file = SafetensorsFile::open(path);
      ++loaded;
      for (const auto& [name, view] : file->tensors()) {
        ASSERT_EQ(view.nbytes, static_cast<size_t>(view.numel()) * dtype_size(view.dtype)) << name;
        uint64_t sum = 0;  // touches every byte: out-of-file views would fault
        for (size_t b = 0; b < view.nbytes; ++b) sum += view.data[b];
        (void)sum;
      }
    } catch (const Error& e) {
      ++rejected;
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(loaded + rejected, 3000);
}

// ---------------------------------------------------------------- checkpoint folders

TEST(Checkpoint, SingleFileFolder) {
  TempDir dir;
  testing::write_safetensors(dir.file("model.safetensors"), three_tensors());
  Checkpoint checkpoint = Checkpoint::open_directory(dir.path());
  EXPECT_EQ(checkpoint.directory(), dir.path());
  EXPECT_EQ(checkpoint.tensors().size(), 3u);
  ASSERT_NE(checkpoint.find("b.bias"), nullptr);
  EXPECT_EQ(values_of<float>(*checkpoint.find("b.bias"))[1], 0.25f);
  EXPECT_EQ(checkpoint.find("nope"), nullptr);
}

TEST(Checkpoint, ViewsStayValidWhileTheCheckpointLives) {
  TempDir dir;
  testing::write_safetensors(dir.file("model.safetensors"), three_tensors());
  std::optional<Checkpoint> kept;
  {
    Checkpoint local = Checkpoint::open_directory(dir.path());
    kept = std::move(local);
  }
  EXPECT_EQ(values_of<float>(*kept->find("a.weight"))[5], 6.0f);
}

void write_two_shards(const TempDir& dir) {
  testing::write_safetensors(
      dir.file("model-00001-of-00002.safetensors"),
      {testing::f32_tensor("a", {2}, {1, 2}), testing::f32_tensor("b", {1}, {3})});
  testing::write_safetensors(dir.file("model-00002-of-00002.safetensors"),
                             {testing::f32_tensor("c", {3}, {4, 5, 6})});
}

const char* kTwoShardIndex = R"({
  "metadata": {"total_size": 24},
  "weight_map": {"a": "model-00001-of-00002.safetensors",
                 "b": "model-00001-of-00002.safetensors",
                 "c": "model-00002-of-00002.safetensors"}})";

TEST(Checkpoint, ShardedIndexJoinsAllShards) {
  TempDir dir;
  write_two_shards(dir);
  testing::write_text_file(dir.file("model.safetensors.index.json"), kTwoShardIndex);
  Checkpoint checkpoint = Checkpoint::open_directory(dir.path());
  ASSERT_EQ(checkpoint.tensors().size(), 3u);
  EXPECT_EQ(checkpoint.find("a")->file, dir.file("model-00001-of-00002.safetensors"));
  EXPECT_EQ(checkpoint.find("c")->file, dir.file("model-00002-of-00002.safetensors"));
  EXPECT_EQ(values_of<float>(*checkpoint.find("c")), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(values_of<float>(*checkpoint.find("b")), (std::vector<float>{3}));
}

TEST(Checkpoint, IndexTakesPrecedenceOverASingleFile) {
  TempDir dir;
  write_two_shards(dir);
  testing::write_text_file(dir.file("model.safetensors.index.json"), kTwoShardIndex);
  testing::write_safetensors(dir.file("model.safetensors"), {testing::f32_tensor("z", {1}, {0})});
  EXPECT_EQ(Checkpoint::open_directory(dir.path()).find("z"), nullptr);
}

TEST(Checkpoint, IndexNamingATensorItsShardLacks) {
  TempDir dir;
  write_two_shards(dir);
  testing::write_text_file(dir.file("model.safetensors.index.json"), R"({"weight_map": {
      "a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
      "c": "model-00001-of-00002.safetensors"}})");
  expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kInvalidFormat,
               {"'c'", "model.safetensors.index.json", "model-00001-of-00002.safetensors"});
}

TEST(Checkpoint, ShardTensorMissingFromTheIndex) {
  TempDir dir;
  write_two_shards(dir);
  testing::write_text_file(dir.file("model.safetensors.index.json"), R"({"weight_map": {
      "a": "model-00001-of-00002.safetensors", "c": "model-00002-of-00002.safetensors"}})");
  expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kInvalidFormat,
               {"'b'", "model-00001-of-00002.safetensors"});
}

TEST(Checkpoint, MissingShardFile) {
  TempDir dir;
  write_two_shards(dir);
  ::unlink(dir.file("model-00002-of-00002.safetensors").c_str());
  testing::write_text_file(dir.file("model.safetensors.index.json"), kTwoShardIndex);
  expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kNotFound,
               {"model-00002-of-00002.safetensors"});
}

TEST(Checkpoint, MalformedIndexFiles) {
  TempDir dir;
  write_two_shards(dir);
  std::vector<std::string> bad = {
      "{\"weight_map\": ",
      "[]",
      R"({"metadata": {}})",
      R"({"weight_map": []})",
      R"({"weight_map": {}})",
      R"({"weight_map": {"a": 3}})",
      R"({"weight_map": {"a": "../model-00001-of-00002.safetensors"}})",
      R"({"weight_map": {"a": "/etc/passwd"}})",
  };
  for (const auto& text : bad) {
    SCOPED_TRACE(text);
    testing::write_text_file(dir.file("model.safetensors.index.json"), text);
    expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kInvalidFormat,
                 {"model.safetensors.index.json"});
  }
}

TEST(Checkpoint, CorruptShardNamesTheShard) {
  TempDir dir;
  write_two_shards(dir);
  testing::write_file(dir.file("model-00002-of-00002.safetensors"), {9, 9, 9, 9, 9, 9, 9, 9, 9});
  testing::write_text_file(dir.file("model.safetensors.index.json"), kTwoShardIndex);
  expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kInvalidFormat,
               {"model-00002-of-00002.safetensors"});
}

TEST(Checkpoint, FolderWithoutWeights) {
  TempDir dir;
  std::string message =
      expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kNotFound,
                   {dir.path(), "model.safetensors.index.json", "model.safetensors"});
  EXPECT_EQ(message.find("pickle"), std::string::npos);
  expect_error([&] { Checkpoint::open_directory(dir.file("nowhere")); }, ErrorCode::kNotFound,
               {"nowhere"});
}

TEST(Checkpoint, PickleOnlyFolderSaysBinIsNotSupported) {
  TempDir dir;
  testing::write_file(dir.file("pytorch_model-00001-of-00002.bin"), {0x80, 0x02});
  testing::write_file(dir.file("pytorch_model-00002-of-00002.bin"), {0x80, 0x02});
  expect_error([&] { Checkpoint::open_directory(dir.path()); }, ErrorCode::kNotFound,
               {"pytorch_model-00001-of-00002.bin", "not supported", "safetensors"});
}

}  // namespace
}  // namespace blip2
