"""Do our exports load and run in the TensorFlow that TF Serving's server links?

`make serving-check` runs this script twice:

1. `python tools/serving_check.py export DIR` with this checkout's environment: one tiny export
   of every model kind (tests/export/kinds.py, the BERT classifier with TF Text ops included),
   written under DIR, and `DIR/expected.json`: each export's cases (the tests' inputs and its
   warmup requests) with the outputs that the exporting process computes, run through the TF1
   session loader as the server runs them.
2. `.venv-serving/bin/python tools/serving_check.py check DIR` in the second environment, with
   the TensorFlow and TF Text of the newest TF Serving release (Makefile: TF_SERVING_VERSION).
   It does not import seqmodels (nor could it: not installed there). For each export it
   lists every op and attribute of its graph and functions that this TensorFlow does not know
   (reported by name: the server would refuse to load the version), loads it with `tf.compat.v1.saved_model.loader.load` in a
   `tf.compat.v1.Session` (as the C++ server's `SavedModelBundle` does), replays its warmup
   file and the cases, and compares the outputs (<= 1e-6; strings and labels exactly). It also
   sends one request of the wrong shape, which must fail naming the input.

Exit status 0 when every export loads and matches; the report goes to stdout and
DIR/report.json.
"""

import base64
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.export.server_session import ServerSession  # noqa: E402  (TensorFlow only)

TOLERANCE = 1e-6


def _encode(array):
    import numpy as np

    array = np.asarray(array)
    if array.dtype == object:
        return {"dtype": "string", "shape": list(array.shape),
                "b64": [base64.b64encode(v).decode() for v in array.ravel()]}
    return {"dtype": str(array.dtype), "shape": list(array.shape), "value": array.tolist()}


def _decode(value):
    import numpy as np

    if value["dtype"] == "string":
        flat = [base64.b64decode(v) for v in value["b64"]]
        return np.array(flat, object).reshape(value.get("shape", [len(flat)]))
    return np.array(value["value"], value["dtype"])


def _warmup_requests(directory):
    """`(signature_name, {input: numpy array})` of each record of the version's warmup file."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(directory, "assets.extra", "tf_serving_warmup_requests")
    requests = []
    for record in tf.data.TFRecordDataset(path):
        request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        requests.append((request.model_spec.signature_name or "serving_default",
                         {k: tf.make_ndarray(v) for k, v in request.inputs.items()}))
    return requests


def export(root):
    """Step 1 (this checkout's TensorFlow): the exports and their expected outputs."""
    import pathlib

    import tensorflow as tf

    from tests.export import kinds
    from tests.transfer.conftest import write_tiny_preset

    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    dirs, plan, _, _ = kinds.export_every_kind(root)
    bert_dir, plan["bert"], _ = kinds.export_bert_classifier(
        write_tiny_preset(str(root / "tiny_bert_preset")), root)
    dirs["bert"] = bert_dir
    expected = {}
    for kind, directory in dirs.items():
        session = ServerSession(directory)
        cases = [(f"warmup[{i}]", name, inputs)
                 for i, (name, inputs) in enumerate(_warmup_requests(directory))]
        cases += [(case, spec["signature"], {k: kinds.decode(v) for k, v in
                                             spec["inputs"].items()})
                  for case, spec in plan.items() if spec["dir"] == directory]
        expected[kind] = {"dir": directory, "tensorflow": tf.__version__, "cases": [
            {"case": case, "signature": name, "inputs": {k: _encode(v) for k, v in inputs.items()},
             "outputs": {k: _encode(v) for k, v in session.run(name, inputs).items()}}
            for case, name, inputs in cases]}
        session.close()
    with open(root / "expected.json", "w") as f:
        json.dump(expected, f)
    print(f"exported {len(dirs)} kinds with TensorFlow {tf.__version__} under {root}")


def unknown_ops_and_attributes(directory):
    """Ops, and attributes of known ops, in the SavedModel that this TensorFlow lacks."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    with open(os.path.join(directory, "saved_model.pb"), "rb") as f:
        saved_model = saved_model_pb2.SavedModel.FromString(f.read())
    ops, attributes = set(), set()
    for graph in saved_model.meta_graphs:
        nodes = list(graph.graph_def.node)
        for function in graph.graph_def.library.function:
            nodes.extend(function.node_def)
        for node in nodes:
            op_def = op_def_registry.get(node.op)
            if op_def is None:
                if node.op not in {f.signature.name for f in graph.graph_def.library.function}:
                    ops.add(node.op)
                continue
            known = {a.name for a in op_def.attr}
            attributes.update(f"{node.op}.{a}" for a in node.attr
                              if a not in known and not a.startswith("_"))
    return sorted(ops), sorted(attributes)


def _compare(expected, received):
    import numpy as np

    problems = []
    if sorted(expected) != sorted(received):
        return [f"outputs {sorted(received)}, expected {sorted(expected)}"]
    for name, value in expected.items():
        want, got = _decode(value), np.asarray(received[name])
        if want.shape != got.shape:
            problems.append(f"{name}: shape {got.shape}, expected {want.shape}")
        elif want.dtype == object or np.issubdtype(want.dtype, np.integer):
            if not np.array_equal(want, got):
                problems.append(f"{name}: {got.ravel()[:4]} ..., expected {want.ravel()[:4]} ...")
        elif got.size and np.max(np.abs(got - want)) > TOLERANCE:
            problems.append(f"{name}: differs by {np.max(np.abs(got - want)):.3g} > {TOLERANCE}")
    return problems


def check(root):
    """Step 2 (the server's TensorFlow): load, replay, compare; the report."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (TF Serving links TF Text's ops into its server)

    if any(m == "seqmodels" or m.startswith("seqmodels.") for m in sys.modules):
        raise RuntimeError("the check must run without seqmodels")
    with open(os.path.join(root, "expected.json")) as f:
        expected = json.load(f)
    report = {"tensorflow": tf.__version__, "tensorflow_text": tensorflow_text.__version__,
              "kinds": {}}
    failed = False
    for kind, spec in expected.items():
        ops, attributes = unknown_ops_and_attributes(spec["dir"])
        entry = {"exported_with": spec["tensorflow"], "missing_ops": ops,
                 "missing_attributes": attributes, "cases": {}, "error": None}
        try:
            session = ServerSession(spec["dir"])
        except Exception as error:  # the server would refuse the version: say why
            entry["error"] = f"load: {type(error).__name__}: {str(error).splitlines()[0]}"
        else:
            for case in spec["cases"]:
                try:
                    outputs = session.run(case["signature"], {
                        k: _decode(v) for k, v in case["inputs"].items()})
                    problems = _compare(case["outputs"], outputs)
                except Exception as error:
                    problems = [f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"]
                entry["cases"][case["case"]] = problems or "ok"
            signature = session.meta_graph.signature_def["serving_default"]
            name = sorted(signature.inputs)[0]
            wrong = np.zeros([1] * (len(signature.inputs[name].tensor_shape.dim) + 1),
                             np.float32 if signature.inputs[name].dtype == 1 else object)
            if wrong.dtype == object:
                wrong[...] = b"x"
            try:
                session.run("serving_default", {name: wrong})
                entry["wrong_shape"] = "not refused"
            except tf.errors.InvalidArgumentError as error:
                named = f"`{name}` must have shape" in str(error)
                entry["wrong_shape"] = "refused, naming the input" if named else \
                    f"refused without naming it: {str(error).splitlines()[0][:200]}"
            session.close()
        bad = (ops or attributes or entry["error"] or entry.get("wrong_shape") !=
               "refused, naming the input" or any(v != "ok" for v in entry["cases"].values()))
        failed |= bool(bad)
        report["kinds"][kind] = entry
        print(f"{kind:10s} {'FAIL' if bad else 'ok'}: {len(entry['cases'])} cases, "
              f"missing ops {ops or 'none'}, missing attributes {attributes or 'none'}"
              + (f", {entry['error']}" if entry["error"] else "")
              + "".join(f"\n    {case}: {p}" for case, p in entry["cases"].items() if p != "ok")
              + (f"\n    wrong shape: {entry['wrong_shape']}"
                 if entry.get("wrong_shape", "refused, naming the input")
                 != "refused, naming the input" else ""))
    with open(os.path.join(root, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    print(f"TensorFlow {report['tensorflow']}, TF Text {report['tensorflow_text']}: "
          f"{'FAILED' if failed else 'every export loads and matches'} "
          f"({len(expected)} kinds)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("export", "check"):
        sys.exit("usage: serving_check.py export|check DIR")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if sys.argv[1] == "export":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        export(sys.argv[2])
    else:
        sys.exit(check(sys.argv[2]))
