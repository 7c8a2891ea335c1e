"""Tiny random Hugging Face BERT checkpoints written with `transformers`, for parity tests."""

import json
import os

WORDS = ["a", "good", "bad", "film", "plot", "great", "dull", "act", "the", "story", "is", "not",
         "movie", "fun", "cafe", "naive", ",", ".", "!", "'", "s", "it", "too", "long", "##s",
         "##ing", "##y", "##ly"]
VOCABULARY = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
              + [f"[unused{i}]" for i in range(100 - 5 - len(WORDS))])  # 100 ids
CONFIG = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              vocab_size=len(VOCABULARY))


def write_tiny_bert(directory, weights="safetensors", task_head=False, seed=0, scale=0.3):
    """Saves a random `BertModel` (or `BertForSequenceClassification`) and its `vocab.txt`.

    Every parameter (layer norms and biases too) is drawn from N(0, `scale`): BERT's own
    initialisation (std 0.02, unit norms, zero biases) makes a small model nearly linear, where
    a wrong transpose or the tanh GELU would hide under 1e-4.

    Args:
        directory: where to write `config.json`, the weights and `vocab.txt`.
        weights: `"safetensors"` (`save_pretrained`) or `"bin"` (`pytorch_model.bin` from
            `torch.save(state_dict)`, as checkpoints before safetensors shipped).
        task_head: save a `BertForSequenceClassification` (weights prefixed `bert.`, plus a
            classifier) instead of a `BertModel`.
        seed: the torch seed.
        scale: standard deviation of every parameter.

    Returns:
        The `transformers` model (eval mode) and the directory.
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.BertConfig(**CONFIG)
    cls = transformers.BertForSequenceClassification if task_head else transformers.BertModel
    model = cls(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, scale)
    os.makedirs(directory, exist_ok=True)
    if weights == "safetensors":
        model.save_pretrained(directory, safe_serialization=True)
    else:
        config.save_pretrained(directory)
        torch.save(model.state_dict(), os.path.join(directory, "pytorch_model.bin"))
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(token + "\n" for token in VOCABULARY))
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}, f)
    return model, directory
