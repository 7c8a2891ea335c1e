"""Writing a file so that a reader sees the old one or the new one, never a part.

Style guide item 14 (TensorFlow's checkpoint writer, the SavedModel exporter's `temp-` version
directories): write to a temporary name, then rename. `export_for_serving` does it for version
directories (`.partial-<version>-...`); this does it for the text files beside them.
"""

import os
import tempfile


def write_text_atomically(path, text):
    """Writes `text` to `path` through a temporary sibling renamed over it (`os.replace`).

    A reader sees the old file or the new one, never a part; a failure while writing leaves
    the old file and removes the temporary one.

    Args:
        path: the file to write.
        text: its new contents.

    Returns:
        `path`.

    Example:

    >>> path = os.path.join(tempfile.mkdtemp(), "models.config")
    >>> write_text_atomically(path, "model_config_list {}\\n") == path, open(path).read()
    (True, 'model_config_list {}\\n')
    """
    directory, name = os.path.split(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    os.close(handle)
    try:
        with open(temporary, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the file from a server's user
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path
