"""Cuts a batch of padded token inputs to its longest sequence."""

import keras


@keras.saving.register_keras_serializable(package="seqmodels")
class TrimPadding(keras.layers.Layer):
    """Cuts every tensor of a dict of `(batch, length)` encoder inputs to the batch's longest row.

    Text preprocessors pad every text to a fixed `sequence_length`; an encoder that masks the
    padding computes the same outputs at the real tokens whatever the number of padding columns
    (up to float rounding), so dropping the columns that no text of the batch uses saves their
    work. Batches of texts of similar length (e.g. `tf.data.Dataset.bucket_by_sequence_length`)
    gain the most. Nothing real is dropped: only columns where every row's mask is 0, and
    padding must come after the tokens (as every keras-hub and TF Hub preprocessor pads).

    Args:
        mask_key: the key of the padding mask (1 or True at real tokens), e.g. `"padding_mask"`
            (keras-hub) or `"input_mask"` (TF Hub text encoders).
        **kwargs: base layer arguments.

    Call arguments:
        inputs: a dict of `(batch, length)` tensors that includes `mask_key`.

    Returns:
        The same dict with every tensor cut to `(batch, longest)`, `longest` the largest number
        of real tokens in a row (at least 1).

    Example:

    >>> import numpy as np
    >>> trim = TrimPadding("input_mask")
    >>> out = trim({"input_word_ids": np.array([[2, 7, 3, 0, 0], [2, 3, 0, 0, 0]]),
    ...             "input_mask": np.array([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0]])})
    >>> keras.ops.convert_to_numpy(out["input_word_ids"]).tolist()
    [[2, 7, 3], [2, 3, 0]]
    """

    def __init__(self, mask_key, **kwargs):
        if not isinstance(mask_key, str) or not mask_key:
            raise ValueError(f"`mask_key` must be a non-empty string. Received: "
                             f"mask_key={mask_key!r}")
        super().__init__(**kwargs)
        self.mask_key = mask_key

    def _check(self, inputs):
        if not isinstance(inputs, dict) or self.mask_key not in inputs:
            keys = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"TrimPadding needs a dict of inputs with the padding mask "
                             f"{self.mask_key!r}. Received: {keys}")

    def call(self, inputs):
        self._check(inputs)
        lengths = keras.ops.sum(keras.ops.cast(inputs[self.mask_key], "int32"), axis=1)
        longest = keras.ops.max(lengths, initial=1)  # 1 for an empty batch
        return {key: keras.ops.convert_to_tensor(value)[:, :longest]  # (batch, longest)
                for key, value in inputs.items()}

    def compute_output_spec(self, inputs):
        self._check(inputs)
        return {key: keras.KerasTensor((value.shape[0], None), dtype=value.dtype)
                for key, value in inputs.items()}

    def get_config(self):
        return {**super().get_config(), "mask_key": self.mask_key}
