"""A trained network whose output cannot decide is never silent: it ignores its features,
or its predictions shrank to nothing."""

import torch
from skorch.callbacks import Callback

from .._warnings import warn
from ..exceptions import FlatLossWarning
from ._callbacks import forward_in_chunks
from ._sparse import dense_tensor

#: Training rows the check predicts (a sample is enough).
SAMPLE = 256

#: Median |prediction| over median |target| (as trained) below which the predictions
#: have collapsed: their decisions rest on rounding and a saturated link.
COLLAPSE = 1e-4


class OutputCheck(Callback):
    """Warn (:class:`~skdfl.exceptions.FlatLossWarning`) when the trained network cannot
    decide: its output is the same for every training row although the rows' features
    differ, or its predictions shrank to almost nothing.

    The same output everywhere means no feature reaches it: typically every
    ReLU unit of a hidden layer has died (its input negative on every row),
    which Adam's first steps do to unscaled, non-negative features of many
    dimensions (measured: 500 features of the budget-allocation generator at
    the paper's scale and ``learning_rate_init=0.01``). The loss is not flat -
    the output bias still trains to the mean target - but the model decides
    the same for every instance, no better than at random.

    Collapsed predictions (median ``|theta_hat|`` under ``COLLAPSE`` times
    the targets' median as trained) come from a loss that falls as the
    predictions shrink: ``"fy-mul"``'s, whose noise is relative, is
    positively homogeneous (measured: terrain maps, a linear model on the
    pixels, the median softplus prediction from about 1 to 1e-8 in five
    epochs, the loss 0: the cells of the true path at 0, so every path
    through such cells ties). Through a softplus or sigmoid the gradient is
    gone with them, and the decisions rest on ties and rounding.

    Parameters
    ----------
    link : callable
        The output activation, from the network's output to ``theta_hat``.
    target_size : float or None
        Median ``|theta|`` of the training targets as the network trains on
        them (rescaled); 1 where it trains from decisions. None, or 0 (mostly
        zero targets), checks no collapse: the estimator passes None for a
        link that does not saturate (an identity output decides the same at
        any positive scale; a clipped one passes gradients through).
    """

    def __init__(self, link, target_size):
        self.link = link
        self.target_size = target_size

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if X is None or len(X) < 2:
            return
        features = dense_tensor(X[:SAMPLE])
        if bool((features == features[:1]).all()):
            return      # nothing to tell the rows apart by
        output = forward_in_chunks(net, features)
        if bool((output == output[:1]).all()):
            warn("the trained network predicts the same parameters for every instance "
                 "although their features differ: no feature reaches its output (e.g. every "
                 "ReLU unit of a hidden layer is inactive on the training data), so it decides "
                 "the same everywhere. Standardize X (make_pipeline(StandardScaler(), "
                 "estimator), or PerItemStandardScaler with per_item=True), or lower "
                 "learning_rate_init.", FlatLossWarning)
            return
        size = float(self.link(output).abs().median())
        if self.target_size and size < COLLAPSE * self.target_size:
            ratio = size / self.target_size
            told = f"about {ratio:.1g}" if ratio > 0 else "0 (under the float precision)"
            warn(f"the trained network's predictions shrank: their median is {told} times "
                 "the targets' (as it trains on them), so its decisions rest on ties and "
                 "rounding, and through a softplus or sigmoid output no gradient is left to "
                 "learn from. Either the loss falls as the predictions shrink (e.g. "
                 "method='fy-mul', whose noise is relative: give the network an output "
                 "normalized per instance, a module that divides its costs by their mean, or "
                 "choose another method), or steps too large for the features drove the "
                 "output into saturation (lower learning_rate_init).", FlatLossWarning)


__all__ = ["OutputCheck"]
