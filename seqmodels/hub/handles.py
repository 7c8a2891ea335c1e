"""TF Hub / Kaggle Models handles: from a handle to a loaded SavedModel, failing fast offline.

`resolve_handle` turns a handle (a directory, a `file://` URL, or a remote
`https://tfhub.dev/...` / `https://www.kaggle.com/models/...` / `gs://` address) into the local
directory of its SavedModel, through tensorflow_hub's resolver and cache for remote ones. Before
a remote handle that is not cached is downloaded, a bounded connection attempt checks that the
network is reachable, so that an offline machine gets a `ConnectionError` that says what to do
instead of tensorflow_hub's retries. `load_saved_model` loads the resolved directory, importing
tensorflow_text when the graph needs its ops. `HubLayer` (in `hub_layer.py`) uses both.
"""

import hashlib
import http.client
import os
import socket
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request

import tensorflow as tf

# Seconds to wait for the name lookup and the TCP connection of a remote handle before deciding
# that the network is unreachable (a download itself is not bounded by this).
CONNECT_TIMEOUT_ENV = "SEQMODELS_HUB_CONNECT_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT_S = 2.0

_REMOTE_PREFIXES = ("http://", "https://", "gs://")
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def import_tensorflow_hub():
    """Imports `tensorflow_hub`, working around its import of the removed `pkg_resources`.

    tensorflow_hub 0.16.1 runs `from pkg_resources import parse_version` at import time;
    setuptools >= 82 no longer ships `pkg_resources` (tensorflow/hub#934), so the import fails.
    When `pkg_resources` is missing, a stand-in exposing only `parse_version` (from `packaging`)
    is visible for the duration of the import and removed afterwards.

    Returns:
        The `tensorflow_hub` module.

    Example:

    >>> import_tensorflow_hub().__name__
    'tensorflow_hub'
    """
    if "tensorflow_hub" in sys.modules:
        return sys.modules["tensorflow_hub"]
    try:
        import pkg_resources  # noqa: F401
        shim = None
    except ImportError:
        from packaging.version import parse as parse_version

        shim = types.ModuleType("pkg_resources")
        shim.parse_version = parse_version
        sys.modules["pkg_resources"] = shim
    try:
        import tensorflow_hub
    finally:
        if shim is not None and sys.modules.get("pkg_resources") is shim:
            del sys.modules["pkg_resources"]
    return tensorflow_hub


def _connect_timeout():
    value = os.environ.get(CONNECT_TIMEOUT_ENV, "")
    try:
        return float(value) if value else DEFAULT_CONNECT_TIMEOUT_S
    except ValueError:
        raise ValueError(f"{CONNECT_TIMEOUT_ENV} must be a number of seconds. "
                         f"Received: {CONNECT_TIMEOUT_ENV}={value!r}") from None


def _hub_cache_entry(handle):
    """The directory where tensorflow_hub caches `handle`, or None when it does not cache it.

    Mirrors `tensorflow_hub.compressed_module_resolver._module_dir`: the SHA-1 of the handle under
    `TFHUB_CACHE_DIR` (default: `<tmp>/tfhub_modules`). With `TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED`
    tensorflow_hub reads the model from its remote location every time, without a cache.
    """
    from tensorflow_hub import resolver

    load_format = resolver.model_load_format()
    if load_format not in (resolver.ModelLoadFormat.COMPRESSED.value,
                           resolver.ModelLoadFormat.AUTO.value):
        return None
    cache_dir = resolver.tfhub_cache_dir(use_temp=True)
    return os.path.join(cache_dir, hashlib.sha1(handle.encode("utf8")).hexdigest())


def _probe_connection(url, timeout):
    """Raises OSError unless a TCP connection to `url`'s host (or its proxy) opens in `timeout` s.

    The name lookup runs in a daemon thread so that a resolver that never answers cannot hang the
    caller; urllib's proxy settings (`https_proxy`, `no_proxy`, ...) are honoured.
    """
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parsed.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        host, port = proxy_url.hostname, proxy_url.port or 80
    outcome = {}

    def connect():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as error:
            outcome["error"] = error

    thread = threading.Thread(target=connect, name="seqmodels-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"no connection to {host}:{port} within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]


def _offline_error(handle, cause, cache_entry):
    where = (f", or put the unpacked SavedModel in tensorflow_hub's cache at {cache_entry}"
             if cache_entry else "")
    return ConnectionError(
        f"Could not download the hub handle {handle!r}: it needs network access or a local copy. "
        f"Pass the directory of a downloaded copy of the SavedModel (or a file:// URL) as "
        f"`handle`{where}. Cause: {cause}")


def resolve_handle(handle):
    """Resolves a TF Hub / Kaggle Models handle to a local SavedModel directory.

    Local directories and `file://` URLs are used in place. `http(s)://` handles
    (`https://tfhub.dev/...`, `https://www.kaggle.com/models/...`, or a URL of a `.tar.gz`) and
    `gs://` handles go through tensorflow_hub's own resolver (`hub.resolve`), which downloads
    them once into its cache (`TFHUB_CACHE_DIR`). A remote handle that is not cached is checked
    first with a bounded connection attempt (`SEQMODELS_HUB_CONNECT_TIMEOUT`, default 2 s), so
    that without network it fails at once with a `ConnectionError` instead of hanging.

    Args:
        handle: a path, a `file://` URL, or a remote handle.

    Returns:
        The path of the local directory that holds the SavedModel.

    Raises:
        ConnectionError: a remote handle that is not cached and the network is unreachable.
        FileNotFoundError: a local handle that does not exist.
        ValueError: a directory that holds no SavedModel.

    Example:

    >>> import tempfile
    >>> directory = tempfile.TemporaryDirectory()
    >>> path = os.path.join(directory.name, "scale")
    >>> module = tf.Module()
    >>> module.scale = tf.Variable(2.0)
    >>> tf.saved_model.save(module, path)
    >>> resolve_handle("file://" + path) == resolve_handle(path) == path
    True
    >>> directory.cleanup()
    """
    if not isinstance(handle, (str, os.PathLike)) or not str(handle):
        raise ValueError("`handle` must be a non-empty string: a directory, a file:// URL or a "
                         f"TF Hub / Kaggle Models URL. Received: handle={handle!r}")
    handle = os.fspath(handle)
    if handle.startswith(_REMOTE_PREFIXES):
        hub = import_tensorflow_hub()
        cache_entry = _hub_cache_entry(handle)
        cached = bool(cache_entry and os.path.isdir(cache_entry) and os.listdir(cache_entry))
        if not cached and handle.startswith(("http://", "https://")):
            try:
                _probe_connection(handle, _connect_timeout())
            except OSError as error:
                raise _offline_error(handle, error, cache_entry) from error
        try:
            path = hub.resolve(handle)
        except urllib.error.HTTPError as error:
            raise OSError(f"Could not download the hub handle {handle!r}: the server answered "
                          f"HTTP {error.code} ({error.reason}).") from error
        except urllib.error.URLError as error:
            raise _offline_error(handle, error.reason, cache_entry) from error
        except (ConnectionError, TimeoutError, socket.gaierror, http.client.HTTPException) as error:
            raise _offline_error(handle, error, cache_entry) from error
    elif handle.startswith("file://"):
        path = urllib.request.url2pathname(urllib.parse.urlsplit(handle).path)
    else:
        path = handle
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"The hub handle {handle!r} points to {path}, which is not a "
                                "directory holding a SavedModel.")
    if not any(os.path.exists(os.path.join(path, name)) for name in _SAVED_MODEL_FILES):
        raise ValueError(f"The hub handle {handle!r} points to {path}, which holds no "
                         "saved_model.pb: it is not a SavedModel.")
    if os.path.exists(os.path.join(path, "tfhub_module.pb")):
        raise ValueError(f"The hub handle {handle!r} is in the TF1 Hub format (hub.Module), "
                         "which HubLayer does not load. Use the TF2 SavedModel version of the "
                         "model.")
    return path


def load_saved_model(path, handle):
    """`tf.saved_model.load`, importing tensorflow_text when the graph needs its ops.

    Text preprocessors (BERT tokenizers) use ops that exist only once `tensorflow_text` is
    imported; TF Hub's instructions tell users to import it by hand.

    Args:
        path: the SavedModel directory, as `resolve_handle` returns it.
        handle: the handle `path` was resolved from, for error messages.

    Returns:
        The loaded object.

    Raises:
        RuntimeError: the graph needs ops that are missing and tensorflow_text is not installed.

    Example:

    >>> import tempfile
    >>> directory = tempfile.TemporaryDirectory()
    >>> module = tf.Module()
    >>> module.scale = tf.Variable(2.0)
    >>> tf.saved_model.save(module, directory.name)
    >>> float(load_saved_model(resolve_handle(directory.name), directory.name).scale.numpy())
    2.0
    >>> directory.cleanup()
    """
    try:
        return tf.saved_model.load(path)
    except (RuntimeError, tf.errors.NotFoundError) as error:
        if "Op type not registered" not in str(error):
            raise
        try:
            import tensorflow_text  # noqa: F401  (registers the ops)
        except ImportError:
            raise RuntimeError(
                f"The SavedModel at {handle!r} uses TensorFlow ops this process does not "
                "have; text preprocessors need `pip install tensorflow-text` (matching the "
                f"TensorFlow version). Cause: {str(error).splitlines()[0]}") from error
        return tf.saved_model.load(path)
