"""Session fixtures: a tiny random BERT saved as a local keras-hub preset, its TF Hub export, and
a tiny random Hugging Face BERT checkpoint."""

import keras
import pytest

from seqmodels import transfer

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "good", "bad", "film", "plot",
              "great", "dull", "act", "##ing", "##s", "story", ",", ".", "!", "'", "s", "fun",
              "cafe", "the", "is", "not", "movie", "##y"]
SEQUENCE_LENGTH = 12
SENTENCES = ["A good film!", "dull acting, bad plot", "the story is fun", "Café plots",
             "not a great movie . the acting is dull , the plot is bad , the story is not fun",
             "", "unknown words zzz", "GOOD FILMS!!", "a bad, bad film", "great fun"]
LABELS = [1, 0, 1, 1, 0, 0, 0, 1, 0, 1]


@pytest.fixture(scope="session")
def tiny_preset(tmp_path_factory):
    """A 1-layer, width-8 BertBackbone with random weights and its preprocessor, as a preset."""
    return write_tiny_preset(str(tmp_path_factory.mktemp("transfer") / "tiny_bert"))


def write_tiny_preset(path):
    """Writes `tiny_preset` at `path` (also used outside pytest: tools/serving_check.py)."""
    import keras_hub

    keras.utils.set_random_seed(3)
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(VOCABULARY), num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=32)
    backbone.save_to_preset(path)
    keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=32).save_to_preset(
        path)
    return path


@pytest.fixture(scope="session")
def tiny_hub(tiny_preset, tmp_path_factory):
    """The tiny preset exported as a TF Hub text encoder + preprocessor pair."""
    path = str(tmp_path_factory.mktemp("transfer") / "tiny_hub")
    transfer.export_text_encoder(tiny_preset, path, sequence_length=SEQUENCE_LENGTH)
    return path


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory):
    """A random Hugging Face `BertModel` checkpoint (tests/models/bert_checkpoints.py), written
    once for test_hf_backbone.py, test_lora.py and test_int8.py, which only read it."""
    from tests.models.bert_checkpoints import write_tiny_bert

    _, path = write_tiny_bert(str(tmp_path_factory.mktemp("hf") / "tiny_bert"))
    return path
