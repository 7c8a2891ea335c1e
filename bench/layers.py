"""Training-step throughput of each layer against Keras' built-in and PyTorch's own module.

For every layer the same shapes run in up to four frameworks: ours as the package trains it
(a `tf.function` step, which is what `CustomTrainingLoop` and Keras' `fit` run by default on CPU),
ours under XLA (`jit_compile=True`, the training binary's `--jit_compile`; layers whose gradient
does not compile under XLA on TensorFlow show "-"), the Keras / keras-hub twin in a `tf.function`,
and the PyTorch module in eager mode (`nn.RNN`, `nn.LSTM`, `nn.GRU`, `nn.MultiheadAttention`,
`nn.TransformerEncoderLayer`). A step is one forward pass, a scalar loss `mean(y ** 2)` and the
gradients with respect to the input and every trainable weight, float32, the same batch for all.

Each (layer, framework) runs in its own process: two frameworks' thread pools in one process slow
each other (their idle threads spin while the other computes). Every process gets the same thread
counts (TensorFlow's intra- and inter-op pools, torch's intra- and inter-op threads, and
OMP_NUM_THREADS). The processes of one layer are started and warmed up one after the other, then
timed in rounds, one at a time, the order reversed every other round, so that a change of the
machine's load hits every framework alike. The table reports the median samples/s of each and the
median over rounds of the per-round throughput ratios (ours / reference: above 1 means ours is
faster), with the 1-minute load average measured during that layer's rounds.

Run: `make bench` (or `.venv/bin/python bench/layers.py [--rounds N] [--seconds S]
[--threads N] [--clock cpu] [--layers lstm,attention]`); `--quick` runs tiny shapes for one
short round and writes nothing (a smoke test of every process and framework). On a machine
shared with other jobs, `--threads 1 --clock cpu` measures what each step costs rather than the
share of a core each process happened to get (wall-clock ratios there swing by 2x between runs).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.results import markdown_table, write_section  # noqa: E402

FRAMEWORKS = ("ours", "ours_xla", "ours_onednn", "keras", "torch")
# TensorFlow reads TF_ENABLE_ONEDNN_OPTS when it is imported; off by default on CPUs without
# AVX-512 (this machine), where its matmuls are Eigen's. "ours_onednn" turns oneDNN on.
ENVIRONMENTS = {"ours_onednn": {"TF_ENABLE_ONEDNN_OPTS": "1"}}
PROTOCOL = "BENCH "  # the prefix of the lines a worker sends to its parent

# Layer keys, the case names of the table, and which builders (below) make each framework's layer.
LAYERS = ("simple_rnn", "lstm", "gru", "attention", "encoder", "sinusoidal")
# The gradient of our scan does not compile under XLA on TensorFlow (see `seqmodels.layers.RNN`):
# training with jit_compile=True runs those layers in graph mode, the "ours" column.
NO_XLA = ("simple_rnn", "lstm", "gru")
KERAS_NAMES = {
    "simple_rnn": "keras.layers.SimpleRNN", "lstm": "keras.layers.LSTM",
    "gru": "keras.layers.GRU", "attention": "keras.layers.MultiHeadAttention(x, x)",
    "encoder": "keras_hub.layers.TransformerEncoder",
    "sinusoidal": "x + keras_hub.layers.SinePositionEncoding",
}
TORCH_NAMES = {
    "simple_rnn": "nn.RNN(tanh)", "lstm": "nn.LSTM", "gru": "nn.GRU",
    "attention": "nn.MultiheadAttention(x, x, x, need_weights=False)",
    "encoder": "nn.TransformerEncoderLayer(dropout=0)",
    "sinusoidal": "x + a sinusoidal buffer (the PyTorch tutorial's PositionalEncoding)",
}


def sizes(quick):
    """The shapes of every case: the table's (batch 64) or tiny ones for `--quick`."""
    if quick:
        return dict(batch=4, time=6, features=3, units=5, seq=6, width=8, heads=2, ff=16)
    return dict(batch=64, time=100, features=32, units=64, seq=128, width=128, heads=4, ff=512)


def case_name(key, s):
    rnn = f"T={s['time']}, {s['features']} features, {s['units']} units"
    attention = f"T={s['seq']}, d={s['width']}, {s['heads']} heads"
    return {
        "simple_rnn": f"SimpleRNN ({rnn})", "lstm": f"LSTM ({rnn})", "gru": f"GRU ({rnn})",
        "attention": f"MultiHeadSelfAttention ({attention})",
        "encoder": f"TransformerEncoderBlock ({attention}, ff {s['ff']})",
        "sinusoidal": f"PositionalEmbedding sinusoidal (T={s['seq']}, d={s['width']})",
    }[key]


def input_shape(key, s):
    if key in NO_XLA:
        return (s["batch"], s["time"], s["features"])
    return (s["batch"], s["seq"], s["width"])


# Builders: each runs in a worker process and imports only its own framework. ----------------
def keras_layer(key, framework, s):
    """Our layer (`framework` "ours", "ours_xla" or "ours_onednn") or its Keras twin."""
    import keras
    from seqmodels import layers

    heads, width = s["heads"], s["width"]
    if framework.startswith("ours"):
        return {
            "simple_rnn": lambda: layers.SimpleRNN(s["units"], return_sequences=True),
            "lstm": lambda: layers.LSTM(s["units"], return_sequences=True),
            "gru": lambda: layers.GRU(s["units"], return_sequences=True),
            "attention": lambda: layers.MultiHeadSelfAttention(heads, width // heads),
            "encoder": lambda: layers.TransformerEncoderBlock(heads, s["ff"]),
            "sinusoidal": lambda: layers.PositionalEmbedding(kind="sinusoidal"),
        }[key]()
    import keras_hub

    class KerasSelfAttention(keras.layers.Layer):
        """`keras.layers.MultiHeadAttention` used as self-attention (query = key = value)."""

        def __init__(self):
            super().__init__()
            self.mha = keras.layers.MultiHeadAttention(heads, width // heads)

        def call(self, x):
            return self.mha(x, x)

    class KerasHubSinePlusInput(keras.layers.Layer):
        """x + keras-hub's sinusoidal encoding: what our PositionalEmbedding computes on floats."""

        def __init__(self):
            super().__init__()
            self.encoding = keras_hub.layers.SinePositionEncoding()

        def call(self, x):
            return x + self.encoding(x)

    return {
        "simple_rnn": lambda: keras.layers.SimpleRNN(s["units"], return_sequences=True),
        "lstm": lambda: keras.layers.LSTM(s["units"], return_sequences=True),
        "gru": lambda: keras.layers.GRU(s["units"], return_sequences=True),
        "attention": KerasSelfAttention,
        "encoder": lambda: keras_hub.layers.TransformerEncoder(s["ff"], heads),
        "sinusoidal": KerasHubSinePlusInput,
    }[key]()


def torch_module(key, s):
    """The PyTorch module of the same shapes (batch first), returning one tensor."""
    import math

    import torch
    from torch import nn

    class Sequences(nn.Module):
        """An `nn.RNN` / `nn.LSTM` / `nn.GRU` returning its output sequence only."""

        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def forward(self, x):
            return self.rnn(x)[0]  # (batch, time, units)

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.mha = nn.MultiheadAttention(s["width"], s["heads"], batch_first=True)

        def forward(self, x):
            return self.mha(x, x, x, need_weights=False)[0]  # (batch, seq, width)

    class SinusoidalPlusInput(nn.Module):
        def __init__(self):
            super().__init__()
            position = torch.arange(s["seq"], dtype=torch.float32)[:, None]  # (seq, 1)
            rate = torch.exp(torch.arange(0, s["width"], 2).float() * (-math.log(1e4) / s["width"]))
            table = torch.zeros(s["seq"], s["width"])
            table[:, 0::2] = torch.sin(position * rate)
            table[:, 1::2] = torch.cos(position * rate)
            self.register_buffer("table", table)  # (seq, width)

        def forward(self, x):
            return x + self.table  # (batch, seq, width)

    rnn = dict(input_size=s["features"], hidden_size=s["units"], batch_first=True)
    return {
        "simple_rnn": lambda: Sequences(nn.RNN(nonlinearity="tanh", **rnn)),
        "lstm": lambda: Sequences(nn.LSTM(**rnn)),
        "gru": lambda: Sequences(nn.GRU(**rnn)),
        "attention": SelfAttention,
        "encoder": lambda: nn.TransformerEncoderLayer(
            s["width"], s["heads"], s["ff"], dropout=0.0, batch_first=True),
        "sinusoidal": SinusoidalPlusInput,
    }[key]().train()


def tensorflow_step(key, framework, s, x, threads):
    """A no-argument function that runs one compiled training step of the Keras-side layer."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    layer = keras_layer(key, framework, s)
    x = tf.constant(x)
    layer(x)  # build
    variables = layer.trainable_variables

    @tf.function(jit_compile=framework == "ours_xla")
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_mean(tf.square(y))
        return tape.gradient(loss, [x] + variables)

    return lambda: step(x)[0].numpy()  # waits for the step


def torch_step(key, s, x, threads):
    """A no-argument function that runs one eager training step of the PyTorch module."""
    import torch

    torch.set_num_threads(threads)
    if torch.get_num_interop_threads() != threads:  # settable once, before any parallel work
        torch.set_num_interop_threads(threads)
    module = torch_module(key, s)
    x = torch.tensor(x, requires_grad=True)
    parameters = [p for p in module.parameters() if p.requires_grad]

    def step():
        loss = module(x).square().mean()
        return torch.autograd.grad(loss, [x] + parameters)

    return step


def worker(keys, framework, quick, threads):
    """One framework's process for the layers `keys`: warms each up, then times one layer's step
    per `run LAYER SECONDS` line (one layer per process, except in `--quick`'s smoke run)."""
    import numpy as np

    s, steps = sizes(quick), {}
    for key in keys:
        x = np.random.default_rng(0).normal(size=input_shape(key, s)).astype("float32")
        if framework == "torch":
            steps[key] = torch_step(key, s, x, threads)
        else:
            steps[key] = tensorflow_step(key, framework, s, x, threads)
        for _ in range(3):  # trace, compile, warm the caches
            steps[key]()
    ready = {"ready": True}
    if framework != "torch":
        from tensorflow.python.util import _pywrap_util_port

        ready["onednn"] = bool(_pywrap_util_port.IsMklEnabled())  # what TensorFlow runs
    print(PROTOCOL + json.dumps(ready), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] != "run":
            break
        step, seconds, count = steps[command[1]], float(command[2]), 0
        start, start_cpu = time.perf_counter(), time.process_time()
        while count < 2 or time.perf_counter() - start < seconds:
            step()
            count += 1
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        print(PROTOCOL + json.dumps({"wall": count * s["batch"] / elapsed,
                                     "cpu": count * s["batch"] / cpu,
                                     "load": os.getloadavg()[0]}), flush=True)


# The parent: starts the workers, runs the rounds, writes the table. -------------------------
class Worker:
    """A running worker process and the line protocol to it."""

    def __init__(self, keys, framework, args):
        command = [sys.executable, os.path.abspath(__file__), "--worker", ",".join(keys),
                   framework,
                   "--threads", str(args.threads)] + (["--quick"] if args.quick else [])
        environment = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                           MKL_NUM_THREADS=str(args.threads), **ENVIRONMENTS.get(framework, {}))
        self.name = f"{','.join(keys)}/{framework}"
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=environment, cwd=ROOT)
        self.ready = self.receive()

    def receive(self):
        for line in self.process.stdout:
            if line.startswith(PROTOCOL):
                return json.loads(line[len(PROTOCOL):])
        raise RuntimeError(f"worker {self.name} exited with code {self.process.wait()} "
                           "(its error is above)")

    def run(self, key, seconds):
        self.process.stdin.write(f"run {key} {seconds}\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait()


def frameworks_of(key):
    return [f for f in FRAMEWORKS if not (f == "ours_xla" and key in NO_XLA)]


def measure(key, args, onednn, shared=None):
    """{framework: [rate per round]} and the loads seen during the rounds, for one layer.

    Each framework's process is started for this layer alone, unless `shared` holds a worker
    per framework already (`--quick`). `onednn[key]` is set to whether TensorFlow ran oneDNN in
    the "ours" process (the default of this machine and environment).
    """
    frameworks = frameworks_of(key)
    workers = []
    try:
        for framework in frameworks:  # one at a time: a warm-up is not timed but loads the CPU
            workers.append(shared[framework] if shared else Worker([key], framework, args))
        rates, loads = {f: [] for f in frameworks}, []
        onednn[key] = workers[0].ready.get("onednn")  # TensorFlow's default here
        for r in range(args.rounds):
            for w, framework in list(zip(workers, frameworks))[::1 if r % 2 == 0 else -1]:
                time.sleep(args.pause)  # let the last process's idle threads stop spinning
                result = w.run(key, args.seconds)
                rates[framework].append(result[args.clock])
                loads.append(result["load"])
        return rates, loads
    finally:
        if not shared:
            for w in workers:
                w.close()


def ratio(rates, ours, reference):
    """Median over rounds of the per-round throughput ratio `ours / reference`."""
    if ours not in rates or reference not in rates:
        return "-"
    return f"{statistics.median(o / t for o, t in zip(rates[ours], rates[reference])):.2f}"


def row(key, s, rates, loads):
    def rate(framework):
        return f"{statistics.median(rates[framework]):,.0f}" if framework in rates else "-"

    return [case_name(key, s)] + [rate(f) for f in FRAMEWORKS] + [
        ratio(rates, "ours", "keras"), ratio(rates, "ours", "torch"),
        ratio(rates, "ours_xla", "torch"), ratio(rates, "ours_onednn", "torch"),
        f"{min(loads):.1f}-{max(loads):.1f}"]


def onednn_state(onednn):
    states = set(onednn.values())
    return "on" if states == {True} else "off" if states == {False} else "on for some layers"


HEADERS = ["layer (batch {batch}, forward+backward)", "ours samples/s", "ours XLA samples/s",
           "ours oneDNN samples/s", "Keras samples/s", "PyTorch samples/s", "ours / Keras",
           "ours / PyTorch", "ours XLA / PyTorch", "ours oneDNN / PyTorch", "load (1-min)"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="seconds of steps per measurement (at least 2 steps)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="intra- and inter-op threads of every framework")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="samples per wall-clock second, or per second of the process's CPU "
                        "time (all its threads): with --threads 1 on a machine shared with other "
                        "jobs, the work a step costs, whatever share of a core the process got")
    parser.add_argument("--pause", type=float, default=0.3,
                        help="seconds between two measurements")
    parser.add_argument("--layers", default=",".join(LAYERS),
                        help=f"comma-separated subset of {', '.join(LAYERS)}")
    parser.add_argument("--quick", action="store_true",
                        help="tiny shapes, one round of 0.05 s, one process per framework, nothing "
                        "written (a smoke test)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--worker", nargs=2, metavar=("LAYERS", "FRAMEWORK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker[0].split(","), args.worker[1], args.quick, args.threads)
    keys = [k.strip() for k in args.layers.split(",") if k.strip()]
    unknown = [k for k in keys if k not in LAYERS]
    if unknown:
        parser.error(f"--layers: unknown {', '.join(unknown)}; choose from {', '.join(LAYERS)}")
    if args.quick:
        args.rounds, args.seconds, args.pause, args.no_write = 1, 0.05, 0.0, True
    s = sizes(args.quick)
    rows, shared, onednn = [], {}, {}
    try:
        if args.quick:  # a smoke run: one process per framework for all layers
            for framework in FRAMEWORKS:
                shared[framework] = Worker(
                    [k for k in keys if framework in frameworks_of(k)], framework, args)
        for key in keys:
            rates, loads = measure(key, args, onednn, shared)
            rows.append(row(key, s, rates, loads))
            print(" | ".join(rows[-1]), flush=True)
    finally:
        for w in shared.values():
            w.close()
    table = markdown_table([HEADERS[0].format(**s)] + HEADERS[1:], rows)
    command = " ".join(["bench/layers.py"] + sys.argv[1:])
    references = "\n".join(f"- {case_name(k, s).split(' (')[0]}: Keras `{KERAS_NAMES[k]}`, "
                           f"PyTorch `{TORCH_NAMES[k]}`" for k in keys)
    clock = ("wall-clock samples/s" if args.clock == "wall" else
             "samples per second of the process's CPU time (all its threads; on a shared "
             "machine this is what a step costs, not what share of a core it got)")
    body = (f"`{command}`: {clock}, median of {args.rounds} rounds of {args.seconds:g} s of "
            f"steps per framework, each (layer, framework) in its own process, threads: "
            f"{args.threads} (intra- and inter-op, every framework), the order reversed every "
            "other round; ratios are medians of the per-round throughput ratios (> 1: ours "
            "faster). float32, CPU. "
            "Ours: a `tf.function` step, as `CustomTrainingLoop` and `fit` train by default; "
            "ours XLA: `jit_compile=True` (\"-\": the layer's gradient does not compile under "
            "XLA on TensorFlow, so training with XLA runs it in graph mode); ours oneDNN: the "
            "graph step with `TF_ENABLE_ONEDNN_OPTS=1` (TensorFlow's oneDNN kernels were "
            f"{onednn_state(onednn)} in the other TensorFlow processes). PyTorch: eager. "
            "Load: the 1-minute load average during the layer's rounds (the benchmark itself "
            "is about 1). Target: every ratio >= 1.0.\n\n"
            f"{table}\n\nReferences:\n{references}\n\n{NOTES}")
    print(table)
    if not args.no_write:
        print("wrote", write_section("layers", "Layers: ours vs Keras built-ins and PyTorch",
                                     body))


# What the gaps are, from the profiles (kept here so that a rerun writes them again).
NOTES = """Where the gaps come from (profiles of 2026-12: forward+backward, batch 64, 1 thread, two
variants timed in one process over 5-8 alternating rounds, load 6-9 on the 2 cores: read the
times as ratios):

- **LSTM.** PyTorch runs the whole sequence in oneDNN's fused RNN primitive (2.4x slower
  without it, below ours: see FIELD_NOTES). Ours is a graph of per-step ops, and on TensorFlow
  much of its cost was the `tf.while_loop` and its gradient loop: the same steps written out
  are 1.3-1.5x faster at 100 steps (1.43x at 50, 1.18x at 200, 1.07x at 300), so sequences of
  known length up to 100 steps now run without a loop on TensorFlow
  (`seqmodels.layers.time_loop.writes_out`). Before/after in this benchmark's own processes
  (CPU clock, 1 thread, 8 alternating rounds, load 4-6): LSTM 1.39x (ours / PyTorch 0.69 ->
  0.87), SimpleRNN 1.37x (1.26 -> 1.70), GRU 1.11x (1.35 -> 1.52). Tried and dropped: chunks
  of 20, 25 or 50 steps instead of 10 (0.91-0.97x), `parallel_iterations` 1 or 10
  (0.97-1.02x), one sigmoid over all four gates (0.93-0.99x). TensorFlow's oneDNN kernels
  give the LSTM 1.1x. What is left is the fused kernel: TensorFlow's own fused CPU LSTM
  (`BlockLSTMV2`) is slower than our loop, so on TensorFlow this ratio is the bound we
  measured.
- **Attention.** The gap is PyTorch's fused `scaled_dot_product_attention` (flash attention on
  CPU: forward and backward without the (batch, heads, q, k) scores in memory). The attention
  core alone: ours (einsums, float32 softmax) 214 ms, PyTorch's fused kernel 148 ms, PyTorch's
  unfused math 281 ms; the softmax alone 81 ms (TensorFlow) vs 91 ms, `Q K^T` alone 142 vs
  152 ms. Ours beats PyTorch's unfused path; TensorFlow has no fused attention kernel on CPU.
  Tried and dropped: one QKV matmul on the concatenated kernels (the projections 238 vs 194 ms:
  the concatenation and split cost more than the two matmuls saved), head-major transposes with
  `matmul(..., transpose_b=True)` instead of the einsums (259 vs 214 ms). Under XLA the
  attention core was slower at one thread (337 vs 214 ms): XLA's CPU dots are not Eigen's.
- **TensorFlow's oneDNN kernels** are off by default on this CPU (AVX2, no AVX-512) and are the
  largest lever found: the same graph step with `TF_ENABLE_ONEDNN_OPTS=1` was 1.6-1.7x faster
  for the attention, 1.3x for the encoder block and the GRU, 1.5x for the attention under XLA
  (two processes alternating, 8 rounds). The variable is read when TensorFlow is imported, so
  it is the environment's choice, not a layer's: the training binary sets it
  (`trainers/train.py`, unless the environment says `TF_ENABLE_ONEDNN_OPTS=0`), so the "ours
  oneDNN" column is ours as `seqmodels-train` trains; `model.fit` in a user's own process runs
  whichever kernels that process's environment chose.
- **Encoder block.** The attention as above; Keras' `LayerNormalization` on TensorFlow is
  moments plus element-wise ops (64 ms forward+backward vs PyTorch's fused kernel 26 ms, two
  of them a block); the feed-forward matmuls are on par (462 vs 489 ms; 366 with oneDNN)."""


if __name__ == "__main__":
    main()
