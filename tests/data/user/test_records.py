"""Files that cannot be read as records of their form: each error names the file and the record."""

import os

import pytest
import tensorflow as tf

from seqmodels import data
from seqmodels.data import BadDataError
from tests.data.user.files import SKIP_HINT, exactly, feature, write_tfrecord

TEXT = dict(text_column="review", label_column="score")


def _info(name, directory, **options):
    return data.info(name, data_dir=str(directory), **options)


def test_a_json_line_that_is_valid_json_but_not_an_object(tmp_path):
    (tmp_path / "t.jsonl").write_text('{"review": "a fine film", "score": "good"}\n[1, 2]\n')
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/t.jsonl, line 2: not a JSON object (one object a line, its keys the "
            f"columns). {SKIP_HINT}")):
        _info("jsonl:t.jsonl", tmp_path, **TEXT)


@pytest.mark.parametrize("form, text, options", [("jsonl", "", TEXT), ("jsonl", "\n  \n", TEXT),
                                                  ("tfrecord", "", TEXT), ("lines", "", {})])
def test_a_file_without_records(tmp_path, form, text, options):
    (tmp_path / f"e.{form}").write_text(text)
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/e.{form}: the file is empty (no records).")):
        _info(f"{form}:e.{form}", tmp_path, **options)


def _three_records(path):
    write_tfrecord(path, [{"review": f"film {i}", "score": "good"} for i in range(3)])
    with open(path, "rb") as f:
        return bytearray(f.read())


def test_a_truncated_or_damaged_tfrecord_file_is_corrupt_and_never_skipped(tmp_path):
    whole = _three_records(tmp_path / "r.tfrecord")
    size = len(whole) // 3  # each record: length (8 bytes), its checksum (4), data, checksum (4)
    (tmp_path / "r.tfrecord").write_bytes(whole[:-5])
    for on_bad_record in ("error", "skip"):
        with pytest.raises(BadDataError, match=exactly(
                f"{tmp_path}/r.tfrecord, record 2: the file is corrupt (it ends inside the record "
                f"that starts at byte {2 * size} (truncated)).")):
            _info("tfrecord:r.tfrecord", tmp_path, on_bad_record=on_bad_record, **TEXT)
    whole[size + 14] ^= 0xFF  # a byte of the second record's data
    (tmp_path / "r.tfrecord").write_bytes(whole)
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/r.tfrecord, record 1: the file is corrupt (a checksum fails at byte "
            f"{size + 12}).")):
        _info("tfrecord:r.tfrecord", tmp_path, **TEXT)
    (tmp_path / "r.tfrecord").write_text("review,score\na fine film,good\n")
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/r.tfrecord, record 0: the file is corrupt (a checksum fails at byte 0: "
            "is it a TFRecord file?).")):
        _info("tfrecord:r.tfrecord", tmp_path, **TEXT)


def test_a_record_that_is_not_a_tf_train_example(tmp_path):
    good = tf.train.Example(features=tf.train.Features(feature={
        "review": feature("a fine film"), "score": feature("good")}))
    with tf.io.TFRecordWriter(str(tmp_path / "r.tfrecord")) as writer:
        writer.write(good.SerializeToString())
        writer.write(b"\xff\xff\xff")  # a record, but no protocol buffer
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/r.tfrecord, record 1: not a tf.train.Example. {SKIP_HINT}")):
        _info("tfrecord:r.tfrecord", tmp_path, **TEXT)


def test_a_class_folder_dataset_needs_class_subfolders_that_hold_files(tmp_path):
    os.makedirs(tmp_path / "photos" / ".cache")
    (tmp_path / "photos" / "notes.txt").write_text("not a class")
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/photos: no class subfolders (expected one subfolder per class, holding "
            "its text or image files).")):
        _info("dir:photos", tmp_path)
    for name in ("dog", "cat"):
        os.makedirs(tmp_path / "photos" / name / "empty")
    (tmp_path / "photos" / "cat" / ".hidden").write_text("")
    with pytest.raises(BadDataError, match=exactly(
            f"{tmp_path}/photos: the class subfolders cat, dog hold no files.")):
        _info("dir:photos", tmp_path)
