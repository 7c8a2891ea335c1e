"""Every form loads for its tasks, splits deterministically, and shards across pipelines."""

import os

import numpy as np
import pytest
import tensorflow as tf

from seqmodels import data
from tests.data.user.files import (exactly, png, write_csv, write_jsonl, write_split_csvs,
                                   write_tfrecord)


def _texts(dataset):
    return [t.numpy().decode() for t, *_ in dataset]


def test_string_labels_map_to_sorted_ids_learned_from_train(tmp_path):
    write_split_csvs(tmp_path)
    options = dict(text_column="review", label_column="score")
    train = data.load("csv:{split}.csv", "train", data_dir=str(tmp_path), **options)
    assert [int(label) for _, label in train] == [1, 0, 1, 0]
    info = data.info("csv:{split}.csv", data_dir=str(tmp_path), **options)
    assert info.class_names == ("bad", "good") and info.num_classes == 2
    assert info.task == "text_classification" and info.splits["test"] == 4


def test_without_split_files_a_hash_splits_80_10_10_the_same_every_time(tmp_path):
    rows = [(f"review number {i}", i % 3) for i in range(400)]
    write_csv(tmp_path / "all.csv", ["text", "label"], rows)
    splits = {split: _texts(data.load("csv:all.csv", split, data_dir=str(tmp_path),
                                      text_column="text"))
              for split in ("train", "validation", "test")}
    assert sorted(sum(splits.values(), [])) == sorted(text for text, _ in rows)
    assert 280 <= len(splits["train"]) <= 360 and 20 <= len(splits["test"]) <= 60
    assert _texts(data.load("csv:all.csv", "test", data_dir=str(tmp_path),
                            text_column="text")) == splits["test"]
    half = data.info("csv:all.csv", data_dir=str(tmp_path), text_column="text",
                     split_fractions="0.5,0.25,0.25")
    assert 160 <= half.splits["train"] <= 240 and sum(half.splits.values()) == 400
    assert half.class_names == ("0", "1", "2")  # integer labels are their own ids


def test_jsonl_tsv_and_tfrecord_give_the_same_examples(tmp_path):
    rows = [("good film", "pos"), ("bad film", "neg"), ("fine film", "pos")]
    write_jsonl(tmp_path / "r.jsonl", [{"t": t, "y": y} for t, y in rows])
    write_csv(tmp_path / "r.tsv", ["t", "y"], rows, delimiter="\t")
    write_tfrecord(tmp_path / "r.tfrecord", [{"t": t, "y": y} for t, y in rows])
    loaded = [[(t.decode(), int(y)) for t, y in data.load(
        f"{form}:r.{form}", "train", data_dir=str(tmp_path), text_column="t", label_column="y",
        split_fractions="1,0,0").as_numpy_iterator()] for form in ("jsonl", "tsv", "tfrecord")]
    assert loaded[0] == loaded[1] == loaded[2] == [("good film", 1), ("bad film", 0),
                                                   ("fine film", 1)]


def test_images_from_paths_from_tfrecord_bytes_and_from_class_folders(tmp_path):
    for value in range(4):
        (tmp_path / f"{value}.png").write_bytes(png(value * 10))
    write_csv(tmp_path / "images.csv", ["file", "kind"], [(f"{v}.png", f"k{v % 2}")
                                                         for v in range(4)])
    from_csv = data.load("csv:images.csv", "train", data_dir=str(tmp_path), image_column="file",
                         label_column="kind", split_fractions="1,0,0")
    write_tfrecord(tmp_path / "i.tfrecord", [{"image": png(v * 10), "label": v % 2}
                                             for v in range(4)])
    from_bytes = data.load("tfrecord:i.tfrecord", "train", data_dir=str(tmp_path),
                           image_column="image", label_column="label", split_fractions="1,0,0")
    for kind in ("cat", "dog"):
        os.makedirs(tmp_path / "folder" / kind)
        for v in range(2):
            (tmp_path / "folder" / kind / f"{v}.png").write_bytes(png(v * 10 + 100))
    from_folder = data.load("dir:folder", "train", data_dir=str(tmp_path),
                            split_fractions="1,0,0", image_size="4,4")
    for dataset, shape in ((from_csv, (8, 8, 1)), (from_bytes, (8, 8, 1)),
                           (from_folder, (4, 4, 1))):
        images, labels = zip(*dataset.as_numpy_iterator())
        assert images[0].shape == shape and images[0].dtype == np.uint8
        assert sorted(set(int(label) for label in labels)) == [0, 1]
    assert [int(image[0, 0, 0]) for image, _ in from_csv.as_numpy_iterator()] == [0, 10, 20, 30]
    assert data.info("dir:folder", data_dir=str(tmp_path)).class_names == ("cat", "dog")


def test_text_folders_lines_translation_and_captions(tmp_path):
    for kind in ("neg", "pos"):
        os.makedirs(tmp_path / "reviews" / kind)
        (tmp_path / "reviews" / kind / "1.txt").write_text(f"a {kind} review")
    texts = data.load("dir:reviews", "train", data_dir=str(tmp_path), split_fractions="1,0,0")
    assert [(t.decode(), int(y)) for t, y in texts.as_numpy_iterator()] == [
        ("a neg review", 0), ("a pos review", 1)]
    (tmp_path / "book.txt").write_text("first line\n\nsecond line\n")
    lines = data.load("lines:book.txt", "train", data_dir=str(tmp_path), split_fractions="1,0,0")
    assert [line.decode() for line in lines.as_numpy_iterator()] == ["first line", "second line"]
    write_jsonl(tmp_path / "p.jsonl", [{"en": "the sun", "es": "el sol"}])
    pairs = data.load("jsonl:p.jsonl", "train", data_dir=str(tmp_path), source_column="en",
                      target_column="es", split_fractions="1,0,0")
    assert [(a.decode(), b.decode()) for a, b in pairs.as_numpy_iterator()] == [
        ("the sun", "el sol")]
    (tmp_path / "c.png").write_bytes(png(7, (8, 16, 1)))
    write_csv(tmp_path / "c.csv", ["image", "caption"], [("c.png", "seven")])
    image, caption = next(iter(data.load("csv:c.csv", "train", data_dir=str(tmp_path),
                                         caption_column="caption", split_fractions="1,0,0")))
    assert image.shape == (8, 16, 1) and caption.numpy() == b"seven"


def test_a_series_sorts_by_time_splits_in_time_and_reports_gaps(tmp_path, capsys):
    times = [t for t in range(40) if t not in (20, 21)]
    rows = [(t, float(t), float(-t)) for t in times][::-1]  # written newest first
    write_csv(tmp_path / "s.csv", ["t", "y", "x"], rows)
    options = dict(time_column="t", target_columns="y", feature_columns="x", window_length=4,
                   horizon=2, normalize=False)
    window, target = next(iter(data.load("csv:s.csv", "train", data_dir=str(tmp_path),
                                         **options)))
    assert window.numpy().tolist() == [[0, 0], [1, -1], [2, -2], [3, -3]]
    assert target.numpy().tolist() == [[4], [5]]
    assert "1 gap in time column 't' (steps longer than the usual 1), the first after 19." \
        in capsys.readouterr().out
    info = data.info("csv:s.csv", data_dir=str(tmp_path), **options)
    assert info.task == "forecasting" and sum(info.splits.values()) == 38
    first_test = next(iter(data.load("csv:s.csv", "test", data_dir=str(tmp_path), **options)))
    assert float(first_test[1][0, 0]) >= 33  # the last 15% of the time steps
    mean, std = data.normalization("csv:s.csv", data_dir=str(tmp_path), **options)
    assert mean.shape == (2,) and float(mean[0]) == pytest.approx(np.mean(sorted(times)[:27]))


@pytest.mark.parametrize("files", [4, 1])
def test_input_pipelines_share_out_files_or_records(tmp_path, files):
    for shard in range(files):
        write_csv(tmp_path / f"part-{shard}.csv", ["text", "label"],
                  [(f"r{shard}-{i}", i % 2) for i in range(12 // files)])
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2,
                                             input_pipeline_id=pipeline)
        seen.append(_texts(data.load("csv:part-*.csv", "train", data_dir=str(tmp_path),
                                     input_context=context, text_column="text",
                                     split_fractions="1,0,0")))
    assert sorted(seen[0] + seen[1]) == sorted(f"r{s}-{i}" for s in range(files)
                                               for i in range(12 // files))
    assert not set(seen[0]) & set(seen[1]) and len(seen[0]) == 6
    if files == 4:  # whole files per pipeline
        assert {text.split("-")[0] for text in seen[0]} == {"r0", "r2"}


@pytest.mark.parametrize("form", ["jsonl", "tfrecord"])
def test_a_series_file_without_records_to_take_its_columns_from(tmp_path, form):
    # Without target_columns, a series' columns are those of its first readable record.
    (tmp_path / f"s.{form}").write_bytes(b"")
    with pytest.raises(data.BadDataError, match=exactly(
            f"{tmp_path}/s.{form}: the file is empty (no records).")):
        data.info(f"{form}:s.{form}", data_dir=str(tmp_path), task="forecasting")
    if form == "jsonl":
        (tmp_path / "s.jsonl").write_text('{"t": 1, "y": 2.0\n[1, 2]\n')
        with pytest.raises(data.BadDataError, match=exactly(
                f"{tmp_path}/s.jsonl: no record can be read to take target_columns from (the "
                "first, line 1: not a JSON object (Expecting ',' delimiter: line 1 column 18 "
                "(char 17))). Fix the data, or give target_columns=.")):
            data.info("jsonl:s.jsonl", data_dir=str(tmp_path), task="forecasting")
