"""Parameter and attribute descriptions shared by the decision-focused estimators."""

SHARED_PARAMETERS = """optimizer : Optimizer
        The decision problem, e.g. ``ShortestPath(grid=(5, 5))``.
    method : {"auto", "two-stage", "spo+", "dbb", "nid", "imle", "aimle", "fy", \
"fy-mul", "dpo", "dpo-mul", "pg", "nce", "cmap", "ltr-point", "ltr-pair", \
"ltr-list", "relaxation", "taskmet"} or DecisionLoss, default="auto"
        How the model is trained: ``"two-stage"`` fits ``theta`` for accuracy
        (squared error for a regressor, log-loss for a classifier and for a
        regressor of probabilities through a sigmoid); ``"spo+"``
        minimizes the SPO+ surrogate of regret; ``"dbb"`` minimizes regret with
        blackbox-differentiation gradients; ``"nid"`` with the solver's
        backward pass taken as the negative identity (Sahoo et al. 2023);
        ``"imle"`` with implicit maximum-likelihood gradients of perturbed
        decisions, and ``"aimle"`` with their adaptive variant, whose step
        follows a target gradient density (Minervini et al. 2023); ``"fy"``
        minimizes the perturbed Fenchel-Young loss (``"fy-mul"``: with
        multiplicative noise); ``"dpo"`` minimizes the regret of the
        expected decision under Gaussian noise (``"dpo-mul"``: multiplicative
        noise; Berthet et al. 2020); ``"pg"`` minimizes a perturbation-gradient
        loss, a finite difference of the optimal value along the true
        parameters (Huang & Gupta 2024); ``"nce"`` and ``"cmap"`` contrast the
        true decision with the decisions of a solution pool (all of them, or
        the best under the predictions; Mulamba et al. 2021), and
        ``"ltr-point"``, ``"ltr-pair"`` and ``"ltr-list"`` learn to rank the
        pool's decisions by their true objective (pointwise, pairwise,
        listwise; Mandi et al. 2022); ``"relaxation"`` minimizes the regret
        of the decisions of the optimizer's continuous relaxation
        (Wilder et al. 2019; for a linear program ``theta @ x - gamma *
        ||x||^2``, for coverage the multilinear extension), deciding exactly
        at test time; ``"taskmet"`` learns a metric-weighted prediction loss
        whose minimizer decides well (Bansal et al. 2023); ``"auto"`` is
        ``"spo+"`` for linear problems (``"fy"`` for a classifier, whose 0/1
        labels spo+ fits worse through the sigmoid; ``"fy-mul"`` where only
        non-negative parameters are solved exactly) and ``"relaxation"`` for
        the others that have a relaxation. Every method from ``"spo+"`` to ``"ltr-list"`` needs a
        linear objective solved exactly at parameters of either sign (not a
        shortest path on a graph with a cycle), except ``"fy-mul"`` and
        ``"dpo-mul"``, whose noise keeps each parameter's sign: they train
        there too with non-negative predictions
        (``out_activation="softplus"``). A
        :class:`~skdfl.methods.DecisionLoss` instance is a loss of one's own.
    gamma : float or "auto", default="auto"
        Weight of the quadratic term of ``"relaxation"``. ``"auto"`` takes
        the mean size of the objective's gradient in the decision at the
        training data (``gamma_``): 1 for a linear problem on rescaled
        targets, the mean label for 0/1 targets, an item's mean marginal gain
        for coverage, so that relaxed decisions are interior rather than at a
        vertex (where the gradient is zero). Like every scale below it acts
        on the internally rescaled targets (``target_scale_``), so one value
        suits raw data of any scale.
    lambd : float or "auto", default="auto"
        Scale of ``"dbb"`` and ``"imle"`` (their gradients are divided by it);
        for ``"aimle"`` the initial step relative to the predictions (the
        target parameters lie ``lambd * ||theta_hat||`` away), which then
        adapts during training. ``"auto"`` (``lambd_``) is ``3 *
        batch_size`` for ``"imle"`` and ``batch_size`` for ``"dbb"``: their
        loss is a mean over the batch, so the perturbation ``lambd * dL/dx``
        is about ``lambd / batch_size`` times the parameters (for ``"dbb"``
        the predictions rescaled to a root mean square of 1 per instance, see
        :class:`~skdfl.methods.BlackboxDifferentiation`); it is 10 for
        ``"aimle"``.
    noise : {"sog", "gumbel"} or None, default="sog"
        Perturbation of ``"imle"`` and ``"aimle"``: sum-of-Gamma (sized by the
        mean number of non-zeros of the true decisions), Gumbel, or none.
    tau : float, default=1.0
        Temperature of the ``"imle"`` and ``"aimle"`` noise, and of the
        softmax of ``"ltr-list"``, in the units of the rescaled parameters
        (with ``targets="decisions"``, of the network's output: where the
        network fixes the scale of its output, lower it; 0.3 on the
        terrain maps' costs of mean 1, see the user guide).
    n_samples : int, default=1
        Perturbations per instance and step for ``"imle"``, ``"aimle"``,
        ``"fy"``, ``"fy-mul"``, ``"dpo"`` and ``"dpo-mul"``, all solved in one
        batched call.
    sigma : float, default=1.0
        Scale of the Gaussian perturbation of ``"fy"`` and ``"dpo"`` (of its
        logarithm for ``"fy-mul"`` and ``"dpo-mul"``: the parameters are
        multiplied by ``exp(sigma Z - sigma^2 / 2)``), and the
        finite-difference step of ``"pg"`` (relative to the true parameters).
    finite_difference : {"central", "backward"}, default="central"
        The finite difference of ``"pg"`` (its PGC and PGB losses) and of
        ``"aimle"`` (two-sided or one-sided, as ``"imle"``): central trained
        better on the synthetic shortest paths; backward solves less for
        ``"aimle"``.
    solve_ratio : float, default=1.0
        Fraction of the solver calls of training made by the optimizer
        (every method that solves, ``"spo+"`` to ``"ltr-list"`` above); the others
        take, for each instance, the best decision of a pool that starts
        with the training set's optimal decisions and grows with every solve
        (Mulamba et al. 2021): one batched product and arg-max, far cheaper
        than an integer program. With per-instance
        parameters a pooled decision is used only where the optimizer can
        check that it suits the row (``KSubset``, ``Knapsack``); elsewhere
        ``solve_ratio < 1`` is refused.
    metric : {"diagonal", "conditional"}, default="diagonal"
        The metric of ``"taskmet"``: one positive weight per parameter, or
        weights produced from the features by a small network. A diagonal
        metric moves no minimizer when every parameter has its own linear
        head (a linear model without ``per_item``): use ``"conditional"``.
    metric_learning_rate : float, default=0.01
        Learning rate (Adam) of the ``"taskmet"`` metric.
    inner_steps : int, default=1
        Model steps per metric step of ``"taskmet"``.
    cg_iter : int, default=10
        Conjugate-gradient iterations of the ``"taskmet"`` implicit gradient.
    cg_damping : float, default=1e-3
        Damping of the Hessian in that conjugate-gradient solve.
    per_item : bool, default=False
        Rows hold the features of the optimizer's items flattened item-major;
        one shared network maps each item's features to its parameters.
    module : None, torch.nn.Module subclass or instance, default=None
        The network. None is the built-in MLP of ``hidden_layer_sizes`` and
        ``activation``. A ``torch.nn.Module`` of one's own (a CNN on image
        rows, say) maps a float32 batch of rows, shape ``(B, n_features)``,
        to ``(B, n_params)`` outputs (before ``out_activation``); with
        ``per_item=True`` it maps one item's features to that item's
        parameters and is shared across the items. A class is built at every
        fit as ``module(**params)`` from the estimator's ``module__*``
        parameters (skorch style: ``module__n_channels=8``, which
        ``set_params`` and ``GridSearchCV`` accept like any other), under
        ``random_state``. An instance is deep-copied at every fit and trained
        from its current weights (pretrained ones, say): refits start from
        the same weights and the object passed is never changed; pass the
        class for a fresh random initialization. Its output shape is checked
        on a small batch before training. ``hidden_layer_sizes`` and
        ``activation`` then stay at their defaults. For ``pickle`` and
        ``joblib`` the class must be importable (defined in a module, not
        in ``__main__`` of a worker).
    targets : {"parameters", "decisions"}, default="parameters"
        What ``y`` holds. ``"parameters"``: the true parameters ``theta`` of
        each instance, shape ``(n_samples, n_params)``. ``"decisions"``: the
        observed optimal decisions (0/1, shape ``(n_samples, n_vars)``; the
        routes that drivers took, say) when the parameters themselves are
        never seen; each row must be feasible for the optimizer (checked on
        its linear program where it has one). The model then learns
        parameters under which the optimizer reproduces the observed
        decisions, as in Niepert et al. 2021: ``"fy"`` and ``"fy-mul"``
        (the Fenchel-Young loss needs only the decision), ``"nce"`` and
        ``"cmap"`` (contrast with a pool) as they are; ``"dbb"``, ``"imle"``,
        ``"aimle"``, ``"nid"``, ``"dpo"`` and ``"dpo-mul"`` minimize the
        Hamming distance ``sum_j |x_hat_j - y_j|`` between the layer's
        decisions and the observed ones, with the method's own gradient.
        ``"auto"`` is ``"fy"``; the methods that need the true parameters
        (``"two-stage"``, ``"spo+"``, ``"pg"``, the ranking losses,
        ``"relaxation"``, ``"taskmet"``) raise a ``ValueError``.
        ``target_scale_`` is 1 (there are no costs to rescale), so
        ``predict`` returns parameters on the model's own scale, which only
        their decisions give meaning to. ``score(X, y)`` takes decisions as
        ``y`` too and returns the (weighted) share of rows whose decision
        equals the observed one; the regret needs the true parameters:
        ``skdfl.metrics.regret(theta, est.predict(X), optimizer=...)``.
    hidden_layer_sizes : tuple of int, default=()
        Hidden layers of the network; ``()`` is a linear model.
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
        Activation of the hidden layers.
    out_activation : {"identity", "sigmoid", "clip", "softplus"} or None, default=None
        Link from the network's output to the predicted parameters. None
        follows the optimizer's ``theta_domain`` for the regressor:
        ``"identity"`` for real parameters, ``"softplus"`` (positive) for
        non-negative ones (costs on a graph with a cycle), ``"sigmoid"`` for
        probabilities (coverage; it starts at the mean target); it is
        ``"sigmoid"`` for the classifier (its only option). ``"clip"`` clamps
        to [0, 1] with a straight-through gradient, which lets the network's
        output grow past 1 unchecked (decision-focused training on budget
        allocation at the paper's scale drove every prediction to 1).
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
        epochs in a row, keeping the best model. Otherwise training stops when
        the training loss has not improved by ``tol`` for that many epochs
        (for the pool methods, ``"nce"``, ``"cmap"`` and ``"ltr-*"``, their
        loss against the pool as training began, on up to 1024 training
        instances: the loss of their batches reads a pool that grows, and
        can rise while the decisions improve).
    validation_fraction : float, default=0.1
        Fraction of instances held out for early stopping.
    n_iter_no_change : int or None, default=10
        Patience of the stopping rule, in epochs. None trains exactly
        ``max_iter`` epochs (a fixed budget: no stopping rule, no
        ``ConvergenceWarning``).
    tol : float, default=1e-4
        Smallest improvement that counts.
    callbacks : list of skorch callbacks, default=None
        Extra ``skorch.callbacks.Callback`` instances (or ``(name, callback)``
        pairs) run during training, e.g. a ``Checkpoint`` or an ``LRScheduler``.
    device : str or torch.device, default="cpu"
        Where the network is trained and evaluated, e.g. ``"cuda"``; a device
        this machine does not have (``"mps"`` without Apple silicon,
        ``"cuda:7"`` with fewer GPUs) is refused when fitting.
    n_threads : int or None, default=None
        torch intra-op threads used by ``fit``, ``predict``, ``decide`` and
        ``score``; the caller's setting is restored afterwards. None chooses
        by the size of the work, ``rows * (network parameters + decision
        variables)`` per call, about one thread per million multiply-adds,
        at most ``torch.get_num_threads()``: small networks and batches run
        on one thread, which is faster than a pool of threads that fork and
        join on every operator, and steady on a busy machine.
    random_state : int, RandomState instance or None, default=None
        Seed of the weight initialization, the batch order, the validation
        split and the perturbations (drawn from a ``torch.Generator``, never
        the global one); the same seed gives the same model on CPU.
    verbose : int, default=0
        1 prints one line per epoch (epoch, training loss, validation regret
        with early stopping, seconds); 2 adds a progress bar over batches."""

SHARED_ATTRIBUTES = """optimizer_ : Optimizer
        The fitted copy of ``optimizer``, sized to the data.
    method_ : str
        The method used (``"auto"`` resolved).
    net_ : skorch.NeuralNet
        The trained network (private engine).
    target_scale_ : float
        Positive scale dividing the targets during training (mean ``|y|``
        for linear problems, else 1); predictions are mapped back.
    gamma_ : float
        The relaxation weight used (``gamma``, with ``"auto"`` resolved).
    lambd_ : float
        The smoothing scale used (``lambd``, with ``"auto"`` resolved).
    metric_ : torch.nn.Module or None
        The learned metric of ``"taskmet"``.
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
        The best of ``validation_scores_``."""


def fill_shared_doc(cls):
    """Put the shared parameter and attribute descriptions into a class docstring."""
    cls.__doc__ = (cls.__doc__.replace("%(parameters)s", SHARED_PARAMETERS)
                   .replace("%(attributes)s", SHARED_ATTRIBUTES))
    return cls
