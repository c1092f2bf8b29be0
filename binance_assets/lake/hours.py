"""The values that cross between assets and the lake IO managers: data keyed by hourly partition.

An asset hands its IO manager an ``HourStream`` that produces one hour at a time, so a range of
thousands of hours is written hour by hour as it is fetched (bounded memory; a failure part-way
leaves the hours already finished complete). A downstream asset gets ``LakeHours``, a mapping that
reads each hour from the lake only when asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RawHour:
    """One hour of the raw zone: the rows exactly as Binance returned them.

    ``complete`` is true when the hour had closed when it was fetched; only then does the raw
    zone mark the partition with ``_SUCCESS``. The near-real-time refresh writes an open hour
    without the marker, and the hourly run completes it.
    """

    rows: list[Any]
    complete: bool


@dataclass(frozen=True)
class Rejected:
    """An hour whose response was malformed: kept in the quarantine area, never in the lake."""

    rows: list[Any]
    requests: list[dict[str, Any]]
    error: Exception


class HourStream(Generic[T]):
    """Hours produced lazily, with metadata the producer fills in while it runs."""

    def __init__(
        self,
        hours: Iterable[tuple[str, T]],
        metadata: Callable[[], Mapping[str, Any]] = dict,
        hour_metadata: Callable[[str], Mapping[str, Any]] = lambda key: {},
    ) -> None:
        self._hours = hours
        self._metadata = metadata
        self._hour_metadata = hour_metadata

    def __iter__(self) -> Iterator[tuple[str, T]]:
        return iter(self._hours)

    def metadata(self) -> Mapping[str, Any]:
        """Figures about the whole stream; complete only once it is exhausted."""
        return self._metadata()

    def hour_metadata(self, key: str) -> Mapping[str, Any]:
        """Figures about one hour, asked for once, after the stream produced it."""
        return self._hour_metadata(key)


class LakeHours(Mapping[str, T]):
    """Hours of an upstream asset, read from the lake one at a time on access."""

    def __init__(self, keys: list[str], load: Callable[[str], T]) -> None:
        self._keys = keys
        self._known = set(keys)
        self._load = load

    def __getitem__(self, key: str) -> T:
        if key not in self._known:
            raise KeyError(key)
        return self._load(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def only(self, keys: list[str]) -> "LakeHours[T]":
        """The same hours restricted to ``keys`` (which must all be among them)."""
        unknown = [key for key in keys if key not in self._known]
        if unknown:
            raise KeyError(f"hours not available: {', '.join(unknown[:5])}")
        return LakeHours(keys, self._load)

    def __len__(self) -> int:
        return len(self._keys)
