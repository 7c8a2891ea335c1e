"""SavedModels that TF Serving loads and feeds raw inputs: preprocessing inside the graph.

The layout is the one TF Serving watches: `export_dir/<version>/saved_model.pb` with an integer
version (the next free one by default), lookup tables (vocabularies) as SavedModel assets.
"""

import os

import keras
import tensorflow as tf


def next_version(export_dir):
    """The smallest integer version above every numeric subdirectory of `export_dir` (1 if none)."""
    if not os.path.isdir(export_dir):
        return 1
    versions = [int(d) for d in os.listdir(export_dir) if d.isdigit()]
    return max(versions, default=0) + 1


def _version_dir(export_dir, version):
    version = next_version(export_dir) if version is None else version
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be a positive integer. Received: version={version!r}")
    path = os.path.join(export_dir, str(version))
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists: TF Serving versions are immutable; pass another "
                              "version or leave version=None for the next free one.")
    return path


def export_text_classifier(model, vectorizer, class_names, export_dir, version=None):
    """Exports a text classifier whose `serving_default` takes raw UTF-8 text.

    Signature `serving_default(text: tf.string [batch])` returns `probabilities` float32
    [batch, classes], `label` int64 [batch] and `class_name` string [batch]. Tokenisation (the
    vectorizer's vocabulary travels as an asset) and the softmax happen in the graph.

    Args:
        model: a Keras model from token ids (batch, seq) to logits (batch, classes).
        vectorizer: the `TextVectorization` layer the model was trained with.
        class_names: names of the classes, in label order.
        export_dir: the model's base directory (TF Serving's `model_base_path`).
        version: the integer version (default: the next free one).

    Returns:
        The path of the written version directory.

    Example:

    >>> path = export_text_classifier(model, vectorizer, ["rotten", "fresh"],
    ...                               "saved_models/sentiment")  # doctest: +SKIP
    """
    if len(class_names) != model.output_shape[-1]:
        raise ValueError(f"`class_names` must name each of the model's {model.output_shape[-1]} "
                         f"classes. Received: {len(class_names)} names")
    path = _version_dir(export_dir, version)
    names = tf.constant(list(class_names))

    def serve(text):
        ids = vectorizer(text)  # (batch, seq) int64, 0 = padding
        logits = model(ids, training=False)
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        label = tf.argmax(probabilities, axis=-1)
        return {"probabilities": probabilities, "label": label,
                "class_name": tf.gather(names, label)}

    if not vectorizer.built:
        vectorizer(tf.constant([""]))  # an adapted TextVectorization is built by its first call
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(vectorizer)
    archive.add_endpoint("serving_default", serve,
                         input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    archive.write_out(path, verbose=False)
    return path
