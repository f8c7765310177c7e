"""Default prediction modules: a multilayer perceptron and per-item weight sharing."""

from torch import nn

ACTIVATIONS = {"identity": nn.Identity, "relu": nn.ReLU, "tanh": nn.Tanh,
               "logistic": nn.Sigmoid}


class MLP(nn.Sequential):
    """Fully connected network; with no hidden layers it is a linear model.

    Parameters
    ----------
    n_inputs : int
        Width of the input.
    n_outputs : int
        Width of the output (no output activation).
    hidden_layer_sizes : tuple of int, default=()
        Widths of the hidden layers, as in ``sklearn.neural_network.MLPRegressor``.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from skdfl.nn import MLP
    >>> net = MLP(5, 40, hidden_layer_sizes=(16,))
    >>> net(torch.zeros(3, 5)).shape
    torch.Size([3, 40])
    """

    def __init__(self, n_inputs, n_outputs, hidden_layer_sizes=(), activation="relu"):
        widths = [n_inputs, *hidden_layer_sizes]
        layers = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], n_outputs))
        super().__init__(*layers)


class PerItem(nn.Module):
    """Apply one shared module to every item of a row.

    A row holds the features of ``n_items`` items, flattened item-major; the
    module maps one item's features to that item's slice of ``theta``, and
    the outputs are concatenated item-major again (weight sharing across
    items).

    Parameters
    ----------
    module : torch.nn.Module
        Maps ``(n, n_item_features)`` to ``(n, n_item_params)``.
    n_items : int
        Number of items per row.

    Examples
    --------
    >>> import torch
    >>> from skdfl.nn import MLP, PerItem
    >>> net = PerItem(MLP(8, 1), n_items=48)
    >>> net(torch.zeros(2, 48 * 8)).shape
    torch.Size([2, 48])
    """

    def __init__(self, module, n_items):
        super().__init__()
        self.module = module
        self.n_items = n_items

    def forward(self, X):
        n_rows = X.shape[0]
        out = self.module(X.reshape(n_rows * self.n_items, -1))
        return out.reshape(n_rows, -1)


__all__ = ["MLP", "PerItem"]
