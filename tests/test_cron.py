"""Tests for zodbtasks.cron: pure schedule maths.

Times are epoch seconds; 0 is 1970-01-01 00:00 UTC, a Thursday.
"""
import datetime
import itertools
import math
import pickle
import re
import tracemalloc
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from zodbtasks.cron import MAX_DELAY
from zodbtasks.cron import CronSchedule
from zodbtasks.cron import DelaySchedule
from zodbtasks.cron import FieldSchedule
from zodbtasks.cron import make_schedule
from zodbtasks.cron import parse_field
from zodbtasks.interfaces import ScheduleError

UTC = datetime.timezone.utc
BERLIN = 'Europe/Berlin'
NEW_YORK = 'America/New_York'
MINUTE = 60
HOUR = 3600
DAY = 86400


def at(*args, zone=None, fold=0):
    """Epoch seconds of a wall-clock time in zone (default UTC)."""
    tzinfo = UTC if zone is None else ZoneInfo(zone)
    return datetime.datetime(*args, tzinfo=tzinfo, fold=fold).timestamp()


def firings(schedule, start, end):
    """All firings in (start, end], by calling next_after repeatedly."""
    result = []
    moment = schedule.next_after(start)
    while moment <= end:
        result.append(moment)
        moment = schedule.next_after(moment)
    return result


def first_firings(schedule, start, count):
    result = [schedule.next_after(start)]
    while len(result) < count:
        result.append(schedule.next_after(result[-1]))
    return result


def refused(message):
    """pytest.raises for a ScheduleError with exactly this message."""
    return pytest.raises(ScheduleError, match=f'^{re.escape(message)}$')


# The examples: lovely.remotetask's behaviour, bug fixed.

def test_minute_fires_at_next_listed_minute():
    assert FieldSchedule(minute=(0, 10)).next_after(0) == at(1970, 1, 1, 0, 10)


def test_minute_wraps_to_first_listed_minute_of_next_hour():
    schedule = FieldSchedule(minute=(0, 10))
    assert schedule.next_after(600) == at(1970, 1, 1, 1, 0)


def test_hour_fires_at_first_listed_hour_on_the_hour():
    assert FieldSchedule(hour=(2, 13)).next_after(0) == at(1970, 1, 1, 2, 0)


def test_hour_moves_on_to_next_listed_hour():
    schedule = FieldSchedule(hour=(2, 13))
    assert schedule.next_after(7200) == at(1970, 1, 1, 13, 0)


def test_month_fires_on_the_first_at_midnight():
    assert FieldSchedule(month=(1, 5, 12)).next_after(0) == at(1970, 5, 1)


def test_month_moves_on_to_next_listed_month():
    schedule = FieldSchedule(month=(1, 5, 12))
    assert schedule.next_after(at(1970, 5, 1)) == at(1970, 12, 1)


@pytest.mark.parametrize('start, expected', [
    (at(1970, 1, 1), at(1970, 1, 2)),
    (at(1970, 1, 2), at(1970, 1, 3)),
    (at(1970, 1, 3), at(1970, 1, 5)),
    (at(1970, 1, 5), at(1970, 1, 7)),
])
def test_day_of_week_steps_through_listed_weekdays(start, expected):
    schedule = FieldSchedule(dayOfWeek=(0, 2, 4, 5))
    assert schedule.next_after(start) == expected


def test_day_of_month_fires_on_next_listed_day():
    schedule = FieldSchedule(dayOfMonth=(1, 12, 21, 30))
    assert schedule.next_after(0) == at(1970, 1, 12)


def test_day_of_month_skips_to_following_listed_day():
    schedule = FieldSchedule(dayOfMonth=(1, 12, 21, 30))
    assert schedule.next_after(at(1970, 1, 13)) == at(1970, 1, 21)


def test_minute_with_day_of_month_fires_in_the_first_hour():
    schedule = FieldSchedule(minute=(10,), dayOfMonth=(1, 12, 21, 30))
    assert schedule.next_after(0) == at(1970, 1, 1, 0, 10)


def test_minute_with_day_of_month_fires_every_hour_of_those_days():
    schedule = FieldSchedule(minute=(10,), dayOfMonth=(1, 12, 21, 30))
    assert schedule.next_after(600) == at(1970, 1, 1, 1, 10)


@pytest.mark.parametrize('start', [0, 600])
def test_minute_hour_and_day_of_month_fire_at_that_time(start):
    schedule = FieldSchedule(minute=(10,), hour=(4,),
                             dayOfMonth=(1, 12, 21, 30))
    assert schedule.next_after(start) == at(1970, 1, 1, 4, 10)


@pytest.mark.parametrize('start, expected', [(0, 10), (1, 11)])
def test_delay_fires_delay_seconds_after_now(start, expected):
    assert DelaySchedule(10).next_after(start) == expected


def test_finer_fields_are_at_minimum_not_copied_from_now():
    # lovely.remotetask returned 02:37:12 here.
    schedule = FieldSchedule(hour=(2,))
    assert schedule.next_after(at(1970, 1, 1, 0, 37, 12)) == at(
        1970, 1, 1, 2, 0, 0)


# FieldSchedule semantics beyond the examples.

def test_coarser_fields_than_the_finest_given_are_wildcards():
    schedule = FieldSchedule(minute=(10,), month=(5,))
    assert first_firings(schedule, 0, 2) == [
        at(1970, 5, 1, 0, 10), at(1970, 5, 1, 1, 10)]


def test_day_of_month_and_day_of_week_must_both_match():
    schedule = FieldSchedule(dayOfMonth=(13,), dayOfWeek=(4,))  # Friday 13
    assert first_firings(schedule, 0, 2) == [
        at(1970, 2, 13), at(1970, 3, 13)]


def test_february_29_matches_in_leap_years():
    schedule = FieldSchedule(month=(2,), dayOfMonth=(29,))
    assert first_firings(schedule, 0, 2) == [
        at(1972, 2, 29), at(1976, 2, 29)]


def test_rare_spec_is_found_decades_ahead():
    schedule = FieldSchedule(month=(2,), dayOfMonth=(29,), dayOfWeek=(0,))
    result = first_firings(schedule, 0, 5)
    assert result == [at(1988, 2, 29), at(2016, 2, 29), at(2044, 2, 29),
                      at(2072, 2, 29), at(2112, 2, 29)]


def test_now_is_exclusive_for_a_matching_time():
    schedule = FieldSchedule(minute=(0,))
    assert schedule.next_after(HOUR) == 2 * HOUR


def test_float_now_before_a_match_fires_at_that_match():
    schedule = FieldSchedule(minute=(10,))
    assert schedule.next_after(599.5) == 600


def test_float_now_just_after_a_match_skips_it():
    schedule = FieldSchedule(minute=(10,))
    assert schedule.next_after(600.25) == HOUR + 600


def test_next_after_returns_a_float():
    assert type(FieldSchedule(minute=(0,)).next_after(0)) is float


def test_field_values_are_normalised_to_sorted_unique_tuples():
    schedule = FieldSchedule(minute=[30, 0, 30], hour={5, 1},
                             dayOfWeek=(d for d in (6, 0)))
    assert (schedule.minute, schedule.hour, schedule.dayOfWeek) == (
        (0, 30), (1, 5), (0, 6))


def test_fields_not_given_are_empty_tuples():
    schedule = FieldSchedule(minute=(5,))
    assert (schedule.hour, schedule.dayOfMonth, schedule.month,
            schedule.dayOfWeek, schedule.timezone) == ((), (), (), (), None)


def test_none_field_counts_as_not_given():
    assert FieldSchedule(minute=None, hour=(3,)).minute == ()


def test_fields_are_matched_in_local_time_of_the_timezone():
    schedule = FieldSchedule(hour=(9,), timezone=BERLIN)
    assert schedule.next_after(0) == at(1970, 1, 1, 8, 0)  # CET is +1


# FieldSchedule validation.

@pytest.mark.parametrize('field, value, message', [
    ('minute', 60, 'minute: 60 is out of range 0-59'),
    ('minute', -1, 'minute: -1 is out of range 0-59'),
    ('hour', 24, 'hour: 24 is out of range 0-23'),
    ('hour', -1, 'hour: -1 is out of range 0-23'),
    ('dayOfMonth', 0, 'dayOfMonth: 0 is out of range 1-31'),
    ('dayOfMonth', 32, 'dayOfMonth: 32 is out of range 1-31'),
    ('month', 0, 'month: 0 is out of range 1-12'),
    ('month', 13, 'month: 13 is out of range 1-12'),
    ('dayOfWeek', 7, 'dayOfWeek: 7 is out of range 0-6'),
    ('dayOfWeek', -1, 'dayOfWeek: -1 is out of range 0-6'),
])
def test_field_value_out_of_range_is_refused(field, value, message):
    with refused(message):
        FieldSchedule(**{field: (value,)})


@pytest.mark.parametrize('value, message', [
    (1.0, 'minute: 1.0 is not an int'),
    ('5', "minute: '5' is not an int"),
    (None, 'minute: None is not an int'),
])
def test_field_value_that_is_not_an_int_is_refused(value, message):
    with refused(message):
        FieldSchedule(minute=(value,))


@pytest.mark.parametrize('value', [True, False])
def test_field_value_that_is_a_bool_is_refused(value):
    with refused(f'hour: {value} is not an int'):
        FieldSchedule(hour=(value,))


@pytest.mark.parametrize('value', [5, '5', b'5'])
def test_field_that_is_not_an_iterable_of_ints_is_refused(value):
    with refused(f'minute: expected an iterable of ints, got {value!r}'):
        FieldSchedule(minute=value)


def test_schedule_error_is_a_value_error():
    with pytest.raises(ValueError):
        FieldSchedule(minute=(60,))


def test_february_30_is_refused():
    with refused('dayOfMonth: 30 never occurs in month 2'):
        FieldSchedule(month=(2,), dayOfMonth=(30,))


def test_31st_in_thirty_day_months_only_is_refused():
    with refused('dayOfMonth: 31 never occurs in month 2,4,6,9,11'):
        FieldSchedule(month=(2, 4, 6, 9, 11), dayOfMonth=(31,))


def test_31st_is_fine_when_one_month_has_31_days():
    schedule = FieldSchedule(month=(4, 5), dayOfMonth=(31,))
    assert schedule.next_after(0) == at(1970, 5, 31)


def test_field_schedule_without_fields_runs_every_minute():
    # lovely.remotetask: a cron job with no field given runs every minute
    schedule = FieldSchedule()
    assert first_firings(schedule, 30, 3) == [60, 120, 180]
    assert firings(schedule, 0, DAY) == firings(
        CronSchedule('* * * * *'), 0, DAY)


def test_field_schedule_without_fields_follows_elapsed_time():
    # every minute, both passes of a repeated hour (hour unrestricted)
    schedule = FieldSchedule(timezone=BERLIN)
    start = at(2024, 10, 27, 0, 59)  # 02:59 CEST
    assert first_firings(schedule, start, 2) == [start + 60, start + 120]


def test_field_values_are_bounded_before_iterating_them_all():
    with refused('minute: 100000000000000000000 is out of range 0-59'):
        FieldSchedule(minute=range(10 ** 20, 0, -1))
    with refused('minute: 60 is out of range 0-59'):
        FieldSchedule(minute=range(10 ** 20))
    with refused('minute: 1000000000 is out of range 0-59'):
        FieldSchedule(minute=(0, 1000000000))
    with refused('hour: <int too large to show> is out of range 0-23'):
        FieldSchedule(hour=(10 ** 5000,))


def test_endless_field_iterable_is_refused():
    with refused('dayOfWeek: more than 1000 values'):
        FieldSchedule(dayOfWeek=itertools.repeat(1))


def test_huge_range_given_as_a_field_is_refused_by_make_schedule():
    with refused('minute: 100000000000000000000 is out of range 0-59'):
        make_schedule(minute=range(10 ** 20, 10 ** 21))


def test_field_schedule_with_unknown_timezone_is_refused():
    with refused("timezone: unknown time zone 'Mars/Base'"):
        FieldSchedule(minute=(0,), timezone='Mars/Base')


@pytest.mark.parametrize('name', ['', '/etc/localtime', '../UTC'])
def test_malformed_timezone_name_is_refused(name):
    with refused(f'timezone: unknown time zone {name!r}'):
        FieldSchedule(minute=(0,), timezone=name)


def test_timezone_that_is_not_a_string_is_refused():
    with refused('timezone: expected a zone name, got 1'):
        FieldSchedule(minute=(0,), timezone=1)


# CronSchedule semantics.

def test_cron_step_over_star():
    schedule = CronSchedule('*/5 * * * *')
    assert first_firings(schedule, 1, 3) == [300, 600, 900]


def test_cron_list_and_range():
    schedule = CronSchedule('1,5-7 * * * *')
    assert firings(schedule, 0, HOUR + 60) == [60, 300, 360, 420, HOUR + 60]


def test_cron_step_over_range():
    schedule = CronSchedule('10-50/20 * * * *')
    assert firings(schedule, 0, HOUR) == [600, 1800, 3000]


def test_cron_step_larger_than_the_range_keeps_the_start():
    schedule = CronSchedule('*/90 * * * *')
    assert first_firings(schedule, 0, 2) == [HOUR, 2 * HOUR]


def test_cron_hour_and_minute():
    assert CronSchedule('30 2 * * *').next_after(0) == at(1970, 1, 1, 2, 30)


def test_cron_names_are_case_insensitive_and_mean_their_numbers():
    named = CronSchedule('0 0 * JAN,Mar-apr mon-FRI')
    numbered = CronSchedule('0 0 * 1,3-4 1-5')
    year = at(1971, 1, 1)
    assert firings(named, 0, year) == firings(numbered, 0, year)


@pytest.mark.parametrize('sunday', ['0', '7', 'sun'])
def test_cron_sunday_is_0_or_7(sunday):
    assert CronSchedule(f'0 0 * * {sunday}').next_after(0) == at(1970, 1, 4)


def test_cron_day_fields_are_ored_when_both_restricted():
    schedule = CronSchedule('0 0 13 * 5')  # the 13th, or any Friday
    assert first_firings(schedule, 0, 3) == [
        at(1970, 1, 2), at(1970, 1, 9), at(1970, 1, 13)]


def test_cron_day_fields_are_anded_when_one_starts_with_star():
    schedule = CronSchedule('0 0 */2 * 5')  # odd days that are Fridays
    assert first_firings(schedule, 0, 2) == [at(1970, 1, 9), at(1970, 1, 23)]


def test_cron_day_of_month_alone():
    assert CronSchedule('0 0 13 * *').next_after(0) == at(1970, 1, 13)


def test_cron_february_30_or_mondays_is_valid_under_the_or_rule():
    schedule = CronSchedule('0 0 30 2 mon')
    assert schedule.next_after(0) == at(1970, 2, 2)


@pytest.mark.parametrize('macro, expansion', [
    ('@yearly', '0 0 1 1 *'),
    ('@annually', '0 0 1 1 *'),
    ('@monthly', '0 0 1 * *'),
    ('@weekly', '0 0 * * 0'),
    ('@daily', '0 0 * * *'),
    ('@midnight', '0 0 * * *'),
    ('@hourly', '0 * * * *'),
    ('@DAILY', '0 0 * * *'),
])
def test_cron_macro_means_its_expansion(macro, expansion):
    start = at(1970, 3, 14, 15, 9, 26)
    assert first_firings(CronSchedule(macro), start, 5) == first_firings(
        CronSchedule(expansion), start, 5)


def test_cron_expression_whitespace_is_normalised():
    assert CronSchedule('  */5\t*  * * * ').expression == '*/5 * * * *'


def test_cron_rare_spec_skips_the_non_leap_year_2100():
    result = first_firings(CronSchedule('0 0 29 2 *'), at(2096, 3, 1), 2)
    assert result == [at(2104, 2, 29), at(2108, 2, 29)]


# parse_field: one lovely-style field written as text, the one grammar.

@pytest.mark.parametrize('name, text, values', [
    ('minute', '', ()),
    ('minute', '   ', ()),
    ('minute', '5', (5,)),
    ('minute', ' 0, 30 ', (0, 30)),
    ('minute', '*/15', (0, 15, 30, 45)),
    ('minute', '10-50/20,5', (5, 10, 30, 50)),
    ('minute', '*/90', (0,)),
    ('minute', '*/' + '9' * 1000, (0,)),
    ('hour', '*', tuple(range(24))),
    ('hour', '22-23,0-1', (0, 1, 22, 23)),
    ('dayOfMonth', '31', (31,)),
    ('month', 'jan,Mar-apr,12', (1, 3, 4, 12)),
    ('dayOfWeek', 'mon-fri', (0, 1, 2, 3, 4)),
    ('dayOfWeek', 'SUN,0', (0, 6)),
    ('dayOfWeek', '*/2', (0, 2, 4, 6)),
])
def test_parse_field(name, text, values):
    assert parse_field(name, text) == values


@pytest.mark.parametrize('name, text, message', [
    ('minute', '60', 'minute: 60 is out of range 0-59'),
    ('minute', '0-1000000000', 'minute: 1000000000 is out of range 0-59'),
    ('minute', '0-999999999999999999999/1',
     'minute: 999999999999999999999 is out of range 0-59'),
    ('minute', '50-10', "minute: range '50-10' is reversed"),
    ('minute', '5/15',
     "minute: step in '5/15' needs a range or *, e.g. 5-59/15"),
    ('minute', '*/0', "minute: step '0' in '*/0' is not a number >= 1"),
    ('hour', 'two', "hour: 'two' is not a number"),
    ('hour', '1,,2', "hour: empty list item in '1,,2'"),
    ('hour', '1 2', "hour: '1 2' is not a number"),
    ('dayOfMonth', '0', 'dayOfMonth: 0 is out of range 1-31'),
    ('month', '13', 'month: 13 is out of range 1-12'),
    ('dayOfWeek', '7', 'dayOfWeek: 7 is out of range 0-6'),
    ('dayOfWeek', 'sun-mon', "dayOfWeek: range 'sun-mon' is reversed"),
    ('dayOfWeek', 'monday', "dayOfWeek: 'monday' is not a number or name"),
    ('minute', ',' * 1000, 'minute: more than 1000 list items'),
    ('minute', 5, 'minute: expected text, got 5'),
    ('second', '5', "'second' is not a field: use one of minute, hour, "
                    'dayOfMonth, month, dayOfWeek'),
])
def test_parse_field_refuses_naming_the_field(name, text, message):
    with refused(message):
        parse_field(name, text)


@pytest.mark.parametrize('text', [
    '0-' + '9' * 100_000, '9' * 100_000, '*/' + '0' * 100_000,
    '1,' * 100_000, '0-1000000000/' + '1' * 100_000])
def test_parse_field_stays_small_whatever_the_text(text):
    # Bounds are checked on the digits before anything is expanded or
    # converted (int() refuses 100,000 digits), and messages stay short.
    with pytest.raises(ScheduleError) as info:
        parse_field('minute', text)
    assert str(info.value).startswith('minute: ')
    assert len(str(info.value)) < 300


@pytest.mark.parametrize('parse', [
    lambda text: parse_field('minute', text),
    lambda text: CronSchedule(f'{text} * * * *')])
@pytest.mark.parametrize('text', ['0-1000000000', '0-999999999999999999999/1',
                                  '*/1000000000', '0-59/999999999999999999'])
def test_huge_ranges_fail_or_pass_without_expanding(parse, text):
    tracemalloc.start()
    try:
        try:
            parse(text)
        except ScheduleError:
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def cron_minutes(item):
    """The minutes a cron string with ``item`` as its minute field fires
    at, or its error message without the field's name."""
    try:
        schedule = CronSchedule(f'{item} * * * *')
    except ScheduleError as error:
        return str(error).split(': minute: ', 1)[1]
    return tuple(int(moment) // 60 for moment in firings(schedule, -1,
                                                          HOUR - 1))


def field_minutes(item):
    try:
        return parse_field('minute', item)
    except ScheduleError as error:
        return str(error).split('minute: ', 1)[1]


@pytest.mark.parametrize('item', [
    '5/15', '50-10', '*/0', '0-1000000000', '0-999999999999999999999/1',
    '10-50/10', '*/7', '*/90', 'x', '1,,2', '7,3-4'])
def test_field_text_means_the_same_as_a_cron_string_field(item):
    assert field_minutes(item) == cron_minutes(item)


# CronSchedule validation.

@pytest.mark.parametrize('expression, problem', [
    ('*/5 * * *', 'expected 5 fields, got 4'),
    ('* * * * * *', 'expected 5 fields, got 6'),
    ('', 'expected 5 fields, got 0'),
    ('60 * * * *', 'minute: 60 is out of range 0-59'),
    ('* 24 * * *', 'hour: 24 is out of range 0-23'),
    ('* * 0 * *', 'day-of-month: 0 is out of range 1-31'),
    ('* * 32 * *', 'day-of-month: 32 is out of range 1-31'),
    ('* * * 0 *', 'month: 0 is out of range 1-12'),
    ('* * * 13 *', 'month: 13 is out of range 1-12'),
    ('* * * * 8', 'day-of-week: 8 is out of range 0-7'),
    ('x * * * *', "minute: 'x' is not a number"),
    ('jan * * * *', "minute: 'jan' is not a number"),
    ('* * * foo *', "month: 'foo' is not a number or name"),
    ('* * * * monday', "day-of-week: 'monday' is not a number or name"),
    ('-5 * * * *', "minute: '' is not a number"),
    ('+5 * * * *', "minute: '+5' is not a number"),
    ('5-1 * * * *', "minute: range '5-1' is reversed"),
    ('50-10 * * * *', "minute: range '50-10' is reversed"),
    ('0-1000000000 * * * *', 'minute: 1000000000 is out of range 0-59'),
    ('0-999999999999999999999/1 * * * *',
     'minute: 999999999999999999999 is out of range 0-59'),
    ('060 * * * *', 'minute: 60 is out of range 0-59'),
    ('* * * * fri-sun', "day-of-week: range 'fri-sun' is reversed"),
    ('*/0 * * * *', "minute: step '0' in '*/0' is not a number >= 1"),
    ('*/x * * * *', "minute: step 'x' in '*/x' is not a number >= 1"),
    ('*/ * * * *', "minute: step '' in '*/' is not a number >= 1"),
    ('5/10 * * * *', "minute: step in '5/10' needs a range or *, e.g. "
                     "5-59/10"),
    ('1,,2 * * * *', "minute: empty list item in '1,,2'"),
    ('* 1, * * *', "hour: empty list item in '1,'"),
    ('0 0 30 2 *', 'day-of-month 30 never occurs in month 2'),
    ('0 0 31 4,6,9,11 *', 'day-of-month 31 never occurs in month 4,6,9,11'),
])
def test_bad_cron_string_is_refused(expression, problem):
    with refused(f'cron {expression!r}: {problem}'):
        CronSchedule(expression)


@pytest.mark.parametrize('expression', ['@reboot', '@daily 5', '@'])
def test_bad_cron_macro_is_refused(expression):
    with refused(f'cron {expression!r}: unknown macro {expression!r}, use '
                 'one of @yearly, @annually, @monthly, @weekly, @daily, '
                 '@midnight, @hourly'):
        CronSchedule(expression)


def test_cron_that_is_not_a_string_is_refused():
    with refused('cron: expected a string, got 5'):
        CronSchedule(5)


def test_cron_with_unknown_timezone_is_refused():
    with refused("timezone: unknown time zone 'Mars/Base'"):
        CronSchedule('* * * * *', timezone='Mars/Base')


# DelaySchedule.

def test_delay_is_normalised_to_a_float():
    assert DelaySchedule(10).delay == 10.0


def test_delay_of_zero_fires_at_now():
    assert DelaySchedule(0).next_after(5.5) == 5.5


@pytest.mark.parametrize('delay', [
    -1, -0.5, True, False, '10', None, math.nan, -math.inf])
def test_delay_that_is_not_a_number_at_least_zero_is_refused(delay):
    with refused(f'delay: {delay!r} is not a number >= 0'):
        DelaySchedule(delay)


@pytest.mark.parametrize('delay', [
    MAX_DELAY + 1, 1e300, math.inf, 10 ** 40])
def test_delay_beyond_the_maximum_is_refused(delay):
    with refused(f'delay: {delay!r} is more than the maximum, '
                 '3155760000 s (100 years)'):
        DelaySchedule(delay)


def test_delay_beyond_any_float_is_refused():
    with pytest.raises(ScheduleError, match='^delay: 1000.* is more than '
                       'the maximum, 3155760000 s'):
        DelaySchedule(10 ** 400)


def test_delay_of_the_maximum_lands_before_year_9999():
    assert MAX_DELAY == 100 * 365.25 * DAY
    landing = DelaySchedule(MAX_DELAY).next_after(at(9899, 1, 1))
    assert datetime.datetime.fromtimestamp(landing, UTC).year == 9999


def test_delay_maximum_can_be_lifted_for_stored_delays():
    assert DelaySchedule(1e300, maximum=None).next_after(0) == 1e300
    with refused('delay: inf is not a number >= 0'):
        DelaySchedule(math.inf, maximum=None)


def test_make_schedule_applies_the_delay_maximum_unless_lifted():
    with refused('delay: 1e+300 is more than the maximum, 3155760000 s '
                 '(100 years)'):
        make_schedule(delay=1e300)
    assert make_schedule(delay=1e300, max_delay=None).delay == 1e300


# make_schedule.

def test_make_schedule_with_delay_gives_delay_schedule():
    assert make_schedule(delay=10).next_after(1) == 11


def test_make_schedule_with_cron_gives_cron_schedule():
    schedule = make_schedule(cron='*/5 * * * *', timezone=BERLIN)
    assert isinstance(schedule, CronSchedule)
    assert (schedule.expression, schedule.timezone) == ('*/5 * * * *', BERLIN)


def test_make_schedule_with_fields_gives_field_schedule():
    schedule = make_schedule(minute=[10], dayOfWeek=(1,), timezone=BERLIN)
    assert isinstance(schedule, FieldSchedule)
    assert (schedule.minute, schedule.dayOfWeek, schedule.timezone) == (
        (10,), (1,), BERLIN)


@pytest.mark.parametrize('kwargs, message', [
    (dict(delay=10, minute=(1,)), 'delay: cannot be combined with minute'),
    (dict(delay=10, cron='* * * * *'), 'delay: cannot be combined with cron'),
    (dict(delay=10, timezone=BERLIN),
     'delay: cannot be combined with timezone'),
    (dict(cron='* * * * *', hour=(1,), month=(2,)),
     'cron: cannot be combined with hour, month'),
])
def test_make_schedule_refuses_mixed_kinds(kwargs, message):
    with refused(message):
        make_schedule(**kwargs)


@pytest.mark.parametrize('kwargs', [
    {}, dict(minute=[], hour=None), dict(dayOfWeek=range(0))])
def test_make_schedule_with_nothing_given_runs_every_minute(kwargs):
    schedule = make_schedule(**kwargs)
    assert (schedule.describe(), schedule.next_after(0)) == (
        'every minute', 60)


def test_make_schedule_with_only_a_time_zone_runs_every_minute_there():
    assert make_schedule(timezone=BERLIN).describe() == \
        'every minute (Europe/Berlin)'


def test_make_schedule_validates_the_schedule_it_builds():
    with refused('minute: 60 is out of range 0-59'):
        make_schedule(minute=(60,))


# describe(), repr() and pickling.

@pytest.mark.parametrize('schedule, description', [
    (FieldSchedule(), 'every minute'),
    (FieldSchedule(minute=(0, 10)), 'at minute 0,10 of every hour'),
    (FieldSchedule(hour=(2, 13)), 'at 02:00, 13:00 every day'),
    (FieldSchedule(minute=(10,), hour=(4,), dayOfMonth=(1, 12)),
     'at 04:10 on day 1,12 of the month'),
    (FieldSchedule(minute=(10,), dayOfMonth=(1, 12)),
     'at minute 10 of every hour on day 1,12 of the month'),
    (FieldSchedule(month=(1, 5, 12)),
     'at 00:00 on day 1 in January, May, December'),
    (FieldSchedule(dayOfWeek=(0, 2)), 'at 00:00 on Monday, Wednesday'),
    (FieldSchedule(dayOfMonth=(13,), dayOfWeek=(4,), timezone=BERLIN),
     'at 00:00 on day 13 of the month if it is a Friday (Europe/Berlin)'),
    (FieldSchedule(minute=(0, 15, 30, 45), hour=(1, 2)),
     'at minute 0,15,30,45 of hour 1,2 every day'),
    (CronSchedule('*/5 * * * *', timezone=BERLIN),
     'cron */5 * * * * (Europe/Berlin)'),
    (CronSchedule('@daily'), 'cron @daily'),
    (DelaySchedule(10), 'once, 10 s after it is first seen'),
    (DelaySchedule(1.5), 'once, 1.5 s after it is first seen'),
])
def test_describe(schedule, description):
    assert schedule.describe() == description


@pytest.mark.parametrize('schedule, text', [
    (FieldSchedule(minute=(0, 10), timezone=BERLIN),
     "FieldSchedule(minute=(0, 10), timezone='Europe/Berlin')"),
    (CronSchedule('@daily'), "CronSchedule('@daily')"),
    (FieldSchedule(), 'FieldSchedule()'),
    (DelaySchedule(10), 'DelaySchedule(10.0)'),
])
def test_repr(schedule, text):
    assert repr(schedule) == text


@pytest.mark.parametrize('schedule', [
    FieldSchedule(minute=(10,), timezone=BERLIN),
    CronSchedule('*/5 * * * *', timezone=NEW_YORK),
    DelaySchedule(10),
])
def test_schedule_survives_pickling(schedule):
    copy = pickle.loads(pickle.dumps(schedule))
    assert (copy.describe(), copy.next_after(0)) == (
        schedule.describe(), schedule.next_after(0))


# Daylight saving time: Europe/Berlin 2024-03-31 02:00 -> 03:00 and
# 2024-10-27 03:00 -> 02:00; America/New_York 2024-03-10 02:00 -> 03:00 and
# 2024-11-03 02:00 -> 01:00.

def local_day(zone, year, month, day):
    """(start, end) of a local calendar day, end exclusive."""
    start = at(year, month, day, zone=zone)
    following = datetime.date(year, month, day) + datetime.timedelta(1)
    return start, at(*following.timetuple()[:3], zone=zone)


def fired_on_local_day(schedule, zone, year, month, day):
    start, end = local_day(zone, year, month, day)
    return firings(schedule, start - 1, end - 1)


@pytest.mark.parametrize('zone, date, hour, minute', [
    (BERLIN, (2024, 3, 31), 2, 30),
    (BERLIN, (2024, 10, 27), 2, 30),
    (NEW_YORK, (2024, 3, 10), 2, 30),
    (NEW_YORK, (2024, 11, 3), 1, 30),
])
@pytest.mark.parametrize('kind', ['fields', 'cron'])
def test_daily_job_runs_exactly_once_on_change_day(kind, zone, date, hour,
                                                   minute):
    if kind == 'fields':
        schedule = FieldSchedule(minute=(minute,), hour=(hour,),
                                 timezone=zone)
    else:
        schedule = CronSchedule(f'{minute} {hour} * * *', timezone=zone)
    assert len(fired_on_local_day(schedule, zone, *date)) == 1


def test_skipped_time_fires_at_first_instant_after_the_gap():
    schedule = CronSchedule('30 2 * * *', timezone=BERLIN)
    assert schedule.next_after(at(2024, 3, 30, 12)) == at(2024, 3, 31, 1, 0)


def test_skipped_time_fires_after_the_gap_in_new_york():
    schedule = FieldSchedule(minute=(30,), hour=(2,), timezone=NEW_YORK)
    assert schedule.next_after(at(2024, 3, 9, 12)) == at(2024, 3, 10, 7, 0)


def test_day_after_spring_forward_is_back_to_normal():
    schedule = CronSchedule('30 2 * * *', timezone=BERLIN)
    assert schedule.next_after(at(2024, 3, 31, 1, 0)) == at(2024, 4, 1, 0, 30)


def test_skipped_times_collapse_into_one_firing():
    schedule = CronSchedule('*/15 2 * * *', timezone=BERLIN)
    assert fired_on_local_day(schedule, BERLIN, 2024, 3, 31) == [
        at(2024, 3, 31, 1, 0)]


def test_repeated_time_fires_at_first_occurrence():
    schedule = CronSchedule('30 2 * * *', timezone=BERLIN)
    assert schedule.next_after(at(2024, 10, 26, 12)) == at(
        2024, 10, 27, 2, 30, zone=BERLIN, fold=0)


def test_repeated_time_does_not_fire_in_second_occurrence():
    schedule = CronSchedule('30 2 * * *', timezone=BERLIN)
    second_pass = at(2024, 10, 27, 2, 10, zone=BERLIN, fold=1)
    assert schedule.next_after(second_pass) == at(2024, 10, 28, 2, 30,
                                                  zone=BERLIN)


def test_repeated_hour_fires_once_for_restricted_hour():
    schedule = CronSchedule('*/15 2 * * *', timezone=BERLIN)
    assert fired_on_local_day(schedule, BERLIN, 2024, 10, 27) == [
        at(2024, 10, 27, 2, minute, zone=BERLIN) for minute in (0, 15, 30, 45)]


def test_repeated_time_fires_at_first_occurrence_in_new_york():
    schedule = FieldSchedule(minute=(30,), hour=(1,), timezone=NEW_YORK)
    assert schedule.next_after(at(2024, 11, 2, 12)) == at(2024, 11, 3, 5, 30)


@pytest.mark.parametrize('zone, start', [
    (BERLIN, (2024, 3, 30, 22)), (BERLIN, (2024, 10, 26, 22)),
    (NEW_YORK, (2024, 3, 10, 4)), (NEW_YORK, (2024, 11, 3, 3))])
def test_unrestricted_hour_follows_elapsed_time_across_change(zone, start):
    schedule = CronSchedule('*/5 * * * *', timezone=zone)
    times = firings(schedule, at(*start), at(*start) + 6 * HOUR)
    assert len(times) == 72
    assert {b - a for a, b in zip(times, times[1:])} == {300}


def test_unrestricted_hour_fires_in_both_occurrences():
    schedule = FieldSchedule(minute=(10,), timezone=BERLIN)
    times = firings(schedule, at(2024, 10, 26, 23, 30), at(2024, 10, 27, 2))
    assert times == [at(2024, 10, 27, 0, 10), at(2024, 10, 27, 1, 10)]


def test_unrestricted_hour_catches_second_pass_from_first_pass():
    schedule = CronSchedule('0 * * * *', timezone=BERLIN)
    first_pass = at(2024, 10, 27, 2, 30, zone=BERLIN, fold=0)
    assert schedule.next_after(first_pass) == at(
        2024, 10, 27, 2, 0, zone=BERLIN, fold=1)


def test_unrestricted_hour_does_not_catch_up_skipped_times():
    schedule = FieldSchedule(minute=(10,), timezone=BERLIN)
    assert firings(schedule, at(2024, 3, 30, 23, 30), at(2024, 3, 31, 2)) == [
        at(2024, 3, 31, 0, 10), at(2024, 3, 31, 1, 10)]


# Property tests against brute-force references. A reference walks day by
# day and, within a matching day, minute by minute from the first whole
# minute after now; it shares no code with the module.

SEARCH_DAYS = 60 * 366  # covers Feb 29 on a given weekday across 2100
NOWS = st.one_of(st.integers(-10**9, 4 * 10**9),
                 st.floats(-1e9, 4e9, allow_nan=False))


def reference_next(day_matches, time_matches, now):
    start = datetime.datetime.fromtimestamp((math.floor(now) // 60 + 1) * 60,
                                            UTC)
    for offset in range(SEARCH_DAYS):
        day = start.date() + datetime.timedelta(offset)
        if not day_matches(day):
            continue
        first = start.hour * 60 + start.minute if offset == 0 else 0
        for minute_of_day in range(first, 1440):
            hour, minute = divmod(minute_of_day, 60)
            if time_matches(hour, minute):
                return datetime.datetime(
                    day.year, day.month, day.day, hour, minute,
                    tzinfo=UTC).timestamp()
    return None


def field_sets(fields):
    """Allowed values per field, from the lovely rules in the brief."""
    levels = [fields['minute'], fields['hour'],
              fields['dayOfMonth'] or fields['dayOfWeek'], fields['month']]
    finest = min(i for i, given in enumerate(levels) if given)
    return dict(
        minute=set(fields['minute']) or {0},
        hour=set(fields['hour']) or ({0} if finest > 1 else set(range(24))),
        dayOfMonth=set(fields['dayOfMonth']) or (
            {1} if finest > 2 else set(range(1, 32))),
        month=set(fields['month']) or set(range(1, 13)),
        dayOfWeek=set(fields['dayOfWeek']) or set(range(7)))


def field_values(low, high):
    return st.lists(st.integers(low, high), max_size=4).map(tuple)


FIELDS = st.fixed_dictionaries(dict(
    minute=field_values(0, 59), hour=field_values(0, 23),
    dayOfMonth=field_values(1, 31), month=field_values(1, 12),
    dayOfWeek=field_values(0, 6)))


@settings(max_examples=300, deadline=None)
@given(fields=FIELDS, now=NOWS)
def test_field_schedule_matches_brute_force(fields, now):
    assume(any(fields.values()))
    try:
        schedule = FieldSchedule(**fields)
    except ScheduleError:
        # Only impossible dates are refused.
        assert fields['dayOfMonth'] and not any(
            datetime.date(2000, month, 1) + datetime.timedelta(day - 1)
            < datetime.date(2000 + month // 12, month % 12 + 1, 1)
            for month in (fields['month'] or range(1, 13))
            for day in fields['dayOfMonth'])
        return
    sets = field_sets(fields)

    def day_matches(day):
        return (day.month in sets['month'] and day.day in sets['dayOfMonth']
                and day.weekday() in sets['dayOfWeek'])

    def time_matches(hour, minute):
        return hour in sets['hour'] and minute in sets['minute']

    result = schedule.next_after(now)
    assert result == reference_next(day_matches, time_matches, now)
    moment = datetime.datetime.fromtimestamp(result, UTC)
    assert result > now and moment.second == 0
    assert day_matches(moment.date()) and time_matches(moment.hour,
                                                       moment.minute)


@st.composite
def cron_fields(draw, low, high, names=()):
    """A cron field as (text, allowed values)."""
    def value(number):
        if names and number - low < len(names) and draw(st.booleans()):
            name = names[number - low]
            return draw(st.sampled_from([name, name.upper(), name.title()]))
        return str(number)

    kind = draw(st.sampled_from(['*', '*/step', 'list']))
    if kind == '*':
        return '*', set(range(low, high + 1))
    if kind == '*/step':
        step = draw(st.integers(1, high - low + 1))
        return f'*/{step}', set(range(low, high + 1, step))
    items, values = [], set()
    for _ in range(draw(st.integers(1, 3))):
        first = draw(st.integers(low, high))
        last = draw(st.integers(first, high))
        step = draw(st.integers(1, 10))
        form = draw(st.sampled_from(['a', 'a-b', 'a-b/s']))
        if form == 'a':
            items.append(value(first))
            values.add(first)
        elif form == 'a-b':
            items.append(f'{value(first)}-{value(last)}')
            values.update(range(first, last + 1))
        else:
            items.append(f'{value(first)}-{value(last)}/{step}')
            values.update(range(first, last + 1, step))
    return ','.join(items), values


CRON_MONTHS = ('jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep',
               'oct', 'nov', 'dec')
CRON_DAYS = ('sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat')
CRONS = st.tuples(
    cron_fields(0, 59), cron_fields(0, 23), cron_fields(1, 31),
    cron_fields(1, 12, CRON_MONTHS), cron_fields(0, 7, CRON_DAYS))


LOVELY_DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')


@settings(max_examples=300, deadline=None)
@given(data=st.data(), field=st.sampled_from([
    ('minute', 0, 59, ()), ('hour', 0, 23, ()), ('dayOfMonth', 1, 31, ()),
    ('month', 1, 12, CRON_MONTHS), ('dayOfWeek', 0, 6, LOVELY_DAYS)]))
def test_parse_field_reads_the_cron_field_grammar(data, field):
    name, low, high, names = field
    text, values = data.draw(cron_fields(low, high, names))
    assert parse_field(name, text) == tuple(sorted(values))


@settings(max_examples=300, deadline=None)
@given(fields=CRONS, now=NOWS)
def test_cron_schedule_matches_brute_force(fields, now):
    (minute_text, minutes), (hour_text, hours), (dom_text, doms), (
        month_text, months), (dow_text, dows) = fields
    expression = ' '.join([minute_text, hour_text, dom_text, month_text,
                           dow_text])
    either = not dom_text.startswith('*') and not dow_text.startswith('*')
    try:
        schedule = CronSchedule(expression)
    except ScheduleError as error:
        assert 'never occurs' in str(error) and not either
        return

    def day_matches(day):
        in_dom = day.day in doms
        in_dow = (day.weekday() + 1) % 7 in dows or (
            day.weekday() == 6 and 7 in dows)
        return day.month in months and (
            (in_dom or in_dow) if either else (in_dom and in_dow))

    def time_matches(hour, minute):
        return hour in hours and minute in minutes

    result = schedule.next_after(now)
    assert result == reference_next(day_matches, time_matches, now)
    moment = datetime.datetime.fromtimestamp(result, UTC)
    assert result > now and moment.second == 0
    assert day_matches(moment.date()) and time_matches(moment.hour,
                                                       moment.minute)


# Around real changes, compare with a reference that walks real time minute
# by minute and applies the documented policy to the local wall clock.

CHANGES = [(BERLIN, at(2024, 3, 31, 1)), (BERLIN, at(2024, 10, 27, 1)),
           (NEW_YORK, at(2024, 3, 10, 7)), (NEW_YORK, at(2024, 11, 3, 6))]
DST_HOURS = st.lists(st.one_of(st.integers(0, 4), st.integers(0, 23)),
                     max_size=3).map(tuple)


def reference_local_next(minutes, hours, zone, now):
    tz = ZoneInfo(zone)
    every_hour = not hours or len(set(hours)) == 24
    minutes = set(minutes) or {0}
    hours = set(hours) or set(range(24))

    def matches(wall):
        return wall.hour in hours and wall.minute in minutes

    moment = (math.floor(now) // 60 + 1) * 60
    previous = datetime.datetime.fromtimestamp(moment - 60, tz)
    for _ in range(3 * 1440):
        local = datetime.datetime.fromtimestamp(moment, tz)
        if every_hour:
            if matches(local):
                return moment
        else:
            skipped = previous.replace(tzinfo=None) + datetime.timedelta(
                minutes=1)
            while skipped < local.replace(tzinfo=None):  # a gap
                if matches(skipped):
                    return moment
                skipped += datetime.timedelta(minutes=1)
            if matches(local) and local.fold == 0:
                return moment
        previous, moment = local, moment + 60
    return None


@settings(max_examples=200, deadline=None)
@given(change=st.sampled_from(CHANGES),
       offset=st.one_of(st.integers(-36 * HOUR, 12 * HOUR),
                        st.floats(-36 * HOUR, 12 * HOUR)),
       minutes=st.lists(st.integers(0, 59), max_size=3).map(tuple),
       hours=DST_HOURS)
def test_local_schedule_follows_the_daylight_saving_policy(
        change, offset, minutes, hours):
    assume(minutes or hours)
    zone, instant = change
    now = instant + offset
    schedule = FieldSchedule(minute=minutes, hour=hours, timezone=zone)
    assert schedule.next_after(now) == reference_local_next(
        minutes, hours, zone, now)
