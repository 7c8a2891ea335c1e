"""Finding the real data files: inside installed packages, Debian data directories, or a data_dir."""

import importlib.util
import os

from seqmodels.data.dataset_info import DataNotFoundError


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
