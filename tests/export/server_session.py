"""Runs a SavedModel version as TF Serving's server does, with TensorFlow alone (no seqmodels):
`tools/serving_check.py` uses it in the server's TensorFlow too.

`ServerSession` loads a version with the TF1 SavedModel loader (what the C++ server's
`SavedModelBundle` does) and feeds requests without Python's check of the placeholder's shape,
as the server feeds whatever tensor a request holds. `run_batched` merges requests the way the
server's batching does.
"""

import numpy as np
import tensorflow as tf


class ServerSession:
    """A version loaded as TF Serving's C++ server loads it, run as the server runs a request.

    `tf.compat.v1.saved_model.loader.load` restores the variables into a session graph and runs
    the table initialisers, as `SavedModelBundle` does. `run` feeds the signature's tensors by
    name through the session's own feed path, skipping `Session.run`'s Python check of the
    placeholder's static shape: the server does no such check, so a request of the wrong shape
    reaches the graph there.
    """

    def __init__(self, directory):
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"],
                                                               directory)

    def signatures(self):
        return sorted(self.meta_graph.signature_def)

    def run(self, signature_name, inputs):
        """`{output name: numpy array}` of the signature run on numpy `inputs`."""
        signature = self.meta_graph.signature_def[signature_name]
        feeds = {self.graph.get_tensor_by_name(signature.inputs[k].name).ref(): np.asarray(v)
                 for k, v in inputs.items()}
        names = sorted(signature.outputs)
        fetches = [self.graph.get_tensor_by_name(signature.outputs[k].name) for k in names]
        # Session._do_run: the feed path of Session.run after its static-shape check.
        values = self.session._do_run(None, [], fetches, feeds, None, None)
        return dict(zip(names, values))

    def close(self):
        self.session.close()


def run_batched(run, requests, allowed_batch_sizes):
    """Runs `requests` (`{name: array}` each) as one server-side batch; each one's outputs.

    As TF Serving's `BatchingSession`: inputs concatenated along the batch dimension, padded to
    the smallest allowed batch size with copies of the last request's first row, run once, and
    the outputs split back (the padding rows dropped).
    """
    sizes = [len(next(iter(r.values()))) for r in requests]
    total = sum(sizes)
    padded = min([b for b in allowed_batch_sizes if b >= total], default=total)
    merged = {}
    for name in requests[0]:
        parts = [np.asarray(r[name]) for r in requests]
        parts += [parts[-1][:1]] * (padded - total)
        merged[name] = np.concatenate(parts, axis=0)
    outputs = run(merged)
    results, start = [], 0
    for size in sizes:
        results.append({k: v[start:start + size] for k, v in outputs.items()})
        start += size
    return results
