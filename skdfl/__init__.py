"""skdfl: decision-focused learning for scikit-learn.

Train models that predict the parameters of an optimization problem for the
quality of the decisions they lead to, with the scikit-learn API.
"""

from . import datasets, exceptions, methods, metrics, nn, optimizers, pipeline, preprocessing
from .estimators import DecisionFocusedClassifier, DecisionFocusedRegressor, PredictThenOptimize
from .exceptions import FlatLossWarning

__version__ = "0.1.0"

__all__ = ["DecisionFocusedClassifier", "DecisionFocusedRegressor", "FlatLossWarning",
           "PredictThenOptimize", "datasets", "exceptions", "methods", "metrics", "nn",
           "optimizers", "pipeline", "preprocessing", "__version__"]
