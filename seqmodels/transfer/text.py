"""Text classifiers on pretrained encoders (keras-hub presets, Hugging Face, TF Hub, torch.hub).

The TF Hub export of an encoder, `export_text_encoder`, is in `text_encoder_export`.
"""

import os

import keras
import tensorflow as tf

from seqmodels.hub import HubLayer
from seqmodels.transfer.backbones import parse_backbone
from seqmodels.transfer.lora import enable_lora
from seqmodels.transfer.preset_preprocessing import PresetPreprocessing
from seqmodels.transfer.trim_padding import TrimPadding
from seqmodels.transfer.word_piece_preprocessor import ENCODER_INPUTS

ENCODER_DIR, PREPROCESSOR_DIR = "encoder", "preprocessor"
POOLINGS = ("mean", "cls", "pooled")
HUB_SEPARATOR = "|"  # not a valid URL character, so it cannot be part of a handle


def _check_classifier_arguments(num_classes, sequence_length, trainable, dropout, pooling):
    if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
        raise ValueError(f"`num_classes` must be a positive integer. Received: "
                         f"num_classes={num_classes!r}")
    if not isinstance(sequence_length, int) or sequence_length < 3:
        raise ValueError("`sequence_length` must be an integer >= 3 (with [CLS] and [SEP]). "
                         f"Received: sequence_length={sequence_length!r}")
    if not isinstance(trainable, bool):
        raise ValueError(f"`trainable` must be a bool. Received: trainable={trainable!r}")
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be a number in [0, 1). Received: dropout={dropout!r}")
    if pooling not in POOLINGS:
        raise ValueError(f"`pooling` must be one of {', '.join(POOLINGS)}. "
                         f"Received: pooling={pooling!r}")


def _head(sequence, pooled, mask, inputs, num_classes, dropout, pooling, seed, name):
    """Pooling, dropout and the linear layer: the same head on every backbone."""
    if pooling == "mean":  # mean over the real tokens, as sentence-transformers pool MiniLM
        features = keras.layers.GlobalAveragePooling1D(name="mean_pooling")(
            sequence, mask=keras.ops.cast(mask, "bool"))
    elif pooling == "cls":
        features = sequence[:, 0, :]
    else:
        if pooled is None:
            raise ValueError("`pooling='pooled'` needs a backbone with a `pooled_output`; "
                             "use pooling='mean' or 'cls'")
        features = pooled
    features = keras.layers.Dropout(dropout, seed=seed, name="head_dropout")(features)
    initializer = keras.initializers.GlorotUniform(seed=seed)
    logits = keras.layers.Dense(num_classes, kernel_initializer=initializer,
                                name="logits")(features)
    return keras.Model(inputs, logits, name=name)


def _split_hub_handles(value):
    """`<encoder>|<preprocessor>`, or a directory written by `export_text_encoder`."""
    if HUB_SEPARATOR in value:
        encoder, preprocessor = (part.strip() for part in value.split(HUB_SEPARATOR, 1))
        if not encoder or not preprocessor:
            raise ValueError("`backbone` must be 'hub:<encoder handle>|<preprocessor handle>'. "
                             f"Received: backbone='hub:{value}'")
        return encoder, preprocessor
    encoder = os.path.join(value, ENCODER_DIR)
    preprocessor = os.path.join(value, PREPROCESSOR_DIR)
    if os.path.isdir(encoder) and os.path.isdir(preprocessor):
        return encoder, preprocessor
    raise ValueError("A text `backbone` from TF Hub needs an encoder and its preprocessor: "
                     "'hub:<encoder handle>|<preprocessor handle>', or 'hub:<dir>' with the "
                     f"{ENCODER_DIR}/ and {PREPROCESSOR_DIR}/ that export_text_encoder writes. "
                     f"Received: backbone='hub:{value}'")


def _hf_preprocessor(directory, sequence_length):
    """keras-hub's BERT preprocessor on a Hugging Face checkpoint's `vocab.txt`, cased as it says.

    `tokenizer_config.json`'s `do_lower_case` (default True) and `strip_accents` (default: as
    `do_lower_case`) are Hugging Face `BertTokenizer`'s settings; keras-hub's `BertTokenizer`
    does not strip accents unless told, so both are passed.
    """
    import json

    import keras_hub

    vocabulary = os.path.join(directory, "vocab.txt")
    if not os.path.isfile(vocabulary):
        raise FileNotFoundError("A 'hf:<directory>' backbone needs the checkpoint's WordPiece "
                                f"vocabulary: no vocab.txt in {directory!r}")
    settings = {}
    config = os.path.join(directory, "tokenizer_config.json")
    if os.path.isfile(config):
        with open(config, encoding="utf-8") as f:
            settings = json.load(f)
    lowercase = bool(settings.get("do_lower_case", True))
    strip_accents = settings.get("strip_accents")
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase,
        strip_accents=lowercase if strip_accents is None else bool(strip_accents))
    return keras_hub.models.BertTextClassifierPreprocessor(tokenizer,
                                                           sequence_length=sequence_length)


def text_backbone_classifier(backbone, num_classes, sequence_length=64, trainable=True,
                             dropout=0.1, pooling="mean", seed=None, trim_padding=True,
                             lora_rank=None):
    """A text classifier on a pretrained encoder: raw strings in, logits out.

    The returned `keras.Model` takes a `tf.string` batch `(batch,)` and returns logits
    `(batch, num_classes)`; tokenization happens inside the model (TensorFlow Text ops), so the
    same model trains with `fit` or a custom loop on `(text, label)` batches (e.g.
    `data.load("rotten_tomatoes", split).batch(32)`) and exports for serving with raw text
    inputs (`model.export(dir)`; the loading process needs `import tensorflow_text`). The
    head is the same on every backbone: `pooling` over the encoder's token vectors (masked
    mean, the `[CLS]` vector, or the encoder's `pooled_output`), dropout, a linear layer. The
    model's `preprocessor` and `encoder` attributes are its two pretrained parts (layers).

    Backbones:
        - `"preset:<name or directory>"`: a keras-hub text preset (e.g.
          `"preset:" + minilm_preset_dir()`, a directory written by `save_to_preset`, or a
          preset name such as `bert_tiny_en_uncased`, which needs the internet once), loaded
          with `keras_hub.models.Backbone.from_preset` and its
          `TextClassifierPreprocessor.from_preset(sequence_length=...)`.
        - `"hf:<directory>"`: a Hugging Face BERT checkpoint directory (`config.json`,
          `model.safetensors` or `pytorch_model.bin`, `vocab.txt`, optionally
          `tokenizer_config.json`), run on our own layers by
          `seqmodels.models.BertEncoder.from_pretrained`; its WordPiece tokenizer (keras-hub's,
          with the checkpoint's lower-casing and accent stripping) gives the ids of Hugging
          Face's `BertTokenizer`.
        - `"hub:<encoder handle>|<preprocessor handle>"`: a TF Hub text encoder (inputs
          `input_word_ids`, `input_mask`, `input_type_ids`; outputs `sequence_output`,
          `pooled_output`) and its preprocessor (strings -> those inputs), loaded with
          `seqmodels.hub.HubLayer`; `"hub:<dir>"` for a directory written by
          `export_text_encoder`. The preprocessor's outputs are cut (or padded) to
          `sequence_length`.
        - `"torch_hub:<repo dir>:<entry>"`: a PyTorch model from `torch.hub.load(dir, entry,
          source="local")`, an `nn.Sequential(nn.Embedding, ...)` carrying its `vocabulary`
          (see `seqmodels.transfer.pytorch.hub`), converted with `from_torch`; the model's
          `preprocessor` is a `keras.layers.TextVectorization` of that vocabulary.

    Args:
        backbone: the backbone string (see above).
        num_classes: number of classes (logits).
        sequence_length: tokens per text, with `[CLS]` and `[SEP]`. A text of more
            wordpieces keeps its first `sequence_length - 2` (the BERT convention), so choose
            it from the longest texts of the data (with `trim_padding`, a longer length costs
            nothing on batches of short texts).
        trainable: whether the encoder is fine-tuned (False: a frozen feature extractor and a
            trained linear head).
        dropout: the head's dropout rate (the encoder keeps its own).
        pooling: `"mean"` (masked mean of the token vectors), `"cls"` or `"pooled"`.
        seed: seeds the head's initializer and dropout (the same seed gives the same head on
            every backbone).
        trim_padding: the encoder sees each batch cut to its longest text (`TrimPadding`)
            instead of `sequence_length` columns: the same logits up to float rounding, and a
            batch of short texts costs less. False gives the encoder `sequence_length` columns
            always (e.g. a TF Hub encoder whose signature fixes the length).
        lora_rank: fine-tune with LoRA of this rank (`seqmodels.transfer.enable_lora`): the
            encoder's weights freeze, each of its dense and attention projections trains a
            low-rank pair (the pooler only with `pooling="pooled"`), and the head (`logits`)
            trains whole. None: every encoder weight trains (as `trainable` says). Not for
            `hub:` backbones (one SavedModel, no Keras layers inside).

    Returns:
        A `keras.Model` (strings -> logits).

    Raises:
        ValueError: for a backbone string of another kind, or bad arguments.

    Example:

    A one-layer BERT of random weights, saved as a local preset, stands in for a pretrained one:

    >>> import os, tempfile
    >>> import keras_hub
    >>> import tensorflow as tf
    >>> preset = os.path.join(tempfile.mkdtemp(), "tiny_bert")
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film"]
    >>> keras_hub.models.BertBackbone(
    ...     vocabulary_size=len(vocabulary), num_layers=1, num_heads=1, hidden_dim=4,
    ...     intermediate_dim=8).save_to_preset(preset)
    >>> keras_hub.models.BertTextClassifierPreprocessor(
    ...     keras_hub.models.BertTokenizer(vocabulary=vocabulary)).save_to_preset(preset)
    >>> model = text_backbone_classifier("preset:" + preset, 2, sequence_length=16)
    >>> tuple(model(tf.constant(["a good film"])).shape)
    (1, 2)

    Fine-tuning the pretrained MiniLM on Rotten Tomatoes (both come with `make data`, which
    `make test` does not run; an epoch takes minutes):

    >>> from seqmodels import data
    >>> from seqmodels.transfer.backbones import minilm_preset_dir
    >>> model = text_backbone_classifier("preset:" + minilm_preset_dir(), 2)  # doctest: +SKIP
    >>> loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)  # doctest: +SKIP
    >>> model.compile(keras.optimizers.AdamW(5e-5), loss)  # doctest: +SKIP
    >>> history = model.fit(data.load("rotten_tomatoes", "train").batch(32))  # doctest: +SKIP
    """
    kind, value = parse_backbone(backbone, kinds=("preset", "hub", "torch_hub", "hf"))
    _check_classifier_arguments(num_classes, sequence_length, trainable, dropout, pooling)
    if not isinstance(trim_padding, bool):
        raise ValueError(f"`trim_padding` must be a bool. Received: trim_padding={trim_padding!r}")
    if lora_rank is not None:  # checked before the encoder loads
        if not isinstance(lora_rank, int) or isinstance(lora_rank, bool) or lora_rank < 1:
            raise ValueError("`lora_rank` must be a positive integer or None. Received: "
                             f"lora_rank={lora_rank!r}")
        if not trainable:
            raise ValueError("`lora_rank` fine-tunes low-rank updates of the encoder, which "
                             f"contradicts trainable=False. Received: lora_rank={lora_rank}, "
                             "trainable=False")
        if kind == "hub":
            raise ValueError("`lora_rank` adapts the encoder's Keras Dense and EinsumDense "
                             "layers; a hub: encoder is one SavedModel without them. Received: "
                             f"lora_rank={lora_rank}, backbone={backbone!r}")
    text = keras.Input(shape=(), dtype="string", name="text")
    if kind in ("preset", "hf"):
        import keras_hub

        if kind == "hf":
            from seqmodels.models.bert_encoder import BertEncoder

            preprocessor = _hf_preprocessor(value, sequence_length)
            encoder = BertEncoder.from_pretrained(value, name="encoder")
        else:
            preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
                value, sequence_length=sequence_length)
            encoder = keras_hub.models.Backbone.from_preset(value)
        limit = getattr(encoder, "max_sequence_length", None)
        if limit is not None and sequence_length > limit:
            raise ValueError(f"`sequence_length` must be at most the preset's "
                             f"max_sequence_length {limit}. Received: "
                             f"sequence_length={sequence_length}")
        encoder.trainable = trainable
        inputs = PresetPreprocessing(preprocessor, name="preprocessing")(text)
        if trim_padding:
            inputs = TrimPadding("padding_mask", name="trim_padding")(inputs)
        outputs = encoder({key: inputs[key] for key in encoder.input})
        mask = inputs["padding_mask"]
        if isinstance(outputs, dict):
            sequence, pooled = outputs["sequence_output"], outputs.get("pooled_output")
        else:
            sequence, pooled = outputs, None
        name = f"{kind}_text_classifier"
    elif kind == "torch_hub":
        from seqmodels.transfer.pytorch.hub import torch_hub_text_encoder

        preprocessor, encoder = torch_hub_text_encoder(value, sequence_length)
        encoder.trainable = trainable
        inputs = {"token_ids": preprocessor(text)}  # (batch, sequence_length), 0 = padding
        inputs["padding_mask"] = keras.ops.not_equal(inputs["token_ids"], 0)
        if trim_padding:
            inputs = TrimPadding("padding_mask", name="trim_padding")(inputs)
        sequence, pooled = encoder(inputs["token_ids"]), None
        mask = inputs["padding_mask"]
        name = "torch_hub_text_classifier"
    else:
        encoder_handle, preprocessor_handle = _split_hub_handles(value)
        preprocessor = HubLayer(preprocessor_handle, name="preprocessor")
        encoder = HubLayer(encoder_handle, trainable=trainable, name="encoder")
        inputs = preprocessor(text)
        if not isinstance(inputs, dict) or any(key not in inputs for key in ENCODER_INPUTS):
            raise ValueError(f"The preprocessor {preprocessor_handle!r} must return a dict with "
                             f"{', '.join(ENCODER_INPUTS)}. Received: {inputs!r}")
        inputs = {key: inputs[key][:, :sequence_length] for key in ENCODER_INPUTS}
        length = inputs["input_word_ids"].shape[1]
        if length is not None and length < sequence_length:
            inputs = {key: keras.ops.pad(x, [[0, 0], [0, sequence_length - length]])
                      for key, x in inputs.items()}
        if trim_padding:
            inputs = TrimPadding("input_mask", name="trim_padding")(inputs)
        outputs = encoder(inputs)
        if not isinstance(outputs, dict) or "sequence_output" not in outputs:
            raise ValueError(f"The encoder {encoder_handle!r} must return a dict with "
                             f"sequence_output (the TF Hub text-encoder contract). "
                             f"Received: {outputs!r}")
        sequence, pooled = outputs["sequence_output"], outputs.get("pooled_output")
        mask = inputs["input_mask"]
        name = "hub_text_classifier"
    model = _head(sequence, pooled, mask, text, num_classes, dropout, pooling, seed, name)
    model.preprocessor, model.encoder = preprocessor, encoder
    if lora_rank is not None:  # a pooler that the head does not use stays as it is
        unused = [layer.name for layer in encoder._flatten_layers()
                  if layer.name == "pooled_dense" and pooling != "pooled"]
        enable_lora(model, lora_rank, train=("logits",), skip=unused)
    return model


def text_lengths(model, texts):
    """Tokens per text, `[CLS]` and `[SEP]` included, as a `text_backbone_classifier` counts them.

    A text longer than the classifier's `sequence_length` keeps only its first tokens; compare
    these lengths with it to see which texts are cut (e.g. to choose `sequence_length`).
    keras-hub presets count every word piece, torch_hub backbones every word; a TF Hub
    preprocessor pads or cuts to its own length first, so its lengths are at most that.

    Args:
        model: a model from `text_backbone_classifier`.
        texts: strings `(batch,)`.

    Returns:
        An int numpy array `(batch,)`.

    Example:

    A random one-layer BERT saved as a local preset (a pretrained one counts the same way):

    >>> import os, tempfile
    >>> import keras_hub
    >>> import tensorflow as tf
    >>> preset = os.path.join(tempfile.mkdtemp(), "tiny_bert")
    >>> vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "film"]
    >>> keras_hub.models.BertBackbone(
    ...     vocabulary_size=len(vocabulary), num_layers=1, num_heads=1, hidden_dim=4,
    ...     intermediate_dim=8).save_to_preset(preset)
    >>> keras_hub.models.BertTextClassifierPreprocessor(
    ...     keras_hub.models.BertTokenizer(vocabulary=vocabulary)).save_to_preset(preset)
    >>> model = text_backbone_classifier("preset:" + preset, 2, sequence_length=16)
    >>> text_lengths(model, tf.constant(["a good film", "film"]))
    array([5, 3])
    """
    preprocessor = getattr(model, "preprocessor", None)
    texts = tf.convert_to_tensor(texts)
    if isinstance(preprocessor, HubLayer):
        mask = preprocessor(texts)["input_mask"]  # (batch, the preprocessor's length)
        return tf.reduce_sum(tf.cast(mask, tf.int32), axis=1).numpy()
    if isinstance(preprocessor, keras.layers.TextVectorization):  # a torch_hub backbone's
        from seqmodels.transfer.pytorch.hub import token_counts

        return token_counts(preprocessor, texts)
    tokenizer = getattr(preprocessor, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("`model` must come from `text_backbone_classifier` (a model with a "
                         "keras-hub or TF Hub `preprocessor`). Received: "
                         f"{type(model).__name__} with preprocessor {preprocessor!r}")
    pieces = tokenizer(texts)  # (batch, None): ragged, or lists when keras-hub runs eagerly
    lengths = pieces.row_lengths() if isinstance(pieces, tf.RaggedTensor) else tf.constant(
        [len(p) for p in pieces], tf.int64)
    return (lengths + 2).numpy()  # + [CLS] and [SEP]
