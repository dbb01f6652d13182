"""Pure formatting of the command line: tables, durations, sizes, money, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from deepseek_api.cli import _format


def test_a_table_aligns_columns_by_terminal_cells_without_trailing_spaces() -> None:
    rendered = _format.table(
        ["ID", "NAME", "STATUS"],
        [["job-1", "分子动力学", "RUNNING"], ["job-22", "md", "-"]],
    )

    assert rendered.splitlines() == [
        "ID      NAME        STATUS",
        "job-1   分子动力学  RUNNING",
        "job-22  md          -",
    ]


def test_a_table_with_no_rows_is_its_header() -> None:
    assert _format.table(["ID", "NAME"], []) == "ID  NAME"


def test_fields_align_their_values() -> None:
    assert _format.fields([("ID", "job-1"), ("Exit code", "0"), ("Message", "")]) == (
        "ID:        job-1\nExit code: 0\nMessage:"
    )


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0ms"),
        (0.85, "850ms"),
        (1, "1s"),
        (42.9, "42s"),
        (185, "3m05s"),
        (7380, "2h03m"),
        (4 * 86400 + 7 * 3600 + 59, "4d07h"),
        (-90, "-1m30s"),
    ],
)
def test_durations_are_short_and_exact_to_their_largest_two_units(
    seconds: float, expected: str
) -> None:
    assert _format.duration(seconds) == expected
    assert _format.duration(timedelta(seconds=seconds)) == expected


@pytest.mark.parametrize(
    ("minor_units", "currency", "expected"),
    [
        (1234, "CNY", "12.34 CNY"),
        (5, "CNY", "0.05 CNY"),
        (-5, "CNY", "-0.05 CNY"),
        (0, "USD", "0.00 USD"),
        (100_000_000_001, "CNY", "1000000000.01 CNY"),
        (1234, "JPY", "1234 JPY"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_money_in_minor_units_prints_exactly_in_the_currencys_decimals(
    minor_units: int, currency: str, expected: str
) -> None:
    assert _format.money(minor_units, currency) == expected


@pytest.mark.parametrize(
    ("num_bytes", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1536, "1.5 KiB"),
        (12 * 1024**2, "12.0 MiB"),
        (3 * 1024**5, "3.0 PiB"),
    ],
)
def test_sizes_use_binary_units(num_bytes: int, expected: str) -> None:
    assert _format.size(num_bytes) == expected


def test_times_print_to_the_second_in_the_zone_asked_for() -> None:
    moment = datetime(2026, 1, 31, 23, 30, 5, 999, tzinfo=UTC)

    assert _format.timestamp(moment, UTC) == "2026-01-31 23:30:05"
    assert _format.timestamp(moment, timezone(timedelta(hours=8))) == "2026-02-01 07:30:05"
    assert _format.timestamp(None) == "-"


def test_age_counts_from_now_and_never_goes_negative() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    assert _format.age(now - timedelta(minutes=3, seconds=5), now) == "3m05s"
    assert _format.age(now + timedelta(seconds=2), now) == "0ms"
    assert _format.age(None, now) == "-"


def test_optional_values_show_a_dash_when_absent() -> None:
    assert [_format.optional(v) for v in (None, "", 0, "x")] == ["-", "-", "0", "x"]
