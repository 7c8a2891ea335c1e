"""Every task trains, evaluates and exports from your own files: CSV or JSONL, its folder or
line form, and TFRecord (one step of each tiny preset through `train_and_evaluate`)."""

import json
import os
import re
import shlex

import numpy as np
import pytest
import tensorflow as tf

from seqmodels.training.config import make_config
from seqmodels.training.train import train_and_evaluate
from tests.data.user.files import png, write_csv, write_jsonl, write_tfrecord
from tests.trainers.in_process import run_train_binary

WORDS = ["light", "water", "king", "people", "land", "house", "day", "word"]
PALABRAS = ["luz", "agua", "rey", "pueblo", "tierra", "casa", "día", "palabra"]
SPLITS = ("train", "validation", "test")
README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "README.md")


def _reviews(n=60):
    return [(f"the {WORDS[i % 8]} was {'good' if i % 2 else 'bad'} number {i}",
             "good" if i % 2 else "bad") for i in range(n)]


def _pairs(n=60):
    return [(f"the {WORDS[i % 8]} {WORDS[(i * 3) % 8]} {i}.",
             f"el {PALABRAS[i % 8]} {PALABRAS[(i * 3) % 8]} {i}.") for i in range(n)]


def _image(i, shape):
    return png(i * 20 % 256, shape)


def _write(task, form, folder):
    """Writes the files of `task` in `form`; returns (dataset, data options)."""
    folder = str(folder)
    os.makedirs(folder, exist_ok=True)
    if task == "text_classification":
        rows = _reviews()
        if form == "csv":
            os.makedirs(os.path.join(folder, "reviews"))
            for s, split in enumerate(SPLITS):
                write_csv(os.path.join(folder, "reviews", f"{split}.csv"), ["review", "score"],
                          rows[s::3] if s == 0 else rows[s::6])
            return "csv:reviews/{split}.csv", ["text_column=review", "label_column=score"]
        if form == "dir":
            for i, (text, label) in enumerate(rows):
                os.makedirs(os.path.join(folder, "reviews", label), exist_ok=True)
                with open(os.path.join(folder, "reviews", label, f"{i}.txt"), "w") as f:
                    f.write(text)
            return "dir:reviews", []
        write_tfrecord(os.path.join(folder, "r.tfrecord"),
                       [{"text": t, "label": int(y == "good")} for t, y in rows])
        return "tfrecord:r.tfrecord", []
    if task == "image_classification":
        if form == "csv":
            for i in range(40):
                with open(os.path.join(folder, f"{i}.png"), "wb") as f:
                    f.write(_image(i, (28, 28, 1)))
            write_jsonl(os.path.join(folder, "images.jsonl"),
                        [{"file": f"{i}.png", "kind": ["shoe", "bag"][i % 2]} for i in range(40)])
            return "jsonl:images.jsonl", ["image_column=file", "label_column=kind"]
        if form == "dir":
            for i in range(40):
                os.makedirs(os.path.join(folder, "photos", str(i % 3)), exist_ok=True)
                with open(os.path.join(folder, "photos", str(i % 3), f"{i}.png"), "wb") as f:
                    f.write(_image(i, (28, 28, 3)))
            return "dir:photos", []
        write_tfrecord(os.path.join(folder, "i.tfrecord"),
                       [{"image": _image(i, (28, 28, 1)), "label": i % 2} for i in range(40)])
        return "tfrecord:i.tfrecord", []
    if task == "forecasting":
        times = np.arange(80)
        rows = [(int(t), float(np.sin(t / 4)), float(np.cos(t / 4))) for t in times]
        if form == "csv":
            write_csv(os.path.join(folder, "sensor.csv"), ["day", "y", "x"], rows[::-1])
            return "csv:sensor.csv", ["time_column=day", "target_columns=y", "feature_columns=x"]
        if form == "dir":  # a series of one file a split
            for split, part in zip(SPLITS, (rows[:50], rows[50:65], rows[65:])):
                write_jsonl(os.path.join(folder, f"{split}.jsonl"),
                            [{"day": d, "y": y} for d, y, _ in part])
            return "jsonl:{split}.jsonl", ["time_column=day"]
        write_tfrecord(os.path.join(folder, "s.tfrecord"), [{"y": y, "x": x} for _, y, x in rows])
        return "tfrecord:s.tfrecord", ["target_columns=y,x"]
    if task == "translation":
        pairs = _pairs()
        if form == "csv":
            write_csv(os.path.join(folder, "pairs.tsv"), ["en", "es"], pairs, delimiter="\t")
            return "tsv:pairs.tsv", ["source_column=en", "target_column=es"]
        if form == "dir":
            for s, split in enumerate(SPLITS):
                write_jsonl(os.path.join(folder, f"{split}.jsonl"),
                            [{"source": a, "target": b} for a, b in pairs[s::3]])
            return "jsonl:{split}.jsonl", []
        write_tfrecord(os.path.join(folder, "p.tfrecord"),
                       [{"source": a, "target": b} for a, b in pairs])
        return "tfrecord:p.tfrecord", []
    if task == "captioning":
        captions = [" ".join(WORDS[(i + k) % 8] for k in range(1 + i % 3)) for i in range(40)]
        if form == "csv":
            for i in range(40):
                with open(os.path.join(folder, f"{i}.png"), "wb") as f:
                    f.write(_image(i, (28, 112, 1)))
            write_csv(os.path.join(folder, "captions.csv"), ["image", "caption"],
                      [(f"{i}.png", c) for i, c in enumerate(captions)])
            return "csv:captions.csv", []
        if form == "dir":
            os.makedirs(os.path.join(folder, "shards"))
            for shard in range(2):
                write_tfrecord(os.path.join(folder, "shards", f"part-{shard}.tfrecord"),
                               [{"image": _image(i, (28, 112, 1)), "caption": captions[i]}
                                for i in range(shard, 40, 2)])
            return "tfrecord:shards/part-*.tfrecord", ["image_column=image",
                                                       "caption_column=caption"]
        write_tfrecord(os.path.join(folder, "c.tfrecord"),
                       [{"picture": _image(i, (28, 112, 1)), "text": c}
                        for i, c in enumerate(captions)])
        return "tfrecord:c.tfrecord", ["image_column=picture", "caption_column=text"]
    # language_modeling
    verses = [f"in the beginning {WORDS[i % 8]} and {WORDS[(i * 5) % 8]} verse {i}."
              for i in range(90)]
    if form == "csv":
        write_jsonl(os.path.join(folder, "v.jsonl"), [{"verse": v} for v in verses])
        return "jsonl:v.jsonl", ["text_column=verse"]
    if form == "dir":
        os.makedirs(os.path.join(folder, "book"))
        for s, split in enumerate(SPLITS):
            with open(os.path.join(folder, "book", f"{split}.txt"), "w") as f:
                f.write("\n".join(verses[s::3]) + "\n")
        return "lines:book/{split}.txt", []
    write_tfrecord(os.path.join(folder, "v.tfrecord"), [{"text": v} for v in verses])
    return "tfrecord:v.tfrecord", []


REQUESTS = {
    "text_classification": lambda: {"text": tf.constant(["the king was good number 3"])},
    "forecasting": lambda: {"windows": tf.zeros([1, 6, 2])},
    "image_classification": lambda: {"images": tf.constant([_image(3, (28, 28, 1))])},
    "translation": lambda: {"text": tf.constant(["the light water."])},
    "captioning": lambda: {"images": tf.constant([_image(3, (28, 112, 1))])},
    "language_modeling": lambda: {"prompt": tf.constant(["in the"])},
}
CASES = [(task, form) for task in REQUESTS for form in ("csv", "dir", "tfrecord")]
# The cases whose files the README's "Train on your own data" commands name: these run from
# the README's command, through the binary's flags.
README_CASES = {"text_classification": "csv", "image_classification": "dir",
                "forecasting": "csv", "translation": "csv", "captioning": "dir",
                "language_modeling": "dir"}


def _readme_commands():
    """{task: argv} of the shell block of the README's "Train on your own data" section, read
    as a shell reads it (continued lines joined, quotes removed, `$T` expanded)."""
    with open(README) as f:
        section = f.read().split("\n## Train on your own data\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    variables, commands = {}, {}
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line)
        assignment = re.fullmatch(r"(\w+)=(.*)", words[0], re.DOTALL)
        if len(words) == 1 and assignment:
            variables[assignment[1]] = shlex.split(assignment[2])
            continue
        argv = [w for word in words
                for w in (variables[word[1:]] if word.startswith("$") else [word])]
        task = next(a.partition("=")[2] for a in argv if a.startswith("--task="))
        commands[task] = argv
    return commands


def _run_readme_command(argv, extra, run_dir, data_dir, monkeypatch):
    """Runs `argv`, a README command, through the binary (`trainers.train.main`, in this
    process) from `data_dir`, with its --model_dir replaced by `run_dir` and `extra` flags."""
    assert os.path.basename(argv[0]) == "seqmodels-train", argv
    argv = [a if not a.startswith("--model_dir=") else f"--model_dir={run_dir}"
            for a in argv[1:]] + extra
    monkeypatch.chdir(data_dir)  # the README's paths are relative to where it runs
    run_train_binary(argv)
    with open(os.path.join(run_dir, "metrics.json")) as f:
        return json.load(f)


def test_the_readme_names_one_command_a_task_each_of_a_form_tested_here():
    commands = _readme_commands()
    assert sorted(commands) == sorted(REQUESTS)
    for task, argv in commands.items():
        assert "--config=tiny" in argv and any(a.startswith("--model_dir=") for a in argv)


@pytest.fixture()
def no_pictures(monkeypatch):
    """Training curves and attention maps are drawn and tested elsewhere (tests/training): here
    they would only add matplotlib's seconds to each of the 18 runs."""
    from seqmodels.training import train

    monkeypatch.setattr(train, "_pictures", lambda *args: [])


@pytest.mark.parametrize("task, form", CASES, ids=[f"{t}-{f}" for t, f in CASES])
def test_each_task_trains_evaluates_and_exports_from_files(task, form, tmp_path, capsys,
                                                           no_pictures, monkeypatch):
    dataset, options = _write(task, form, tmp_path / "data")
    export = form == "csv"  # one export per task: the first form's
    skip = task == "text_classification" and form == "csv"  # and one run skips a bad record
    if skip:
        with open(tmp_path / "data" / "reviews" / "train.csv", "a") as f:
            f.write("too,many,fields\n")
    if README_CASES[task] == form:  # the README's command, as written, names these files
        argv = _readme_commands()[task]
        assert f"--dataset={dataset}" in argv
        assert [a.partition("=")[2] for a in argv if a.startswith("--data_option=")] == options
        extra = ["--override=steps_per_epoch=1"]
        extra += [f"--export_dir={tmp_path / 'export'}"] if export else []
        extra += ["--data_option=on_bad_record=skip"] if skip else []
        metrics = _run_readme_command(argv, extra, str(tmp_path / "run"),
                                      str(tmp_path / "data"), monkeypatch)
    else:
        # Eager steps: what these cases add to the README's is reading another form of files;
        # the task's traced steps ran in its README case, through the binary.
        config = make_config(task, "tiny", dataset=dataset, data_dir=str(tmp_path / "data"),
                             data_options=tuple(options), steps_per_epoch=1, run_eagerly=True,
                             export_dir=str(tmp_path / "export") if export else None)
        metrics = train_and_evaluate(config, str(tmp_path / "run"))
    options = options + ["on_bad_record=skip"] if skip else options
    assert metrics["steps_per_epoch"] == 1 and np.isfinite(metrics["test_loss"])
    written = json.load(open(tmp_path / "run" / "config.json"))
    assert written["run"]["dataset"] == dataset and written["run"]["data_options"] == options
    if skip:  # printed, and recorded in metrics.json
        path = os.path.join("reviews", "train.csv")  # as the README's relative glob named it
        assert f"Skipped 1 bad record of {path} (on_bad_record=skip)." in capsys.readouterr().out
        assert json.load(open(tmp_path / "run" / "metrics.json"))["skipped_records"] == {path: 1}
    if export:
        served = tf.saved_model.load(metrics["export_path"]).signatures["serving_default"]
        outputs = served(**REQUESTS[task]())
        assert all(value.shape[0] == 1 for value in outputs.values())
        if task == "text_classification":  # the user's own label strings
            assert outputs["class_name"].numpy()[0].decode() in ("bad", "good")
            with open(os.path.join(metrics["export_path"], "assets", "class_names.txt")) as f:
                assert f.read().split() == ["0", "bad", "1", "good"]


def test_data_options_are_a_frozen_tuple_that_round_trips_through_config_json():
    from seqmodels.training.config import RunConfig, TrainConfig

    run = RunConfig(dataset="csv:r.csv", data_options={"text_column": "review"})
    assert run.data_options == ("text_column=review",)
    config = TrainConfig("text_classification", run)
    again = TrainConfig.from_json(json.loads(json.dumps(config.to_json())))
    assert again == config
    with pytest.raises(ValueError, match=r"`data_options` must be key=value strings \(or a "
                                         r"dict\)\. Received: data_options=\('review',\)"):
        RunConfig(data_options=("review",))


def test_the_binary_passes_repeated_data_options(tmp_path):
    from absl import flags

    from trainers import train as binary

    flags.FLAGS.unparse_flags()
    flags.FLAGS(["train", "--model_dir=/tmp/x", "--dataset=csv:reviews/{split}.csv",
                 "--data_option=text_column=review", "--data_option=label_column=score"])
    try:
        config = binary.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()
    assert config.run.dataset == "csv:reviews/{split}.csv"
    assert config.run.data_options == ("text_column=review", "label_column=score")


def test_unknown_data_options_list_the_valid_ones_before_training(tmp_path):
    from seqmodels.tasks import build_task

    dataset, _ = _write("translation", "csv", tmp_path)
    config = make_config("translation", "tiny", dataset=dataset, data_dir=str(tmp_path),
                         data_options=("source_column=en", "label_column=es"))
    with pytest.raises(TypeError, match=r"^A tsv dataset for translation takes no option "
                                        r"label_column\. Its options: on_bad_record, "
                                        r"source_column, split_fractions, target_column, task\.$"):
        build_task(config, tf.distribute.get_strategy())
    config = make_config("forecasting", "tiny", dataset="csv:s.csv", data_dir=str(tmp_path),
                         data_options=("window_length=3",))
    with pytest.raises(ValueError, match=r"Data option window_length=3 is set by the task's "
                                         r"field `window_length`; give it as "
                                         r"--override=window_length=3 instead\."):
        build_task(config, tf.distribute.get_strategy())


def test_a_split_without_records_is_named_before_anything_is_written(tmp_path):
    from seqmodels.data import BadDataError

    write_csv(tmp_path / "r.csv", ["review", "score"], _reviews(3))
    config = make_config("text_classification", "tiny", dataset="csv:r.csv",
                         data_dir=str(tmp_path),
                         data_options=("text_column=review", "label_column=score"))
    with pytest.raises(BadDataError, match=(
            r"^Dataset 'csv:r.csv': training needs records in every split, and the (validation"
            r"|test|validation and test) splits? ha(s|ve) none \(records kept: train \d, "
            r"validation \d, test \d\)\. Give more records, other "
            r"--data_option=split_fractions \(80/10/10 by default\), or one file per split with "
            r"\{split\} in the path\.$")):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
    # Asked for: a split the fractions give nothing.
    write_csv(tmp_path / "r.csv", ["review", "score"], _reviews())
    config = make_config("text_classification", "tiny", dataset="csv:r.csv",
                         data_dir=str(tmp_path),
                         data_options=("text_column=review", "label_column=score",
                                       "split_fractions=0.9,0.1,0"))
    with pytest.raises(BadDataError, match=r"and the test split has none \(records kept: "
                                           r"train \d+, validation \d+, test 0\)"):
        train_and_evaluate(config, str(tmp_path / "run"))
