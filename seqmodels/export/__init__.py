"""Exports for TF Serving: raw inputs in, named outputs out, versioned directories.

`export_for_serving(model, export_dir, ...)` handles every model of `seqmodels.models`; see its
docstring for the signatures of each kind. `export_litert(model, path)` writes a LiteRT
(`.tflite`) file of builtin ops for on-device inference (token ids or float images in).
"""

from seqmodels.export.litert import (UnsupportedLiteRTModelError, export_litert,
                                     litert_interpreter, litert_predict)
from seqmodels.export.serving import export_for_serving, next_version
from seqmodels.export.tf_serving import (predict_request, read_warmup, run_predict_request,
                                         write_models_config, write_warmup)
