"""A network that ignores its features is never silent: warn when every prediction is the same."""

import torch
from skorch.callbacks import Callback

from .._warnings import warn
from ..exceptions import FlatLossWarning
from ._callbacks import forward_in_chunks
from ._sparse import dense_tensor

#: Training rows the check predicts (a sample is enough).
SAMPLE = 256


class ConstantOutputCheck(Callback):
    """Warn (:class:`~skdfl.exceptions.FlatLossWarning`) when the trained network's output
    is the same for every training row although the rows' features differ.

    Then no feature reaches the output: typically every ReLU unit of a hidden
    layer has died (its input negative on every row), which Adam's first
    steps do to unscaled, non-negative features of many dimensions (measured:
    500 features of the budget-allocation generator at the paper's scale and
    ``learning_rate_init=0.01``). The loss is not flat - the output bias
    still trains to the mean target - but the model decides the same for every
    instance, no better than at random.
    """

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if X is None or len(X) < 2:
            return
        features = dense_tensor(X[:SAMPLE])
        if bool((features == features[:1]).all()):
            return      # nothing to tell the rows apart by
        output = forward_in_chunks(net, features)
        if not bool((output == output[:1]).all()):
            return
        warn("the trained network predicts the same parameters for every instance although "
             "their features differ: no feature reaches its output (e.g. every ReLU unit of "
             "a hidden layer is inactive on the training data), so it decides the same "
             "everywhere. Standardize X (make_pipeline(StandardScaler(), estimator), or "
             "PerItemStandardScaler with per_item=True), or lower learning_rate_init.",
             FlatLossWarning)


__all__ = ["ConstantOutputCheck"]
