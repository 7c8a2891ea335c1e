"""Image classification: the Vision Transformer or a CNN from scratch, or a pretrained backbone.

Images arrive as (height, width, channels) uint8 and are scaled to [0, 1] by
`seqmodels.data.image_pipeline` (with seeded shifts, and flips for clothes, under `augment`);
a `backbone` (`keras_app:`, `hub:`, `preset:`) replaces the from-scratch model and may follow
the two-phase fine-tune schedule. The export serves encoded image bytes.
"""

import dataclasses
import typing

from seqmodels import data
from seqmodels.models.cnn_classifier import CNNClassifier
from seqmodels.models.vision_transformer import VisionTransformer
from seqmodels.tasks import common
from seqmodels.tasks.backbone import BackboneFields
from seqmodels.tasks.task_config import ModelFields, TaskConfig, check_choice
from seqmodels.tasks.task_spec import TaskSpec

# Datasets whose pictures survive a mirror (clothes do; digits do not).
FLIPPABLE = ("fashion_mnist",)


@dataclasses.dataclass(frozen=True)
class ImageClassificationConfig(BackboneFields, ModelFields, TaskConfig):
    """The model and data fields of image classification.

    Attributes:
        model: `vit` or `cnn`.
        patch_size: ViT patch side.
        pooling: ViT head input, `token` (class token) or `mean` (average of the patches).
        stem: ViT tokens from `patch` projections or a `conv` stem (the hybrid ViT).
        hidden_dim, num_layers, num_heads, intermediate_dim, dropout: the network's size (see
            `seqmodels.tasks.task_config.ModelFields`).
        augment: random shifts (and, for Fashion-MNIST, flips) of the training images.
        label_smoothing: cross-entropy label smoothing.
        backbone_weights: Keras Applications weights: "" (random), a file, or `imagenet`.
        backbone, backbone_trainable, head_epochs, unfreeze_top, fine_tune_learning_rate: see
            `seqmodels.tasks.backbone.BackboneFields`.

    Example:

    >>> ImageClassificationConfig(stem="conv").pooling
    'token'
    """

    TASK: typing.ClassVar[str] = "image_classification"
    MODELS: typing.ClassVar[tuple] = ("vit", "cnn")
    POSITIVE: typing.ClassVar[tuple] = ("patch_size",)
    RATES: typing.ClassVar[tuple] = ("label_smoothing",)

    model: str = "vit"
    patch_size: int = 4
    pooling: str = "token"
    stem: str = "patch"
    augment: bool = True
    label_smoothing: float = 0.0
    backbone_weights: str = ""

    def validate(self):
        check_choice("pooling", self.pooling, ("token", "mean"))
        check_choice("stem", self.stem, ("patch", "conv"))
        super().validate()


PRESETS = {
    # Fashion-MNIST hybrid ViT: a conv stem makes 7x7 = 49 tokens, mean pooling, label
    # smoothing, XLA. Sized for 15 minutes on 2 cores (~95 s an epoch): in 7 epochs the
    # shifts and flips of `augment` cost more accuracy (underfitting) than they save.
    "default": dict(model="vit", dataset="fashion_mnist", epochs=7, global_batch_size=128,
                    learning_rate=2e-3, weight_decay=0.05, warmup_fraction=0.05,
                    patch_size=4, pooling="mean", stem="conv", hidden_dim=64, num_layers=4,
                    num_heads=4, intermediate_dim=128, dropout=0.0, label_smoothing=0.1,
                    augment=False, jit_compile=True),
    "tiny": dict(model="vit", dataset="fashion_mnist", epochs=1, global_batch_size=4,
                 steps_per_epoch=2, patch_size=7, hidden_dim=8, num_layers=1, num_heads=2,
                 intermediate_dim=16, dropout=0.0),
}


def build(config, strategy):
    """The image classification `Task` of `config`, its model built under `strategy.scope()`."""
    fields, run = config.task_config, config.run
    train = common.train_split(config)
    num_train = common.count_train(config, train)  # the validation pass counted your files
    image_shape = tuple(train.element_spec[0].shape)
    flip = fields.augment and run.dataset in FLIPPABLE

    def batches(dataset, epoch=None):
        if epoch is None:
            return data.image_pipeline(dataset, run.global_batch_size)
        return data.image_pipeline(dataset, run.global_batch_size, seed=run.seed + epoch,
                                   augment=fields.augment, flip=flip, drop_remainder=True)

    num_classes = common.info(config).num_classes
    with strategy.scope():
        if fields.backbone:
            from seqmodels import transfer

            model = transfer.image_backbone_classifier(
                fields.backbone, image_shape, num_classes,
                weights=fields.backbone_weights or None, dropout=fields.dropout,
                trainable=fields.backbone_starts_trainable(), seed=run.seed)
        elif fields.model == "vit":
            model = VisionTransformer(
                image_shape, num_classes, variant=f"mu/{fields.patch_size}",
                hidden_dim=fields.hidden_dim, depth=fields.num_layers,
                num_heads=fields.num_heads, intermediate_dim=fields.intermediate_dim,
                dropout=fields.dropout, pooling=fields.pooling, stem=fields.stem)
        else:
            model = CNNClassifier(image_shape, num_classes, dropout=fields.dropout)
    return common.make_task(config, model, train, num_train, batches,
                            common.load(config, "validation"), common.load(config, "test"),
                            train_options={},
                            export_kwargs=dict(class_names=common.class_names(config)),
                            fine_tune=fields.fine_tune())


TASK = TaskSpec("image_classification", ImageClassificationConfig, PRESETS, build)
