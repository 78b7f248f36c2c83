"""Snapshots: opaque bytes that hold a whole VM and the host state needed to continue it."""

from __future__ import annotations

from typing import Any

from . import _quickbox
from ._errors import InvalidSnapshotError


class Snapshot:
    """A captured context. ``to_bytes()`` to store it; ``Snapshot.from_bytes`` to load it.

    Nothing is trusted until a restore validates it (magic, version, guest build, sizes, MAC,
    compression, contents); ``info()`` runs the same checks without restoring.
    """

    __slots__ = ("_data",)

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        # bytes(12345) would be 12,345 zero bytes, bytes("...") a TypeError about encodings
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"snapshot data must be bytes-like, got {type(data).__name__}")
        self._data = bytes(data)

    def to_bytes(self) -> bytes:
        """The snapshot's bytes."""
        return self._data

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Snapshot:
        """Wraps stored bytes (validated when restored)."""
        return cls(data)

    def info(self, *, key: bytes | None = None) -> dict[str, Any]:
        """Header, sizes, capabilities and pending calls, validated but not restored."""
        check_key(key)
        info: dict[str, Any] = _quickbox.inspect_snapshot(self._data, key)
        return info

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other._data == self._data

    def __hash__(self) -> int:
        return hash(self._data)

    def __repr__(self) -> str:
        return f"Snapshot({len(self._data)} bytes)"


def check_key(key: object, what: str = "key") -> None:
    """A signing key is bytes (or None): ``bytes(12345)`` would silently be 12,345 zero bytes."""
    if key is not None and not isinstance(key, bytes):
        raise TypeError(f"{what} must be bytes or None, got {type(key).__name__}")
    if key is not None and len(key) == 0:
        raise ValueError(f"{what} must not be empty")


def as_snapshot(value: object) -> Snapshot:
    """Accepts a Snapshot (or bytes, for convenience) and refuses anything else."""
    if isinstance(value, Snapshot):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Snapshot.from_bytes(value)
    raise InvalidSnapshotError(f"expected a quickbox.Snapshot, got {type(value).__name__}")
