"""TF Hub for Keras 3: `HubLayer` (load and fine-tune a SavedModel) and `export_reusable`.

TensorFlow backend only.
"""

from seqmodels.hub.export_reusable import export_reusable
from seqmodels.hub.hub_layer import HubLayer, resolve_handle

__all__ = ["HubLayer", "export_reusable", "resolve_handle"]
