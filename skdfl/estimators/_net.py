"""The skorch net of the estimators: skorch's, setting a module's mode only when it changes."""

import torch
from skorch import NeuralNet


class Net(NeuralNet):
    """skorch's ``NeuralNet``, switching train or eval mode only where it changes.

    skorch sets the mode of every module and criterion on every batch, which
    walks all their submodules; for the small networks skdfl trains that
    was about a twentieth of a batch. A module whose own flag already says
    the mode is left as it is (code that switches modes, as skorch's steps
    and skdfl's callbacks do, switches the whole module).
    """

    def _set_training(self, training=True):
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)
