"""K/N shares: N processes side by side each take every N-th task from the K-th."""

from __future__ import annotations

import argparse
from typing import Sequence, TypeVar

T = TypeVar("T")


def parse_share(text: str) -> tuple[int, int]:
    """``'K/N'`` -> ``(K, N)``; an argparse ``type`` (a bad value is an argparse error naming it)."""
    part, _, parts = str(text).partition("/")
    if not (part.isdigit() and parts.isdigit()) or not 0 <= int(part) < int(parts):
        raise argparse.ArgumentTypeError(f"share {text!r} must be K/N with integers 0 <= K < N")
    return int(part), int(parts)


def take_share(items: Sequence[T], share: tuple[int, int]) -> list[T]:
    """The items of share ``(K, N)``: every N-th from the K-th."""
    part, parts = share
    return list(items[part::parts])
