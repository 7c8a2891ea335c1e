"""The pretrained-backbone fields shared by the classification tasks, and their fine-tune plan.

`BackboneFields` is mixed into the task configs of text and image classification (before
`TaskConfig`, so that its `validate` and `check_run` are the ones called): a backbone
string (see `seqmodels.transfer`) replaces the from-scratch model, and `head_epochs > 0` runs
`seqmodels.transfer.fine_tune`'s two-phase schedule with the binary's own loop.
"""

import dataclasses
import typing

from seqmodels.tasks.task import FineTune


@dataclasses.dataclass(frozen=True)
class BackboneFields:
    """Fields of a classifier on a pretrained backbone.

    Attributes:
        backbone: a pretrained backbone instead of `model`: `preset:<keras-hub preset or dir>`,
            `hf:<Hugging Face BERT dir>`, `hub:<handle>`, `torch_hub:<repo dir>:<entry>` or
            `keras_app:<Name>` (see `seqmodels.transfer`); "" trains `model` from scratch.
        backbone_trainable: fine-tune the backbone (False: frozen, only the head trains).
        head_epochs: the first epochs of the two-phase fine-tune schedule: the head trains on
            the frozen backbone at `learning_rate`, then from epoch `head_epochs + 1` on the top
            `unfreeze_top` backbone layers train too at `fine_tune_learning_rate`, every
            BatchNormalization frozen and in inference mode. 0: no schedule (the backbone
            trains or stays frozen for all epochs, as `backbone_trainable` says).
        unfreeze_top: how many top backbone layers the fine-tune phase unfreezes; -1 for all.
        fine_tune_learning_rate: peak learning rate of the fine-tune phase (same AdamW, warm-up
            and decay, over that phase's steps).
        lora_rank: text backbones (`preset:`, `hf:`, `torch_hub:`): fine-tune LoRA pairs of this
            rank on the encoder's dense and attention projections, the encoder frozen and the
            head trained whole (`seqmodels.transfer.enable_lora`); the export merges them. 0:
            no LoRA.

    Example:

    >>> fields = BackboneFields(backbone="keras_app:MobileNetV3Small", head_epochs=1)
    >>> fields.backbone_starts_trainable()
    False
    """

    backbone: str = ""
    backbone_trainable: bool = True
    head_epochs: int = 0
    unfreeze_top: int = -1
    fine_tune_learning_rate: float = 1e-5
    lora_rank: int = 0

    LORA_TASKS: typing.ClassVar[tuple] = ("text_classification",)
    LORA_BACKBONES: typing.ClassVar[tuple] = ("preset:", "hf:", "torch_hub:")

    def validate(self):
        """Validates `head_epochs`, `unfreeze_top` and `fine_tune_learning_rate` together.

        Mixed in before `TaskConfig` (`class Config(BackboneFields, TaskConfig)`), this is the
        `validate` that `TaskConfig.__post_init__` calls; a subclass with checks of its own
        calls `super().validate()`.
        """
        if self.head_epochs < 0:
            raise ValueError("`head_epochs` must be a non-negative integer (0: no fine-tune "
                             f"schedule). Received: head_epochs={self.head_epochs!r}")
        if self.unfreeze_top != -1 and self.unfreeze_top < 1:
            raise ValueError("`unfreeze_top` must be -1 (all backbone layers) or a positive "
                             f"integer. Received: unfreeze_top={self.unfreeze_top!r}")
        if self.fine_tune_learning_rate <= 0:
            raise ValueError("`fine_tune_learning_rate` must be positive. Received: "
                             f"fine_tune_learning_rate={self.fine_tune_learning_rate!r}")
        self._validate_lora()
        if not self.head_epochs:
            return
        if not self.backbone:
            raise ValueError("`head_epochs` > 0 needs a pretrained `backbone` to freeze, then "
                             f"unfreeze. Received: head_epochs={self.head_epochs}, backbone=''")
        if self.unfreeze_top != -1 and self.backbone.startswith("hub:"):
            raise ValueError("`unfreeze_top` must be -1 for a hub: backbone, one SavedModel that "
                             f"unfreezes whole. Received: unfreeze_top={self.unfreeze_top}, "
                             f"backbone={self.backbone!r}")
        if not self.backbone_trainable:
            raise ValueError("`head_epochs` > 0 unfreezes the backbone after the head epochs, "
                             "which contradicts backbone_trainable=False. Received: "
                             f"head_epochs={self.head_epochs}, backbone_trainable=False")

    def _validate_lora(self):
        if self.lora_rank < 0:
            raise ValueError("`lora_rank` must be a non-negative integer (0: no LoRA). "
                             f"Received: lora_rank={self.lora_rank!r}")
        if not self.lora_rank:
            return
        task = getattr(self, "TASK", "")
        if task not in self.LORA_TASKS or not self.backbone.startswith(self.LORA_BACKBONES):
            raise ValueError("`lora_rank` needs a text_classification backbone with Keras "
                             f"projections ({', '.join(b + '<...>' for b in self.LORA_BACKBONES)}"
                             f"). Received: lora_rank={self.lora_rank}, task={task!r}, "
                             f"backbone={self.backbone!r}")
        if not self.backbone_trainable or self.head_epochs:
            raise ValueError("`lora_rank` trains the LoRA pairs and the head from the first "
                             "epoch: it takes neither backbone_trainable=False nor a head_epochs "
                             f"schedule. Received: lora_rank={self.lora_rank}, "
                             f"backbone_trainable={self.backbone_trainable}, "
                             f"head_epochs={self.head_epochs}")

    def check_run(self, run):
        """`head_epochs` must leave at least one of the run's `epochs` for fine-tuning."""
        if self.head_epochs and self.head_epochs >= run.epochs:
            raise ValueError("`head_epochs` must be less than `epochs`, leaving at least one "
                             f"fine-tune epoch. Received: head_epochs={self.head_epochs}, "
                             f"epochs={run.epochs}")

    def backbone_starts_trainable(self):
        """A fine-tune schedule (`head_epochs`) starts on a frozen backbone."""
        return self.backbone_trainable and not self.head_epochs

    def fine_tune(self):
        """The schedule's second phase as a `FineTune`, or None without `head_epochs`."""
        if not self.head_epochs:
            return None
        from seqmodels import transfer

        top = None if self.unfreeze_top == -1 else self.unfreeze_top
        return FineTune(
            head_epochs=self.head_epochs, learning_rate=self.fine_tune_learning_rate,
            unfreeze=lambda model: transfer.set_backbone_trainable(model, top),
            description="all backbone layers" if top is None else f"the top {top} backbone layers")
