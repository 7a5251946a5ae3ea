"""Version timestamps: text form, ordering, parsing."""

from __future__ import annotations

import pytest

from cumulo import errors
from storage.timestamp import Timestamp


def test_text_form_is_fixed_width_and_sorts_like_the_timestamps() -> None:
    stamps = [
        Timestamp(1),
        Timestamp(99_999),
        Timestamp(100_000),
        Timestamp(173_271_234_512_345, 3),
    ]
    texts = [s.internal for s in stamps]
    assert len({len(t) for t in texts}) == 1
    assert sorted(texts) == texts == [str(s) for s in sorted(stamps)]
    assert Timestamp(173_271_234_512_345, 10).internal == "1732712345.12345_000a"
    assert Timestamp(173_271_234_512_345).normal == "1732712345.12345"


def test_parse_round_trips_and_accepts_the_short_form() -> None:
    stamp = Timestamp(173_271_234_512_345, 0xBEEF)
    assert Timestamp.parse(stamp.internal) == stamp
    assert Timestamp.parse("1732712345.12345") == Timestamp(173_271_234_512_345)
    assert Timestamp.from_seconds(1732712345.12345).ticks == 173_271_234_512_345


@pytest.mark.parametrize(
    "text", ["", "1732712345", "1732712345.1234", "1732712345.12345_00", "-1", "0000000000.00000"]
)
def test_bad_text_is_invalid_argument(text: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        Timestamp.parse(text, field="header.timestamp")
    assert caught.value.field == "header.timestamp"


def test_offset_orders_within_a_tick_and_now_is_recent() -> None:
    assert Timestamp(5, 1) > Timestamp(5, 0)
    assert Timestamp(6) > Timestamp(5, 0xFFFF)
    assert Timestamp.now().seconds > 1.7e9
