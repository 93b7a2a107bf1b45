"""Runs `transformers serve` on 127.0.0.1 for the remote-caption tests.

  serve_transformers.py MODEL_ID PORT

transformers 5.17's Blip2Processor.__init__ takes `chat_template` into **kwargs
and does not pass it on to ProcessorMixin, so a checkpoint's saved chat
template is dropped when the processor loads and every chat request fails with
"processor does not have a chat template". The patch below passes it on; it
keeps the parameter names image_processor and tokenizer, which the loader
inspects. Everything else is the unchanged `transformers serve` command.
"""
import sys

from transformers.models.blip_2 import processing_blip_2

_original_init = processing_blip_2.Blip2Processor.__init__


def _init_keeping_chat_template(self, image_processor, tokenizer, num_query_tokens=None,
                                chat_template=None, **kwargs):
    _original_init(self, image_processor, tokenizer, num_query_tokens=num_query_tokens, **kwargs)
    if chat_template is not None:
        self.chat_template = chat_template


processing_blip_2.Blip2Processor.__init__ = _init_keeping_chat_template

from transformers.cli.serve import Serve  # noqa: E402  (after the patch)

if __name__ == "__main__":
    model_id, port = sys.argv[1], int(sys.argv[2])
    Serve(force_model=model_id, host="127.0.0.1", port=port, device="cpu", log_level="info")
