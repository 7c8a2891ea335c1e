"""Serving signatures of each model kind: raw inputs in, preprocessing and decoding in the graph.

Each `*_servable` function (the decoders' are in `seqmodels.export.decoding_signatures`)
checks the export arguments and returns a `Servable`: the endpoints (name, function, input
signature; the first is `serving_default`), the TensorFlow resources the functions use (tracked
so they are saved), and small valid requests for the warmup file (a `serving_default` inputs
dict, or `(signature_name, inputs)` pairs). Each signature checks the shape of its inputs first
(`checked_input`). Vocabularies and class names are lookup tables read from files that the
SavedModel carries in its `assets/` (see `seqmodels.export.assets`), so a process without
seqmodels serves the export and a person can read what it maps.
"""

import collections

import numpy as np
import tensorflow as tf

from seqmodels.export import assets

Servable = collections.namedtuple("Servable", ["endpoints", "tracked", "warmup"])

IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")  # PNG, JPEG, GIF, BMP


def missing_argument(argument, model, what):
    return ValueError(f"`{argument}` is required to export a {type(model).__name__}: {what}. "
                      f"Received: {argument}=None")


def _class_names(model, class_names):
    classes = model.output_shape[-1]
    if class_names is None:
        return [str(i) for i in range(classes)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != classes:
        raise ValueError(f"`class_names` must name each of the model's {classes} classes. "
                         f"Received: {len(class_names)} names")
    return class_names


def _class_table(model, class_names, directory):
    """Label -> class name, from `assets/class_names.txt`."""
    return assets.id_to_word_table(directory, "class_names.txt",
                                   _class_names(model, class_names), "class_names")


def _classify(logits, names):
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
    label = tf.argmax(probabilities, axis=-1)
    return {"probabilities": probabilities, "label": label,
            "class_name": assets.words_of_ids(names, label)}


def built_vectorizer(model, vectorizer):
    if vectorizer is None:
        raise missing_argument("vectorizer", model,
                               "the TextVectorization the model was trained with")
    if not vectorizer.built:
        vectorizer(tf.constant([""]))  # an adapted TextVectorization is built by its first call
    return vectorizer


def text_ids(vectorizer, text, max_tokens=None):
    """Raw text (batch,) -> token ids (batch, seq) int32, at most `max_tokens` of them."""
    ids = tf.cast(vectorizer(text), tf.int32)
    if ids.shape.rank != 2:
        raise ValueError("`vectorizer` must map a batch of strings to (batch, sequence) token "
                         f"ids (output_mode='int'). Received output of shape {ids.shape}")
    return ids if max_tokens is None else ids[:, :max_tokens]


def nonempty_ids(ids, unknown_id=1):
    """Token ids (batch, seq) where a row without tokens (empty text, only punctuation) reads as
    one unknown token (`unknown_id`; TextVectorization's `[UNK]`).

    A mean over no tokens is 0 / 0: a text classifier would answer NaN for an empty text.

    Example:

    >>> nonempty_ids(tf.constant([[0, 0], [5, 0]])).numpy().tolist()
    [[1, 0], [5, 0]]
    """
    ids = tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]])  # >= 1 position
    empty = tf.reduce_all(tf.equal(ids, 0), axis=1, keepdims=True)  # (batch, 1)
    first = tf.one_hot(tf.zeros_like(empty[:, 0], tf.int32), tf.shape(ids)[1], on_value=True,
                       off_value=False)  # (batch, seq): the first position
    return tf.where(tf.logical_and(empty, first), tf.cast(unknown_id, ids.dtype), ids)


def text_classifier_servable(model, vectorizer, class_names, directory):
    """TextClassifier: `text` tf.string (batch,) -> probabilities, label, class_name.

    A text with no token (empty, or only punctuation) is read as one `[UNK]` token. Assets:
    `vocabulary.txt`, `class_names.txt` (written to `directory` until the export is saved).
    """
    vectorizer = assets.asset_vectorizer(built_vectorizer(model, vectorizer), directory,
                                         "vocabulary.txt")
    names = _class_table(model, class_names, directory)
    # Learned positions cover `sequence_length` tokens: longer texts are cut there.
    max_tokens = model.sequence_length if getattr(model, "encoder", "") == "transformer" else None

    def serve(text):
        text = checked_input(text, "text")
        return _classify(model(nonempty_ids(text_ids(vectorizer, text, max_tokens)),
                               training=False), names)

    return Servable([("serving_default", serve, [tf.TensorSpec([None], tf.string, name="text")])],
                    [model, vectorizer, names], {"text": np.array([b"a good film"], object)})


def raw_text_classifier_servable(model, class_names, directory):
    """A classifier that tokenizes inside (e.g. `seqmodels.transfer.text_backbone_classifier`):
    `text` tf.string (batch,) -> probabilities, label, class_name.

    Its tokenizer's ops travel in the graph: a keras-hub WordPiece preprocessor needs
    TensorFlow Text's ops where the export is loaded (`import tensorflow_text`; a TF Serving
    build with TF Text). Assets: `class_names.txt` and, where the model holds a keras-hub
    tokenizer, its `vocabulary.txt` (one token per line, id order): TF Text's fast WordPiece
    tokenizer runs from a model compiled from it into the graph, so the file documents the ids;
    the served graph does not read it.
    """
    names = _class_table(model, class_names, directory)
    # Lookup tables inside the model (e.g. the TextVectorization of a torch_hub backbone) are
    # resources, not variables: tracked so that they are saved.
    tracked = [model, names] + [layer for layer in model._flatten_layers(include_self=False)
                                if type(layer).__name__ in ("TextVectorization", "StringLookup")]
    vocabulary = _tokenizer_vocabulary(model)
    if vocabulary is not None:
        tracked.append(assets.text_asset(directory, "vocabulary.txt", vocabulary,
                                         "tokenizer vocabulary"))

    def serve(text):
        return _classify(model(checked_input(text, "text"), training=False), names)

    return Servable([("serving_default", serve, [tf.TensorSpec([None], tf.string, name="text")])],
                    tracked, {"text": np.array([b"a good film"], object)})


def _tokenizer_vocabulary(model):
    """The vocabulary of the first keras-hub tokenizer inside `model` (None if there is none)."""
    for layer in model._flatten_layers(include_self=False):
        tokenizer = getattr(layer, "tokenizer", None)
        for candidate in (layer, tokenizer):
            if candidate is not None and hasattr(candidate, "get_vocabulary") and \
                    type(candidate).__module__.startswith("keras_hub"):
                return [str(token) for token in candidate.get_vocabulary()]
    return None


def image_size(model):
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else tuple(
        model.input_shape[0][1:])
    if len(shape) != 3 or None in shape or shape[-1] not in (1, 3, 4):
        raise ValueError("The image model's input must be (height, width, channels) with 1, 3 "
                         f"or 4 channels. Received: {shape}")
    return shape


def decode_images(images, shape):
    """Encoded images (batch,) tf.string -> (batch, h, w, c) float32 pixel / 255, resized.

    PNG, JPEG, GIF (first frame) and BMP; converted to `c` channels; resized (bilinear,
    antialiased) only when the size differs. Other bytes fail with an `InvalidArgumentError`.
    """
    height, width, channels = shape

    def decode(encoded):
        known = tf.reduce_any(tf.stack([tf.equal(tf.strings.substr(encoded, 0, len(m)), m)
                                        for m in IMAGE_MAGIC]))
        check = tf.debugging.Assert(known, [
            "`images` must hold encoded PNG, JPEG, GIF or BMP bytes; an element is not an image "
            "of those formats (corrupt, empty or another format)."])
        with tf.control_dependencies([check]):
            image = tf.io.decode_image(encoded, channels=channels, expand_animations=False,
                                       dtype=tf.uint8)
        image = tf.cast(image, tf.float32) / 255.0
        same = tf.reduce_all(tf.equal(tf.shape(image)[:2], [height, width]))
        image = tf.cond(same, lambda: image,
                        lambda: tf.image.resize(image, (height, width), antialias=True))
        return tf.ensure_shape(image, shape)

    return tf.map_fn(decode, images, fn_output_signature=tf.TensorSpec(shape, tf.float32))


def nonempty_batch(images):
    """`images` (batch, h, w, c), or one blank image where the batch is empty; and `batch`.

    The model then runs on at least one row, and the caller keeps the first `batch` rows of
    what it returns. TensorFlow's oneDNN convolution (on where `TF_ENABLE_ONEDNN_OPTS=1`: by
    default on CPUs with AVX-512, and in `seqmodels-train`) gives an empty batch its input's
    shape instead of its output's (TF 2.20: a Conv2D of 4 filters on (0, 8, 8, 3) returns
    (0, 8, 8, 3)), so the layer after it fails; a server running those kernels would answer an
    empty request with an error instead of an empty answer.

    Example:

    >>> images, rows = nonempty_batch(tf.zeros([0, 2, 2, 1]))
    >>> tuple(images.shape), int(rows)
    ((1, 2, 2, 1), 0)
    """
    rows = tf.shape(images)[0]
    one = tf.zeros(tf.concat([[1], tf.shape(images)[1:]], 0), images.dtype)  # (1, h, w, c)
    return tf.cond(rows > 0, lambda: images, lambda: one), rows


def checked_input(tensor, name, shape=()):
    """`tensor`, once checked at run time to have shape (batch, *shape).

    Where TF Serving feeds a request, the signature's shape is not enforced (the session runs
    whatever tensor arrives), so a 2-D `text` would fail deep inside the graph ("StringSplitV2:
    input must be a vector, got shape: [2,2]"). This check fails first, with an
    `InvalidArgumentError` naming the input, the expected shape and the received one. It reads
    the shape with the raw `Shape` op, which graph construction cannot fold into a constant of
    the signature's shape.

    Args:
        tensor: a signature's input.
        name: its name in the signature.
        shape: the expected shape after the batch dimension.

    Example:

    >>> @tf.function(input_signature=[tf.TensorSpec(None, tf.string)])
    ... def serve(text):
    ...     return checked_input(text, "text")
    >>> serve(tf.constant(["a good film"])).shape
    TensorShape([1])
    >>> try:
    ...     serve(tf.constant([["a", "b"], ["c", "d"]]))
    ... except tf.errors.InvalidArgumentError as error:
    ...     print(next(line for line in error.message.splitlines() if "`text`" in line))
    assertion failed: [`text` must have shape (batch,); received shape [2 2]]
    """
    expected = [-1, *shape]  # -1: any batch size
    actual = tf.raw_ops.Shape(input=tensor)  # (rank,)
    padded = tf.concat([actual, tf.fill([len(expected)], -2)], 0)[:len(expected)]  # -2: no dim
    matches = tf.logical_or(tf.equal(padded, expected), tf.equal(expected, -1))
    ok = tf.logical_and(tf.equal(tf.raw_ops.Size(input=actual), len(expected)),
                        tf.reduce_all(matches))
    text = "(batch," + "".join(f" {d}," for d in shape)[:-1] + ")" if shape else "(batch,)"
    message = tf.strings.format(f"`{name}` must have shape {text}; received shape {{}}", actual)
    with tf.control_dependencies([tf.debugging.Assert(ok, [message])]):
        return tf.identity(tensor)


def blank_png(shape):
    return tf.io.encode_png(tf.zeros(shape, tf.uint8)).numpy()


def image_classifier_servable(model, class_names, directory):
    """VisionTransformer / CNNClassifier: `images` bytes (batch,) -> probabilities, label,
    class_name; `serving_arrays`: `images` float32 (batch, h, w, c) in [0, 1] -> the same.
    Assets: `class_names.txt`."""
    shape = image_size(model)
    names = _class_table(model, class_names, directory)

    def classify(images):
        images, rows = nonempty_batch(images)
        return _classify(model(images, training=False)[:rows], names)

    def serve_bytes(images):
        return classify(decode_images(checked_input(images, "images"), shape))

    def serve_arrays(images):
        return classify(tf.debugging.assert_all_finite(
            checked_input(images, "images", shape),
            "`images` must be finite pixel values in [0, 1]; found NaN or inf"))

    return Servable(
        [("serving_default", serve_bytes, [tf.TensorSpec([None], tf.string, name="images")]),
         ("serving_arrays", serve_arrays,
          [tf.TensorSpec([None, *shape], tf.float32, name="images")])],
        [model, names], [("serving_default", {"images": np.array([blank_png(shape)], object)}),
                         ("serving_arrays", {"images": np.zeros((1, *shape), np.float32)})])


def _per_feature(name, value, features):
    value = np.asarray(value, np.float32)
    if value.size not in (1, features):
        raise ValueError(f"`{name}` must be a scalar or one value per feature ({features}). "
                         f"Received: shape {value.shape}")
    return np.broadcast_to(value.reshape(-1), (features,)).copy()


def forecaster_servable(model, mean=None, std=None, directory=None):
    """Forecaster: `windows` float32 (batch, window, features) in raw units -> `forecast`
    (batch, horizon, targets) in raw units (normalised with `mean`/`std` in the graph). No
    assets: `directory` is unused."""
    features, targets = model.num_features, model.num_targets
    mean_t = std_t = None
    if (mean is None) != (std is None):
        raise ValueError("`mean` and `std` go together (the training normalisation). Received: "
                         f"mean={'None' if mean is None else '...'}, "
                         f"std={'None' if std is None else '...'}")
    if mean is not None:
        mean, std = _per_feature("mean", mean, features), _per_feature("std", std, features)
        if not np.all(np.isfinite(std)) or np.any(std <= 0):
            raise ValueError(f"`std` must be positive and finite. Received: std={std.tolist()}")
        mean_t, std_t = tf.constant(mean), tf.constant(std)

    def serve(windows):
        x = tf.debugging.assert_all_finite(
            checked_input(windows, "windows", (model.window_length, features)),
            "`windows` must be finite numbers; found NaN or inf")
        if mean_t is not None:
            x = (x - mean_t) / std_t
        forecast = tf.cast(model(x, training=False), tf.float32)
        if mean_t is not None:
            forecast = forecast * std_t[:targets] + mean_t[:targets]
        return {"forecast": forecast}

    example = np.zeros((1, model.window_length, features), np.float32)
    if mean is not None:
        example += mean
    return Servable(
        [("serving_default", serve,
          [tf.TensorSpec([None, model.window_length, features], tf.float32, name="windows")])],
        [model], {"windows": example})
