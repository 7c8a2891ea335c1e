"""Mini-GPT: a causal transformer language model with cached generation."""

import keras
import numpy as np
import tensorflow as tf

from seqmodels.decoding import check_sampling_arguments, compiled, generate, seed_key
from seqmodels.layers.hashed_dropout import HashedDropout
from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from seqmodels.models.arguments import check_positive_integers
from seqmodels.models.initializers import small_attention_initializer


@keras.saving.register_keras_serializable(package="seqmodels")
class MiniGPT(keras.Model):
    """A decoder-only transformer that predicts each next token: a small GPT.

    A functional model: `token_ids` (batch, seq) int → logits (batch, seq, vocab_size), position
    t predicting token t + 1. Token + learned position embeddings, `num_layers` pre-norm causal
    decoder blocks (no cross-attention; their self-attention starts at 1/18 of Glorot's variance,
    `seqmodels.models.initializers`), a final layer norm and a linear head. `generate` extends
    prompts token by token, by default with a key/value cache so that each new token costs one
    position's work instead of re-running the whole prefix.

    Args:
        vocab_size: number of token ids.
        max_length: longest sequence (prompt + generated tokens).
        hidden_dim: model width.
        num_layers: decoder blocks.
        num_heads: attention heads.
        intermediate_dim: feed-forward width.
        dropout: dropout rate.
        **kwargs: passed to `keras.Model`.

    Example:

    >>> gpt = MiniGPT(vocab_size=50, max_length=16, hidden_dim=16, num_heads=2,
    ...               intermediate_dim=32)
    >>> gpt.generate(np.array([[3, 4]]), max_new_tokens=5).shape
    (1, 7)

    References:
        Radford et al., "Improving Language Understanding by Generative Pre-Training", 2018.
    """

    def __init__(self, vocab_size, max_length=128, hidden_dim=128, num_layers=2, num_heads=4,
                 intermediate_dim=512, dropout=0.1, **kwargs):
        check_positive_integers(vocab_size=vocab_size, max_length=max_length,
                                hidden_dim=hidden_dim, num_layers=num_layers, num_heads=num_heads,
                                intermediate_dim=intermediate_dim)
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        embedding = PositionalEmbedding(kind="learned", max_length=max_length,
                                        vocab_size=vocab_size, output_dim=hidden_dim,
                                        name="embedding")
        blocks = [TransformerDecoderBlock(
            num_heads, intermediate_dim, dropout=dropout, activation="gelu", norm_first=True,
            cross_attention=False, attention_kernel_initializer=small_attention_initializer(),
            name=f"decoder_block_{i}")
            for i in range(num_layers)]
        final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
        head = keras.layers.Dense(vocab_size, name="lm_head")
        x = HashedDropout(dropout)(embedding(token_ids))
        for block in blocks:
            x = block(x)
        logits = head(final_norm(x))
        super().__init__(inputs=token_ids, outputs=logits, **kwargs)
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.embedding, self.blocks, self.final_norm, self.head = embedding, blocks, final_norm, head

    def empty_cache(self, batch_size):
        """Zeroed key/value caches: (num_layers, batch, 2, max_length, heads, head_dim)."""
        head_dim = self.hidden_dim // self.num_heads
        return keras.ops.zeros((self.num_layers, batch_size, 2, self.max_length, self.num_heads,
                                head_dim), dtype=self.compute_dtype)

    def call_with_cache(self, token_ids, cache, index):
        """Logits of `token_ids` placed at positions `index`.., reading and updating `cache`.

        `cache=None` computes the sequence without one (the plain call; `index` must be 0).

        Returns:
            `(logits (batch, seq, vocab), new_cache)` (`new_cache` None without a cache).
        """
        if cache is None:
            return self(token_ids, training=False), None
        x = self.embedding(token_ids, start_index=index)
        new_caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block(x, self_attention_cache=cache[i],
                                   self_attention_cache_update_index=index)
            new_caches.append(layer_cache)
        return self.head(self.final_norm(x)), keras.ops.stack(new_caches)

    def generate(self, prompt_ids, max_new_tokens, strategy="greedy", temperature=1.0,
                 top_k=40, top_p=0.9, seed=None, use_cache=True, end_id=None):
        """Extends each prompt by up to `max_new_tokens` tokens.

        `seqmodels.decoding.generate` over `call_with_cache`, the whole loop one compiled
        TensorFlow graph (traced once per setting), the one the serving signature runs.

        Args:
            prompt_ids: (batch, prompt_length) int token ids (all prompts the same length).
            max_new_tokens: tokens to add (prompt + new must fit `max_length`).
            strategy, temperature, top_k, top_p: see `seqmodels.decoding.next_token`.
            seed: seeds the sampling (an int; None: a random seed): the key
                `seqmodels.decoding.seed_key(seed)`, as the `serving_sample` signature's
                `seed` input, so one prompt and seed draw the same tokens there.
            use_cache: reuse keys and values of the prefix (False recomputes it every step;
                both give the same tokens).
            end_id: stop a row once it produced this id (later positions repeat it).

        Returns:
            (batch, prompt_length + max_new_tokens) int token ids, prompts included.
        """
        tokens = np.asarray(prompt_ids, np.int64)
        if tokens.ndim != 2 or tokens.shape[1] < 1:
            raise ValueError("`prompt_ids` must be (batch, prompt_length >= 1). "
                             f"Received: shape {tokens.shape}")
        if tokens.shape[1] + max_new_tokens > self.max_length:
            raise ValueError(
                f"A prompt of {tokens.shape[1]} tokens plus max_new_tokens={max_new_tokens} "
                f"exceeds max_length={self.max_length}.")
        check_sampling_arguments(strategy, temperature, top_k, top_p, self.vocab_size)

        def extend(prompt_ids, max_new_tokens, seed):
            cache = self.empty_cache(tf.shape(prompt_ids)[0]) if use_cache else None
            return generate(self.call_with_cache, prompt_ids, max_new_tokens, cache, strategy,
                            temperature, top_k, top_p, seed, end_id)

        sampling = () if strategy == "greedy" else (temperature, top_k, top_p)
        function = compiled(self, ("generate", strategy, *sampling, use_cache, end_id), extend,
                            [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([], tf.int32),
                             tf.TensorSpec([2], tf.int64)])
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2 ** 31 - 1))
        seed = seed_key(seed)
        return np.asarray(function(tokens.astype(np.int32), np.int32(max_new_tokens), seed),
                          np.int64)

    def get_config(self):
        # Not chained to super: a functional model's config is its graph, not these arguments.
        return {"name": self.name, "trainable": self.trainable, "vocab_size": self.vocab_size,
                "max_length": self.max_length, "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
