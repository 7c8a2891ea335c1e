"""Datasets of your own files: CSV, TSV, JSON Lines, TFRecord, class folders and text lines.

`seqmodels.data.load("csv:reviews/{split}.csv", "train", text_column="review",
label_column="score")` reads your files for any task (`info` takes the same options). A
validation pass reads every record once before training (`scan`): bad data fails there with the
file, the line or record and the column, or is skipped and counted per file with
`on_bad_record="skip"`; class names (sorted string labels), image shapes and series are learned
from the training split. The tf.data readers then stream the files, split by `{split}` or by a
hash of each record (80/10/10, `split_fractions`), and shard them across input pipelines.
A bad option raises `DataOptionError` (a `TypeError` and a `ValueError`), naming it.
"""

from seqmodels.data.user.dataset import info, load, normalization
from seqmodels.data.user.options import (DataOptionError, FileOptions, parse_pairs,
                                         valid_options)
from seqmodels.data.user.spec import FORMS, FileSpec, is_file_spec

__all__ = ["DataOptionError", "FORMS", "FileOptions", "FileSpec", "info", "is_file_spec", "load",
           "normalization", "parse_pairs", "valid_options"]
