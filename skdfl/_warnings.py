"""Warnings that point at the user's line, not at the library code that raised them."""

import sys
import warnings

# Packages a warning passes through on its way from skdfl to the user: the training
# loop (skorch), autograd (torch), meta-estimators and their workers (scikit-learn,
# joblib).
_INTERNAL = ("skdfl", "skorch", "torch", "sklearn", "joblib")


def _internal(frame):
    return frame.f_globals.get("__name__", "").partition(".")[0] in _INTERNAL


def warn(message, category):
    """``warnings.warn``, attributed to the first caller outside skdfl and those packages.

    A fixed ``stacklevel`` would name a line of skorch's training loop or of
    torch's autograd for a warning raised during ``fit``; the user's own call
    (``fit``, ``relax``, ``GridSearchCV.fit``) is what they can change.

    Examples
    --------
    >>> import warnings
    >>> from skdfl._warnings import warn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("a note", UserWarning)
    >>> caught[0].category.__name__, str(caught[0].message)
    ('UserWarning', 'a note')
    """
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and _internal(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level + 1)
