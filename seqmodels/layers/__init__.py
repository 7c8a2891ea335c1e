"""Keras 3 layers written from scratch with `keras.ops` only (they run on TF, JAX and torch)."""
