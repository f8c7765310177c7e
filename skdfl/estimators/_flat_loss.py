"""A flat loss is never silent: warn when a whole epoch's gradients are exactly zero."""

import torch
from skorch.callbacks import Callback

from .._warnings import warn
from ..exceptions import FlatLossWarning
from ._sparse import SparseRows

#: The estimator parameter that smooths each method's loss, and why a flat loss
#: asks to raise it. Methods not listed get a generic message.
SMOOTHING = {
    "relaxation": ("gamma", "the relaxed decisions sit at vertices of the feasible set, "
                   "where their gradient is zero"),
    "dbb": ("lambd", "the perturbed parameters decide exactly as the predictions do"),
    "imle": ("lambd", "the perturbed parameters decide exactly as the predictions do"),
    "fy": ("sigma", "the perturbed decisions do not vary"),
    "fy-mul": ("sigma", "the perturbed decisions do not vary"),
    "dpo": ("sigma", "the perturbed decisions do not vary"),
    "dpo-mul": ("sigma", "the perturbed decisions do not vary"),
    "pg": ("sigma", "the finite difference moves no decision"),
    "ltr-list": ("tau", "the softmax over the pooled decisions is saturated"),
}

#: Mean |prediction| of a batch, on the rescaled targets' scale (about 1),
#: beyond which a flat loss is blamed on the features' scale as well.
PREDICTION_SIZE_LIMIT = 100.0

#: How much to raise the smoothing parameter: one decade at a time.
FACTOR = 10.0

#: Mean |feature| up to which the features count as on a unit scale: outputs that
#: dwarf the targets then come from the number of features, not their size.
UNIT_SCALE = 3.0

#: Training rows the features' scale is measured on.
SAMPLE = 1024


def mean_abs_feature(features):
    """Mean ``|x|`` over a sample of the training rows (a tensor, or sparse rows: read
    sparse, never densified)."""
    sample = features[:SAMPLE]
    if isinstance(sample, SparseRows):
        return float(abs(sample.matrix).mean())
    return float(sample.abs().mean())


class FlatLossCheck(Callback):
    """Warn (:class:`~skdfl.exceptions.FlatLossWarning`) after an epoch with zero gradients.

    After each backward pass skorch calls ``on_grad_computed``; the check
    keeps, on the device and without synchronizing, whether any gradient of
    the module's parameters was non-zero. At the end of an epoch in which
    every training batch had exactly zero gradients while the loss was
    positive (so there was something to learn), it warns once per fit,
    naming the parameter to raise and a value to try. Training itself goes
    on: the epochs and the loss curve are recorded as usual.

    Parameters
    ----------
    method : str
        The resolved training method, for the message.
    values : dict
        The hyperparameters the fit uses (``gamma``, ``lambd``, ...), by name.
    feature_size : float, optional
        Mean ``|x|`` of the training features, which tells unscaled features
        from many features of a unit scale when the outputs dwarf the targets.
    """

    def __init__(self, method, values, feature_size=None):
        self.method = method
        self.values = values
        self.feature_size = feature_size

    def initialize(self):
        self.warned_ = False
        self._reset()
        return self

    def _reset(self):
        self.batches_ = 0
        self.moved_ = None      # any non-zero gradient this epoch: True, or a 0-d bool tensor
        self.loss_ = 0.0
        self.size_ = 0.0        # largest mean |prediction| of a batch while no gradient moved

    def on_epoch_begin(self, net, **kwargs):
        self._reset()

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        if not training or self.moved_ is True:
            return
        norms = [p.grad.detach().abs().amax() for _, p in named_parameters
                 if p.grad is not None and p.grad.numel()]
        if not norms:
            return
        moved = torch.stack(norms).amax() > 0
        self.moved_ = moved if self.moved_ is None else self.moved_ | moved
        if self.moved_.device.type == "cpu":
            # Read at no cost on the host: once it moved, the epoch needs no more checks.
            self.moved_ = bool(self.moved_) or None
        self.batches_ += 1

    def on_batch_end(self, net, training=None, loss=None, y_pred=None, **kwargs):
        if training and loss is not None:
            self.loss_ = max(self.loss_, abs(float(loss.detach())))
        if training and self.moved_ is not True and isinstance(y_pred, torch.Tensor):
            # Only while the epoch looks flat: the size of the predictions, on the
            # rescaled targets' scale (about 1), tells unscaled features apart.
            self.size_ = max(self.size_, float(y_pred.detach().abs().mean()))

    def on_epoch_end(self, net, **kwargs):
        if self.warned_ or self.batches_ == 0 or bool(self.moved_) or self.loss_ == 0:
            return
        self.warned_ = True
        warn(self.message(len(net.history), _input_width(net.module_)), FlatLossWarning)

    def message(self, epoch, n_inputs=None):
        """The warning's text for a flat ``epoch``."""
        head = (f"the {self.method!r} training loss had exactly zero gradient in every batch "
                f"of epoch {epoch}, so that epoch learned nothing")
        if self.method in SMOOTHING:
            name, why = SMOOTHING[self.method]
            value = self.values.get(name)
            if isinstance(value, (int, float)) and value > 0:
                advice = (f"raise {name} about {FACTOR:g}-fold, e.g. {name}="
                          f"{FACTOR * value:.3g} (now {value:.3g})")
            else:
                advice = f"raise {name} (now {value!r})"
            return f"{head}: {why}; {advice}.{self._scale_note(n_inputs)}"
        note = self._scale_note(n_inputs)
        larger = "" if "Lower learning_rate_init" in note else " or a larger learning_rate_init"
        return (f"{head}; the predictions may already decide optimally on every batch, or "
                f"the method cannot move them: try method='spo+'{larger}.{note}")

    def _scale_note(self, n_inputs=None):
        """A note when the predictions dwarf the targets: features on a large scale, or
        so many features on a unit scale that each of Adam's steps moves an output by
        about ``learning_rate_init`` times their absolute sum."""
        if self.size_ < PREDICTION_SIZE_LIMIT:
            return ""
        head = (f" The network's outputs are about {self.size_:.3g} times the scale of the "
                "targets it trains on, which no smoothing reaches: ")
        if self.feature_size is None or self.feature_size > UNIT_SCALE or not n_inputs:
            return (head + "the features are likely on a large scale; standardize X (e.g. "
                    "make_pipeline(StandardScaler(), estimator), or PerItemStandardScaler "
                    "with per_item=True).")
        total = self.feature_size * n_inputs
        return (head + f"the features are on a unit scale (mean |x| about "
                f"{self.feature_size:.2g}) but the network reads {n_inputs} of them, about "
                f"{total:.3g} in absolute sum, and each of Adam's steps moves an output by up "
                "to learning_rate_init times that; standardizing does not help. Lower "
                f"learning_rate_init (about {1 / total:.1g}, for steps of that sum "
                "near 1), or give the network a structure for such inputs (module=, e.g. a "
                "convolutional network for images).")


def _input_width(module):
    """Inputs of the network's first linear layer (None if it has none)."""
    first = next((m for m in module.modules() if isinstance(m, torch.nn.Linear)), None)
    return None if first is None else first.in_features


__all__ = ["FlatLossCheck"]
