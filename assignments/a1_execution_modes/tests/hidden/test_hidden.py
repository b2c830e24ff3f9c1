"""A1 hidden tests: the public checks on shapes, sizes, dtypes and layouts drawn from the run's seed.

Cases: batch of 1, non-contiguous (transposed / strided) inputs, float64 and bfloat16, exact zeros, huge
logits, image-shaped inputs, random widths and depths, two SGD steps, Dropout. Expected values come from
autograd, FlopCounterMode, saved_tensors_hooks and the reference solution at grading time.

Models reach the student's functions through ``student_process.build`` (a copy built in the student's
process; see autograder/kit/process.py); dtypes and devices cross by value.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from gradescope_utils.autograder_utils.decorators import number, weight

from autograder import kit
from torch import nn


# ---------------------------------------------------------------- the model
@weight(2)
@number("2.1")
@pytest.mark.hint("NeuralNetwork's class and parameter names, its layers and its forward pass, for other sizes")
def test_model_random_sizes(submission, reference, rng, helpers):
    """NeuralNetwork with other sizes: class and parameter names, layers, forward pass on a batch of 1"""
    student = submission.execution_modes
    fan_in, hidden, classes = kit.randint(rng, 2, 40), kit.randint(rng, 2, 40), kit.randint(rng, 2, 12)
    model = student.NeuralNetwork(fan_in, hidden, classes)
    assert kit.module_kind(model) == "NeuralNetwork", (
        "expected the class to be named NeuralNetwork (FlopCounterMode reports 'NeuralNetwork.linear_relu_stack.0'), "
        f"got {kit.module_kind(model)}")
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
    x = kit.randn(rng, 1, fan_in)  # batch of 1
    with torch.no_grad():
        expected = expected_model(x)
    kit.assert_tensor(model(x), expected, f"NeuralNetwork({fan_in}, {hidden}, {classes})(x) for a batch of 1")


# ---------------------------------------------------------------- the backward program, by hand
@weight(2)
@number("2.2")
@pytest.mark.hint("relu_backward: gradients where x > 0 only (0 at x == 0), any shape, float64, transposed inputs")
def test_relu_backward_shapes(submission, student_process, submitted_source, rng, helpers):
    """relu_backward on any shape, float64, exact zeros and non-contiguous inputs"""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "relu_backward")
    student = submission.execution_modes
    cases = []
    for dtype in (torch.float32, torch.float64):
        rank = kit.randint(rng, 1, 4)
        shape = [kit.randint(rng, 1, 6) for _ in range(rank)]
        cases.append((kit.randn(rng, *shape, dtype=dtype), f"shape={tuple(shape)}, dtype={dtype}"))
    cases.append((kit.randn(rng, 1, kit.randint(rng, 2, 9)), "batch of 1"))
    cases.append((kit.randn(rng, 7, 5).T, "non-contiguous x (a transposed view)"))
    zeros = kit.randn(rng, 4, 6)
    zeros[zeros.abs() < 0.7] = 0.0
    cases.append((zeros, "x with exact zeros (gradient 0 there, as in PyTorch)"))
    for x, case in cases:
        grad_output = kit.randn(rng, *x.shape, dtype=x.dtype)
        leaf = x.clone().requires_grad_(True)
        F.relu(leaf).backward(grad_output)
        with kit.no_autograd(student_process):
            got = student.relu_backward(grad_output, x)
        kit.assert_tensor(got, leaf.grad, f"relu_backward ({case})", like="x")


@weight(3)
@number("2.3")
@pytest.mark.hint("linear_backward: which dimension each product sums over (square layers too), transposed and strided inputs, float64")
def test_linear_backward_shapes(submission, student_process, submitted_source, rng, helpers):
    """linear_backward on random sizes, batch of 1, non-contiguous inputs and float64"""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "linear_backward")
    student = submission.execution_modes
    b, i, o = kit.randint(rng, 2, 17), kit.randint(rng, 1, 33), kit.randint(rng, 1, 17)
    cases = [
        ("random sizes", kit.randn(rng, b, i), kit.randn(rng, o, i), kit.randn(rng, b, o)),
        ("a square layer (in == out)", kit.randn(rng, b, i), kit.randn(rng, i, i), kit.randn(rng, b, i)),
        ("batch of 1", kit.randn(rng, 1, i), kit.randn(rng, o, i), kit.randn(rng, 1, o)),
        ("non-contiguous x, weight and grad_output (transposed views)",
         kit.randn(rng, i, b).T, kit.randn(rng, i, o).T, kit.randn(rng, o, b).T),
        ("strided x (every other row)", kit.randn(rng, 2 * b, i)[::2], kit.randn(rng, o, i), kit.randn(rng, b, o)),
        ("float64", kit.randn(rng, b, i, dtype=torch.float64), kit.randn(rng, o, i, dtype=torch.float64),
         kit.randn(rng, b, o, dtype=torch.float64)),
    ]
    for case, x, weight_, grad_output in cases:
        bias = torch.zeros(weight_.shape[0], dtype=weight_.dtype)
        leaves = [t.clone().requires_grad_(True) for t in (x, weight_, bias)]
        F.linear(*leaves).backward(grad_output)
        with kit.no_autograd(student_process):
            got = student.linear_backward(grad_output, x, weight_)
        assert isinstance(got, tuple) and len(got) == 3, (
            f"expected linear_backward to return (grad_x, grad_weight, grad_bias), got {got!r:.200}")
        for value, leaf, name, like in zip(got, leaves, ("grad_x", "grad_weight", "grad_bias"), ("x", "weight", "the bias")):
            kit.assert_tensor(value, leaf.grad, f"{name} ({case})", like=f"{like}, {tuple(leaf.shape)}")


@weight(3)
@number("2.4")
@pytest.mark.hint("cross_entropy_backward: the mean loss and its gradient, numerically stable for huge logits")
def test_cross_entropy_backward_shapes(submission, student_process, submitted_source, rng, helpers):
    """cross_entropy_backward on random sizes, batch of 1, float64 and huge logits"""
    kit.assert_by_hand(submitted_source("execution_modes.py"), "cross_entropy_backward")
    student = submission.execution_modes
    b, c = kit.randint(rng, 2, 64), kit.randint(rng, 2, 50)
    cases = [
        ("random sizes", kit.randn(rng, b, c) * 4, kit.random_targets(rng, b, c)),
        ("batch of 1", kit.randn(rng, 1, c), kit.random_targets(rng, 1, c)),
        ("float64", kit.randn(rng, b, c, dtype=torch.float64) * 4, kit.random_targets(rng, b, c)),
        ("huge logits (around 1000: subtract each row's max before exp)", kit.randn(rng, b, c) * 1000,
         kit.random_targets(rng, b, c)),
        ("non-contiguous logits (a transposed view)", kit.randn(rng, c, b).T, kit.random_targets(rng, b, c)),
    ]
    for case, logits, targets in cases:
        leaf = logits.clone().requires_grad_(True)
        expected_loss = F.cross_entropy(leaf, targets)
        expected_loss.backward()
        with kit.no_autograd(student_process):
            got = student.cross_entropy_backward(logits, targets)
        assert isinstance(got, tuple) and len(got) == 2, (
            f"expected cross_entropy_backward to return (loss, grad_logits), got {got!r:.200}")
        loss, grad = got
        assert isinstance(loss, torch.Tensor) and bool(torch.isfinite(loss).all()), f"loss is not finite ({case}): {loss!r}"
        kit.assert_tensor(loss, expected_loss, f"loss ({case})", like="a 0-dim tensor")
        kit.assert_tensor(grad, leaf.grad, f"grad_logits ({case})", like="logits")


@weight(3)
@number("2.5")
@pytest.mark.hint("mlp_backward: the forward you run by hand and the chain rule back through every layer, for other sizes and dtypes")
def test_mlp_backward_random_sizes(submission, student_process, submitted_source, reference, rng, device, helpers):
    """mlp_backward matches autograd for random sizes, image inputs and float64"""
    for dtype in (torch.float32, torch.float64):
        height, width = kit.randint(rng, 1, 8), kit.randint(rng, 1, 8)
        hidden, classes, batch = kit.randint(rng, 2, 48), kit.randint(rng, 2, 12), kit.randint(rng, 2, 32)
        model = reference.execution_modes.NeuralNetwork(height * width, hidden, classes).to(device=device, dtype=dtype)
        x = kit.randn(rng, batch, 1, height, width, dtype=dtype, device=device)
        targets = kit.random_targets(rng, batch, classes, device=device)
        case = kit.describe(model=f"NeuralNetwork({height * width}, {hidden}, {classes})", x=tuple(x.shape), dtype=dtype)
        helpers.check_mlp_backward(submission.execution_modes, student_process, submitted_source, model, x, targets, case)


@weight(2)
@number("2.6")
@pytest.mark.hint("mlp_backward with a batch of 1 and a non-contiguous image batch (flatten, do not .view())")
def test_mlp_backward_edge_cases(submission, student_process, submitted_source, reference, rng, device, helpers):
    """mlp_backward with a batch of 1 and a non-contiguous input"""
    height, width = kit.randint(rng, 2, 7), kit.randint(rng, 2, 7)
    hidden, classes = kit.randint(rng, 2, 32), kit.randint(rng, 2, 10)
    model = reference.execution_modes.NeuralNetwork(height * width, hidden, classes).to(device)
    batch = kit.randint(rng, 2, 16)
    cases = [
        ("batch of 1", kit.randn(rng, 1, height * width, device=device)),
        ("non-contiguous image batch (transposed pixels: flatten it, do not .view() it)",
         kit.randn(rng, batch, 1, width, height, device=device).transpose(2, 3)),
    ]
    for case, x in cases:
        targets = kit.random_targets(rng, x.shape[0], classes, device=device)
        helpers.check_mlp_backward(submission.execution_modes, student_process, submitted_source, model, x, targets,
                                   f"{case}, x of shape {tuple(x.shape)}")


# ---------------------------------------------------------------- the two execution modes
@weight(3)
@number("2.7")
@pytest.mark.hint("sgd_step: training mode, fresh gradients each step, the plain SGD update, the loss before the update")
def test_sgd_step_matches_reference(submission, student_process, reference, rng, device, helpers):
    """sgd_step: two steps from the same start give the reference's losses and parameters"""
    student = submission.execution_modes
    fan_in, hidden, classes = kit.randint(rng, 4, 40), kit.randint(rng, 4, 40), kit.randint(rng, 2, 10)
    expected_model = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes).to(device)
    theirs = student_process.build(expected_model.eval())  # sgd_step must switch to training mode itself
    lr = float(torch.empty(()).uniform_(0.05, 0.5, generator=rng))
    for step in (1, 2):
        batch = kit.randint(rng, 1, 32)
        x, targets = kit.randn(rng, batch, fan_in, device=device), kit.random_targets(rng, batch, classes, device=device)
        got = student.sgd_step(theirs, x, targets, lr)
        expected = reference.execution_modes.sgd_step(expected_model, x, targets, lr)
        assert isinstance(got, float), f"expected sgd_step to return the loss as a Python float (loss.item()), got {got!r:.200}"
        assert got == pytest.approx(expected, rel=1e-5, abs=1e-6), (
            f"step {step}: expected loss {expected:.6f} (computed before the update), got {got:.6f}")
        assert theirs.training, "expected the model to be in training mode after sgd_step (call model.train())"
        state = theirs.state_dict()
        for name, value in expected_model.state_dict().items():
            kit.assert_tensor(state[name], value, f"parameter {name} after step {step} (lr={lr:.3f}"
                                 + (", gradients from step 1 must not pile up" if step == 2 else "") + ")")


@weight(2)
@number("2.8")
@pytest.mark.hint("predict: eval mode (Dropout off) and inference tensors even when grad is enabled")
def test_predict_eval_and_inference(submission, student_process, reference, rng, device, helpers):
    """predict: eval mode (Dropout off), inference tensors, works with grad enabled"""
    student = submission.execution_modes
    fan_in, hidden, classes = kit.randint(rng, 2, 30), kit.randint(rng, 2, 30), kit.randint(rng, 2, 10)
    dropout_model = nn.Sequential(nn.Flatten(), nn.Linear(fan_in, hidden), nn.Dropout(0.5), nn.ReLU(),
                                  nn.Linear(hidden, classes)).to(device)
    mlp = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes).to(device)
    for name, model in (("a model with Dropout", dropout_model), ("NeuralNetwork", mlp)):
        x = kit.randn(rng, kit.randint(rng, 1, 8), fan_in, device=device)
        with torch.no_grad():
            expected = model.eval()(x)
        theirs = student_process.build(model.train())
        with torch.enable_grad():
            out = student.predict(theirs, x)
        assert isinstance(out, torch.Tensor), f"expected predict to return the logits tensor, got {out!r:.200}"
        still_training = [kit.module_kind(m) for m in theirs.modules() if m.training]
        assert not still_training, f"expected predict to leave {name} in eval mode; still training: {still_training}"
        assert not out.requires_grad and torch.is_inference(out), (
            f"expected predict({name}) to return an inference tensor with no graph: run the forward under torch.inference_mode()")
        kit.assert_tensor(out, expected, f"predict({name}, x) (eval mode: Dropout passes everything through)")


# ---------------------------------------------------------------- what each mode costs
@weight(3)
@number("2.9")
@pytest.mark.hint("layer_flops: the matrix products forward and backward run per Linear, for any depth and batch")
def test_layer_flops_random_mlps(submission, reference, rng, helpers):
    """layer_flops matches FlopCounterMode for random widths, depths and batch sizes"""
    student = submission.execution_modes
    fan_in, hidden, classes = kit.randint(rng, 2, 64), kit.randint(rng, 2, 64), kit.randint(rng, 2, 12)
    depth = kit.randint(rng, 1, 5)
    deep_sizes = [kit.randint(rng, 2, 48) for _ in range(depth + 1)]
    models = [([fan_in, hidden, hidden, classes], reference.execution_modes.NeuralNetwork(fan_in, hidden, classes)),
              (deep_sizes, helpers.make_mlp(deep_sizes))]
    for sizes, model in models:
        for batch in (1, kit.randint(rng, 2, 48)):
            x, targets = kit.randn(rng, batch, sizes[0]), kit.random_targets(rng, batch, sizes[-1])
            for mode in ("inference", "training"):
                expected = helpers.measured_layer_flops(model, x, mode, targets)
                got = student.layer_flops(list(sizes), batch, mode)
                assert isinstance(got, list) and all(isinstance(v, int) for v in got), (
                    f"expected layer_flops to return a list of ints, got {got!r}")
                assert got == expected, (
                    f"layer_flops({sizes}, {batch}, {mode!r}): FlopCounterMode measured {expected}, got {got}")


@weight(1)
@number("2.10")
@pytest.mark.hint("layer_flops: ValueError for a mode other than training or inference")
def test_layer_flops_rejects_unknown_mode(submission):
    """layer_flops raises ValueError for a mode other than training/inference"""
    student = submission.execution_modes
    for mode in ("train", "eval", "backward"):
        with pytest.raises(ValueError):
            student.layer_flops([8, 4, 2], 3, mode)


@weight(1)
@number("2.11")
@pytest.mark.hint("saved_activation_bytes: which tensors each Linear and ReLU keeps for backward, for other sizes")
def test_saved_activation_bytes_neural_network(submission, reference, rng, helpers):
    """saved_activation_bytes matches saved_tensors_hooks for NeuralNetwork of random sizes"""
    student = submission.execution_modes
    for batch in (1, kit.randint(rng, 2, 64)):
        fan_in, hidden, classes = kit.randint(rng, 2, 100), kit.randint(rng, 2, 100), kit.randint(rng, 2, 12)
        sizes = [fan_in, hidden, hidden, classes]
        model = reference.execution_modes.NeuralNetwork(fan_in, hidden, classes)
        x = kit.randn(rng, batch, fan_in)
        for mode in ("training", "inference"):
            expected = helpers.measured_saved_bytes(model, x, mode)
            got = student.saved_activation_bytes(list(sizes), batch, mode)
            assert isinstance(got, int), f"expected saved_activation_bytes to return an int, got {got!r:.200}"
            assert got == expected, (
                f"saved_activation_bytes({sizes}, {batch}, {mode!r}): saved_tensors_hooks saw {expected} bytes, got {got}")


@weight(2)
@number("2.12")
@pytest.mark.hint("saved_activation_bytes: deeper MLPs and other dtypes (bytes per element)")
def test_saved_activation_bytes_deep_and_dtypes(submission, rng, helpers):
    """saved_activation_bytes for deeper MLPs of different widths, in float64 and bfloat16"""
    student = submission.execution_modes
    for dtype in (torch.float64, torch.bfloat16, torch.float32):
        depth = kit.randint(rng, 1, 5)
        sizes = [kit.randint(rng, 2, 64) for _ in range(depth + 1)]
        batch = kit.randint(rng, 1, 32)
        model = helpers.make_mlp(sizes).to(dtype)
        x = kit.randn(rng, batch, sizes[0], dtype=dtype)
        for mode in ("training", "inference"):
            expected = helpers.measured_saved_bytes(model, x, mode)
            got = student.saved_activation_bytes(list(sizes), batch, mode, dtype=dtype)
            assert got == expected, (
                f"saved_activation_bytes({sizes}, {batch}, {mode!r}, dtype={dtype}): saved_tensors_hooks saw {expected} bytes, "
                f"got {got!r}")


# ---------------------------------------------------------------- putting it together
@weight(1)
@number("2.13")
@pytest.mark.hint("train_digits: reliable training to 93% on another split")
def test_train_digits_other_split(submission, student_process, reference, seed, helpers):
    """train_digits reaches 93% on a different held-out split"""
    student = submission.execution_modes
    x_train, y_train, x_test, y_test = helpers.digits_split(1 + seed % 997)
    student_process.seed(seed)
    model = student.train_digits(x_train, y_train, epochs=20)
    accuracy = helpers.held_out_accuracy(model, x_test, y_test, reference.execution_modes.NeuralNetwork)
    assert accuracy >= 0.93, f"the trained model classifies {accuracy:.1%} of the held-out digits correctly; need at least 93%"
