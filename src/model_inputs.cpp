// model_inputs.cpp — turning images and a prompt into model inputs.
#include <ATen/ATen.h>

#include "gpu_image.h"
#include "model_impl.h"

namespace blip2 {

// On a CUDA model the frames go up as bytes and are converted, resized and
// normalised there (gpu_image.h; Pillow's resize to within a level); on the
// CPU, and when device_preprocessing() is off, the Pillow-exact CPU path.
at::Tensor Model::Impl::pixel_values(const std::vector<ImageView>& images) const {
  if (device.is_cuda() && device_preprocessing()) {
    return preprocess_on_device(images, image_config, device);
  }
  const int64_t h = image_config.height, w = image_config.width;
  at::Tensor pixels = at::empty({static_cast<int64_t>(images.size()), 3, h, w}, at::kFloat);
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<float> chw = preprocess(images[i], image_config);  // [3, H, W]
    std::memcpy(pixels[static_cast<int64_t>(i)].data_ptr<float>(), chw.data(),
                chw.size() * sizeof(float));
  }
  return pixels.to(device);
}

std::vector<int64_t> Model::Impl::input_ids_for(const std::string& prompt) const {
  std::vector<int64_t> text_ids =
      prompt.empty() ? std::vector<int64_t>{config.text_config.bos_token_id}
                     : tokenizer.encode(prompt, /*add_bos=*/true);
  if (!config.image_token_index) return text_ids;
  const int64_t image_id = *config.image_token_index;
  for (int64_t id : text_ids) {
    if (id == image_id) {
      throw Error(ErrorCode::kInvalidArgument,
                  "the prompt \"" + prompt + "\" contains the image placeholder token");
    }
  }
  std::vector<int64_t> ids(static_cast<size_t>(config.num_query_tokens), image_id);
  ids.insert(ids.end(), text_ids.begin(), text_ids.end());
  return ids;
}

// The image rows are the first num_query_tokens positions (in the new
// convention transformers masked_scatters them over the <image> ids, which sit
// there; in the old one it concatenates). masked_scatter takes the source's
// elements in flat order, so when the projection is wider than the word
// embeddings (word_embed_proj_dim < hidden_size) the rows are refilled from
// the flattened features exactly as transformers does.
at::Tensor Model::Impl::inputs_embeds(const at::Tensor& image_features,
                                      const std::vector<int64_t>& input_ids) const {
  const int64_t batch = image_features.size(0), queries = image_features.size(1);
  at::Tensor text_ids =
      at::tensor(at::ArrayRef<int64_t>(input_ids.data() + (config.image_token_index ? queries : 0),
                                       input_ids.size() - (config.image_token_index ? queries : 0)))
          .to(device)
          .unsqueeze(0)
          .expand({batch, -1});
  at::Tensor text = net->embed_tokens(text_ids);  // [B, T, E]
  const int64_t embed_dim = text.size(2);
  at::Tensor image = image_features.to(text.scalar_type());
  if (image.size(2) != embed_dim) {
    image = image.reshape({-1}).narrow(0, 0, batch * queries * embed_dim).view({batch, queries, embed_dim});
  }
  return at::cat({image, text}, 1);  // [B, Q + T, E]
}

}  // namespace blip2
