"""Output activations: the link from the network's output to ``theta_hat``."""

import torch


def _identity(output):
    return output


class _ClipToUnit(torch.autograd.Function):
    """Clamp to [0, 1] in the forward pass, pass gradients straight through."""

    @staticmethod
    def forward(ctx, output):
        return output.clamp(0.0, 1.0)

    @staticmethod
    def backward(ctx, grad):
        return grad


def _clip(output):
    return _ClipToUnit.apply(output)


#: Output activations: the link from the network's output to ``theta_hat``.
OUT_ACTIVATIONS = {"identity": _identity, "sigmoid": torch.sigmoid, "clip": _clip,
                   "softplus": torch.nn.functional.softplus}


__all__ = ["OUT_ACTIVATIONS"]
