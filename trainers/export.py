"""The export binary: a trained run directory -> a TF Serving version directory.

Examples:

    seqmodels-export --model_dir=runs/sentiment --export_dir=saved_models/sentiment
    seqmodels-export --model_dir=runs/translate --export_dir=saved_models/translate --version=3
    seqmodels-export --model_dir=runs/sentiment --export_dir=saved_models/sentiment \
        --version_label=canary --batching

The run's model and preprocessing (tokenizers, normalisation) are rebuilt from
`model_dir/config.json` and its best weights, then written with
`seqmodels.export.export_for_serving` to `export_dir/<version>/` (the next free version unless
--version is given), with TF Serving's warmup requests and `export_dir/models.config` (with
--version_label, labels of the new version; earlier versions keep theirs), and with --batching
`export_dir/batching_parameters.txt`. The training binary's --export_dir runs the same code at
the end of training.
"""

from absl import app, flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "Run directory written by seqmodels-train.")
flags.DEFINE_string("export_dir", None, "TF Serving's model base path; the served model's name "
                    "is its base name.")
flags.DEFINE_integer("version", None, "Integer version to write (default: the next free one).",
                     lower_bound=1)
flags.DEFINE_multi_string("version_label", [], "Label (e.g. canary, stable) that models.config "
                          "gives the written version; repeatable.")
flags.DEFINE_boolean("batching", False, "Write batching_parameters.txt (server-side batching "
                     "defaults) next to models.config.")
flags.mark_flags_as_required(["model_dir", "export_dir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    from seqmodels.training.train import export_trained  # after flags: TF starts here

    path = export_trained(FLAGS.model_dir, FLAGS.export_dir, version=FLAGS.version,
                          batching=FLAGS.batching, version_labels=tuple(FLAGS.version_label))
    print(path)


def run():
    """Console-script entry point (`seqmodels-export`)."""
    app.run(main)


if __name__ == "__main__":
    run()
