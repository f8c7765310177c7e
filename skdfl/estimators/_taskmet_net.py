"""The skorch net behind ``method="taskmet"``: a bilevel training step."""

import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ..methods._taskmet import implicit_metric_gradient, metric_weighted_mse
from ._net import Net


class TaskMetCriterion(torch.nn.Module):
    """The two losses of TaskMet on skorch's packed targets.

    ``forward`` is the task loss (the decision loss underneath: spo+ or the
    relaxation), which skorch reports as the training and validation loss;
    ``prediction_loss`` is the metric-weighted squared error that trains the
    model.

    Parameters
    ----------
    task_loss : DecisionLoss
        The decision loss of the task.
    metric : torch.nn.Module
        Maps features to positive per-parameter weights.
    layout : TargetLayout
        Where theta, its decisions and the row sit in the packed target.
    link : callable
        Maps the module's output to ``theta_hat`` (identity, or a sigmoid for
        probabilities).
    """

    def __init__(self, task_loss, metric, layout, link):
        super().__init__()
        self.task_loss = task_loss
        self.metric = metric
        self.layout = layout
        self.link = link

    def forward(self, output, target):
        return self.layout.batch_loss(self.task_loss, self.link(output), target,
                                      self.task_loss.optimizer)

    def prediction_loss(self, output, target, weights):
        theta_hat, theta = self.link(output), target[:, :self.layout.n_params]
        row_weights = self.layout.row_weights(target)
        if row_weights is None:
            return metric_weighted_mse(theta_hat, theta, weights)
        # sample_weight: the rows' metric-weighted squared errors, averaged by weight
        per_row = (weights * (theta_hat - theta) ** 2).mean(-1)
        row_weights = row_weights.to(per_row)
        return (row_weights * per_row).sum() / row_weights.sum().clamp_min(
            torch.finfo(per_row.dtype).tiny)


class TaskMetNet(Net):
    """A skorch ``NeuralNet`` whose training step is TaskMet's.

    Each batch makes ``inner_steps`` optimizer steps of the model on the
    metric-weighted prediction loss (metric fixed), then one step of the
    metric along the implicit gradient of the task loss through the inner
    argmin (conjugate gradient on Hessian-vector products).

    Parameters
    ----------
    *args, **kwargs
        As :class:`skorch.NeuralNet`; ``criterion`` must be a
        :class:`TaskMetCriterion`.
    inner_steps : int, default=1
        Model steps per metric step.
    cg_iter : int, default=10
        Conjugate-gradient iterations.
    cg_damping : float, default=1e-3
        Damping of the Hessian.
    metric_lr : float, default=1e-2
        Learning rate of the metric (Adam).
    """

    def __init__(self, *args, inner_steps=1, cg_iter=10, cg_damping=1e-3, metric_lr=1e-2,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.inner_steps = inner_steps
        self.cg_iter = cg_iter
        self.cg_damping = cg_damping
        self.metric_lr = metric_lr

    def get_all_learnable_params(self):
        # The metric lives in the criterion and has its own optimizer.
        yield from self.module_.named_parameters()

    def initialize_optimizer(self, *args, **kwargs):
        super().initialize_optimizer(*args, **kwargs)
        self.metric_optimizer_ = torch.optim.Adam(self.criterion_.metric.parameters(),
                                                  lr=self.metric_lr)
        return self

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        X = to_tensor(Xi, device=self.device)
        y = to_tensor(yi, device=self.device)
        criterion = self.criterion_
        with torch.no_grad():
            weights = criterion.metric(X)
        for _ in range(self.inner_steps):
            self.optimizer_.zero_grad()
            criterion.prediction_loss(self.infer(Xi), y, weights).backward()
            self.optimizer_.step()
        model_params = [p for _, p in self.module_.named_parameters()]
        metric_params = list(criterion.metric.parameters())
        grads, task = implicit_metric_gradient(
            model_params, metric_params,
            pred_loss=lambda: criterion.prediction_loss(self.infer(Xi), y, criterion.metric(X)),
            task_loss=lambda: criterion(self.infer(Xi), y),
            cg_iter=self.cg_iter, cg_damping=self.cg_damping)
        self.metric_optimizer_.zero_grad()
        for param, grad in zip(metric_params, grads):
            param.grad = grad
        self.metric_optimizer_.step()
        return {"loss": task, "y_pred": None}
