"""What a computation costs, measured with torch's own instruments (nothing counted by hand)."""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch


def flops_per_module(run: Callable[[], Any], root: str | None = None) -> dict[str, int]:
    """FLOPs of each module that ``run()`` calls, as ``torch.utils.flop_counter.FlopCounterMode`` counts them.

    Keys are module names without the root's class name (``"linear_relu_stack.0"``), plus ``""`` for the
    total. FlopCounterMode counts matrix products and convolutions only (bias additions, activations and
    losses count 0), forward and whatever backward ``run`` triggers. ``root`` is the class name the counter
    puts first (``"NeuralNetwork"``); by default the first non-Global key.
    """
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)  # display=True needs the optional `tabulate` package
    with counter:
        run()
    counts = counter.get_flop_counts()
    result: dict[str, int] = {"": int(counter.get_total_flops())}
    roots = [key for key in counts if key != "Global" and "." not in key]
    prefix = root if root is not None else (roots[0] if roots else "")
    for key, ops in counts.items():
        if key == "Global":
            continue
        name = key[len(prefix) + 1:] if key.startswith(prefix + ".") else ("" if key == prefix else key)
        if name:
            result[name] = int(sum(ops.values()))
    return result


def saved_tensor_bytes(run: Callable[[], Any], exclude: Iterable[torch.Tensor] = ()) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``run()`` builds its graph.

    Every saved tensor passes through the pack hook of ``torch.autograd.graph.saved_tensors_hooks``; tensors
    that share memory (one tensor saved by two operations, a view of the input) are counted once, by storage,
    and tensors sharing storage with ``exclude`` (the parameters) are not counted. The total is taken while
    ``run``'s result, and so every saved tensor, is still alive.
    """
    excluded = {t.untyped_storage().data_ptr() for t in exclude}
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = run()
    total = sum(saved.values())
    del result
    return total
