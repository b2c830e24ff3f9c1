"""A1 hidden tests: the public checks on shapes, sizes, dtypes and layouts drawn from the run's seed.

Cases: batch of 1, non-contiguous (transposed / strided) inputs, float64 and bfloat16, exact zeros, huge
logits, image-shaped inputs, random widths and depths, two SGD steps, Dropout. Expected values come from
autograd, FlopCounterMode, saved_tensors_hooks and the reference solution at grading time.

Models reach the student's functions through ``helpers.to_student`` (a copy built in the student's process),
dtypes through ``helpers.student_dtype``; see tests/conftest.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gradescope_utils.autograder_utils.decorators import number, weight
from torch import nn


# ---------------------------------------------------------------- the model
@weight(2)
@number("2.1")
def test_model_random_sizes(submission, reference, rng, helpers):
    """NeuralNetwork with other sizes: class and parameter names, layers, forward pass on a batch of 1"""
    student = submission.execution_modes
    fan_in, hidden, classes = helpers.randint(rng, 2, 40), helpers.randint(rng, 2, 40), helpers.randint(rng, 2, 12)
    model = student.NeuralNetwork(fan_in, hidden, classes)
    assert helpers.module_kind(model) == "NeuralNetwork", (
        "expected the class to be named NeuralNetwork (FlopCounterMode reports 'NeuralNetwork.linear_relu_stack.0'), "
        f"got {helpers.module_kind(model)}")
    expected_model = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes)
    state = model.state_dict()
    expected_names = sorted(expected_model.state_dict())
    assert sorted(state) == expected_names, (
        f"expected the parameters {expected_names} (from flatten and linear_relu_stack), got {sorted(state)}")
    for name, value in expected_model.state_dict().items():
        assert tuple(state[name].shape) == tuple(value.shape), (
            f"NeuralNetwork({fan_in}, {hidden}, {classes}): expected {name} of shape {tuple(value.shape)}, "
            f"got {tuple(state[name].shape)}")
    expected_model.load_state_dict(state)
    x = helpers.randn(rng, 1, fan_in)  # batch of 1
    with torch.no_grad():
        expected = expected_model(x)
    helpers.check_tensor(model(x), expected, f"NeuralNetwork({fan_in}, {hidden}, {classes})(x) for a batch of 1")


# ---------------------------------------------------------------- the backward program, by hand
@weight(2)
@number("2.2")
def test_relu_backward_shapes(submission, rng, helpers):
    """relu_backward on any shape, float64, exact zeros and non-contiguous inputs"""
    student = submission.execution_modes
    cases = []
    for dtype in (torch.float32, torch.float64):
        rank = helpers.randint(rng, 1, 4)
        shape = [helpers.randint(rng, 1, 6) for _ in range(rank)]
        cases.append((helpers.randn(rng, *shape, dtype=dtype), f"shape={tuple(shape)}, dtype={dtype}"))
    cases.append((helpers.randn(rng, 1, helpers.randint(rng, 2, 9)), "batch of 1"))
    cases.append((helpers.randn(rng, 7, 5).T, "non-contiguous x (a transposed view)"))
    zeros = helpers.randn(rng, 4, 6)
    zeros[zeros.abs() < 0.7] = 0.0
    cases.append((zeros, "x with exact zeros (gradient 0 there, as in PyTorch)"))
    for x, case in cases:
        grad_output = helpers.randn(rng, *x.shape, dtype=x.dtype)
        leaf = x.clone().requires_grad_(True)
        F.relu(leaf).backward(grad_output)
        with helpers.no_autograd("relu_backward", submission):
            got = student.relu_backward(grad_output, x)
        helpers.check_tensor(got, leaf.grad, f"relu_backward ({case})", like="x")


@weight(3)
@number("2.3")
def test_linear_backward_shapes(submission, rng, helpers):
    """linear_backward on random sizes, batch of 1, non-contiguous inputs and float64"""
    student = submission.execution_modes
    b, i, o = helpers.randint(rng, 2, 17), helpers.randint(rng, 1, 33), helpers.randint(rng, 1, 17)
    cases = [
        ("random sizes", helpers.randn(rng, b, i), helpers.randn(rng, o, i), helpers.randn(rng, b, o)),
        ("batch of 1", helpers.randn(rng, 1, i), helpers.randn(rng, o, i), helpers.randn(rng, 1, o)),
        ("non-contiguous x, weight and grad_output (transposed views)",
         helpers.randn(rng, i, b).T, helpers.randn(rng, i, o).T, helpers.randn(rng, o, b).T),
        ("strided x (every other row)", helpers.randn(rng, 2 * b, i)[::2], helpers.randn(rng, o, i), helpers.randn(rng, b, o)),
        ("float64", helpers.randn(rng, b, i, dtype=torch.float64), helpers.randn(rng, o, i, dtype=torch.float64),
         helpers.randn(rng, b, o, dtype=torch.float64)),
    ]
    for case, x, weight_, grad_output in cases:
        bias = torch.zeros(weight_.shape[0], dtype=weight_.dtype)
        leaves = [t.clone().requires_grad_(True) for t in (x, weight_, bias)]
        F.linear(*leaves).backward(grad_output)
        with helpers.no_autograd("linear_backward", submission):
            got = student.linear_backward(grad_output, x, weight_)
        assert isinstance(got, tuple) and len(got) == 3, (
            f"expected linear_backward to return (grad_x, grad_weight, grad_bias), got {got!r:.200}")
        for value, leaf, name, like in zip(got, leaves, ("grad_x", "grad_weight", "grad_bias"), ("x", "weight", "the bias")):
            helpers.check_tensor(value, leaf.grad, f"{name} ({case})", like=f"{like}, {tuple(leaf.shape)}")


@weight(3)
@number("2.4")
def test_cross_entropy_backward_shapes(submission, rng, helpers):
    """cross_entropy_backward on random sizes, batch of 1, float64 and huge logits"""
    student = submission.execution_modes
    b, c = helpers.randint(rng, 2, 64), helpers.randint(rng, 2, 50)
    cases = [
        ("random sizes", helpers.randn(rng, b, c) * 4, helpers.random_targets(rng, b, c)),
        ("batch of 1", helpers.randn(rng, 1, c), helpers.random_targets(rng, 1, c)),
        ("float64", helpers.randn(rng, b, c, dtype=torch.float64) * 4, helpers.random_targets(rng, b, c)),
        ("huge logits (around 1000: subtract each row's max before exp)", helpers.randn(rng, b, c) * 1000,
         helpers.random_targets(rng, b, c)),
        ("non-contiguous logits (a transposed view)", helpers.randn(rng, c, b).T, helpers.random_targets(rng, b, c)),
    ]
    for case, logits, targets in cases:
        leaf = logits.clone().requires_grad_(True)
        expected_loss = F.cross_entropy(leaf, targets)
        expected_loss.backward()
        with helpers.no_autograd("cross_entropy_backward", submission):
            got = student.cross_entropy_backward(logits, targets)
        assert isinstance(got, tuple) and len(got) == 2, (
            f"expected cross_entropy_backward to return (loss, grad_logits), got {got!r:.200}")
        loss, grad = got
        assert isinstance(loss, torch.Tensor) and bool(torch.isfinite(loss).all()), f"loss is not finite ({case}): {loss!r}"
        helpers.check_tensor(loss, expected_loss, f"loss ({case})", like="a 0-dim tensor")
        helpers.check_tensor(grad, leaf.grad, f"grad_logits ({case})", like="logits")


def _check_mlp_backward(submission, model, x, targets, helpers, case):
    """mlp_backward on a copy of ``model`` in the student's process, against autograd on ``model``."""
    theirs = helpers.to_student(submission, model).requires_grad_(False)  # no autograd possible on their copy
    expected_loss, expected = helpers.autograd_param_grads(model, x, targets)
    with helpers.no_autograd("mlp_backward", submission):
        got = submission.execution_modes.mlp_backward(theirs, x, targets)
    assert isinstance(got, tuple) and len(got) == 2, f"expected mlp_backward to return (loss, grads), got {got!r:.200}"
    loss, grads = got
    helpers.check_tensor(loss, expected_loss, f"loss ({case})", like="a 0-dim tensor")
    assert isinstance(grads, dict) and set(grads) == set(expected), (
        f"expected grads with the keys of model.named_parameters(): {sorted(expected)}; "
        f"got {sorted(grads) if isinstance(grads, dict) else type(grads).__name__}")
    for name, value in expected.items():
        helpers.check_tensor(grads[name], value, f"grads[{name!r}] ({case})", like=f"the parameter, {tuple(value.shape)}")
    after = theirs.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(after[name], value), f"mlp_backward changed the parameter {name}; it must only compute gradients"


@weight(3)
@number("2.5")
def test_mlp_backward_random_sizes(submission, reference, rng, device, helpers):
    """mlp_backward matches autograd for random sizes, image inputs and float64"""
    for dtype in (torch.float32, torch.float64):
        height, width = helpers.randint(rng, 1, 8), helpers.randint(rng, 1, 8)
        hidden, classes, batch = helpers.randint(rng, 2, 48), helpers.randint(rng, 2, 12), helpers.randint(rng, 2, 32)
        model = reference.execution_modes.NeuralNetwork(height * width, hidden, classes).to(device=device, dtype=dtype)
        x = helpers.randn(rng, batch, 1, height, width, dtype=dtype, device=device)
        targets = helpers.random_targets(rng, batch, classes, device=device)
        case = helpers.describe(model=f"NeuralNetwork({height * width}, {hidden}, {classes})", x=tuple(x.shape), dtype=dtype)
        _check_mlp_backward(submission, model, x, targets, helpers, case)


@weight(2)
@number("2.6")
def test_mlp_backward_edge_cases(submission, reference, rng, device, helpers):
    """mlp_backward with a batch of 1 and a non-contiguous input"""
    height, width = helpers.randint(rng, 2, 7), helpers.randint(rng, 2, 7)
    hidden, classes = helpers.randint(rng, 2, 32), helpers.randint(rng, 2, 10)
    model = reference.execution_modes.NeuralNetwork(height * width, hidden, classes).to(device)
    batch = helpers.randint(rng, 2, 16)
    cases = [
        ("batch of 1", helpers.randn(rng, 1, height * width, device=device)),
        ("non-contiguous image batch (transposed pixels: flatten it, do not .view() it)",
         helpers.randn(rng, batch, 1, width, height, device=device).transpose(2, 3)),
    ]
    for case, x in cases:
        targets = helpers.random_targets(rng, x.shape[0], classes, device=device)
        _check_mlp_backward(submission, model, x, targets, helpers, f"{case}, x of shape {tuple(x.shape)}")


# ---------------------------------------------------------------- the two execution modes
@weight(3)
@number("2.7")
def test_sgd_step_matches_reference(submission, reference, rng, device, helpers):
    """sgd_step: two steps from the same start give the reference's losses and parameters"""
    student = submission.execution_modes
    fan_in, hidden, classes = helpers.randint(rng, 4, 40), helpers.randint(rng, 4, 40), helpers.randint(rng, 2, 10)
    expected_model = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes).to(device)
    theirs = helpers.to_student(submission, expected_model.eval())  # sgd_step must switch to training mode itself
    lr = float(torch.empty(()).uniform_(0.05, 0.5, generator=rng))
    for step in (1, 2):
        batch = helpers.randint(rng, 1, 32)
        x, targets = helpers.randn(rng, batch, fan_in, device=device), helpers.random_targets(rng, batch, classes, device=device)
        got = student.sgd_step(theirs, x, targets, lr)
        expected = reference.execution_modes.sgd_step(expected_model, x, targets, lr)
        assert isinstance(got, float), f"expected sgd_step to return the loss as a Python float (loss.item()), got {got!r:.200}"
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6), (
            f"step {step}: expected loss {expected:.6f} (computed before the update), got {got:.6f}")
        assert theirs.training, "expected the model to be in training mode after sgd_step (call model.train())"
        state = theirs.state_dict()
        for name, value in expected_model.state_dict().items():
            helpers.check_tensor(state[name], value, f"parameter {name} after step {step} (lr={lr:.3f}"
                                 + (", gradients from step 1 must not pile up" if step == 2 else "") + ")")


@weight(2)
@number("2.8")
def test_predict_eval_and_inference(submission, reference, rng, device, helpers):
    """predict: eval mode (Dropout off), inference tensors, works with grad enabled"""
    student = submission.execution_modes
    fan_in, hidden, classes = helpers.randint(rng, 2, 30), helpers.randint(rng, 2, 30), helpers.randint(rng, 2, 10)
    dropout_model = nn.Sequential(nn.Flatten(), nn.Linear(fan_in, hidden), nn.Dropout(0.5), nn.ReLU(),
                                  nn.Linear(hidden, classes)).to(device)
    mlp = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes).to(device)
    for name, model in (("a model with Dropout", dropout_model), ("NeuralNetwork", mlp)):
        x = helpers.randn(rng, helpers.randint(rng, 1, 8), fan_in, device=device)
        with torch.no_grad():
            expected = model.eval()(x)
        theirs = helpers.to_student(submission, model.train())
        with torch.enable_grad():
            out = student.predict(theirs, x)
        assert isinstance(out, torch.Tensor), f"expected predict to return the logits tensor, got {out!r:.200}"
        still_training = [helpers.module_kind(m) for m in theirs.modules() if m.training]
        assert not still_training, f"expected predict to leave {name} in eval mode; still training: {still_training}"
        assert not out.requires_grad and torch.is_inference(out), (
            f"expected predict({name}) to return an inference tensor with no graph: run the forward under torch.inference_mode()")
        helpers.check_tensor(out, expected, f"predict({name}, x) (eval mode: Dropout passes everything through)")


# ---------------------------------------------------------------- what each mode costs
@weight(3)
@number("2.9")
def test_layer_flops_random_mlps(submission, reference, rng, helpers):
    """layer_flops matches FlopCounterMode for random widths, depths and batch sizes"""
    student = submission.execution_modes
    fan_in, hidden, classes = helpers.randint(rng, 2, 64), helpers.randint(rng, 2, 64), helpers.randint(rng, 2, 12)
    depth = helpers.randint(rng, 1, 5)
    deep_sizes = [helpers.randint(rng, 2, 48) for _ in range(depth + 1)]
    models = [([fan_in, hidden, hidden, classes], reference.execution_modes.NeuralNetwork(fan_in, hidden, classes)),
              (deep_sizes, helpers.make_mlp(deep_sizes))]
    for sizes, model in models:
        for batch in (1, helpers.randint(rng, 2, 48)):
            x, targets = helpers.randn(rng, batch, sizes[0]), helpers.random_targets(rng, batch, sizes[-1])
            for mode in ("inference", "training"):
                expected = helpers.measured_layer_flops(model, x, mode, targets)
                got = student.layer_flops(list(sizes), batch, mode)
                assert isinstance(got, list) and all(isinstance(v, int) for v in got), (
                    f"expected layer_flops to return a list of ints, got {got!r}")
                assert got == expected, (
                    f"layer_flops({sizes}, {batch}, {mode!r}): FlopCounterMode measured {expected}, got {got}")


@weight(1)
@number("2.10")
def test_layer_flops_rejects_unknown_mode(submission):
    """layer_flops raises ValueError for a mode other than training/inference"""
    student = submission.execution_modes
    for mode in ("train", "eval", "backward"):
        with pytest.raises(ValueError):
            student.layer_flops([8, 4, 2], 3, mode)


@weight(3)
@number("2.11")
def test_saved_activation_bytes_neural_network(submission, reference, rng, helpers):
    """saved_activation_bytes matches saved_tensors_hooks for NeuralNetwork of random sizes"""
    student = submission.execution_modes
    for batch in (1, helpers.randint(rng, 2, 64)):
        fan_in, hidden, classes = helpers.randint(rng, 2, 100), helpers.randint(rng, 2, 100), helpers.randint(rng, 2, 12)
        sizes = [fan_in, hidden, hidden, classes]
        model = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes)
        x = helpers.randn(rng, batch, fan_in)
        for mode in ("training", "inference"):
            expected = helpers.measured_saved_bytes(model, x, mode)
            got = student.saved_activation_bytes(list(sizes), batch, mode)
            assert isinstance(got, int), f"expected saved_activation_bytes to return an int, got {got!r:.200}"
            assert got == expected, (
                f"saved_activation_bytes({sizes}, {batch}, {mode!r}): saved_tensors_hooks saw {expected} bytes, got {got}")


@weight(2)
@number("2.12")
def test_saved_activation_bytes_deep_and_dtypes(submission, rng, helpers):
    """saved_activation_bytes for deeper MLPs of different widths, in float64 and bfloat16"""
    student = submission.execution_modes
    for dtype in (torch.float64, torch.bfloat16, torch.float32):
        depth = helpers.randint(rng, 1, 5)
        sizes = [helpers.randint(rng, 2, 64) for _ in range(depth + 1)]
        batch = helpers.randint(rng, 1, 32)
        model = helpers.make_mlp(sizes).to(dtype)
        x = helpers.randn(rng, batch, sizes[0], dtype=dtype)
        for mode in ("training", "inference"):
            expected = helpers.measured_saved_bytes(model, x, mode)
            got = student.saved_activation_bytes(list(sizes), batch, mode, dtype=helpers.student_dtype(submission, dtype))
            assert got == expected, (
                f"saved_activation_bytes({sizes}, {batch}, {mode!r}, dtype={dtype}): saved_tensors_hooks saw {expected} bytes, "
                f"got {got!r}")


# ---------------------------------------------------------------- putting it together
@weight(1)
@number("2.13")
def test_train_digits_other_split(submission, reference, seed, helpers):
    """train_digits reaches 95% on a different held-out split"""
    student = submission.execution_modes
    x_train, y_train, x_test, y_test = helpers.digits_split(1 + seed % 997)
    helpers.seed_student(submission, seed)
    model = student.train_digits(x_train, y_train, epochs=20)
    accuracy = helpers.held_out_accuracy(model, x_test, y_test, reference.execution_modes.NeuralNetwork)
    assert accuracy >= 0.95, f"the trained model classifies {accuracy:.1%} of the held-out digits correctly; need at least 95%"
