"""{{SLUG}}'s own test helpers (shipped to students with the public tests); generic ones: ``autograder.kit``."""

from __future__ import annotations

import torch

from autograder import kit


def expected_rows(x: torch.Tensor) -> torch.Tensor:
    """The oracle: torch's own normalisation."""
    return torch.nn.functional.normalize(x, dim=1)


helpers = kit.helpers_fixture(__name__)
