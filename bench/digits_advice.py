"""How reliable is a1's digits bar? Accuracy of train_digits-style training over many seeds and splits.

Backs the handout's advice and the test's threshold with numbers (issue: a student following the advice lost
3 points by luck about 5 % of the time). Runs the reference's train_digits and plain Adam set-ups the handout
suggests, each over RUNS (seed, split) pairs, one thread, and prints the accuracy distribution and how often
each falls below the bar. Usage: python bench/digits_advice.py [RUNS]
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
torch.set_num_threads(1)


def _load(name: str, path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


reference = _load("reference_execution_modes", REPO / "reference/a1_execution_modes/execution_modes.py")
conftest = _load("a1_conftest", REPO / "assignments/a1_execution_modes/tests/conftest.py")


def plain_adam(lr: float, batch_size: int):  # type: ignore[no-untyped-def]
    def train(x_train: torch.Tensor, y_train: torch.Tensor, epochs: int = 20, hidden_features: int = 128):  # type: ignore[no-untyped-def]
        model = reference.NeuralNetwork(x_train.shape[1], hidden_features, 10)
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        for _ in range(epochs):
            order = torch.randperm(x_train.shape[0])
            for start in range(0, x_train.shape[0], batch_size):
                batch = order[start:start + batch_size]
                loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return model
    return train


SETUPS = {"reference (Adam 1e-2, OneCycle, batch 64)": reference.train_digits,
          "plain Adam lr 1e-3, batch 64": plain_adam(1e-3, 64),
          "plain Adam lr 3e-3, batch 64": plain_adam(3e-3, 64),
          "plain Adam lr 1e-2, batch 32": plain_adam(1e-2, 32)}


def main(runs: int) -> None:
    bars = (0.95, 0.94, 0.93, 0.92)
    for label, train in SETUPS.items():
        accuracies = []
        for run in range(runs):
            torch.manual_seed(run)
            x_train, y_train, x_test, y_test = conftest.digits_split(run % 997)
            accuracies.append(conftest.held_out_accuracy(train(x_train, y_train, epochs=20), x_test, y_test,
                                                         reference.NeuralNetwork))
        below = {bar: sum(a < bar for a in accuracies) for bar in bars}
        print(f"{label}: {runs} runs, accuracy min {min(accuracies):.4f} median {statistics.median(accuracies):.4f} "
              f"max {max(accuracies):.4f}; below " + ", ".join(f"{bar:.0%}: {n}" for bar, n in below.items()), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
