"""One worker of a training run on CSV files, started by the tests as a subprocess.

Usage: python file_data_worker.py STRATEGY OUT_NPZ MODEL_DIR DATA_DIR [NUM_CPU_DEVICES]

For each dataset `csv:four/{split}-*.csv` (4 training files of 8 records) and
`csv:one/{split}.csv` (1 training file of 32), under DATA_DIR, it trains a tiny model with
`CustomTrainingLoop` for 2 epochs of 4 global batches of 8, its batches made by the task
machinery (`seqmodels.tasks.common.epochs_of`, what `train_and_evaluate` uses). The text of
each record is its id ("17"); the model's input is that number. OUT_NPZ gets, per dataset and
epoch, the ids this worker's replicas trained on (`{name}_epoch{e}`), and the final weights.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from seqmodels.tasks import common  # noqa: E402
from seqmodels.training.config import make_config  # noqa: E402
from seqmodels.training.custom_loop import CustomTrainingLoop  # noqa: E402
from seqmodels.training.distribute import get_strategy  # noqa: E402

GLOBAL_BATCH, STEPS, EPOCHS = 8, 4, 2
DATASETS = {"four": "csv:four/{split}-*.csv", "one": "csv:one/{split}.csv"}


def batches(dataset, epoch=None):
    """(id as a float (1,), label) batches, as a task's `batches` makes them."""
    return dataset.map(lambda text, label: (tf.strings.to_number(text)[None], label)).batch(
        GLOBAL_BATCH, drop_remainder=epoch is not None)


def train(strategy, name, model_dir, data_dir):
    config = make_config("text_classification", "tiny", dataset=DATASETS[name],
                         data_dir=data_dir, max_examples=0, global_batch_size=GLOBAL_BATCH,
                         steps_per_epoch=STEPS, data_options=("text_column=id",
                                                              "label_column=label"))
    dataset_fn = common.epochs_of(config, common.train_split(config), batches, train_options={})
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(
            2, kernel_initializer=keras.initializers.GlorotUniform(1))])
        optimizer = keras.optimizers.SGD(0.01)
    loop = CustomTrainingLoop(
        model, optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None),
        strategy, model_dir, GLOBAL_BATCH, verbose=0)
    seen = {epoch: [] for epoch in range(EPOCHS)}
    train_step = loop.train_step

    def recording_step(batch, stop):
        step = int(loop.step.numpy())
        for x, _ in strategy.experimental_local_results(batch):
            seen[step // STEPS].extend(int(i) for i in x.numpy()[:, 0])
        return train_step(batch, stop)
    loop.train_step = recording_step
    loop.fit(dataset_fn, epochs=EPOCHS, steps_per_epoch=STEPS)
    return seen, model.get_weights()


def main(strategy_name, out_path, model_dir, data_dir, num_cpu_devices=0):
    strategy = get_strategy(strategy_name, num_cpu_devices=num_cpu_devices)
    results = {"replicas": strategy.num_replicas_in_sync}
    for name in DATASETS:
        seen, weights = train(strategy, name, os.path.join(model_dir, name), data_dir)
        for epoch, ids in seen.items():
            results[f"{name}_epoch{epoch}"] = np.array(ids)
        for i, w in enumerate(weights):
            results[f"{name}_weight{i}"] = w
    np.savez(out_path, **results)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(*args[:4], *(int(a) for a in args[4:]))
