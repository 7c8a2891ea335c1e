"""Runs exports as TF Serving would, in a process that cannot import seqmodels.

Usage: `python fresh_process.py plan.json results.json`. The plan lists, per case, a version
directory, a signature and its inputs (JSON; strings base64). For each case this script builds a
`tensorflow_serving.apis.predict_pb2.PredictRequest` with `tf.make_tensor_proto`, serialises and
parses it, converts its tensors with `tf.make_ndarray`, runs the signature of the SavedModel loaded
with `tf.saved_model.load`, and packs the outputs into a `PredictResponse` (serialised and parsed
again). It also replays each export's warmup file and records the signatures' input and output
specs. Importing seqmodels raises here, and the results say whether it was ever imported.
"""

import base64
import json
import os
import sys
import time


class _NoSeqmodels:
    """A meta-path finder that refuses seqmodels: the exports must not need our code."""

    def find_spec(self, name, path=None, target=None):
        if name == "seqmodels" or name.startswith("seqmodels."):
            raise ImportError(f"{name} must not be imported by a serving process")
        return None


sys.meta_path.insert(0, _NoSeqmodels())
# Nothing of the repository on the path either (python puts the script's folder first).
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _ours(entry):
    return os.path.abspath(entry or os.getcwd()) in (REPO, HERE, os.path.dirname(HERE))


sys.path[:] = [p for p in sys.path if not _ours(p)]

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2  # noqa: E402


def _decode(value):
    if value["dtype"] == "string":
        return np.array([base64.b64decode(v) for v in value["b64"]], object)
    return np.array(value["value"], value["dtype"])


def _encode(array):
    if array.dtype == object:
        return {"dtype": "string", "b64": [base64.b64encode(v).decode() for v in array.ravel()],
                "shape": list(array.shape)}
    return {"dtype": str(array.dtype), "value": array.tolist(), "shape": list(array.shape)}


def predict(signature, model_name, signature_name, inputs):
    """PredictRequest in, PredictResponse out, through the wire format both ways."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    feeds = {name: tf.constant(tf.make_ndarray(proto)) for name, proto in request.inputs.items()}
    outputs = signature(**feeds)
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
    response = predict_pb2.PredictResponse.FromString(response.SerializeToString())
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def run_like_tf_serving(directory, request):
    """Loads `directory` with the TF1 SavedModel loader (the C++ loader TF Serving uses works
    the same way: restore the variables into a session graph) and runs `request` through the
    signature's tensor names."""
    with tf.compat.v1.Session(graph=tf.Graph()) as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], directory)
        signature = meta_graph.signature_def[request.model_spec.signature_name
                                             or "serving_default"]
        feeds = {signature.inputs[k].name: tf.make_ndarray(v) for k, v in request.inputs.items()}
        names = sorted(signature.outputs)
        values = session.run([signature.outputs[k].name for k in names], feeds)
    return dict(zip(names, values))


def _spec(spec):
    return {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}


def main(plan_path, results_path):
    with open(plan_path) as f:
        plan = json.load(f)
    loaded, results = {}, {"cases": {}, "signatures": {}, "warmup": {}, "load_seconds": {}}
    for case, spec in plan.items():
        directory = spec["dir"]
        if directory not in loaded:
            start = time.time()
            loaded[directory] = tf.saved_model.load(directory)
            results["load_seconds"][directory] = time.time() - start
            signatures = loaded[directory].signatures
            results["signatures"][directory] = {
                name: {"inputs": {k: _spec(v) for k, v in
                                  fn.structured_input_signature[1].items()},
                       "outputs": {k: _spec(v) for k, v in fn.structured_outputs.items()}}
                for name, fn in signatures.items()}
            warmup = []
            path = os.path.join(directory, "assets.extra", "tf_serving_warmup_requests")
            for record in tf.data.TFRecordDataset(path):
                log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
                request = log.predict_log.request
                fn = signatures[request.model_spec.signature_name or "serving_default"]
                out = fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
                warmup.append({"model_name": request.model_spec.name,
                               "signature_name": request.model_spec.signature_name,
                               "outputs": {k: _encode(v.numpy()) for k, v in out.items()}})
            results["warmup"][directory] = warmup
            results.setdefault("session_warmup", {})[directory] = [
                {k: _encode(np.asarray(v)) for k, v in run_like_tf_serving(
                    directory, log.predict_log.request).items()}
                for record in tf.data.TFRecordDataset(path)
                for log in [prediction_log_pb2.PredictionLog.FromString(record.numpy())]]
        signature = loaded[directory].signatures[spec["signature"]]
        inputs = {name: _decode(value) for name, value in spec["inputs"].items()}
        outputs = predict(signature, os.path.basename(os.path.dirname(directory)),
                          spec["signature"], inputs)
        results["cases"][case] = {name: _encode(value) for name, value in outputs.items()}
    results["repo_on_path"] = any(_ours(p) for p in sys.path)
    results["seqmodels_imported"] = any(m == "seqmodels" or m.startswith("seqmodels.")
                                        for m in sys.modules)
    with open(results_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
