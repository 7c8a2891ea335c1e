"""`FileSpec`: a dataset of the user's own files, parsed from `csv:<glob>`, `dir:<path>`, ...

A spec names a format and a path pattern. `{split}` in the pattern expands to `train`,
`validation` and `test` (one file set each); without it every split comes from the same files,
divided by a hash of each record. Globs may match many files (shards): they are read in sorted
order, so every run sees the same records in the same order.
"""

import dataclasses
import glob
import os

from seqmodels.data.dataset_info import DataNotFoundError

FORMS = ("csv", "tsv", "jsonl", "tfrecord", "dir", "lines")
SPLITS = ("train", "validation", "test")
SPLIT_FIELD = "{split}"


def is_file_spec(name):
    """Whether `name` names the user's own files (`csv:...`, `dir:...`, ...).

    Example:

    >>> is_file_spec("csv:reviews/{split}.csv"), is_file_spec("rotten_tomatoes")
    (True, False)
    """
    return isinstance(name, str) and name.partition(":")[0] in FORMS and ":" in name


@dataclasses.dataclass(frozen=True)
class FileSpec:
    """A parsed `<form>:<pattern>` dataset name.

    Attributes:
        form: one of `FORMS`.
        pattern: the path or glob, `{split}` unexpanded, joined to `data_dir` when relative.
        name: the spec as given (for messages).

    Example:

    >>> spec = FileSpec.parse("jsonl:pairs/{split}-*.jsonl", data_dir="/data")
    >>> spec.form, spec.pattern, spec.has_split_files
    ('jsonl', '/data/pairs/{split}-*.jsonl', True)
    """

    form: str
    pattern: str
    name: str

    @classmethod
    def parse(cls, name, data_dir=None):
        """The `FileSpec` of `name`; a relative pattern is taken relative to `data_dir`."""
        form, sep, pattern = name.partition(":") if isinstance(name, str) else ("", "", "")
        if not sep or form not in FORMS:
            raise ValueError(f"A dataset of your own files is <form>:<path or glob> with a form "
                             f"of {', '.join(FORMS)}. Received: {name!r}")
        if not pattern:
            raise ValueError(f"Dataset {name!r} names no path: expected {form}:<path or glob>.")
        pattern = os.path.expanduser(pattern)
        if data_dir and not os.path.isabs(pattern):
            pattern = os.path.join(data_dir, pattern)
        return cls(form, pattern, name)

    @property
    def has_split_files(self):
        """Whether the pattern holds `{split}` (each split its own files)."""
        return SPLIT_FIELD in self.pattern

    def files(self, split):
        """The sorted files (or, for `dir:`, the one folder) of `split`.

        Raises:
            DataNotFoundError: a missing split file, or a glob that matches nothing, naming
                the path looked for.
        """
        pattern = self.pattern.replace(SPLIT_FIELD, split)
        if self.form == "dir":
            if not os.path.isdir(pattern):
                raise DataNotFoundError(self.missing(split, pattern, "folder"))
            return [pattern]
        if glob.has_magic(pattern):
            found = sorted(path for path in glob.glob(pattern) if os.path.isfile(path))
            if not found:
                raise DataNotFoundError(f"Dataset {self.name!r}: no file matches {pattern}"
                                        + self.split_note(split) + ".")
            return found
        if not os.path.isfile(pattern):
            raise DataNotFoundError(self.missing(split, pattern, "file"))
        return [pattern]

    def missing(self, split, path, what):
        return f"Dataset {self.name!r}: {what} {path} not found" + self.split_note(split) + "."

    def split_note(self, split):
        if not self.has_split_files:
            return ""
        return (f" (the {split} split; {SPLIT_FIELD} expands to {', '.join(SPLITS)}, each "
                "split needs its files)")
