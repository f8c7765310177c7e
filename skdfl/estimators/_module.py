"""A user's own network (``module=``) with skorch-style ``module__*`` parameters.

``module`` is None (the built-in MLP), a ``torch.nn.Module`` subclass, built
at every fit as ``module(**module_params)`` with the estimator's
``module__*`` parameters, or an instance, deep-copied at every fit (its
weights, e.g. pretrained ones, are the starting point; the user's object is
never trained). The ``module__*`` parameters are ordinary estimator
parameters: ``get_params`` lists them, ``set_params`` accepts new ones,
``clone`` and ``GridSearchCV`` carry them.
"""

import copy

import torch

from ..nn import MLP, PerItem
from ._deciding import item_count

PREFIX = "module__"


class ModuleParamsMixin:
    """``get_params`` / ``set_params`` that carry the ``module__*`` parameters.

    sklearn's ``BaseEstimator`` knows only the names of ``__init__``; the
    ``module__*`` ones are open-ended (whatever the user's module takes), so
    they are stored as attributes by ``__init__`` (see
    :func:`store_module_params`) and listed from there.
    """

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.update(module_params(self, prefixed=True))
        return params

    def set_params(self, **params):
        own = {key: params.pop(key) for key in list(params) if key.startswith(PREFIX)}
        for key, value in own.items():
            _check_key(key)
            setattr(self, key, value)
        return super().set_params(**params) if params else self


def _check_key(key):
    if not isinstance(key, str) or not key.startswith(PREFIX) or len(key) == len(PREFIX):
        raise TypeError(f"got an unexpected keyword argument {key!r}; the only extra "
                        f"keyword arguments accepted are {PREFIX}* parameters of the module.")


def store_module_params(estimator, kwargs):
    """Store ``__init__``'s extra keyword arguments, which must all be ``module__*``."""
    for key, value in kwargs.items():
        _check_key(key)
        setattr(estimator, key, value)


def module_params(estimator, prefixed=False):
    """The estimator's ``module__*`` parameters (keys without the prefix by default)."""
    return {(key if prefixed else key[len(PREFIX):]): value
            for key, value in vars(estimator).items()
            if key.startswith(PREFIX) and not key.endswith("_")}


def check_module(estimator, defaults):
    """Validate ``module`` against the estimator's other network parameters.

    ``defaults`` maps the MLP's own parameters (``hidden_layer_sizes``,
    ``activation``) to their default values: with a module of one's own they
    shape nothing, so a changed value is refused rather than ignored.
    """
    module, params = estimator.module, module_params(estimator)
    if module is None:
        if params:
            raise ValueError(
                f"{PREFIX}{next(iter(params))} was given, but module=None (the built-in MLP, "
                "shaped by hidden_layer_sizes and activation); pass module=YourModuleClass "
                "to use module__* parameters.")
        return
    is_class = isinstance(module, type) and issubclass(module, torch.nn.Module)
    if not (is_class or isinstance(module, torch.nn.Module)):
        raise TypeError("module must be None, a torch.nn.Module subclass or a "
                        f"torch.nn.Module instance; got {module!r}.")
    if params and not is_class:
        raise ValueError(
            f"{PREFIX}* parameters ({sorted(params)}) build the module from its class, but "
            f"module is an instance of {type(module).__name__}; pass the class, "
            f"module={type(module).__name__}, to build it with them.")
    changed = [name for name, default in defaults.items()
               if _as_value(getattr(estimator, name)) != default]
    if changed:
        raise ValueError(
            f"{changed[0]} shapes the built-in MLP and is not used with module="
            f"{_name(module)}; leave it at its default ({defaults[changed[0]]!r}).")


def _as_value(value):
    return tuple(value) if isinstance(value, list) else value


def _name(module):
    return module.__name__ if isinstance(module, type) else type(module).__name__


def build_module(estimator, n_features, n_params):
    """The network of one fit: maps rows (B, n_features) to (B, n_params).

    With ``per_item=True`` the module (built-in or the user's) maps one item's
    features to that item's parameters and is shared across the items.
    """
    n_in, n_out, n_items = n_features, n_params, None
    if estimator.per_item:
        n_items = item_count(estimator.optimizer_, n_features)
        n_in, n_out = n_features // n_items, n_params // n_items
    module = estimator.module
    if module is None:
        net = MLP(n_in, n_out, tuple(estimator.hidden_layer_sizes), estimator.activation)
    elif isinstance(module, torch.nn.Module):
        net = copy.deepcopy(module)
    else:
        try:
            net = module(**module_params(estimator))
        except TypeError as exc:
            raise TypeError(f"module={module.__name__} could not be built from the "
                            f"module__* parameters {sorted(module_params(estimator))}: "
                            f"{exc}") from exc
        if not isinstance(net, torch.nn.Module):
            raise TypeError(f"module={module.__name__} built a {type(net).__name__}, not a "
                            "torch.nn.Module.")
    if module is not None:
        _check_output(net, n_in, n_out, estimator.per_item)
    return net if n_items is None else PerItem(net, n_items)


def _check_output(net, n_in, n_out, per_item):
    """Run the module once on two rows of zeros: a wrong output shape fails here, clearly."""
    rows = "one item's features" if per_item else "rows"
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(torch.zeros(2, n_in))
    except Exception as exc:  # the user's forward: say what it was given
        raise ValueError(
            f"module {type(net).__name__} failed on a batch of {rows}, a float32 tensor of "
            f"shape (2, {n_in}): {type(exc).__name__}: {exc}") from exc
    finally:
        net.train(was_training)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_out):
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"module {type(net).__name__} must map a batch of {rows}, shape (B, {n_in}), to "
            f"(B, {n_out}) outputs ({'per item' if per_item else 'n_params'}); on B=2 it "
            f"returned {got}.")
