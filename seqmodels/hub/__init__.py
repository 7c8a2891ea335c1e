"""TF Hub for Keras 3: `HubLayer` (load and fine-tune a SavedModel) and `export_reusable`.

`resolve_handle` turns a TF Hub / Kaggle Models handle into a local SavedModel directory.

TensorFlow backend only.
"""

from seqmodels.hub.export_reusable import export_reusable
from seqmodels.hub.handles import resolve_handle
from seqmodels.hub.hub_layer import HubLayer

__all__ = ["HubLayer", "export_reusable", "resolve_handle"]
