"""How the models start their self-attention: smaller than Glorot.

The layers start every kernel with Glorot uniform over the kernel's real fans, as Keras does
(`keras.layers.EinsumDense` reads the fans from its equation: a (width, heads, key_dim) query
kernel has fan_in = width, fan_out = heads * key_dim). Before the attention's projections were
`EinsumDense`, its kernels were drawn by `add_weight` with the fans Keras gives a convolution
kernel of that shape, far larger ones: the query, key and value kernels started at
2 / (heads + key_dim) of Glorot's variance (1/18 at 4 heads of 32), the output kernel at
2 / (1 + heads). `Translator`, `Captioner`, `TextClassifier`, `Forecaster` and `MiniGPT` keep
a start that small on purpose, 1/18 for all four kernels of their self-attention; their
cross-attention and feed-forward layers keep Glorot (`VisionTransformer` keeps Glorot
throughout, as the ViT recipe does; not measured with this start). Measured with
`bench/quality.py --only translation` (seed 0, the `default` preset, 2 + 2 blocks of width 128):

| self-attention kernels | validation token accuracy | test BLEU greedy / beam 4 |
|---|---|---|
| Glorot (the layers' default; RESULTS.md had 7.7 / 9.3) | 0.417 | 7.8 / 9.3 |
| `small_attention_initializer()` (bench/RESULTS.md) | 0.437 | 9.8 / 11.0 |
| the old layer's convolution fans (1/18, output 2/5) | 0.435 | 9.3 / 10.6 |
| `TruncatedNormal(0.02)` (BERT's) | 0.432 | 9.1 / 10.6 |
| `TruncatedNormal(0.02)` on every block kernel, feed-forward too | 0.270 after 3 of 4 epochs | - |

and on the other benchmarks (seed 0), Glorot against `small_attention_initializer()`:
captioning exact-sequence accuracy 0.904 against 0.917, sunspots `Forecaster(transformer)` test
RMSE 17.9 against 12.8, Rotten Tomatoes `TextClassifier(transformer)` test accuracy 0.759
against 0.767, verses `MiniGPT` test perplexity 4.18 against 4.01.

Small query and key kernels make every position's attention nearly even at the start, and
small value and output kernels keep the attention's residual branch near zero, so that each
block starts close to its feed-forward net alone.
"""

import keras


def small_attention_initializer():
    """A new initializer for self-attention kernels: Glorot uniform at 1/18 of its variance.

    Uniform in [-limit, limit] with `limit = sqrt(6 / (fan_in + fan_out) / 18)`: at width 128
    (fans 128 and 128) a limit of 0.036 and a standard deviation of 0.021, against Glorot's
    0.153 and 0.088. Unseeded, like Keras' defaults: `keras.utils.set_random_seed` makes it
    reproducible, and the attention copies it per weight (`clone_initializer`), so its four
    kernels still differ.

    Example:

    >>> import numpy as np
    >>> from seqmodels.layers import MultiHeadSelfAttention
    >>> attention = MultiHeadSelfAttention(4, 32, kernel_initializer=small_attention_initializer())
    >>> attention.build((None, None, 128))
    >>> bool(np.abs(np.asarray(attention.query_dense.kernel)).max() <= 0.0361)
    True
    """
    return keras.initializers.VarianceScaling(scale=1 / 18, mode="fan_avg",
                                              distribution="uniform")
