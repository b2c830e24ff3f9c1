"""Values that cross between the trusted runner and the untrusted worker, and the only way they are decoded.

Tensors, numpy arrays, numbers, strings, bytes, None, ``torch.dtype``s, ``torch.device``s and
lists/tuples/dicts of them cross *by value*. Anything
else (modules, nn.Module instances, functions, generators) stays in the worker behind a numbered *handle* the
runner can pass back into later calls.

Wire format (explicit, no pickle anywhere): ``u64 total | u32 header length | header JSON | raw buffers``.
The header is a JSON tree; tensors and bytes are references to 64-byte-aligned raw buffers after it. Decoding
is ``json.loads`` plus ``torch.frombuffer`` on buffers whose size must equal ``numel × itemsize`` of a dtype
from an allow-list, so a message cannot run code, build a tensor subclass, or claim a 2 GB tensor it does
not carry; the total size is checked before a byte of the body is read, so a giant payload is refused.
"""

from __future__ import annotations

import functools
import json
import math
import os
import select
import struct
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import torch

FRAME = struct.Struct("!QI")
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
# The JSON part; tensor data travels in the raw buffers after it. json.loads turns a byte of header into up to
# ~30 bytes of Python objects ("[]," is a 56-byte list), so the header is bounded twice before it is parsed: in
# bytes (1M floats written out take ~20 MB) and in containers and separators, counted on the raw bytes.
MAX_HEADER_BYTES = 32 * 1024 * 1024
MAX_CONTAINERS = MAX_ITEMS       # "[" and "{" in the header (a list of 1M lists is over MAX_ITEMS anyway)
MAX_SEPARATORS = 2 * MAX_ITEMS   # "," and ":" in the header
ALIGN = 64


@functools.cache
def dtypes() -> dict[str, "torch.dtype"]:
    """The dtypes that may cross. torch is imported on first use, not with this module: the runner starts
    its first worker before it imports torch, so the two imports overlap (see plugin.pytest_load_initial_conftests)."""
    import torch

    return {str(d).removeprefix("torch."): d for d in (
        torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
        torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool)}


class ProtocolError(Exception):
    """A message broke the protocol (too large, malformed, not allowed). The sender is not trusted."""


class ChannelTimeout(Exception):
    """The peer did not answer before the deadline."""


class Opaque:
    """Base for runner-side stand-ins of worker objects (see proxy.RemoteObject); they travel as handles."""

    _ag_handle: int


class _Packer:
    def __init__(self, to_handle: Callable[[Any], int] | None, check_opaque: Callable[[Opaque], None] | None) -> None:
        self.to_handle, self.check_opaque = to_handle, check_opaque
        self.buffers: list[memoryview] = []

    def buffer(self, data: memoryview) -> int:
        self.buffers.append(data)
        return len(self.buffers) - 1

    def tensor(self, value: "torch.Tensor") -> dict[str, Any]:
        import torch

        if value.layout != torch.strided:
            raise ProtocolError(f"a {str(value.layout).removeprefix('torch.')} tensor cannot be sent; return a dense "
                                "tensor (call .to_dense() on it)")
        if value.device.type == "meta":
            raise ProtocolError("a tensor on the 'meta' device has a shape but no values, so it cannot be graded; "
                                "create it on the CPU (or the device the test uses) instead")
        tensor = value.detach()
        if type(tensor) is not torch.Tensor:
            tensor = tensor.as_subclass(torch.Tensor)
        dtype = str(tensor.dtype).removeprefix("torch.")
        if dtype not in dtypes():
            raise ProtocolError(f"tensors of dtype {tensor.dtype} cannot be sent")
        node = {"$t": 0, "dtype": dtype, "shape": list(tensor.shape), "device": str(tensor.device),
                "requires_grad": bool(value.requires_grad), "inference": bool(value.is_inference())}
        tensor = tensor.cpu()
        flat = tensor.reshape(-1) if tensor.is_contiguous() else None
        if flat is None and tensor.numel() and all(n >= 0 for n in tensor.stride()):
            # Keep the layout (a transposed or strided view stays one): send the storage span it covers.
            span = 1 + sum((n - 1) * st for n, st in zip(tensor.shape, tensor.stride()))
            if tensor.numel() <= span <= 4 * tensor.numel() + 64:  # overlapping views (expand) go contiguous
                flat = torch.as_strided(tensor, (span,), (1,), tensor.storage_offset())
                node["stride"] = list(tensor.stride())
        if flat is None:
            flat = tensor.contiguous().reshape(-1)
        flat = flat.contiguous()
        raw = flat.view(torch.uint8) if flat.numel() and flat.dtype != torch.uint8 else flat
        if value.is_inference():
            raw = raw.clone()  # numpy() refuses inference tensors
        node["$t"] = self.buffer(memoryview(raw.numpy()).cast("B") if raw.numel() else memoryview(b""))
        return node

    def pack(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply to send")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return value if -(2 ** 63) <= value < 2 ** 63 else {"$bigint": str(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, complex):
            return {"$complex": [self.pack(value.real), self.pack(value.imag)]}
        if isinstance(value, (bytes, bytearray)):
            return {"$bytes": self.buffer(memoryview(bytes(value)))}
        if isinstance(value, Opaque):
            if self.check_opaque is not None:
                self.check_opaque(value)
            return {"$h": value._ag_handle}
        torch = sys.modules.get("torch")  # no tensor, dtype or device can exist before torch is imported
        if torch is not None and isinstance(value, torch.Tensor):
            return self.tensor(value)
        kind = type(value)
        if kind.__module__ == "numpy":
            if kind.__name__ == "ndarray" and value.dtype.kind in "biufc":
                import torch

                return {"$nd": self.tensor(torch.from_numpy(value.copy()))}
            if getattr(value, "shape", None) == () and hasattr(value, "item"):
                return self.pack(value.item(), depth + 1)  # numpy scalar
        if kind in (list, tuple):
            items = [self.pack(v, depth + 1) for v in value]
            return {"$tuple": items} if kind is tuple else items
        if isinstance(value, dict) and kind.__name__ in ("dict", "OrderedDict") and all(
                isinstance(k, (str, int)) and not isinstance(k, bool) for k in value):
            return {"$d": [[self.pack(k), self.pack(v, depth + 1)] for k, v in value.items()]}
        if torch is not None and isinstance(value, torch.dtype):
            name = str(value).removeprefix("torch.")
            if name in dtypes():  # by value both ways: a test's torch.float64 is the student's torch.float64
                return {"$dtype": name}
        if torch is not None and isinstance(value, torch.device):
            return {"$device": str(value)}
        if self.to_handle is not None and isinstance(value, type) and issubclass(value, BaseException):
            from autograder.isolation.exceptions import lineage  # by name, so assertRaises(Class) works there

            return {"$exc": lineage(value)}
        if self.to_handle is None:
            raise ProtocolError(f"a {kind.__name__} cannot be sent to student code; pass tensors, numbers, strings "
                                "or containers of them, or objects that came from the student's code")
        return {"$h": self.to_handle(value)}


def _guarded(state: dict[str, bool], callback: Callable[[Any], Any] | None) -> Any:
    """``callback`` marked while it runs, so :func:`pack` tells its errors from errors of the value itself."""
    if callback is None:
        return None

    def call(argument: Any) -> Any:
        state["inside"] = True
        result = callback(argument)
        state["inside"] = False
        return result
    return call


def pack(value: Any, to_handle: Callable[[Any], int] | None = None,
         check_opaque: Callable[[Opaque], None] | None = None) -> list[memoryview]:
    """Frame ``value`` as a list of byte chunks ready for :func:`os.writev`."""
    packer_state = {"inside": False}
    packer = _Packer(_guarded(packer_state, to_handle), _guarded(packer_state, check_opaque))
    try:
        tree = packer.pack(value)
    except ProtocolError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a value whose own methods (a subclass's) raise
        if packer_state["inside"]:
            raise  # the caller's own check (e.g. a handle from a lost worker) speaks for itself
        raise ProtocolError(f"a {type(value).__name__} could not be sent ({type(exc).__name__}: "
                            f"{str(exc)[:200]})") from None
    offsets, position = [], 0
    for data in packer.buffers:
        position += -position % ALIGN
        offsets.append([position, data.nbytes])
        position += data.nbytes
    header = json.dumps({"v": tree, "b": offsets}, separators=(",", ":"), allow_nan=False).encode()
    pad_header = -(FRAME.size + len(header)) % ALIGN
    chunks: list[memoryview] = [memoryview(header + b" " * pad_header)]
    position = 0
    for (offset, size), data in zip(offsets, packer.buffers):
        if offset > position:
            chunks.append(memoryview(bytes(offset - position)))
        chunks.append(data)
        position = offset + size
    body = sum(c.nbytes for c in chunks)
    return [memoryview(FRAME.pack(body, len(header) + pad_header)), *chunks]


class _Unpacker:
    def __init__(self, body: memoryview, offsets: list[Any], from_handle: Callable[[int], Any]) -> None:
        self.body, self.offsets, self.from_handle = body, offsets, from_handle
        self.items = 0

    def buffer(self, index: Any) -> memoryview:
        if type(index) is not int or not 0 <= index < len(self.offsets):
            raise ProtocolError("malformed buffer reference")
        offset, size = self.offsets[index]
        if type(offset) is not int or type(size) is not int or offset < 0 or size < 0 or offset + size > self.body.nbytes:
            raise ProtocolError("buffer reference outside the message")
        return self.body[offset:offset + size]

    def tensor(self, node: dict[str, Any]) -> "torch.Tensor":
        import torch

        dtype = dtypes().get(node.get("dtype"))  # type: ignore[arg-type]
        shape = node.get("shape")
        if dtype is None or not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
            raise ProtocolError("malformed tensor")
        data = self.buffer(node.get("$t"))
        numel = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        stride = node.get("stride")
        if stride is not None:  # a strided view: the buffer is the storage span it covers
            if not (isinstance(stride, list) and len(stride) == len(shape) and numel > 0
                    and all(type(n) is int and n >= 0 for n in stride)):
                raise ProtocolError("malformed tensor strides")
            span = 1 + sum((n - 1) * st for n, st in zip(shape, stride))
            if span * itemsize != data.nbytes or not numel <= span <= 4 * numel + 64:
                raise ProtocolError(f"a strided tensor of shape {shape} does not match the {data.nbytes:,} bytes it carries")
        elif numel * itemsize != data.nbytes:
            raise ProtocolError(f"a tensor of shape {shape} claims {numel * itemsize:,} bytes but carries {data.nbytes:,}")
        # The body is a fresh bytearray owned by this message, so the tensor can use it without a copy.
        tensor = torch.frombuffer(data, dtype=dtype) if data.nbytes else torch.empty(0, dtype=dtype)
        tensor = tensor.as_strided(shape, stride) if stride is not None else tensor.reshape(shape)
        device = node.get("device", "cpu")
        if device != "cpu" and isinstance(device, str):
            try:
                tensor = tensor.to(device)
            except (RuntimeError, AssertionError):
                pass  # the device is not available on this side; keep the values on CPU
        if node.get("inference"):
            with torch.inference_mode():
                tensor = tensor.clone()
        elif node.get("requires_grad") and (dtype.is_floating_point or dtype.is_complex):
            tensor.requires_grad_(True)
        return tensor

    def unpack(self, node: Any, depth: int = 0) -> Any:
        self.items += 1
        if self.items > MAX_ITEMS or depth > MAX_DEPTH:
            raise ProtocolError("message has too many or too deeply nested items")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.unpack(v, depth + 1) for v in node]
        if not isinstance(node, dict) or len(node) == 0:
            raise ProtocolError("malformed value")
        if "$t" in node:
            return self.tensor(node)
        if "$nd" in node:
            return self.tensor(node["$nd"]).numpy() if isinstance(node["$nd"], dict) else _bad()
        if "$h" in node:
            if type(node["$h"]) is not int:
                raise ProtocolError("malformed handle")
            return self.from_handle(node["$h"])
        if "$tuple" in node and isinstance(node["$tuple"], list):
            return tuple(self.unpack(v, depth + 1) for v in node["$tuple"])
        if "$d" in node and isinstance(node["$d"], list):
            result = {}
            for pair in node["$d"]:
                if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))):
                    raise ProtocolError("malformed dict")
                result[pair[0]] = self.unpack(pair[1], depth + 1)
            return result
        if "$exc" in node:  # an exception class of the student's: a local class to catch it by (exceptions.py)
            from autograder.isolation.exceptions import materialise

            return materialise(node["$exc"])
        if "$bytes" in node:
            return bytes(self.buffer(node["$bytes"]))
        if "$complex" in node and isinstance(node["$complex"], list) and len(node["$complex"]) == 2:
            return complex(*(self._number(v) for v in node["$complex"]))
        if "$float" in node:
            return self._number(node)
        if "$bigint" in node and isinstance(node["$bigint"], str) and len(node["$bigint"]) < 5000:
            return int(node["$bigint"])
        if "$dtype" in node and node["$dtype"] in dtypes():
            return dtypes()[node["$dtype"]]
        if "$device" in node and isinstance(node["$device"], str) and len(node["$device"]) < 40:
            return _device(node["$device"])
        raise ProtocolError("unknown value kind")

    def _number(self, node: Any) -> float:
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return float(node)
        if isinstance(node, dict) and node.get("$float") in ("nan", "inf", "-inf"):
            return float(node["$float"])
        raise ProtocolError("malformed number")


def _device(name: str) -> "torch.device":
    import torch

    try:
        return torch.device(name)
    except (RuntimeError, ValueError):
        raise ProtocolError("malformed device") from None


def _bad() -> Any:
    raise ProtocolError("malformed value")


def check_header_shape(body: bytearray, header_size: int) -> None:
    """Refuse, before ``json.loads`` builds it, a header whose parse would hold far more memory than its bytes:
    counts of containers and separators on the raw bytes (a C-speed scan; strings that contain such characters
    only make the count an over-estimate)."""
    containers = body.count(b"[", 0, header_size) + body.count(b"{", 0, header_size)
    separators = body.count(b",", 0, header_size) + body.count(b":", 0, header_size)
    if containers > MAX_CONTAINERS or separators > MAX_SEPARATORS:
        raise ProtocolError(f"message has too many items ({containers:,} lists or dicts, {separators:,} separators; "
                            f"at most {MAX_CONTAINERS:,} and {MAX_SEPARATORS:,})")


def unpack(frame_header: bytes, body: bytearray, from_handle: Callable[[int], Any]) -> Any:
    _, header_size = FRAME.unpack(frame_header)
    view = memoryview(body)
    if header_size > len(body) or header_size > MAX_HEADER_BYTES:
        raise ProtocolError("message header too large")
    check_header_shape(body, header_size)
    try:
        header = json.loads(bytes(view[:header_size]))
    except (ValueError, RecursionError):
        raise ProtocolError("message header is not valid JSON") from None
    if not isinstance(header, dict) or not isinstance(header.get("b"), list):
        raise ProtocolError("malformed message")
    try:
        return _Unpacker(view[header_size:], header["b"], from_handle).unpack(header.get("v"))
    except (RecursionError, TypeError, ValueError, RuntimeError, OverflowError) as exc:
        # Anything a crafted value makes torch or int() raise is a protocol violation by the sender.
        raise ProtocolError(f"malformed value ({type(exc).__name__})") from None


def send(fd: int, value: Any, to_handle: Callable[[Any], int] | None = None,
         check_opaque: Callable[[Opaque], None] | None = None) -> None:
    # Empty chunks (a b"" value) are left out: writev writes 0 bytes for one that comes last, forever.
    chunks = [c for c in pack(value, to_handle, check_opaque) if c.nbytes]
    while chunks:
        written = os.writev(fd, chunks[:512])
        while written and chunks:
            if written >= chunks[0].nbytes:
                written -= chunks[0].nbytes
                chunks.pop(0)
            else:
                chunks[0] = chunks[0][written:]
                written = 0


def read_exactly(fd: int, size: int, deadline: float | None = None) -> bytearray:
    """Read ``size`` bytes, giving up at ``deadline`` (time.monotonic()) so a stalled peer cannot block us."""
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise ChannelTimeout()
        count = os.readv(fd, [view[got:]])
        if count == 0:
            raise EOFError("peer closed the channel")
        got += count
    return data


def receive(fd: int, from_handle: Callable[[int], Any], max_bytes: int = DEFAULT_MAX_BYTES,
            deadline: float | None = None) -> Any:
    frame = bytes(read_exactly(fd, FRAME.size, deadline))
    size, header_size = FRAME.unpack(frame)
    if size > max_bytes:
        raise ProtocolError(f"a message of {size:,} bytes is over the {max_bytes:,}-byte limit")
    if header_size > min(size, MAX_HEADER_BYTES):  # refused before a byte of the body is read
        raise ProtocolError(f"a message header of {header_size:,} bytes is over the {MAX_HEADER_BYTES:,}-byte limit "
                            "(return tensors rather than long Python lists)")
    return unpack(frame, read_exactly(fd, size, deadline), from_handle)
