"""`export_text_encoder`: a BERT encoder as a TF Hub text encoder + preprocessor pair."""

import os

import keras
import tensorflow as tf

from seqmodels.hub import export_reusable
from seqmodels.transfer.text import ENCODER_DIR, PREPROCESSOR_DIR
from seqmodels.transfer.word_piece_preprocessor import ENCODER_INPUTS, WordPiecePreprocessor


def _encoder_model(backbone):
    """Wraps a keras-hub text backbone with the TF Hub text-encoder inputs and outputs."""
    inputs = {key: keras.Input(shape=(None,), dtype="int32", name=key) for key in ENCODER_INPUTS}
    names = set(backbone.input)
    if names != {"token_ids", "segment_ids", "padding_mask"}:
        raise ValueError("`backbone_dir_or_model` must be a BERT-style keras-hub backbone (inputs "
                         "token_ids, segment_ids, padding_mask). Received: a backbone with inputs "
                         f"{sorted(names)}")
    outputs = backbone({"token_ids": inputs["input_word_ids"],
                        "segment_ids": inputs["input_type_ids"],
                        "padding_mask": inputs["input_mask"]})
    if not isinstance(outputs, dict) or "sequence_output" not in outputs:
        raise ValueError("`backbone_dir_or_model` must return a dict with sequence_output")
    exported = {"sequence_output": outputs["sequence_output"]}
    if "pooled_output" in outputs:
        exported["pooled_output"] = outputs["pooled_output"]
    return keras.Model(inputs, exported, name="text_encoder")


def export_text_encoder(backbone_dir_or_model, export_dir, sequence_length=128, tokenizer=None):
    """Exports a BERT encoder as a TF Hub text encoder + preprocessor pair (reusable SavedModels).

    Writes `export_dir/encoder` (inputs `input_word_ids`, `input_mask`, `input_type_ids`, int32
    `(batch, seq)`; outputs `pooled_output` `(batch, width)` and `sequence_output` `(batch, seq,
    width)`; `__call__` with `training`, trainable variables, `serving_default`) and
    `export_dir/preprocessor` (strings `(batch,)` -> those three int32 tensors of length
    `sequence_length`, the vocabulary file as an asset), both with
    `seqmodels.hub.export_reusable`. Load them back with `text_backbone_classifier("hub:" +
    export_dir, ...)`, `seqmodels.hub.HubLayer` or `hub.load` (after `import tensorflow_text`).
    The preprocessor's ids equal keras-hub's preprocessor for the same vocabulary and length.

    Args:
        backbone_dir_or_model: a keras-hub BERT preset (a name or directory, e.g.
            `minilm_preset_dir()`, optionally prefixed `"preset:"`), a model from
            `text_backbone_classifier` on a preset (its fine-tuned encoder is exported), or a
            keras-hub `BertBackbone` (then pass `tokenizer`).
        export_dir: the directory to write.
        sequence_length: the preprocessor's padded length; a longer text keeps its first
            `sequence_length - 2` wordpieces.
        tokenizer: the keras-hub `WordPieceTokenizer` when `backbone_dir_or_model` is a bare
            backbone.

    Returns:
        `{"encoder": <dir>, "preprocessor": <dir>}`.

    Example:

    A random one-layer BERT and its tokenizer stand in for a pretrained encoder:

    >>> import os, tempfile
    >>> import keras_hub
    >>> import tensorflow as tf
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film"]
    >>> backbone = keras_hub.models.BertBackbone(
    ...     vocabulary_size=len(vocabulary), num_layers=1, num_heads=1, hidden_dim=4,
    ...     intermediate_dim=8)
    >>> tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary)
    >>> export_dir = os.path.join(tempfile.mkdtemp(), "tiny_bert")
    >>> paths = export_text_encoder(backbone, export_dir, sequence_length=16,
    ...                             tokenizer=tokenizer)
    >>> sorted(paths)
    ['encoder', 'preprocessor']
    >>> from seqmodels.transfer.text import text_backbone_classifier
    >>> model = text_backbone_classifier("hub:" + export_dir, 2, sequence_length=16)
    >>> tuple(model(tf.constant(["a good film"])).shape)
    (1, 2)

    The packaged MiniLM (`make data`):

    >>> from seqmodels.transfer.backbones import minilm_preset_dir
    >>> paths = export_text_encoder(minilm_preset_dir(), "exports/minilm")  # doctest: +SKIP
    """
    import keras_hub

    source = backbone_dir_or_model
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    if isinstance(source, str):
        preset = source[len("preset:"):] if source.startswith("preset:") else source
        backbone = keras_hub.models.Backbone.from_preset(preset)
        tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(preset)
    elif isinstance(source, keras_hub.models.Backbone):
        backbone = source
        if tokenizer is None:
            raise ValueError("`tokenizer` is required when `backbone_dir_or_model` is a "
                             "backbone: pass its keras-hub WordPieceTokenizer. "
                             "Received: tokenizer=None")
    elif isinstance(source, keras.Model) and isinstance(
            getattr(source, "encoder", None), keras_hub.models.Backbone):
        backbone = source.encoder
        tokenizer = tokenizer or source.preprocessor.tokenizer
    else:
        raise ValueError("`backbone_dir_or_model` must be a keras-hub preset (name or "
                         "directory), a model from text_backbone_classifier on a preset, or a "
                         f"keras-hub Backbone. Received: {type(source).__name__} {source!r:.80}")
    if not isinstance(export_dir, (str, os.PathLike)) or not os.fspath(export_dir):
        raise ValueError(f"`export_dir` must be a directory path. Received: {export_dir!r}")
    export_dir = os.fspath(export_dir)
    preprocessor = WordPiecePreprocessor.from_keras_hub(tokenizer, sequence_length)
    encoder = _encoder_model(backbone)
    paths = {"encoder": os.path.join(export_dir, ENCODER_DIR),
             "preprocessor": os.path.join(export_dir, PREPROCESSOR_DIR)}
    export_reusable(encoder, paths["encoder"])
    export_reusable(preprocessor, paths["preprocessor"],
                    input_signature=tf.TensorSpec([None], tf.string))
    return paths

