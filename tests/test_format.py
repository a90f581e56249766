"""Readable values of the views (zodbtasks.browser.format): times with
their zone and relative, short ids, errors as text."""
import datetime
import zoneinfo

import pytest

from zodbtasks.browser import format

UTC = datetime.timezone.utc
#: 2026-12-02 01:25:03 UTC
T = 1796174703.0


def test_local_time_names_the_zone():
    assert format.local_time(T, UTC) == '2026-12-02 01:25:03 UTC'
    assert format.local_time(T, zoneinfo.ZoneInfo('Europe/Berlin')) \
        == '2026-12-02 02:25:03 CET'
    assert format.local_time(T + 180 * 86400,
                             zoneinfo.ZoneInfo('Europe/Berlin')).endswith(
        ' CEST')


def test_local_time_defaults_to_the_configured_zone(monkeypatch):
    monkeypatch.setattr(format, 'ZONE', zoneinfo.ZoneInfo('Asia/Tokyo'))
    assert format.local_time(T) == '2026-12-02 10:25:03 JST'


def test_the_servers_zone_is_the_default(monkeypatch):
    monkeypatch.setattr(format, 'ZONE', None)
    expected = datetime.datetime.fromtimestamp(T).astimezone()
    assert format.local_time(T) == expected.strftime(
        '%Y-%m-%d %H:%M:%S ') + expected.tzname()


def test_no_time_is_empty():
    assert format.local_time(None) == ''
    assert format.relative(None, T) == ''
    assert format.moment(None, T) is None


@pytest.mark.parametrize('delta, text', [
    (0, 'just now'), (0.4, 'just now'), (3, '3 s ago'), (59, '59 s ago'),
    (180, '3 min ago'), (7380, '2 h 3 min ago'), (90000, '1 d 1 h ago'),
    (-5, 'in 5 s'), (-300, 'in 5 min')])
def test_relative_times(delta, text):
    assert format.relative(T - delta, T) == text


def test_a_moment_has_the_iso_time_the_full_time_and_the_relative_one():
    assert format.moment(T, T + 180, UTC) == {
        'datetime': '2026-12-02T01:25:03Z',
        'title': '2026-12-02 01:25:03 UTC',
        'full': '2026-12-02 01:25:03 UTC', 'text': '3 min ago'}


@pytest.mark.parametrize('odd', [1e300, float('inf'), -1e300])
def test_odd_stored_times_still_render(odd):
    shown = format.moment(odd, T, UTC)
    assert shown['datetime'] == '' and shown['text'] == ''
    assert 'epoch seconds, out of range' in shown['full']


def test_short_ids_keep_the_last_six_digits():
    assert format.short_id(7357132256716332) == '…716332'
    assert format.short_id(123456) == '123456'
    assert format.short_id(42) == '42'


def test_errors_are_text_not_json():
    assert format.error_text('ValueError: "x" is bad') \
        == 'ValueError: "x" is bad'
    assert format.error_text(None) == ''
    assert format.error_text(ValueError('odd')) == 'odd'


def test_errors_in_cells_are_one_line_and_cut():
    assert format.error_text('a\n  b', 80) == 'a b'
    cut = format.error_text('x' * 100, 10)
    assert cut == 'x' * 9 + '…'
