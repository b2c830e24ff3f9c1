"""One ``[perf.NAME]`` table of assignment.toml, as data: what the spec parser produces and the measuring
engine consumes. A leaf module, so the spec depends on this and not on the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PerfDeclaration:
    """One ``[perf.NAME]`` table of assignment.toml (see docs/performance.md)."""

    name: str
    metric: str                      # time | peak_memory | flops | scaling
    function: str                    # module.function, looked up on both sides
    inputs: str                      # perf_inputs.generator (tests/perf_inputs.py)
    size: int = 64
    sizes: tuple[int, ...] = ()
    full: float = 1.25               # ratio (or exponent) at or below which the test earns full credit
    zero: float = 2.0                # ratio (or exponent) at or above which it earns none
    threads: int = 1
    devices: tuple[str, ...] = ("cpu",)
    leaderboard: str | None = None
    min_batch_ms: float = 20.0
    max_seconds: float = 30.0
    min_rounds: int = 10
    max_rounds: int = 80
    rtol: float = 1e-3

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["sizes"], data["devices"] = list(self.sizes), list(self.devices)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "PerfDeclaration":
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["sizes"], values["devices"] = tuple(values.get("sizes", ())), tuple(values.get("devices", ("cpu",)))
        return cls(**values)
