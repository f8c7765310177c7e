"""DecisionFocusedRegressor: predict real parameters, trained for the decisions."""

from sklearn.base import BaseEstimator, RegressorMixin

from ._base import DecisionFocusedMixin


class DecisionFocusedRegressor(DecisionFocusedMixin, RegressorMixin, BaseEstimator):
    """A neural regressor of optimization parameters, trained for low regret.

    The model predicts the unknown parameters ``theta`` of an optimization
    problem (edge costs, item values) from features; the optimizer decides
    with the predictions. With a decision-focused ``method`` the model is
    trained through the optimizer for the quality of those decisions rather
    than for the accuracy of ``theta``.

    Parameters
    ----------
    optimizer : Optimizer
        The decision problem, e.g. ``ShortestPath(grid=(5, 5))``.
    method : {"auto", "two-stage", "spo+", "dbb", "imle", "fy"}, default="auto"
        How the model is trained: ``"two-stage"`` fits ``theta`` by mean
        squared error; ``"spo+"`` minimizes the SPO+ surrogate of regret;
        ``"dbb"`` minimizes regret with blackbox-differentiation gradients;
        ``"imle"`` with implicit maximum-likelihood gradients of perturbed
        decisions; ``"fy"`` minimizes the perturbed Fenchel-Young loss;
        ``"auto"`` is ``"spo+"`` for linear problems.
    lambd : float, default=10.0
        Scale of ``"dbb"`` and ``"imle"`` (their gradients are divided by it).
        Like every noise scale below it acts on the internally rescaled
        targets (see ``target_scale_``).
    noise : {"sog", "gumbel"} or None, default="sog"
        Perturbation of ``"imle"``: sum-of-Gamma (sized by the mean number of
        non-zeros of the true decisions), Gumbel, or none.
    tau : float, default=1.0
        Temperature of the ``"imle"`` noise.
    n_samples : int, default=1
        Perturbations per instance and step for ``"imle"`` and ``"fy"``, all
        solved in one batched call.
    sigma : float, default=1.0
        Scale of the Gaussian perturbation of ``"fy"``.
    per_item : bool, default=False
        Rows hold the features of the optimizer's items flattened item-major;
        one shared network maps each item's features to its parameters.
    hidden_layer_sizes : tuple of int, default=()
        Hidden layers of the network; ``()`` is a linear model.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.
    alpha : float, default=0.0
        L2 penalty (weight decay of Adam).
    batch_size : int, default=32
        Instances per gradient step.
    learning_rate_init : float, default=0.01
        Learning rate of Adam.
    max_iter : int, default=100
        Maximum number of epochs.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the instances and stop when their
        normalized regret has not improved by ``tol`` for ``n_iter_no_change``
        epochs, keeping the best model. Otherwise training stops when the
        training loss has not improved by ``tol`` for that many epochs.
    validation_fraction : float, default=0.1
        Fraction of instances held out for early stopping.
    n_iter_no_change : int, default=10
        Patience of the stopping rule, in epochs.
    tol : float, default=1e-4
        Smallest improvement that counts.
    device : str or torch.device, default="cpu"
        Where the network is trained and evaluated, e.g. ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seed of the weight initialization, the batch order, the validation
        split and the perturbations (drawn from a ``torch.Generator``, never
        the global one); the same seed gives the same model on CPU.
    verbose : int, default=0
        Print one line per epoch when positive.

    Attributes
    ----------
    optimizer_ : Optimizer
        The fitted copy of ``optimizer``, sized to the data.
    method_ : str
        The method used (``"auto"`` resolved).
    net_ : skorch.NeuralNet
        The trained network (private engine).
    target_scale_ : float
        Positive scale dividing the targets during training (mean ``|y|``
        for linear problems, else 1); predictions are mapped back.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Names of the features, when ``X`` had string column names.
    n_iter_ : int
        Number of epochs run.
    loss_curve_ : list of float
        Training loss per epoch (on the rescaled targets).
    validation_scores_ : list of float or None
        Minus the normalized validation regret per epoch (early stopping).
    best_validation_score_ : float or None
        The best of ``validation_scores_``.

    See Also
    --------
    skdfl.metrics.regret : The regret that ``score`` reports.

    Examples
    --------
    >>> from skdfl import DecisionFocusedRegressor
    >>> from skdfl.datasets import make_shortest_path
    >>> from skdfl.optimizers import ShortestPath
    >>> X, C = make_shortest_path(200, degree=4, noise_width=0.5, random_state=0)
    >>> est = DecisionFocusedRegressor(ShortestPath(grid=(5, 5)), method="spo+",
    ...                                max_iter=5, random_state=0)
    >>> est.fit(X[:150], C[:150]).decide(X[150:]).shape
    (50, 40)
    >>> score = est.score(X[150:], C[150:])   # minus the normalized regret
    >>> bool(-0.5 < score <= 0)
    True
    """

    def __init__(self, optimizer, *, method="auto", lambd=10.0, noise="sog", tau=1.0,
                 n_samples=1, sigma=1.0, per_item=False,
                 hidden_layer_sizes=(), activation="relu", alpha=0.0, batch_size=32,
                 learning_rate_init=0.01, max_iter=100, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, device="cpu",
                 random_state=None, verbose=0):
        self.optimizer = optimizer
        self.method = method
        self.lambd = lambd
        self.noise = noise
        self.tau = tau
        self.n_samples = n_samples
        self.sigma = sigma
        self.per_item = per_item
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False
        return tags

    def predict(self, X):
        """Predicted parameters ``theta_hat``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        theta_hat : ndarray of shape (n_samples, n_params)
        """
        return self._predict_theta(X)

    def _decision_parameters(self, X):
        return self._predict_theta(X)
