"""TF Serving's side files: a version's warmup requests, the server's `models.config` and its
`batching_parameters.txt`.

The server reads `models.config` at start-up and, with `--model_config_file_poll_wait_seconds`,
again while it serves: both files are written to a temporary sibling and renamed over the old
one (`seqmodels.export.atomic`), so the server, or a crash, sees the old file or the new one.
"""

import os
import re

import numpy as np
import tensorflow as tf

from seqmodels.export.atomic import write_text_atomically

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG = "models.config"
BATCHING_PARAMETERS = "batching_parameters.txt"
# TF Serving refuses a version whose warmup file holds more records (WarmupConsts::
# kMaxNumRecords, tensorflow_serving/servables/tensorflow/saved_model_warmup_util.h).
MAX_WARMUP_RECORDS = 1000
# The batching defaults `--enable_batching --batching_parameters_file` starts from (TF Serving's
# advice for CPU servers: up to 32 requests merged, waiting at most 2 ms for a batch to fill).
# Every input of our signatures has a fixed shape after the batch dimension, so no padding.
BATCHING_DEFAULTS = {"max_batch_size": 32, "batch_timeout_micros": 2000,
                     "num_batch_threads": 4, "max_enqueued_batches": 100,
                     "allowed_batch_sizes": (1, 2, 4, 8, 16, 32),
                     "pad_variable_length_inputs": False}


def predict_request(model_name, inputs, signature_name="serving_default"):
    """A `tensorflow_serving.apis.predict_pb2.PredictRequest` of numpy `inputs`, as a client sends.

    Args:
        model_name: the served model's name.
        inputs: `{input name: array}` (object arrays of bytes for tf.string inputs).
        signature_name: the signature to call.

    Example:

    >>> request = predict_request("sentiment", {"text": np.array([b"good"], object)})
    >>> request.inputs["text"].string_val
    [b'good']
    """
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def run_predict_request(signature, request):
    """Runs a `PredictRequest` against a loaded signature as TF Serving does; a `PredictResponse`.

    The request's tensors are converted with `tf.make_ndarray`, fed by name, and every output is
    packed back with `tf.make_tensor_proto`.

    Example:

    A `tf.function` stands in for a loaded signature (`tf.saved_model.load(path).signatures[
    "serving_default"]`):

    >>> import numpy as np
    >>> import tensorflow as tf
    >>> @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    ... def serve(text):
    ...     return {"length": tf.strings.length(text)}
    >>> request = predict_request("sentiment", {"text": np.array([b"good", b"dull"], object)})
    >>> response = run_predict_request(serve, request)
    >>> tf.make_ndarray(response.outputs["length"])
    array([4, 4], dtype=int32)
    """
    from tensorflow_serving.apis import predict_pb2

    feeds = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    outputs = signature(**feeds)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response


def write_warmup(version_dir, model_name, requests):
    """Writes `assets.extra/tf_serving_warmup_requests`: one `PredictionLog` per request.

    TF Serving replays these requests when it loads the version, so the first real request does
    not pay for graph initialisation.

    Args:
        version_dir: the version directory (its `saved_model.pb`, if already written, must have
            each named signature).
        model_name: the served model's name.
        requests: `(signature_name, inputs)` pairs, one record each, or one `inputs` dict (a
            `serving_default` request). At most `MAX_WARMUP_RECORDS` (TF Serving's limit).

    Returns:
        The path of the written file.

    Raises:
        ValueError: no request, more than the server's limit, or a signature the version lacks.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> version_dir = os.path.join(tempfile.mkdtemp(), "sentiment", "1")
    >>> write_warmup(version_dir, "sentiment", {"text": np.array([b"good"], object)})
    '.../sentiment/1/assets.extra/tf_serving_warmup_requests'
    """
    from tensorflow_serving.apis import prediction_log_pb2

    requests = check_warmup(requests, signature_names(version_dir))
    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(
                request=predict_request(model_name, inputs, signature_name)))
            writer.write(log.SerializeToString())
    return path


def check_warmup(requests, signatures=None):
    """Warmup `requests` as a list of `(signature_name, inputs)` pairs, checked.

    Args:
        requests: pairs, or one `inputs` dict (a `serving_default` request).
        signatures: the version's signature names (None: not checked).

    Raises:
        ValueError: no request, more than `MAX_WARMUP_RECORDS`, or a signature not in
            `signatures`.

    Example:

    >>> check_warmup({"text": np.array([b"good"], object)})[0][0]
    'serving_default'
    """
    if isinstance(requests, dict):
        requests = [("serving_default", requests)]
    requests = [(str(name), inputs) for name, inputs in requests]
    if not 1 <= len(requests) <= MAX_WARMUP_RECORDS:
        raise ValueError(f"`warmup` must hold 1 to {MAX_WARMUP_RECORDS} requests (TF Serving "
                         f"refuses a version with more). Received: {len(requests)} requests")
    for name, _ in requests:
        if signatures is not None and name not in signatures:
            raise ValueError(f"A warmup request names the signature {name!r}, which the export "
                             f"does not have. Its signatures: {sorted(signatures)}")
    return requests


def signature_names(version_dir):
    """The signature names in `version_dir/saved_model.pb` (None if it is not written yet)."""
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(version_dir, "saved_model.pb")
    if not os.path.exists(path):
        return None
    with open(path, "rb") as f:
        saved_model = saved_model_pb2.SavedModel.FromString(f.read())
    return {name for graph in saved_model.meta_graphs for name in graph.signature_def}


def read_warmup(version_dir):
    """The `PredictionLog` protos of a version's warmup file (a list).

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> version_dir = os.path.join(tempfile.mkdtemp(), "sentiment", "1")
    >>> _ = write_warmup(version_dir, "sentiment", {"text": np.array([b"good"], object)})
    >>> read_warmup(version_dir)[0].predict_log.request.model_spec.name
    'sentiment'
    """
    from tensorflow_serving.apis import prediction_log_pb2

    logs = []
    for record in tf.data.TFRecordDataset(os.path.join(version_dir, WARMUP_FILE)):
        logs.append(prediction_log_pb2.PredictionLog.FromString(record.numpy()))
    return logs


def write_models_config(export_dir, model_name=None, version_labels=None):
    """Writes `export_dir/models.config` for `tensorflow_model_server --model_config_file`.

    The text proto (`ModelServerConfig`) names one model, `model_name` (default: the base name of
    `export_dir`), served from the absolute `export_dir`. Without labels the server loads the
    highest numeric version under it. Labels (`stable`, `canary`: `version_labels`, merged
    into those the file already has for versions that still exist; a label given again moves)
    need their versions loaded, so the policy then lists them, and the highest version, as
    `specific` versions.

    Args:
        export_dir: the model's base path.
        model_name: the served name (default: the base name of `export_dir`).
        version_labels: `{label: version}` to add or move.

    Returns:
        The path of the written file.

    Raises:
        ValueError: a label that is not letters, digits, `_`, `.` or `-` (it is part of a
            REST path), or a version that is not under `export_dir`.

    Example:

    >>> import os, tempfile
    >>> export_dir = os.path.join(tempfile.mkdtemp(), "sentiment")
    >>> for version in ("1", "2"):
    ...     os.makedirs(os.path.join(export_dir, version))
    >>> write_models_config(export_dir, version_labels={"stable": 1, "canary": 2})
    '.../sentiment/models.config'
    >>> read_models_config(export_dir).model_config_list.config[0].version_labels["canary"]
    2
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    base_path = os.path.abspath(export_dir)
    versions = sorted(int(d) for d in os.listdir(base_path) if d.isdigit())
    labels = {}
    if os.path.exists(os.path.join(base_path, MODELS_CONFIG)):
        for old in read_models_config(base_path).model_config_list.config:
            labels.update({k: v for k, v in old.version_labels.items() if v in versions})
    for label, version in (version_labels or {}).items():
        label = check_version_label(label)
        if version not in versions:
            raise ValueError(f"Version label {label!r} names version {version!r}, which is "
                             f"not under {base_path}. Versions there: {versions}")
        labels[str(label)] = int(version)
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name or os.path.basename(os.path.normpath(base_path))
    model.base_path = base_path
    model.model_platform = "tensorflow"
    if labels:
        model.model_version_policy.specific.versions.extend(
            sorted(set(labels.values()) | set(versions[-1:])))
        for label in sorted(labels):
            model.version_labels[label] = labels[label]
    return write_text_atomically(os.path.join(base_path, MODELS_CONFIG),
                                 text_format.MessageToString(config))


def check_version_label(label):
    """`label` as a string, if TF Serving's REST paths (`/labels/<label>`) can name it.

    Raises:
        ValueError: a label that is not letters, digits, `_`, `.` or `-`.

    Example:

    >>> check_version_label("canary")
    'canary'
    """
    if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
        raise ValueError("A version label must be letters, digits, '_', '.' or '-' (it is part "
                         f"of REST paths). Received: {label!r}")
    return label


def read_models_config(export_dir):
    """`export_dir/models.config` parsed into a `ModelServerConfig`."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    with open(os.path.join(export_dir, MODELS_CONFIG)) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


def batching_parameters_message():
    """TF Serving's `BatchingParameters` message class (`--batching_parameters_file`).

    Its proto (tensorflow_serving/servables/tensorflow/session_bundle_config.proto) does not
    ship in `tensorflow-serving-api`, so the class is built here from the same field names,
    numbers and types.

    Example:

    >>> batching_parameters_message()(allowed_batch_sizes=[1, 2]).allowed_batch_sizes
    [1, 2]
    """
    from google.protobuf import (descriptor_pb2, descriptor_pool, message_factory,
                                 wrappers_pb2)

    proto = descriptor_pb2.FileDescriptorProto(
        name="tensorflow_serving/batching_parameters.proto", package="tensorflow.serving",
        syntax="proto3", dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for name, number, wrapper in (
            ("max_batch_size", 1, "Int64Value"), ("batch_timeout_micros", 2, "Int64Value"),
            ("max_enqueued_batches", 3, "Int64Value"), ("num_batch_threads", 4, "Int64Value"),
            ("thread_pool_name", 5, "StringValue"),
            ("enable_large_batch_splitting", 8, "BoolValue"),
            ("max_execution_batch_size", 9, "Int64Value")):
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE,
                          label=field.LABEL_OPTIONAL, type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, type=field.TYPE_INT64,
                      label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=field.TYPE_BOOL,
                      label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(descriptor_pb2.FileDescriptorProto.FromString(wrappers_pb2.DESCRIPTOR.serialized_pb))
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def write_batching_parameters(export_dir, **overrides):
    """Writes `export_dir/batching_parameters.txt` for `--enable_batching
    --batching_parameters_file`: `BATCHING_DEFAULTS` updated with `overrides`.

    With server-side batching, the server merges concurrent requests along the batch dimension
    and pads the merged batch to the next of `allowed_batch_sizes` (repeating a row), runs the
    signature once, and splits the outputs back. Our signatures give each row the same output
    alone or in a batch (tested), so batching changes latency and throughput, not answers.

    Args:
        export_dir: where `models.config` is.
        **overrides: `BATCHING_DEFAULTS` keys. A `max_batch_size` without
            `allowed_batch_sizes` gets the powers of two below it, and itself.

    Returns:
        The path of the written file.

    Raises:
        ValueError: an unknown key, a value below 1 (0 for the timeout), or
            `allowed_batch_sizes` that do not increase to `max_batch_size` (TF Serving's rule).

    Example:

    >>> import tempfile
    >>> path = write_batching_parameters(tempfile.mkdtemp(), max_batch_size=8)
    >>> print(open(path).read())  # doctest: +NORMALIZE_WHITESPACE
    max_batch_size { value: 8 } batch_timeout_micros { value: 2000 }
    max_enqueued_batches { value: 100 } num_batch_threads { value: 4 }
    allowed_batch_sizes: 1 allowed_batch_sizes: 2 allowed_batch_sizes: 4
    allowed_batch_sizes: 8
    """
    from google.protobuf import text_format

    return write_text_atomically(os.path.join(os.path.abspath(export_dir), BATCHING_PARAMETERS),
                                 text_format.MessageToString(batching_parameters(**overrides)))


def batching_parameters(**overrides):
    """The checked `BatchingParameters` message of `BATCHING_DEFAULTS` updated with `overrides`
    (see `write_batching_parameters`).

    Example:

    >>> batching_parameters(max_batch_size=4).allowed_batch_sizes
    [1, 2, 4]
    """
    unknown = sorted(set(overrides) - set(BATCHING_DEFAULTS))
    if unknown:
        raise ValueError(f"Unknown batching parameters {unknown}; known: "
                         f"{sorted(BATCHING_DEFAULTS)}")
    values = dict(BATCHING_DEFAULTS, **overrides)
    for name in ("max_batch_size", "batch_timeout_micros", "num_batch_threads",
                 "max_enqueued_batches"):
        least = 0 if name == "batch_timeout_micros" else 1
        if not isinstance(values[name], (int, np.integer)) or values[name] < least:
            raise ValueError(f"`{name}` must be an integer >= {least}. Received: "
                             f"{name}={values[name]!r}")
    size = int(values["max_batch_size"])
    if "max_batch_size" in overrides and "allowed_batch_sizes" not in overrides:
        values["allowed_batch_sizes"] = [2 ** i for i in range(size.bit_length())
                                         if 2 ** i < size] + [size]
    allowed = [int(b) for b in values["allowed_batch_sizes"]]
    if allowed and (allowed != sorted(set(allowed)) or allowed[0] < 1 or allowed[-1] != size):
        raise ValueError("`allowed_batch_sizes` must increase and end at `max_batch_size` "
                         f"({size}). Received: {allowed}")
    message = batching_parameters_message()(
        allowed_batch_sizes=allowed,
        pad_variable_length_inputs=bool(values["pad_variable_length_inputs"]))
    for name in ("max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
                 "num_batch_threads"):
        getattr(message, name).value = int(values[name])
    return message
