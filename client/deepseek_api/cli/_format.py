"""Pure formatting for people: tables, durations, sizes, money and times."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

from rich.cells import cell_len

# ISO 4217 minor-unit exponents that differ from the usual 2.
_CURRENCY_EXPONENTS = {"JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3}
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_COLUMN_GAP = "  "
EMPTY = "-"
"""What a table cell shows for a value that is absent."""


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Rows under headers in left-aligned columns, as ``kubectl get`` prints them.

    Widths count terminal cells, so names in Chinese line up too. No trailing spaces.
    """
    widths = [cell_len(header) for header in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], cell_len(cell))
    lines = []
    for row in (headers, *rows):
        padded = [cell + " " * (widths[i] - cell_len(cell)) for i, cell in enumerate(row)]
        lines.append(_COLUMN_GAP.join(padded).rstrip())
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``Key: value`` lines with the values aligned, for showing one resource."""
    width = max((cell_len(key) for key, _ in pairs), default=0)
    return "\n".join(
        f"{key}:{' ' * (width - cell_len(key) + 1)}{value}".rstrip() for key, value in pairs
    )


def duration(span: timedelta | float) -> str:
    """A short human duration: ``"850ms"``, ``"42s"``, ``"3m05s"``, ``"2h03m"``, ``"4d07h"``."""
    seconds = span.total_seconds() if isinstance(span, timedelta) else float(span)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 1:
        return f"{sign}{round(seconds * 1000)}ms"
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m{secs:02d}s"
    return f"{sign}{secs}s"


def size(num_bytes: int) -> str:
    """A byte count in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"12.0 MiB"``."""
    value = float(num_bytes)
    for unit in _BYTE_UNITS:
        if abs(value) < 1024 or unit == _BYTE_UNITS[-1]:
            return f"{num_bytes} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def money(minor_units: int, currency_code: str) -> str:
    """An amount in minor units as decimal money: ``money(1234, "CNY") == "12.34 CNY"``.

    Exact (integer arithmetic, never floating point); ``-0.05 CNY`` for -5.
    """
    exponent = _CURRENCY_EXPONENTS.get(currency_code.upper(), 2)
    sign = "-" if minor_units < 0 else ""
    major, minor = divmod(abs(minor_units), 10**exponent)
    number = f"{major}.{minor:0{exponent}d}" if exponent else str(major)
    return f"{sign}{number} {currency_code}".rstrip()


def timestamp(moment: datetime | None, zone: tzinfo | None = None) -> str:
    """A moment to the second in ``zone`` (default: the local one), or ``"-"`` for None."""
    if moment is None:
        return EMPTY
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was, e.g. ``"3m05s"``; ``"-"`` for None."""
    if moment is None:
        return EMPTY
    return duration(max(timedelta(0), now - moment))


def optional(value: object) -> str:
    """``str(value)``, or ``"-"`` for None and empty strings."""
    return EMPTY if value is None or value == "" else str(value)
