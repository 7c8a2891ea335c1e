"""LiteRT (TensorFlow Lite) export of our classifiers: one `.tflite` file, builtin ops only.

`export_litert(model, path)` converts the model's forward pass (`model(inputs,
training=False)`) with TensorFlow's converter, allowing LiteRT's builtin ops only (no TF
Select / Flex kernels, which a phone's runtime lacks), and `litert_predict(path, inputs)` runs
the file with LiteRT's interpreter (`ai_edge_litert` when installed, else `tf.lite`; TF 2.21
still ships `tf.lite.Interpreter`, with a deprecation warning). What each classifier takes:

- `TextClassifier`: `token_ids` int32 `(batch, sequence_length)`, the ids its
  `TextVectorization` gives (0 = padding) -> logits. The vectorizer stays outside: string
  ops and lookup tables are not LiteRT builtins, so a mobile app tokenizes itself (the
  vocabulary is `vectorizer.get_vocabulary()`). The transformer converts for any batch; a
  recurrent encoder's time loop needs static shapes for its tensor lists: where the converter
  cannot have them with a dynamic batch, `export_litert` says so, and a fixed `batch_size`
  converts it.
- `VisionTransformer`, `CNNClassifier`: `images` float32 `(batch, height, width, channels)`
  in [0, 1] (the model's input; the TF Serving export decodes and scales bytes first) ->
  logits.

Other models with numeric inputs (a `BertEncoder` on its three id inputs, a `Forecaster`)
export the same way when the converter takes them; models with string inputs (a
`text_backbone_classifier`, which tokenizes inside) and graphs with ops outside the builtins
fail with `UnsupportedLiteRTModelError`, naming the ops. LoRA pairs are merged for the export.
"""

import os
import re
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf


class UnsupportedLiteRTModelError(ValueError):
    """The model cannot become a LiteRT model of builtin ops (string inputs, unsupported ops)."""


def _input_signature(model, batch_size):
    """One `tf.TensorSpec` per model input (a dict for dict inputs), the batch set."""
    from seqmodels.models import TextClassifier

    inputs = model.inputs if isinstance(model.inputs, (list, tuple)) else [model.inputs]
    if not inputs:
        raise UnsupportedLiteRTModelError(f"{model.name} has no symbolic inputs to convert "
                                          "(build it as a functional model).")
    strings = [x.name for x in inputs if "string" in str(x.dtype)]
    if strings:
        raise UnsupportedLiteRTModelError(
            f"{model.name} takes strings ({', '.join(strings)}), and LiteRT's builtin ops have "
            "no string ops or lookup tables: export a model on token ids instead (a "
            "TextClassifier, fed by its TextVectorization outside; for a "
            "text_backbone_classifier, its `encoder` on token_ids, segment_ids and "
            "padding_mask).")

    def spec(x, name):
        shape = [batch_size, *x.shape[1:]]
        if isinstance(model, TextClassifier) and len(shape) == 2 and shape[1] is None:
            shape[1] = model.sequence_length  # the vectorizer's output length
        return tf.TensorSpec(shape, x.dtype, name=name)

    structure = model.input  # a dict for dict inputs (a BertEncoder's)
    if isinstance(structure, dict):
        return [{key: spec(x, key) for key, x in structure.items()}]
    return [spec(x, x.name) for x in inputs]


def _convert(model, path, signature):
    """Keras' LiteRT exporter (SavedModel, then the converter), builtin ops only."""
    from tensorflow.lite.python.convert_phase import ConverterError

    try:
        model.export(path, format="litert", input_signature=signature, verbose=False,
                     target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
    except ConverterError as error:
        message = str(error)
        ops = sorted(set(re.findall(r"'(tf\.\w+)' op", message))
                     | {f"tf.{op.strip()}" for line in message.splitlines()
                        if line.startswith("TF Select ops:")
                        for op in line.split(":", 1)[1].split(",") if op.strip()})
        hint = ""
        if "TensorList" in message:
            hint = (" A recurrent layer's time loop (tensor lists) needs static shapes: pass "
                    "batch_size (e.g. batch_size=1).")
        first = next((line.strip() for line in message.splitlines() if "error" in line),
                     message.strip()[:300])
        raise UnsupportedLiteRTModelError(
            f"{model.name} does not convert to LiteRT builtin ops: "
            f"{', '.join(ops) or 'see the converter'} cannot be expressed in them.{hint} "
            f"The converter's first error: {first[:400]}") from error


def export_litert(model, path, *, batch_size=None):
    """Writes `model`'s forward pass as a LiteRT flatbuffer (`.tflite`) of builtin ops.

    The file's one signature (`serving_default`) takes the model's inputs (see the module
    docstring: token ids for a `TextClassifier`, [0, 1] float images for the image
    classifiers) and returns its outputs (logits, `output_0`). Weights are stored as float32
    (no converter quantization), so outputs equal Keras' up to float rounding (tested within
    1e-5). The file is written under a temporary name and renamed, so a reader never sees half
    of it. A model with LoRA layers is exported with each pair merged into its kernel.

    Args:
        model: a built functional `keras.Model` with numeric inputs (e.g. `TextClassifier`,
            `VisionTransformer`, `CNNClassifier`).
        path: the file to write; must end with `.tflite`.
        batch_size: a fixed batch, or None for any batch (the interpreter resizes the input;
            a recurrent encoder may need a fixed one, see above).

    Returns:
        The path written.

    Raises:
        UnsupportedLiteRTModelError: the model takes strings, or the converter cannot express
            it in builtin ops (the message names the ops).
        ValueError: a bad `path` or `batch_size`.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from seqmodels.models import CNNClassifier
    >>> model = CNNClassifier((8, 8, 1), 3, filters=(4,))
    >>> path = export_litert(model, os.path.join(tempfile.mkdtemp(), "cnn.tflite"))
    >>> images = np.random.default_rng(0).random((2, 8, 8, 1)).astype("float32")
    >>> bool(np.allclose(litert_predict(path, images), model(images), atol=1e-5))
    True
    """
    from seqmodels.transfer.lora import lora_merged

    if not isinstance(model, keras.Model) or not model.built:
        raise TypeError("`model` must be a built keras.Model. Received: "
                        f"{type(model).__name__}")
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must be a file name ending with .tflite. Received: {path!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(
            batch_size, bool) or batch_size < 1):
        raise ValueError(f"`batch_size` must be a positive integer or None. Received: "
                         f"batch_size={batch_size!r}")
    path = os.path.abspath(os.fspath(path))
    signature = _input_signature(model, batch_size)
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    # Beside `path`, so that the rename stays on one file system; removed whatever happens.
    with tempfile.TemporaryDirectory(prefix=".partial-litert-", dir=directory) as partial:
        with lora_merged(model):
            _convert(model, os.path.join(partial, "model.tflite"), signature)
        os.replace(os.path.join(partial, "model.tflite"), path)
    return path


def litert_interpreter(path, num_threads=None):
    """A LiteRT interpreter of `path`: `ai_edge_litert`'s when installed, else `tf.lite`'s.

    Tensors are allocated as calls need them (`litert_predict` runs the `serving_default`
    signature, resizing the batch), so one interpreter serves many calls.

    Args:
        path: a `.tflite` file.
        num_threads: CPU threads of its kernels (None: the interpreter's default).

    Example:

    >>> import os, tempfile
    >>> from seqmodels.models import CNNClassifier
    >>> path = export_litert(CNNClassifier((8, 8, 1), 3, filters=(4,)),
    ...                      os.path.join(tempfile.mkdtemp(), "cnn.tflite"))
    >>> litert_interpreter(path).get_signature_list()["serving_default"]
    {'inputs': ['images'], 'outputs': ['output_0']}
    """
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():  # tf.lite.Interpreter's deprecation notice
        warnings.simplefilter("ignore", UserWarning)
        return Interpreter(model_path=os.fspath(path), num_threads=num_threads)


def litert_predict(path_or_interpreter, inputs):
    """Runs a file written by `export_litert` (its `serving_default` signature) on `inputs`.

    Args:
        path_or_interpreter: the `.tflite` path, or an interpreter from `litert_interpreter`
            (reused: no reload per call).
        inputs: one array for a one-input model, or a dict of arrays by input name.

    Returns:
        The output array of a one-output model, else a dict of arrays by output name.

    Example:

    A text classifier on token ids (its vectorizer runs outside LiteRT):

    >>> import os, tempfile
    >>> from seqmodels.models import TextClassifier
    >>> model = TextClassifier(vocab_size=20, num_classes=2, sequence_length=6, hidden_dim=8,
    ...                        num_heads=2, intermediate_dim=16)
    >>> path = export_litert(model, os.path.join(tempfile.mkdtemp(), "text.tflite"))
    >>> ids = np.array([[4, 7, 2, 0, 0, 0], [5, 0, 0, 0, 0, 0]], "int32")
    >>> litert_predict(path, ids).shape
    (2, 2)
    >>> bool(np.allclose(litert_predict(path, {"token_ids": ids}), model(ids), atol=1e-5))
    True
    """
    interpreter = path_or_interpreter
    if isinstance(interpreter, (str, os.PathLike)):
        interpreter = litert_interpreter(interpreter)
    runner = interpreter.get_signature_runner()
    names = interpreter.get_signature_list()["serving_default"]["inputs"]
    if not isinstance(inputs, dict):
        if len(names) != 1:
            raise ValueError(f"The LiteRT model takes {len(names)} inputs ({', '.join(names)}): "
                             "pass a dict by name. Received: one array")
        inputs = {names[0]: inputs}
    details = runner.get_input_details()
    unknown = [name for name in inputs if name not in details]
    if unknown:
        raise ValueError(f"The LiteRT model's inputs are {', '.join(names)}. Received: "
                         f"{sorted(inputs)}")
    arrays = {name: np.asarray(value, details[name]["dtype"]) for name, value in inputs.items()}
    for name, array in arrays.items():
        expected = [int(d) for d in details[name]["shape_signature"]]  # -1: any size
        if len(expected) != array.ndim or any(e not in (-1, a)
                                              for e, a in zip(expected, array.shape)):
            raise ValueError(f"The LiteRT model's `{name}` has shape {expected} (-1: any size; "
                             f"export_litert fixed the others). Received: {array.shape}")
    outputs = runner(**arrays)
    return next(iter(outputs.values())) if len(outputs) == 1 else outputs
