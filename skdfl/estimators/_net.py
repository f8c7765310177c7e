"""The skorch net of the estimators: skorch's, with less work per batch."""

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import TeeGenerator

#: Handlers the net itself defines as no-ops (skorch's, unless a subclass overrides).
_NET_NO_OPS = ("on_train_begin", "on_train_end", "on_epoch_end", "on_batch_end",
               "on_grad_computed")


class Net(NeuralNet):
    """skorch's ``NeuralNet``, doing per batch only the work that has an effect.

    skorch, on every batch, sets the mode of every module and criterion
    (which walks all their submodules) and calls every callback's handler
    of each event, most of them skorch's empty defaults. For the small
    networks skdfl trains those calls were a fifth of a batch. This net
    switches a module's mode only where its own flag differs (code that
    switches modes, as skorch's steps and skdfl's callbacks do, switches
    the whole module), calls only the handlers a callback (or the net)
    overrides, and steps the optimizer without a closure; the order of the
    calls is skorch's.
    """

    def _set_training(self, training=True):
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                module.train(training)

    def train_step(self, batch, **fit_params):
        # skorch's step without its closure and step accumulator, which only
        # optimizers that evaluate the loss several times need (the estimators
        # use Adam): the same calls in the same order.
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        if self._handlers("on_grad_computed"):
            self.notify("on_grad_computed",
                        named_parameters=TeeGenerator(self.get_all_learnable_params()),
                        batch=batch, training=True)
        self._step_optimizer(None)
        return step

    def _handlers(self, method_name):
        """The bound handlers of ``method_name`` that do something, in skorch's order."""
        cache = self.__dict__.get("_handler_cache")
        if cache is None or cache[0] is not self.callbacks_:
            cache = (self.callbacks_, {})
            self.__dict__["_handler_cache"] = cache
        handlers = cache[1].get(method_name)
        if handlers is None:
            own = (method_name in _NET_NO_OPS
                   and getattr(type(self), method_name) is getattr(NeuralNet, method_name))
            handlers = [] if own else [getattr(self, method_name)]
            handlers += [getattr(cb, method_name) for _, cb in self.callbacks_
                         if getattr(type(cb), method_name, None)
                         is not getattr(Callback, method_name)]
            cache[1][method_name] = handlers
        return handlers

    def notify(self, method_name, **cb_kwargs):
        for handler in self._handlers(method_name):
            handler(self, **cb_kwargs)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_handler_cache", None)   # bound methods: rebuilt on first use
        return state
