"""SavedModels that TF Serving loads and feeds raw inputs: preprocessing inside the graph.

The layout is the one TF Serving watches: `export_dir/<version>/saved_model.pb` with an integer
version (the next free one by default); vocabularies and class names travel as files in the
version's `assets/`, read by lookup tables when it loads, so serving needs neither seqmodels nor
pre-tokenised tensors. Each version carries
`assets.extra/tf_serving_warmup_requests`, `export_dir/models.config` is the server's
`--model_config_file` (with version labels, if any) and, with `batching=True`,
`export_dir/batching_parameters.txt` its `--batching_parameters_file`.

A version is written whole into a temporary sibling (`export_dir/.partial-<version>-<pid>-...`,
a name TF Serving ignores, as it is not a number) and renamed into place, so that whatever
moment a kill lands, the server never sees half a version (the Estimator exporters' pattern).
A partial directory left by a killed process is removed by the next export.
"""

import os
import shutil
import tempfile
import uuid

import keras
import tensorflow as tf

from seqmodels.export import decoding_signatures, signatures, tf_serving


def next_version(export_dir):
    """The smallest integer version above every numeric subdirectory of `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(d) for d in os.listdir(export_dir) if d.isdigit()]
    return max(versions, default=0) + 1


PARTIAL_PREFIX = ".partial-"


def _check_export_dir(export_dir):
    """`export_dir` must be, or be able to become, a directory (checked before writing)."""
    if not isinstance(export_dir, (str, os.PathLike)) or not str(export_dir):
        raise ValueError(f"`export_dir` must name a directory. Received: export_dir={export_dir!r}")
    existing = os.path.abspath(export_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        where = "is" if existing == os.path.abspath(export_dir) else "lies under"
        raise NotADirectoryError(f"`export_dir` must be a directory, but it {where} the file "
                                 f"{existing}. Received: export_dir={str(export_dir)!r}")


def _check_vectorizer(model, vectorizer):
    """A vectorizer's ids must be ids the model has an embedding for."""
    size = getattr(model, "vocab_size", None) or getattr(model, "source_vocab_size", None)
    if vectorizer is None or size is None or not hasattr(vectorizer, "vocabulary_size"):
        return
    tokens = vectorizer.vocabulary_size()
    if tokens > size:
        raise ValueError(f"`vectorizer` yields ids up to {tokens - 1}, but the model embeds "
                         f"{size} ids (its vocab_size): pass the vectorizer it was trained "
                         f"with. Received: a vectorizer of {tokens} tokens")


def _remove_partials(export_dir):
    """Removes the partial versions that killed processes left (their process is gone)."""
    for name in os.listdir(export_dir):
        parts = name[len(PARTIAL_PREFIX):].split("-")  # version, pid, random
        if (name.startswith(PARTIAL_PREFIX) and len(parts) == 3 and parts[1].isdigit()
                and not _alive(int(parts[1]))):
            shutil.rmtree(os.path.join(export_dir, name), ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _version_dir(export_dir, version):
    version = next_version(export_dir) if version is None else version
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive integer. Received: version={version!r}")
    path = os.path.join(export_dir, str(version))
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists: TF Serving versions are immutable; pass another "
                              "version or leave version=None for the next free one.")
    return path


def export_for_serving(model, export_dir, *, version=None, vectorizer=None, class_names=None,
                       vocabulary=None, start_id=None, end_id=None, max_length=None, mean=None,
                       std=None, warmup=True, batching=False, version_labels=()):
    """Exports any of our models for TF Serving: raw inputs in, named outputs out.

    Writes `export_dir/<version>/` (a SavedModel; TF Serving's versioned layout), its warmup
    requests, `export_dir/models.config` and, with `batching`, `export_dir/
    batching_parameters.txt`. `serving_default` does all preprocessing and decoding in the
    graph:

    - `TextClassifier`: `text` string (batch,) -> `probabilities` float32 (batch, classes),
      `label` int64 (batch,), `class_name` string (batch,). Needs `vectorizer`.
    - `VisionTransformer`, `CNNClassifier`: `images` string (batch,) of PNG/JPEG/GIF/BMP
      bytes -> the same three outputs.
    - `Forecaster`: `windows` float32 (batch, window, features) in raw units -> `forecast`
      float32 (batch, horizon, targets). Optional `mean`, `std`.
    - `Translator`: `text` string (batch,) -> `translation` string (batch,). Needs
      `vectorizer` (source), `vocabulary` (target), `start_id`, `end_id`.
    - `Captioner`: `images` string (batch,) -> `caption` string (batch,). Needs `vocabulary`,
      `start_id`, `end_id`.
    - `MiniGPT`: `prompt` string (batch,) -> `completion` string (batch,). Needs `vocabulary`
      (one character per id).

    Vocabularies and class names are files in `<version>/assets/` that lookup tables read when
    the export loads (`vocabulary.txt`, `source_vocabulary.txt`: a TextVectorization's tokens of
    ids 2, 3, ...; `output_vocabulary.txt`, `class_names.txt`: `<id>\\t<word>`; `characters.txt`:
    `<id>\\t<code point>`; see `seqmodels.export.assets`).

    Image models also get `serving_arrays(images: float32 (batch, h, w, c) in [0, 1])` with the
    classifier outputs. Images are decoded to the model's channels, resized (bilinear,
    antialiased) to its input size when they differ, and scaled by 1/255. Translation and
    captions decode as `translate(beam_size=1)` / `caption(beam_size=1)` do, words joined with
    spaces (padding, start and end left out); their `serving_beam` adds `beam_width` int32
    (batch,) or (1,), default 4, at most 8: `translate(beam_size=w)` per row. MiniGPT completes
    each prompt with `max_length` characters (greedy, key/value cache); `serving_sample` adds
    `temperature` float32, `top_k` int32, `top_p` float32 and `seed` int64, each (batch,) or
    (1,): `generate(strategy="sample", seed=seed)` per prompt. Unknown characters map to id 0,
    and a prompt keeps its last `model.max_length - max_length` characters (see
    `seqmodels.export.decoding_signatures`). Bad inputs (a shape other than the
    signature's, NaN windows, bytes that are not an image) fail with an `InvalidArgumentError`
    that names the input and says what was wrong (`signatures.checked_input`); empty batches
    return empty outputs; empty, over-long or non-UTF-8 text is tokenised like any other (a
    `TextClassifier` reads a text without tokens, such as `""`, as one `[UNK]`: it gets the
    score of an unknown word, where its mean over no tokens would be NaN; texts longer than its
    learned positions are cut).

    Args:
        model: a `seqmodels.models` model (see the table).
        export_dir: the model's base directory (TF Serving's `base_path`); its base name is the
            served model name.
        version: the integer version (default: the next free one). Existing versions are never
            overwritten (`FileExistsError`).
        vectorizer: the source `TextVectorization` (text classifier, translator).
        class_names: class names in label order (classifiers; default "0", "1", ...).
        vocabulary: word (translator, captioner) or character (MiniGPT) of each output id.
        start_id, end_id: ids that start and end a translation or caption.
        max_length: longest translation/caption, start token included (default: the model's);
            for MiniGPT the new characters per completion (default min(64, max_length - 1)).
        mean, std: the forecaster's input normalisation (scalars or one per feature); outputs
            are de-normalised with the targets' values.
        warmup: write `assets.extra/tf_serving_warmup_requests`: True (one small request per
            signature), False, or your own `(signature_name, inputs)` pairs (at most
            `tf_serving.MAX_WARMUP_RECORDS`, TF Serving's limit; each naming a signature).
        batching: write `export_dir/batching_parameters.txt` (`--enable_batching
            --batching_parameters_file`): True for `tf_serving.BATCHING_DEFAULTS`, or a dict of
            the parameters to change.
        version_labels: labels (e.g. `"canary"`, or several) that `models.config` gives the
            written version; labels of other versions already in the file are kept.

    Returns:
        The path of the written version directory.

    Raises:
        ValueError: an argument the model kind needs is missing or does not fit the model
            (class names that do not match its outputs, a vectorizer of more tokens than its
            `vocab_size`), or a warmup, batching or label argument is wrong, before anything
            is written.
        NotADirectoryError: `export_dir` is a file, or lies under one.
        TypeError: `model` is not one of the exportable models.

    Example:

    A (untrained) sentiment classifier and its vocabulary, served from raw text:

    >>> import tempfile
    >>> import keras
    >>> from seqmodels.models import TextClassifier
    >>> vectorizer = keras.layers.TextVectorization(max_tokens=20, output_sequence_length=8)
    >>> vectorizer.adapt(["a fine film", "a dull film"])
    >>> classifier = TextClassifier(vocab_size=20, num_classes=2, sequence_length=8,
    ...                             hidden_dim=8, num_heads=2, intermediate_dim=16)
    >>> base = os.path.join(tempfile.mkdtemp(), "sentiment")
    >>> path = export_for_serving(classifier, base, vectorizer=vectorizer,
    ...                           class_names=["rotten", "fresh"])
    >>> os.path.basename(path), sorted(os.listdir(base))
    ('1', ['1', 'models.config'])
    >>> served = tf.saved_model.load(path).signatures["serving_default"]
    >>> sorted(served(text=tf.constant(["a fine film"])))
    ['class_name', 'label', 'probabilities']
    """
    _check_export_dir(export_dir)
    _check_vectorizer(model, vectorizer)
    labels = (version_labels,) if isinstance(version_labels, str) else tuple(version_labels)
    if batching:  # checked before anything is written
        tf_serving.batching_parameters(**_batching(batching))
    for label in labels:
        tf_serving.check_version_label(label)
    from seqmodels.transfer.lora import lora_merged  # a LoRA model exports with merged kernels

    with tempfile.TemporaryDirectory(prefix="seqmodels_assets_") as directory, \
            lora_merged(model):
        servable = _servable(model, directory, vectorizer=vectorizer, class_names=class_names,
                             vocabulary=vocabulary, start_id=start_id, end_id=end_id,
                             max_length=max_length, mean=mean, std=std)
        if warmup:
            warmup = tf_serving.check_warmup(servable.warmup if warmup is True else warmup,
                                             [name for name, _, _ in servable.endpoints])
        path = _write(servable, export_dir, version, warmup, labels)
    if batching:
        tf_serving.write_batching_parameters(export_dir, **_batching(batching))
    return path


def _batching(batching):
    if batching is True:
        return {}
    if not isinstance(batching, dict):
        raise ValueError("`batching` must be True, False or a dict of batching parameters. "
                         f"Received: batching={batching!r}")
    return batching


def _write(servable, export_dir, version, warmup, labels):
    path = _version_dir(export_dir, version)
    os.makedirs(export_dir, exist_ok=True)
    _remove_partials(export_dir)
    partial = os.path.join(export_dir, f"{PARTIAL_PREFIX}{os.path.basename(path)}-{os.getpid()}-"
                                       f"{uuid.uuid4().hex[:8]}")
    try:
        root, signatures = _saveable(servable)
        tf.saved_model.save(root, partial, signatures=signatures)
        if warmup:
            tf_serving.write_warmup(partial, _model_name(export_dir), warmup)
        os.rename(partial, path)  # atomic: TF Serving sees the whole version or none
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    tf_serving.write_models_config(export_dir, version_labels={
        label: int(os.path.basename(path)) for label in labels})
    return path


def _saveable(servable):
    """The root object and signatures to save.

    Models contribute their variables only: saving the Keras object graph too (as
    `keras.export.ExportArchive` does) retraces every layer and takes several times longer,
    and serving needs none of it. Other resources (a `TextVectorization` with its lookup
    table, our tables) are saved whole.
    """
    root = tf.Module()
    root.model_variables, root.resources = [], []
    for resource in servable.tracked:
        if isinstance(resource, keras.Model):
            root.model_variables.extend(_tf_variable(v) for v in resource.variables)
        else:
            root.resources.append(resource)
    signatures = {}
    for name, fn, input_signature in servable.endpoints:
        function = tf.function(fn, input_signature=input_signature, autograph=False)
        setattr(root, name, function)
        # The function, not its concrete trace: tensor default arguments (`serving_beam`'s
        # `beam_width`) become the SignatureDef's `defaults`.
        signatures[name] = function
    return root, signatures


def _tf_variable(variable):
    """The `tf.Variable` under a Keras variable.

    Saving the Keras wrapper instead leaves the variables out of the graph that TF Serving's C++
    loader (and `saved_model_cli run`) restores: "Could not find variable".
    """
    for value in (getattr(variable, "_value", None), getattr(variable, "value", None)):
        if isinstance(value, tf.Variable):
            return value
    raise TypeError(f"Expected a Keras variable on the TensorFlow backend. Received: "
                    f"{type(variable).__name__} {getattr(variable, 'path', '')}")


def _model_name(export_dir):
    return os.path.basename(os.path.normpath(os.path.abspath(export_dir)))


def _servable(model, directory, **arguments):
    """The model kind's `Servable`; its asset files are written to `directory`."""
    from seqmodels import models

    def pick(*names):
        return {"directory": directory, **{name: arguments[name] for name in names}}

    if isinstance(model, models.TextClassifier):
        return signatures.text_classifier_servable(model, **pick("vectorizer", "class_names"))
    if isinstance(model, (models.VisionTransformer, models.CNNClassifier)):
        return signatures.image_classifier_servable(model, **pick("class_names"))
    if isinstance(model, models.Forecaster):
        return signatures.forecaster_servable(model, **pick("mean", "std"))
    if isinstance(model, models.Translator):
        return decoding_signatures.translator_servable(model, **pick(
            "vectorizer", "vocabulary", "start_id", "end_id", "max_length"))
    if isinstance(model, models.Captioner):
        return decoding_signatures.captioner_servable(model, **pick(
            "vocabulary", "start_id", "end_id", "max_length"))
    if isinstance(model, models.MiniGPT):
        return decoding_signatures.mini_gpt_servable(model, **pick("vocabulary", "max_length"))
    # Functional classifiers on pretrained backbones (seqmodels.transfer): strings or images in.
    inputs = getattr(model, "inputs", None) or []
    if isinstance(model, keras.Model) and len(inputs) == 1 and len(model.outputs) == 1:
        if inputs[0].dtype == "string" and len(inputs[0].shape) == 1:
            return signatures.raw_text_classifier_servable(model, **pick("class_names"))
        if len(inputs[0].shape) == 4 and "float" in str(inputs[0].dtype):
            return signatures.image_classifier_servable(model, **pick("class_names"))
    raise TypeError("`model` must be a TextClassifier, VisionTransformer, CNNClassifier, "
                    "Forecaster, Translator, Captioner or MiniGPT from seqmodels.models, or a "
                    "functional classifier with one string (batch,) or image (batch, h, w, c) "
                    f"input. Received: a {type(model).__name__}")

