"""The training binary: absl flags -> TrainConfig -> seqmodels.training.train_and_evaluate.

Examples:

    seqmodels-train --task=text_classification --config=default --model_dir=runs/sentiment
    seqmodels-train --config=tiny --override=hidden_dim=16 --override=epochs=2 --model_dir=/tmp/t
    seqmodels-train --strategy=mirrored --num_cpu_devices=2 --model_dir=/tmp/m
    seqmodels-train --dataset=csv:reviews/{split}.csv --data_option=text_column=review \
        --data_option=label_column=score --model_dir=/tmp/own
    seqmodels-train --backbone=preset:/path/to/minilm --override=learning_rate=5e-5 --model_dir=/tmp/b
    seqmodels-train --task=image_classification --backbone=keras_app:MobileNetV3Small --model_dir=/tmp/i
    seqmodels-train --task=image_classification --backbone=keras_app:MobileNetV3Small \
        --backbone_weights=imagenet --epochs=6 --head_epochs=3 --unfreeze_top=20 \
        --fine_tune_learning_rate=1e-5 --model_dir=/tmp/f
    TF_CONFIG=... seqmodels-train --strategy=multi_worker_mirrored --model_dir=gs://...
    seqmodels-train --mode=continuous_evaluate --model_dir=runs/sentiment  # beside the chief

Run with --helpfull for every flag. Killed and started again with the same command (the same
--model_dir), a run resumes from its last checkpoint. Exit statuses:
`seqmodels.training.exit_status` (2: refused before anything was written, e.g. a --model_dir
that is a file, --strategy=tpu without --tpu, or a model_dir of another config).

TensorFlow's oneDNN kernels are on (`TF_ENABLE_ONEDNN_OPTS=1`, set before TensorFlow is
imported, unless the environment sets it): TensorFlow turns them on by itself only on CPUs with
AVX-512, and on this package's AVX2 benchmark machine they made the training step of our layers
1.1-1.7x faster (bench/RESULTS.md, "Layers"). `TF_ENABLE_ONEDNN_OPTS=0 seqmodels-train ...` runs
TensorFlow's default Eigen kernels; results differ from those in float round-off only.
"""

import os

# Read by TensorFlow when it is imported (the imports below import it).
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from absl import app, flags, logging

from seqmodels.tasks import registry
from seqmodels.training.config import MIXED_PRECISION, make_config
from seqmodels.training.distribute import STRATEGIES

FLAGS = flags.FLAGS
flags.DEFINE_enum("task", "text_classification", list(registry.BUILT_IN),
                  "Sequence-modelling task.")
flags.DEFINE_string("config", "default", "Named preset of the task, e.g. tiny.")
flags.DEFINE_multi_string("override", [], "key=value setting a config field (of the run or the "
                          "task); repeatable. A field set by a flag cannot be overridden too.")
flags.DEFINE_string("model_dir", None, "Run directory (checkpoints, logs, metrics); resumes.")
flags.mark_flag_as_required("model_dir")
flags.DEFINE_enum("mode", "train", ["train", "evaluate", "continuous_evaluate"],
                  "train; evaluate the latest checkpoint of --model_dir once; or "
                  "continuous_evaluate, a sidecar that evaluates each new checkpoint until the "
                  "last epoch's (the config comes from --model_dir's config.json).")
flags.DEFINE_integer("eval_timeout", 3600, "continuous_evaluate: seconds to wait for config.json "
                     "or a new checkpoint before giving up.")
# Config fields with a flag of their own (the rest through --override). Each defaults to the
# preset's value; a flag counts only when given.
flags.DEFINE_string("model", None, "Model family of the task (e.g. transformer, lstm, gru).")
flags.DEFINE_string("dataset", None, "seqmodels.data name, tfds:<name>, or your own files: "
                    "csv:, tsv:, jsonl:, tfrecord:, dir: or lines:<glob> ({split} expands to "
                    "train, validation, test).")
flags.DEFINE_multi_string("data_option", [], "key=value option of the dataset, e.g. "
                          "text_column=review, label_column=score, on_bad_record=skip; "
                          "repeatable.")
flags.DEFINE_enum("strategy", None, list(STRATEGIES), "tf.distribute strategy (default: default).")
flags.DEFINE_string("tpu", None, "TPU address for --strategy=tpu.")
flags.DEFINE_integer("num_cpu_devices", None, "Split the CPU into this many logical devices.")
flags.DEFINE_integer("epochs", None, "Epochs (default: the preset's).")
flags.DEFINE_integer("global_batch_size", None, "Examples per step over all replicas.")
flags.DEFINE_float("learning_rate", None, "Peak learning rate.")
flags.DEFINE_enum("mixed_precision", None, list(MIXED_PRECISION), "Dtype policy (default: "
                  "float32).")
flags.DEFINE_boolean("jit_compile", None, "Compile the train and eval steps with XLA "
                     "(default: the preset's; --nojit_compile turns it off).")
flags.DEFINE_integer("seed", None, "Seed of weights, shuffles and dropout (default: 0).")
flags.DEFINE_string("export_dir", None, "Where to export the servable model (default: none).")
flags.DEFINE_string("backbone", None,
                    "Pretrained backbone instead of --model (text and image classification): "
                    "preset:<keras-hub preset or dir>, hub:<handle>, keras_app:<Name>.")
flags.DEFINE_string("backbone_weights", None,
                    "Keras Applications weights: a file, or imagenet (needs the internet).")
flags.DEFINE_integer("head_epochs", None,
                     "With --backbone: epochs that train the head on the frozen backbone before "
                     "fine-tuning (0: no schedule).")
flags.DEFINE_integer("unfreeze_top", None,
                     "Top backbone layers the fine-tune phase unfreezes (-1: all).")
flags.DEFINE_float("fine_tune_learning_rate", None, "Peak learning rate of the fine-tune phase.")
flags.DEFINE_boolean("batching", False, "With an export: write batching_parameters.txt (TF "
                     "Serving's server-side batching defaults) next to models.config.")
FIELD_FLAGS = ("model", "dataset", "strategy", "tpu", "num_cpu_devices", "epochs",
               "global_batch_size", "learning_rate", "mixed_precision", "jit_compile", "seed",
               "export_dir", "backbone", "backbone_weights", "head_epochs", "unfreeze_top",
               "fine_tune_learning_rate")


def config_from_flags():
    """The frozen TrainConfig the flags describe (the preset, then the flags and --override).

    Raises:
        ValueError: a field given twice, by its flag and by an --override, naming both; or
            what `make_config` rejects.
    """
    given = {name: FLAGS[name].value for name in FIELD_FLAGS if FLAGS[name].present}
    if FLAGS.data_option:
        given["data_options"] = tuple(FLAGS.data_option)
    for item in FLAGS.override:
        key = item.partition("=")[0].strip()
        if key in given:
            raise ValueError(f"`{key}` is given twice: --{key}={given[key]} and "
                             f"--override={item}. Give it once.")
    return make_config(FLAGS.task, FLAGS.config, FLAGS.override, **given)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # TF's per-checkpoint INFO lines drown the progress bars
    from seqmodels.training.exit_status import run_refusing  # after flags: TF starts here
    from seqmodels.training.train import train_and_evaluate

    if FLAGS.mode != "train":
        from seqmodels.training.evaluation import Evaluator, wait_for_config

        if FLAGS.mode == "continuous_evaluate":
            wait_for_config(FLAGS.model_dir, FLAGS.eval_timeout)
            Evaluator(FLAGS.model_dir).evaluate_continuously(FLAGS.eval_timeout)
        else:
            Evaluator(FLAGS.model_dir).evaluate()
        return
    config = config_from_flags()
    if FLAGS.batching and not config.run.export_dir:
        raise app.UsageError("--batching writes the batching parameters of an export: give "
                             "--export_dir too.")
    metrics = run_refusing(train_and_evaluate, config, FLAGS.model_dir)
    if FLAGS.batching and metrics.get("export_path"):
        from seqmodels.export import tf_serving

        metrics["batching_parameters"] = tf_serving.write_batching_parameters(
            os.path.dirname(metrics["export_path"]))
    print({k: v for k, v in metrics.items()
           if k.startswith("test_") or k in ("export_path", "batching_parameters")})


def run():
    """Console-script entry point (`seqmodels-train`)."""
    app.run(main)


if __name__ == "__main__":
    run()
