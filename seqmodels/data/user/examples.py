"""From a record's column tensors to a task's examples, as the bundled datasets yield them.

- text classification: `(text string, label int64)`;
- image classification: `(image uint8 (h, w, c), label int64)`;
- translation: `(source string, target string)`;
- captioning: `(image uint8 (h, w, c), caption string)`;
- language modelling: a string.

String labels become the ids of the sorted training labels (`FileScan.class_names`); integer
labels are their own ids. An image column holds a path relative to its data file (or, in a
TFRecord, the encoded bytes); every image is decoded to the training split's first image's
shape, or resized to `image_size`.
"""

import tensorflow as tf

from seqmodels.data.user.readers import FILE, PLAIN


def label_ids(file_scan):
    """`ids(label string or int64 tensor) -> int64 tensor` for the scan's labels."""
    if file_scan.integer_labels:
        return lambda label: (label if label.dtype == tf.int64
                              else tf.strings.to_number(tf.strings.strip(label), tf.int64))
    names = list(file_scan.class_names)
    table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
        tf.constant(names), tf.range(len(names), dtype=tf.int64)), -1)
    return lambda label: table.lookup(tf.strings.strip(label))


def image_decoder(file_scan, from_bytes):
    """`decode(value, file) -> uint8 (h, w, c)`: bytes, or a path relative to `file`'s folder."""
    height, width, channels = file_scan.image_shape
    size = file_scan.options.get("image_size") or ()
    if size:
        height, width = size

    def decode(value, file):
        if not from_bytes:
            folder = tf.strings.regex_replace(file, "[^/]*$", "")
            path = value if file_scan.options["image_column"] == "path" else folder + value
            value = tf.io.read_file(path)
        image = tf.io.decode_image(value, channels=channels, expand_animations=False)
        if size:
            image = tf.cast(tf.round(tf.clip_by_value(
                tf.image.resize(image, size), 0.0, 255.0)), tf.uint8)
        return tf.ensure_shape(image, (height, width, channels))
    return decode


def examples(batches, spec, file_scan):
    """Maps a `column_batches` dataset to the task's examples (see the module docstring).

    Text is mapped a batch at a time, then unbatched; images are decoded one at a time.
    """
    task, options = file_scan.task, file_scan.options

    def unbatched(pick):
        return batches.map(PLAIN(pick), num_parallel_calls=tf.data.AUTOTUNE,
                           deterministic=True).unbatch()

    if task == "language_modeling":
        return unbatched(lambda batch: batch[options["text_column"]])
    if task == "translation":
        return unbatched(lambda batch: (batch[options["source_column"]],
                                        batch[options["target_column"]]))
    ids = label_ids(file_scan) if task != "captioning" else None
    if task == "text_classification":
        return unbatched(lambda batch: (batch[options["text_column"]],
                                        ids(batch[options["label_column"]])))
    decode = image_decoder(file_scan, from_bytes=spec.form == "tfrecord")
    other = (lambda row: row[options["caption_column"]]) if task == "captioning" \
        else (lambda row: ids(row[options["label_column"]]))
    return batches.unbatch().map(PLAIN(lambda row: (decode(row[options["image_column"]],
                                                           row[FILE]), other(row))),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
