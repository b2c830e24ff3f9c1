"""Fixture factories for an assignment's ``conftest.py``."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest


def helpers_fixture(module_name: str) -> Any:
    """A session fixture ``helpers`` holding the public functions and classes defined in ``module_name`` (the
    conftest itself: ``helpers = kit.helpers_fixture(__name__)``), so tests write ``helpers.make_mlp(...)``
    whatever folder or import mode pytest runs them in, and nothing is listed twice."""
    @pytest.fixture(scope="session", name="helpers")
    def helpers() -> types.SimpleNamespace:
        module = sys.modules[module_name]
        return types.SimpleNamespace(**{name: value for name, value in vars(module).items()
                                        if not name.startswith("_") and getattr(value, "__module__", None) == module_name})
    return helpers
