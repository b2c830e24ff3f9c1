# Starter code for a1_execution_modes. Replace each NotImplementedError with your implementation.
"""A1: Execution modes -- training vs inference, CPU vs accelerator.

An ML program runs in one of two modes:

* training mode: a forward pass, then a backward pass that computes the gradient of the loss with
  respect to every parameter, then an update. The backward program is derived mechanically from the
  forward one: every forward operation contributes its local derivative, applied in reverse order.
* inference mode: the forward pass only. No gradients, so nothing has to be kept for a backward pass.

You implement both modes for the lecture's multilayer perceptron, derive its backward pass by hand, and
count what each mode costs in FLOPs and in memory kept for backward. See README.md for the full contract.
Only ``torch`` (and the standard library) may be imported.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------- devices and the model
def get_device() -> torch.device:
    """The device to run on: the current accelerator (CUDA, MPS, XPU, ...) when one is available, else the CPU.

    Use ``torch.accelerator`` (``is_available()`` and ``current_accelerator()``), as in the lecture, and
    return a ``torch.device`` (not a string), e.g. ``torch.device("cuda")`` or ``torch.device("cpu")``.
    """
    raise NotImplementedError("get_device: ask torch.accelerator whether an accelerator is available and return a torch.device")


class NeuralNetwork(nn.Module):
    """The lecture's MLP: Flatten, then Linear-ReLU-Linear-ReLU-Linear.

    Attributes (names matter: the grader and the FLOP counter look them up):
      * ``flatten``: an ``nn.Flatten()``
      * ``linear_relu_stack``: an ``nn.Sequential`` of
        ``Linear(in_features, hidden_features), ReLU(), Linear(hidden_features, hidden_features), ReLU(),
        Linear(hidden_features, num_classes)``
    """

    def __init__(self, in_features: int = 28 * 28, hidden_features: int = 512, num_classes: int = 10) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential()  # TODO: Linear, ReLU, Linear, ReLU, Linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, num_classes)`` for ``x`` of shape ``(batch, ...)``."""
        raise NotImplementedError("NeuralNetwork.forward: flatten x, then run it through linear_relu_stack")


# ---------------------------------------------------------------- the backward program, by hand
# No autograd below: no .backward(), no torch.autograd.grad. The grader calls these functions under
# torch.no_grad() with inputs that do not require grad, and fails any call that runs autograd.

def relu_backward(grad_output: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Gradient of the loss w.r.t. the input of ``relu(x)``, given the gradient w.r.t. its output.

    ``x`` is the ReLU's input (its output gives the same answer); any shape, same shape as ``grad_output``.
    Where ``x == 0`` exactly the gradient is 0, as in PyTorch.
    """
    raise NotImplementedError("relu_backward: the incoming gradient passes where x > 0 and is 0 elsewhere")


def linear_backward(
    grad_output: torch.Tensor, x: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of ``y = x @ weight.T + bias`` (what ``nn.Linear`` computes).

    Shapes: ``x`` is ``(batch, in)``, ``weight`` is ``(out, in)``, ``grad_output`` is ``(batch, out)``.
    Returns ``(grad_x, grad_weight, grad_bias)`` shaped like ``x``, ``weight`` and the bias ``(out,)``.
    Inputs may be non-contiguous views (e.g. transposed tensors).
    """
    raise NotImplementedError("linear_backward: three matrix expressions; check each result has the shape of what it is the gradient of")


def cross_entropy_backward(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean softmax cross-entropy over the batch and its gradient w.r.t. the logits.

    ``logits`` is ``(batch, classes)``, ``targets`` holds class indices ``(batch,)`` (int64).
    Returns ``(loss, grad_logits)``: ``loss`` is a 0-dim tensor equal to
    ``F.cross_entropy(logits, targets)``, ``grad_logits`` is shaped like ``logits``.
    Must stay finite for large logits (e.g. 1000): subtract each row's maximum before exponentiating.
    """
    raise NotImplementedError("cross_entropy_backward: a stable log-softmax for the loss; then differentiate the mean loss w.r.t. each logit")


def mlp_backward(model: NeuralNetwork, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss and parameter gradients of ``model`` on ``(x, targets)``, derived by hand (no autograd).

    Run the forward pass yourself with the model's parameters (``model.linear_relu_stack[0].weight``, ...),
    keeping what backward needs, then go backward through cross-entropy, each Linear and each ReLU using the
    three functions above. Returns ``(loss, grads)`` where ``loss`` is a 0-dim tensor equal to
    ``F.cross_entropy(model(x), targets)`` and ``grads`` maps every name of ``model.named_parameters()``
    (``"linear_relu_stack.0.weight"``, ``"linear_relu_stack.0.bias"``, ...) to a tensor shaped like that
    parameter. Do not change the parameters or their ``.grad``. Use only ``model.flatten``,
    ``model.linear_relu_stack`` and the parameters: the grader's model has those, but may not be your class.
    """
    raise NotImplementedError("mlp_backward: forward layer by layer keeping each layer's input, then walk the layers in reverse")


# ---------------------------------------------------------------- the two execution modes
def sgd_step(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, lr: float) -> float:
    """One plain SGD training step; returns the loss (a Python float) computed before the update.

    Put the model in training mode, clear old gradients, run forward, take the mean cross-entropy, run
    backward (autograd is fine here) and update every parameter ``p <- p - lr * p.grad`` (no momentum,
    no weight decay). Calling it twice must do two independent steps: gradients must not pile up.
    """
    raise NotImplementedError("sgd_step: train(), zero_grad(), forward, F.cross_entropy, backward, then update under torch.no_grad()")


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Inference: the model's logits for ``x`` with no autograd bookkeeping at all.

    Put the model in evaluation mode (so layers like Dropout behave for inference; the model stays in
    eval mode afterwards) and run the forward pass under ``torch.inference_mode()``. The result must
    satisfy ``torch.is_inference(out)`` and ``not out.requires_grad``, even if the caller has grad enabled.
    """
    raise NotImplementedError("predict: model.eval(), then the forward pass under torch.inference_mode()")


# ---------------------------------------------------------------- what each mode costs
# ``layer_sizes`` describes an MLP: Linear(s[0], s[1]), ReLU, Linear(s[1], s[2]), ReLU, ..., Linear(s[-2], s[-1]),
# with no ReLU after the last Linear. The lecture's NeuralNetwork is [784, 512, 512, 10].

def layer_flops(layer_sizes: list[int], batch_size: int, mode: str) -> list[int]:
    """FLOPs of each Linear layer for one batch, as ``torch.utils.flop_counter.FlopCounterMode`` counts them.

    A matrix product of ``(m, k) @ (k, n)`` costs ``2*m*k*n`` FLOPs (a multiply and an add per term); bias
    additions, ReLU and the loss are not counted. ``mode`` is ``"inference"`` (forward only) or
    ``"training"`` (forward plus the backward pass autograd runs for a mean cross-entropy loss, where the
    input batch does not require grad). Returns one int per Linear layer, in order. Raise ``ValueError``
    for any other mode.
    """
    raise NotImplementedError("layer_flops: count the matmuls forward and backward run for each layer (does layer 0 need grad_x?)")


def saved_activation_bytes(layer_sizes: list[int], batch_size: int, mode: str,
                           dtype: torch.dtype = torch.float32) -> int:
    """Bytes of activations autograd keeps alive for backward after one forward pass of the MLP.

    Count the distinct non-parameter tensors that the forward pass saves for backward (what
    ``torch.autograd.graph.saved_tensors_hooks`` sees; a tensor saved by two operations counts once;
    parameters are not counted). ``mode`` is ``"training"`` (grad enabled, parameters require grad, the
    input batch does not) or ``"inference"`` (under ``torch.inference_mode()``). Elements have type
    ``dtype``. Raise ``ValueError`` for any other mode.
    """
    raise NotImplementedError("saved_activation_bytes: list the tensors each Linear and ReLU needs for its backward, then count each tensor once")


# ---------------------------------------------------------------- putting it together
def train_digits(x_train: torch.Tensor, y_train: torch.Tensor, epochs: int = 20,
                 hidden_features: int = 128) -> NeuralNetwork:
    """Train ``NeuralNetwork(64, hidden_features, 10)`` on scikit-learn's 8x8 digits and return it.

    ``x_train`` is ``(n, 64)`` float32 with pixel values scaled to [0, 1], ``y_train`` is ``(n,)`` int64.
    Train for exactly ``epochs`` passes over the data, in mini-batches, on the device the data is on.
    Any optimizer from ``torch.optim`` is fine. The grader evaluates the returned model on digits it
    held out and requires at least 93% accuracy.
    """
    raise NotImplementedError("train_digits: loop over epochs and shuffled mini-batches: forward, F.cross_entropy, zero_grad, backward, optimizer.step()")
