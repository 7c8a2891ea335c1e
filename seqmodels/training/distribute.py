"""Picks a `tf.distribute` strategy from a string.

Everything that the strategy should place (data, model, optimizer) is built by the caller inside
`strategy.scope()`; this module only chooses and configures the strategy. (The pattern of Model
Garden's `official/common/distribute_utils.py`.)
"""

import tensorflow as tf

from seqmodels.training import preflight

STRATEGIES = (
    "default",
    "one_device",
    "mirrored",
    "multi_worker_mirrored",
    "parameter_server",
    "tpu",
)


def configure_cpu_devices(num_cpu_devices):
    """Splits the physical CPU into `num_cpu_devices` logical devices.

    This lets `MirroredStrategy` run several replicas on a CPU-only machine. It must run before
    TensorFlow initialises its devices (before the first op); afterwards TensorFlow refuses, and
    this function raises a `RuntimeError` that says so.

    Args:
        num_cpu_devices: the number of logical CPU devices, at least 1.
    """
    if not isinstance(num_cpu_devices, int) or num_cpu_devices < 1:
        raise ValueError(
            "`num_cpu_devices` must be a positive integer. "
            f"Received: num_cpu_devices={num_cpu_devices!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    existing = tf.config.get_logical_device_configuration(cpu)
    if existing is not None and len(existing) == num_cpu_devices:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_cpu_devices)])
    except RuntimeError as e:
        raise RuntimeError(
            f"Cannot split the CPU into {num_cpu_devices} logical devices: TensorFlow is "
            "already initialised. Call configure_cpu_devices() before building any tensor."
        ) from e


def _replica_devices():
    """The devices a single-machine strategy should replicate over: GPUs, else logical CPUs."""
    gpus = tf.config.list_logical_devices("GPU")
    devices = gpus or tf.config.list_logical_devices("CPU")
    return [d.name for d in devices]


def get_strategy(name="default", tpu="", num_cpu_devices=0):
    """Returns the `tf.distribute.Strategy` called `name`.

    Args:
        name: one of `STRATEGIES`. `"default"` is TensorFlow's default (no-op) strategy;
            `"one_device"` places everything on the first GPU (else the CPU); `"mirrored"`
            replicates over all local GPUs (else all logical CPU devices);
            `"multi_worker_mirrored"` and `"parameter_server"` read the cluster from the
            `TF_CONFIG` environment variable; `"tpu"` connects to the TPU named by `tpu`.
        tpu: the TPU address or name for `"tpu"` (`""` means the local TPU).
        num_cpu_devices: when positive, first splits the CPU into this many logical devices, so
            that `"mirrored"` gets several replicas on a CPU-only machine.

    Returns:
        The strategy.

    Example:

    >>> import keras
    >>> strategy = get_strategy("default")
    >>> strategy.num_replicas_in_sync
    1
    >>> with strategy.scope():
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    On a CPU-only machine, `get_strategy("mirrored", num_cpu_devices=2)` gives two replicas
    (it must run before TensorFlow first touches the devices, as the training binary does):

    >>> get_strategy("mirrored", num_cpu_devices=2).num_replicas_in_sync  # doctest: +SKIP
    2
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"`strategy` must be one of {', '.join(STRATEGIES)}. Received: strategy={name!r}")
    if num_cpu_devices:
        configure_cpu_devices(num_cpu_devices)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices=_replica_devices())
    if name == "multi_worker_mirrored":
        preflight.check_cluster(name, tpu, argument=f"strategy={name!r}")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "parameter_server":
        preflight.check_cluster(name, tpu, argument=f"strategy={name!r}")
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        return tf.distribute.experimental.ParameterServerStrategy(resolver)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)
