"""The testing kit every torch assignment's tests import: ``from autograder import kit``.

What an assignment's tests need again and again, so that an assignment's ``conftest.py`` keeps only what is
its own (its models, its data):

- :mod:`~autograder.kit.compare`: tensor checks with dtype-aware tolerances and a failure message that says
  where and by how much a result differs (:func:`assert_tensor`);
- :mod:`~autograder.kit.inputs`: random test inputs drawn from the test's generator (:func:`randn`, ...);
- :mod:`~autograder.kit.counting`: what a computation costs, measured: FLOPs per module (FlopCounterMode) and
  bytes kept for backward (saved_tensors_hooks, shared storage counted once);
- :mod:`~autograder.kit.process`: the ``student_process`` fixture's object: build a model *inside* the
  student's process, seed it, call trusted helpers there by name;
- :mod:`~autograder.kit.charge`: one bug, one charge: a composite's test passes when only the graded parts it
  chains are wrong (:func:`charge_once`);
- :mod:`~autograder.kit.autograd`: "derive it by hand" checks (a static check of the submitted source, and a
  diagnostic guard that names the offending call).

Everything here runs in the trusted test process except :mod:`autograder.kit.remote`, the functions
``student_process.call`` may run inside the student's process.
"""

from autograder.kit.autograd import assert_by_hand, autograd_calls, calls_in_function, no_autograd
from autograder.kit.charge import charge_once
from autograder.kit.compare import assert_tensor, describe, tolerances
from autograder.kit.counting import flops_per_module, saved_tensor_bytes
from autograder.kit.fixtures import helpers_fixture
from autograder.kit.inputs import randint, randn, random_targets, seeded
from autograder.kit.process import StudentProcess, module_kind, portable

__all__ = [
    "assert_by_hand", "assert_tensor", "autograd_calls", "calls_in_function", "charge_once", "describe", "flops_per_module", "helpers_fixture", "module_kind", "no_autograd",
    "portable", "randint", "randn", "random_targets", "saved_tensor_bytes", "seeded", "StudentProcess",
    "tolerances",
]
