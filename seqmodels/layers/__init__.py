"""Keras 3 layers written from scratch with `keras.ops` only (they run on TF, JAX and torch)."""

from seqmodels.layers.gru import GRU, GRUCell
from seqmodels.layers.hashed_dropout import HashedDropout
from seqmodels.layers.lstm import LSTM, LSTMCell
from seqmodels.layers.multi_head_self_attention import MultiHeadSelfAttention
from seqmodels.layers.patch_encoder import PatchEncoder
from seqmodels.layers.positional_embedding import PositionalEmbedding
from seqmodels.layers.recurrent_cell import RecurrentCell
from seqmodels.layers.rnn import RNN
from seqmodels.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from seqmodels.layers.transformer_decoder_block import TransformerDecoderBlock
from seqmodels.layers.transformer_encoder_block import TransformerEncoderBlock
