"""TF Serving's side files: the warmup requests of a version and the server's `models.config`."""

import os

import numpy as np
import tensorflow as tf

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
MODELS_CONFIG = "models.config"


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


def write_warmup(version_dir, model_name, inputs, signature_name="serving_default"):
    """Writes `assets.extra/tf_serving_warmup_requests`: one `PredictionLog` with `inputs`.

    TF Serving replays these requests when it loads the version, so the first real request does
    not pay for graph initialisation.

    Returns:
        The path of the written file.

    Example:

    >>> import os, tempfile
    >>> import numpy as np
    >>> version_dir = os.path.join(tempfile.mkdtemp(), "sentiment", "1")
    >>> write_warmup(version_dir, "sentiment", {"text": np.array([b"good"], object)})
    '.../sentiment/1/assets.extra/tf_serving_warmup_requests'
    """
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(version_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(
        request=predict_request(model_name, inputs, signature_name)))
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(log.SerializeToString())
    return path


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


def write_models_config(export_dir, model_name=None):
    """Writes `export_dir/models.config` for `tensorflow_model_server --model_config_file`.

    The text proto (`ModelServerConfig`) names one model, `model_name` (default: the base name of
    `export_dir`), served from the absolute `export_dir` (TF Serving loads the highest numeric
    version under it).

    Returns:
        The path of the written file.

    Example:

    >>> import os, tempfile
    >>> export_dir = os.path.join(tempfile.mkdtemp(), "sentiment")
    >>> os.makedirs(os.path.join(export_dir, "1"))
    >>> write_models_config(export_dir)
    '.../sentiment/models.config'
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    base_path = os.path.abspath(export_dir)
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name or os.path.basename(os.path.normpath(base_path))
    model.base_path = base_path
    model.model_platform = "tensorflow"
    path = os.path.join(base_path, MODELS_CONFIG)
    with open(path, "w") as f:
        f.write(text_format.MessageToString(config))
    return path

