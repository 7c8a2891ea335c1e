"""Decoding: beam search (greedy is width 1), sampling and cached generation, written once.

TensorFlow-side code, like `seqmodels.export`: every function is TensorFlow ops and runs
eagerly or inside a `tf.function`. The serving signatures call these functions in their graphs;
`Translator.translate`, `Captioner.caption` and `MiniGPT.generate` call the same functions,
compiled once per setting (`compiled`; `compiled_search`: one function for every beam width
>= 2, the width a tensor input), so a Python model and its export return the same
tokens. The models read through their public decoding methods: `encode` / `decode_step` /
`empty_cache` of the encoder-decoders, `call_with_cache` / `empty_cache` of MiniGPT. Being
TensorFlow ops, these methods need the TensorFlow backend (the models' layers themselves are
`keras.ops`). Every search reads a key/value cache: each step feeds the decoder one new token.

- `beam_search`: the search of the translator and the captioner (`beam_size=1`: greedy); it
  carries the decoder's cache and reorders it by parent beam.
- `cached_decoder_step`, `empty_decoder_cache`: one cached step of the encoder-decoders'
  transformer decoder, the full pass's logits (padding included); `encoder_decoder_search`
  runs `beam_search` over their `decode_step`, cached or not.
- `next_token`: greedy, temperature, top-k and top-p choice of one token from logits (all
  three at once: `"sample"`); `seed_key`: the stateless sampler's key of an integer seed.
- `generate`: a causal language model's token-by-token loop over `next_token`, with its
  key/value cache.
"""

from seqmodels.decoding.beam_search import beam_search, length_norms
from seqmodels.decoding.compiled import compiled, compiled_search
from seqmodels.decoding.decoder_cache import (cached_decoder_step, empty_decoder_cache,
                                              encoder_decoder_search)
from seqmodels.decoding.generation import generate
from seqmodels.decoding.sampling import (STRATEGIES, check_sampling_arguments, next_token,
                                        seed_key)
