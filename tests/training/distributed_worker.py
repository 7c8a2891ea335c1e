"""One worker of a small distributed training run, started by the tests as a subprocess.

Usage: python distributed_worker.py STRATEGY OUT_NPZ MODEL_DIR [NUM_CPU_DEVICES] [KILL_AFTER_STEP]
    [TERM_AFTER_STEP] [then STRATEGY OUT_NPZ MODEL_DIR ...]

Trains a tiny Keras model with `CustomTrainingLoop` on fixed data for 2 epochs of 4 global
batches of 8 and writes the final weights to OUT_NPZ. With KILL_AFTER_STEP the process kills
itself with SIGKILL right after that step's checkpoint, as a crash would. With TERM_AFTER_STEP
it sends itself SIGTERM right after that step (as a cluster preempting it would) and
checkpoints only at epoch ends, so that a checkpoint of that step is the preemption's.
Prints `FIRST_STEP_AT <unix time>` after its first step. After `then` come the arguments of a
next run in the same process (one TensorFlow start for two runs; the CPU split of the first
run's NUM_CPU_DEVICES stays).

Under `multi_worker_mirrored` the coordination service is configured as
`MultiWorkerMirroredStrategy` would configure it, but with a heartbeat timeout of
`HEARTBEAT_TIMEOUT_MS` instead of TensorFlow's 10 s: a killed peer is noticed sooner (the test
that kills one waits for that: about 6 s after the kill instead of 20 at a load of 5), while
live workers, whose heartbeats come from a TensorFlow thread, stayed within it at loads of 4-7.
"""

import json
import os
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqmodels.training.custom_loop import CustomTrainingLoop  # noqa: E402
from seqmodels.training.distribute import get_strategy  # noqa: E402

GLOBAL_BATCH, STEPS, EPOCHS = 8, 4, 2
HEARTBEAT_TIMEOUT_MS = 4000


def configure_coordination(heartbeat_timeout_ms):
    """The coordination service of the TF_CONFIG cluster, before the strategy is built."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
    jobs = [coordination_config_pb2.CoordinatedJob(name=name, num_tasks=len(cluster[name]))
            for name in ("chief", "worker") if name in cluster]
    context.context().configure_coordination_service(
        service_type="standalone", service_leader=multi_worker_util.coordination_leader(cluster),
        coordinated_jobs=jobs, heartbeat_timeout_in_ms=heartbeat_timeout_ms)


def dataset_fn(epoch):
    rng = np.random.default_rng(100 + epoch)
    x = rng.normal(size=(GLOBAL_BATCH * STEPS, 5)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(GLOBAL_BATCH)


def main(strategy_name, out_path, model_dir, num_cpu_devices=0, kill_after=0, term_after=0):
    if strategy_name == "multi_worker_mirrored":
        configure_coordination(HEARTBEAT_TIMEOUT_MS)
    strategy = get_strategy(strategy_name, num_cpu_devices=num_cpu_devices)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([
            keras.Input((5,)),
            keras.layers.Dense(8, activation="tanh", kernel_initializer=keras.initializers.GlorotUniform(1)),
            keras.layers.Dense(2, kernel_initializer=keras.initializers.GlorotUniform(2)),
        ])
        optimizer = keras.optimizers.Adam(0.05)
    loop = CustomTrainingLoop(
        model, optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None),
        strategy, model_dir, GLOBAL_BATCH, accuracy=True,
        checkpoint_every=0 if term_after else 1, verbose=0)
    if kill_after:
        original_save = loop.save

        def save_then_maybe_die():
            original_save()
            if int(loop.step.numpy()) == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        loop.save = save_then_maybe_die
    train_step = loop.train_step

    def timed_step(*args):  # the first step's wall-clock time, for restart-to-first-step
        sums = train_step(*args)
        if not getattr(timed_step, "done", False):
            timed_step.done = True
            print(f"FIRST_STEP_AT {time.time()}", flush=True)
        return sums
    loop.train_step = timed_step
    if term_after:
        timed = loop.train_step

        def step_then_maybe_term(*args):
            sums = timed(*args)
            if int(loop.step.numpy()) == term_after:
                os.kill(os.getpid(), signal.SIGTERM)
            return sums
        loop.train_step = step_then_maybe_term
    history = loop.fit(dataset_fn, epochs=EPOCHS, steps_per_epoch=STEPS)
    np.savez(out_path, *[np.asarray(w) for w in model.get_weights()],
             loss=np.asarray(history["loss"]), replicas=strategy.num_replicas_in_sync)


if __name__ == "__main__":
    args = sys.argv[1:]
    while args:
        end = args.index("then") if "then" in args else len(args)
        main(args[0], args[1], args[2], *(int(a) for a in args[3:end]))
        args = args[end + 1:]
