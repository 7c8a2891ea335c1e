"""Small data files of every form, written by the tests of your-own-data loading, and the
text their error messages end with."""

import csv
import json
import os
import re

import numpy as np
import tensorflow as tf

# What every per-record error ends with (after ". ").
SKIP_HINT = ("Fix the data, or skip such records with --data_option=on_bad_record=skip "
             "(on_bad_record=\"skip\" in Python).")
REVIEWS = [("a fine, warm film", "good"), ("a dull plot", "bad"), ("great acting", "good"),
           ("boring and long", "bad")]


def write_csv(path, header, rows, delimiter=","):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return str(path)


def feature(value):
    if isinstance(value, int):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    if isinstance(value, float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
    if isinstance(value, str):
        value = value.encode()
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def write_tfrecord(path, rows):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for row in rows:
            example = tf.train.Example(features=tf.train.Features(
                feature={k: feature(v) for k, v in row.items()}))
            writer.write(example.SerializeToString())
    return str(path)


def png(value, shape=(8, 8, 1)):
    return tf.io.encode_png(np.full(shape, value, np.uint8)).numpy()


def write_split_csvs(directory, rows_by_split=None, header=("review", "score")):
    """`{split}.csv` files of reviews (the same four reviews in each split by default)."""
    for split in ("train", "validation", "test"):
        rows = (rows_by_split or {}).get(split, REVIEWS)
        write_csv(os.path.join(directory, f"{split}.csv"), header, rows)
    return str(directory)


def exactly(message):
    """The `pytest.raises(match=...)` pattern of exactly `message`, whole."""
    return f"^{re.escape(message)}$"
