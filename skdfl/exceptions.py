"""Warnings and errors specific to skdfl."""


class FlatLossWarning(UserWarning):
    """The training loss's gradient was exactly zero for a whole epoch.

    Nothing was learned in that epoch: a relaxation sat at a vertex (raise
    ``gamma``), a blackbox or I-MLE perturbation moved no decision (raise
    ``lambd``), or the noise of a perturbed method was too small (raise
    ``sigma`` or ``tau``). The message names the parameter and a value to try.
    Also raised when the trained network predicts the same parameters for
    every instance although their features differ (no feature reaches its
    output, e.g. every ReLU of a hidden layer died on unscaled features): the
    message says to standardize the features or lower ``learning_rate_init``.
    And when the trained predictions of a sigmoid or softplus output shrank to
    almost nothing (their median under ``1e-4`` times the targets'), as a loss
    that falls with their scale (``"fy-mul"``'s) takes them: the message says
    to normalize the network's output per instance or to choose another
    method.

    Examples
    --------
    >>> import warnings
    >>> from skdfl.exceptions import FlatLossWarning
    >>> issubclass(FlatLossWarning, UserWarning)
    True
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("the loss is flat", FlatLossWarning)
    >>> caught[0].category.__name__
    'FlatLossWarning'
    """


__all__ = ["FlatLossWarning"]
