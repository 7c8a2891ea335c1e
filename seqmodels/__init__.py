"""seqmodels: deep sequence modelling, transformers and transfer learning with Keras 3."""

__version__ = "0.1.0"
