"""A1 public tests: small shapes; the hidden tests run the same checks on more shapes, dtypes and sizes.

Expected values are computed while grading, on fresh random inputs drawn from the run's seed (``--ag-seed N``
replays a run): gradients by autograd, FLOPs by FlopCounterMode, and the lecture's model by
``helpers.LectureNetwork`` (these tests also run on your machine, where there is no reference solution).
See tests/conftest.py for a1's helpers and ``autograder.kit`` for the generic ones (tensor checks, inputs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit


# ---------------------------------------------------------------- devices and the model
@weight(1)
@number("1.1")
def test_get_device(submission, helpers):
    """get_device returns this machine's accelerator, or the CPU"""
    student = submission.execution_modes
    expected = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    got = student.get_device()
    assert isinstance(got, torch.device), f"expected get_device() to return a torch.device, got {got!r}"
    assert got.type == expected, f"on this machine expected get_device() to return device(type={expected!r}), got {got!r}"


@weight(3)
@number("1.2")
def test_model_structure_and_forward(submission, rng, helpers):
    """NeuralNetwork has the lecture's layers and computes the lecture's forward pass"""
    student = submission.execution_modes
    model = student.NeuralNetwork()
    flatten = getattr(model, "flatten", None)
    assert kit.module_kind(flatten) == "Flatten", f"expected model.flatten to be an nn.Flatten(), got {flatten!r}"
    stack = getattr(model, "linear_relu_stack", None)
    assert kit.module_kind(stack) == "Sequential", f"expected model.linear_relu_stack to be an nn.Sequential, got {stack!r}"
    kinds = [kit.module_kind(stack[i]) for i in range(len(stack))]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"], (
        f"expected linear_relu_stack to hold Linear, ReLU, Linear, ReLU, Linear; got {', '.join(kinds) or 'nothing'}")
    shapes = [(stack[i].in_features, stack[i].out_features) for i in (0, 2, 4)]
    assert shapes == [(784, 512), (512, 512), (512, 10)], (
        f"expected NeuralNetwork() to have Linear layers 784->512, 512->512, 512->10 (the defaults); got {shapes}")

    small = student.NeuralNetwork(20, 16, 5)
    shapes = [(small.linear_relu_stack[i].in_features, small.linear_relu_stack[i].out_features) for i in (0, 2, 4)]
    assert shapes == [(20, 16), (16, 16), (16, 5)], (
        f"expected NeuralNetwork(20, 16, 5) to have Linear layers 20->16, 16->16, 16->5; got {shapes}")

    expected_model = helpers.LectureNetwork(20, 16, 5)
    expected_model.load_state_dict(small.state_dict())
    x = kit.randn(rng, 6, 1, 4, 5)  # images of 4x5 pixels: forward must flatten them to 20 features
    with torch.no_grad():
        expected = expected_model(x)
    kit.assert_tensor(small(x), expected, "NeuralNetwork(20, 16, 5)(x) for x of shape (6, 1, 4, 5)",
                         like="(batch, num_classes)")


# ---------------------------------------------------------------- the backward program, by hand
@weight(2)
@number("1.3")
def test_relu_backward(submission, student_process, submitted_source, rng, helpers):
    """relu_backward matches autograd"""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "relu_backward")
    student = submission.execution_modes
    x = kit.randn(rng, 5, 7)
    x[0, :3] = 0.0  # at exactly 0 the gradient is 0, as in PyTorch
    grad_output = kit.randn(rng, 5, 7)
    leaf = x.clone().requires_grad_(True)
    F.relu(leaf).backward(grad_output)
    with kit.no_autograd(student_process):
        got = student.relu_backward(grad_output, x)
    kit.assert_tensor(got, leaf.grad, "relu_backward(grad_output, x)", like="x")


@weight(2)
@number("1.4")
def test_linear_backward(submission, student_process, submitted_source, rng, helpers):
    """linear_backward matches autograd"""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "linear_backward")
    student = submission.execution_modes
    for batch, fan_in, fan_out, case in ((4, 6, 3, "in=6, out=3"), (5, 4, 4, "a square layer, in == out == 4")):
        x, weight_, bias = kit.randn(rng, batch, fan_in), kit.randn(rng, fan_out, fan_in), kit.randn(rng, fan_out)
        grad_output = kit.randn(rng, batch, fan_out)
        leaves = [t.clone().requires_grad_(True) for t in (x, weight_, bias)]
        F.linear(*leaves).backward(grad_output)
        with kit.no_autograd(student_process):
            got = student.linear_backward(grad_output, x, weight_)
        assert isinstance(got, tuple) and len(got) == 3, f"expected linear_backward to return (grad_x, grad_weight, grad_bias), got {got!r:.200}"
        for value, leaf, name, like in zip(got, leaves, ("grad_x", "grad_weight", "grad_bias"), ("x", "weight", "the bias")):
            kit.assert_tensor(value, leaf.grad, f"{name} ({case})", like=f"{like}, {tuple(leaf.shape)}")


@weight(3)
@number("1.5")
def test_cross_entropy_backward(submission, student_process, submitted_source, rng, helpers):
    """cross_entropy_backward matches F.cross_entropy and autograd"""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "cross_entropy_backward")
    student = submission.execution_modes
    logits = kit.randn(rng, 8, 5) * 3
    targets = kit.random_targets(rng, 8, 5)
    leaf = logits.clone().requires_grad_(True)
    expected_loss = F.cross_entropy(leaf, targets)
    expected_loss.backward()
    with kit.no_autograd(student_process):
        got = student.cross_entropy_backward(logits, targets)
    assert isinstance(got, tuple) and len(got) == 2, f"expected cross_entropy_backward to return (loss, grad_logits), got {got!r:.200}"
    kit.assert_tensor(got[0], expected_loss, "loss", like="a 0-dim tensor, as F.cross_entropy returns")
    kit.assert_tensor(got[1], leaf.grad, "grad_logits", like="logits")


@weight(2)
@number("1.6")
def test_mlp_backward(submission, student_process, submitted_source, rng, helpers):
    """mlp_backward matches autograd on a small NeuralNetwork"""
    model = helpers.LectureNetwork(12, 10, 4)
    x, targets = kit.randn(rng, 6, 12), kit.random_targets(rng, 6, 4)
    helpers.check_mlp_backward(submission.execution_modes, student_process, submitted_source, model, x, targets,
                               "LectureNetwork(12, 10, 4), a batch of 6")


# ---------------------------------------------------------------- inference mode
@weight(2)
@number("1.7")
def test_predict(submission, student_process, rng, helpers):
    """predict runs in eval mode under inference_mode and keeps no graph"""
    student = submission.execution_modes
    model = helpers.LectureNetwork(12, 10, 4)
    theirs = student_process.build(model.train())
    x = kit.randn(rng, 3, 12)
    with torch.no_grad():
        expected = model(x)
    out = student.predict(theirs, x)  # grad mode is on here, as in a training script
    assert isinstance(out, torch.Tensor), f"expected predict to return the logits tensor, got {out!r:.200}"
    assert not theirs.training, "expected predict to leave the model in eval mode (call model.eval())"
    assert not out.requires_grad, "expected predict's output to carry no autograd graph (out.requires_grad is True)"
    assert torch.is_inference(out), "expected predict's output to be an inference tensor: run the forward under torch.inference_mode()"
    kit.assert_tensor(out, expected, "predict(model, x)", like="(batch, num_classes)")


# ---------------------------------------------------------------- what each mode costs
@weight(2)
@number("1.8")
def test_layer_flops_default_sizes(submission, rng, helpers):
    """layer_flops matches FlopCounterMode for the lecture's 784-512-512-10 model"""
    student = submission.execution_modes
    sizes, batch = [784, 512, 512, 10], 64
    model = helpers.LectureNetwork()
    x, targets = kit.randn(rng, batch, 1, 28, 28), kit.random_targets(rng, batch, 10)
    for mode in ("inference", "training"):
        expected = helpers.measured_layer_flops(model, x, mode, targets)
        got = student.layer_flops(list(sizes), batch, mode)
        assert isinstance(got, list) and len(got) == len(expected), (
            f"expected layer_flops({sizes}, {batch}, {mode!r}) to return a list of {len(expected)} ints, one per Linear; got {got!r}")
        assert all(isinstance(v, int) for v in got), f"expected plain Python ints in layer_flops' list, got {got!r}"
        assert got == expected, (
            f"layer_flops({sizes}, {batch}, {mode!r}): FlopCounterMode measured {expected} (total {sum(expected):,}), "
            f"got {got!r}")


@weight(2)
@number("1.10")
def test_saved_activation_bytes_lecture_model(submission, rng, helpers):
    """saved_activation_bytes matches saved_tensors_hooks for the lecture's 784-512-512-10 model"""
    student = submission.execution_modes
    sizes, batch = [784, 512, 512, 10], 64
    model, x = helpers.LectureNetwork(), kit.randn(rng, batch, 1, 28, 28)
    for mode in ("training", "inference"):
        expected = helpers.measured_saved_bytes(model, x, mode)
        got = student.saved_activation_bytes(list(sizes), batch, mode)
        assert isinstance(got, int), f"expected saved_activation_bytes to return an int, got {got!r:.200}"
        assert got == expected, (
            f"saved_activation_bytes({sizes}, {batch}, {mode!r}): saved_tensors_hooks saw {expected:,} bytes, got {got:,}. "
            "The input batch counts (the first Linear keeps it for its weight gradient), and tensors that share memory "
            "count once")


# ---------------------------------------------------------------- putting it together
@weight(3)
@number("1.9")
def test_train_digits(submission, student_process, seed, helpers):
    """train_digits reaches 93% accuracy on held-out digits in 20 epochs"""
    student = submission.execution_modes
    x_train, y_train, x_test, y_test = helpers.digits_split(0)
    student_process.seed(seed)
    model = student.train_digits(x_train, y_train, epochs=20)
    accuracy = helpers.held_out_accuracy(model, x_test, y_test)
    assert accuracy >= 0.93, (
        f"the trained model classifies {accuracy:.1%} of the {len(y_test)} held-out digits correctly; need at least 93%. Decay the learning rate over the run (see the handout)")
