"""Times one BERT fine-tuning step of one implementation, alone in this process; prints JSON.

`bench/transfer.py --only bert_step_speed` runs this script once per implementation and round,
interleaved, each in a fresh process: TensorFlow and torch in one process distort each other
(each framework's idle threads spin while the other computes). The step is the issue's: token
ids (batch, length), every token real, segment 0; the encoder, a masked mean over the tokens,
a linear layer of 2 logits, cross-entropy, AdamW (3e-5, weight decay 0.01), dropout on.

Implementations: `seqmodels` (our `BertEncoder.from_pretrained`), `keras_hub`
(`BertBackbone.from_preset`), each also with `_xla` (`jit_compile=True`), `seqmodels_lora` (our
encoder with LoRA of rank `--lora_rank` on every attention and feed-forward projection and the
head whole, as `text_backbone_classifier(..., lora_rank=)` trains it; the pooler, unused, left
out), and
`torch` (`transformers.AutoModel` on PyTorch).

    .venv/bin/python bench/fine_tune_step.py --impl seqmodels --model_dir <HF checkpoint dir>
"""

import argparse
import json
import os
import sys
import time

IMPLEMENTATIONS = ("seqmodels", "seqmodels_xla", "seqmodels_lora", "keras_hub", "keras_hub_xla",
                   "torch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _batch(args, vocabulary_size):
    import numpy as np

    rng = np.random.default_rng(0)
    ids = rng.integers(1000 if vocabulary_size > 2000 else 5, vocabulary_size,
                       (args.batch, args.length)).astype("int32")
    ids[:, 0] = 101 if vocabulary_size > 2000 else 2  # [CLS]
    return ({"token_ids": ids, "segment_ids": np.zeros_like(ids),
             "padding_mask": np.ones_like(ids)},
            rng.integers(0, 2, (args.batch,)).astype("int32"))


def _keras_step(args):
    """A `train_on_batch` closure on our encoder or keras-hub's, with or without XLA."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if args.impl.startswith("seqmodels"):
        sys.path.insert(0, ROOT)
        from seqmodels.models import BertEncoder

        encoder = BertEncoder.from_pretrained(args.model_dir)
    else:
        import keras_hub

        encoder = keras_hub.models.BertBackbone.from_preset(args.model_dir)
    inputs = {name: keras.Input((None,), dtype="int32", name=name)
              for name in ("token_ids", "segment_ids", "padding_mask")}
    sequence = encoder(inputs)["sequence_output"]  # (batch, length, hidden)
    pooled = keras.layers.GlobalAveragePooling1D()(
        sequence, mask=keras.ops.cast(inputs["padding_mask"], "bool"))  # (batch, hidden)
    model = keras.Model(inputs, keras.layers.Dense(2, name="logits")(pooled))
    if args.impl == "seqmodels_lora":
        from seqmodels.transfer import enable_lora

        enable_lora(model, args.lora_rank, train=("logits",), skip=("pooled_dense",))
    model.compile(keras.optimizers.AdamW(3e-5, weight_decay=0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=args.impl.endswith("_xla"))
    x, y = _batch(args, encoder.vocabulary_size)
    return lambda: model.train_on_batch(x, y)


def _torch_step(args):
    """One forward, backward and AdamW step of Hugging Face's BertModel on PyTorch."""
    import torch
    import transformers

    model = transformers.AutoModel.from_pretrained(args.model_dir)
    model.train()
    head = torch.nn.Linear(model.config.hidden_size, 2)
    optimizer = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=3e-5,
                                  weight_decay=0.01)
    x, y = _batch(args, model.config.vocab_size)
    ids, segments = torch.tensor(x["token_ids"]).long(), torch.tensor(x["segment_ids"]).long()
    mask, labels = torch.tensor(x["padding_mask"]).long(), torch.tensor(y).long()

    def step():
        hidden = model(input_ids=ids, attention_mask=mask,
                       token_type_ids=segments).last_hidden_state  # (batch, length, hidden)
        weights = mask.unsqueeze(-1).float()  # (batch, length, 1)
        pooled = (hidden * weights).sum(1) / weights.sum(1)  # (batch, hidden)
        loss = torch.nn.functional.cross_entropy(head(pooled), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", required=True, choices=IMPLEMENTATIONS)
    parser.add_argument("--model_dir", required=True, help="a Hugging Face BERT checkpoint")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=48)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--lora_rank", type=int, help="the rank, for --impl seqmodels_lora")
    args = parser.parse_args()
    if args.impl == "seqmodels_lora" and args.lora_rank is None:
        parser.error("--impl seqmodels_lora needs --lora_rank")
    start = time.time()
    step = _torch_step(args) if args.impl == "torch" else _keras_step(args)
    for _ in range(args.warmup):  # tracing, XLA compilation, allocator warm-up
        step()
    seconds = []
    for _ in range(args.steps):
        begin = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - begin)
    seconds.sort()
    median = seconds[len(seconds) // 2]
    print(json.dumps({"impl": args.impl, "examples_per_second": args.batch / median,
                      "median_step_seconds": median, "steps": args.steps,
                      "process_seconds": time.time() - start}), flush=True)


if __name__ == "__main__":
    main()
