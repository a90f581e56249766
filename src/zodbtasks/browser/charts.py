"""Charts drawn on the server (SVG, no script): axes with ticks and
labels, a legend, bars or lines per series, a title per bar or point.

``Chart`` computes coordinates only; ``templates/charts.pt`` (macro
``chart``) draws them, so every text is escaped by the template.  The
Overview's charts (``overview_charts``): jobs finished and failed per
minute, the queue's depth and the enqueue-to-start latency (p50, p95),
over the last hour (per minute) or the last day (per 10-minute slot),
from ``zodbtasks.stats``.
"""
import math
import time

from zodbtasks import stats
from zodbtasks.browser import format

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 26, 34

#: range name -> (seconds covered, seconds per bin, seconds between ticks)
RANGES = {'hour': (3600, 60, 600), 'day': (86400, stats.SLOT, 3 * 3600)}
COLORS = {'finished': '#2e7d32', 'failed': '#c62828', 'depth': '#0a5ea8',
          'p50': '#0a5ea8', 'p95': '#ef6c00'}


def nice_step(peak, ticks=4):
    """A round step (1, 2 or 5 times a power of ten) giving about
    ``ticks`` ticks up to ``peak``."""
    if peak <= 0 or not math.isfinite(peak):
        return 1
    raw = peak / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def clock_label(epoch):
    """``14:30`` in the server's local time."""
    return time.strftime('%H:%M', time.localtime(epoch))


def zone_name(epoch):
    return time.strftime('%Z', time.localtime(epoch)) or 'local time'


class Chart:
    """One chart: ``series`` is a list of (name, kind, values) with kind
    'bars' (stacked in the order given) or 'line'; values per bin, None
    for no value (a gap in a line)."""

    def __init__(self, title, starts, bin_seconds, tick_seconds, series,
                 unit='', value_text=str, width=WIDTH, height=HEIGHT):
        self.title, self.unit = title, unit
        self.width, self.height = width, height
        self.plot_width = width - LEFT - RIGHT
        self.plot_height = height - TOP - BOTTOM
        self.left, self.top, self.bottom = LEFT, TOP, height - BOTTOM
        self.starts = starts
        self.bin = bin_seconds
        self.value_text = value_text
        stacked = [sum(values[i] or 0 for _, kind, values in series
                       if kind == 'bars') for i in range(len(starts))]
        lines = [v for _, kind, values in series if kind == 'line'
                 for v in values if v is not None]
        peak = max(stacked + lines + [0])
        self.step = nice_step(peak)
        self.top_value = max(self.step * math.ceil(peak / self.step),
                             self.step)
        self.empty = peak == 0
        self.series = self._draw(series)
        self.legend = [{'name': name, 'color': COLORS.get(name, '#555'),
                        'x': LEFT + index * 110}
                       for index, (name, _, _) in enumerate(series)]
        self.x_ticks = self._x_ticks(tick_seconds)
        self.y_ticks = self._y_ticks()
        self.zone = zone_name(starts[-1]) if starts else ''

    def y(self, value):
        return round(self.bottom - self.plot_height * value
                     / self.top_value, 1)

    def x(self, index):
        return round(LEFT + self.plot_width * index / max(len(self.starts),
                                                          1), 1)

    def _draw(self, series):
        drawn, base = [], [0] * len(self.starts)
        slot = self.plot_width / max(len(self.starts), 1)
        for name, kind, values in series:
            color = COLORS.get(name, '#555')
            item = {'name': name, 'color': color, 'kind': kind,
                    'bars': [], 'points': '', 'dots': []}
            if kind == 'bars':
                for index, value in enumerate(values):
                    if not value:
                        continue
                    low, high = base[index], base[index] + value
                    base[index] = high
                    item['bars'].append({
                        'x': self.x(index), 'width': max(round(slot - 1, 1),
                                                         0.5),
                        'y': self.y(high),
                        'height': round(self.y(low) - self.y(high), 1),
                        'title': self._title(index, name, value)})
            else:
                points = []
                for index, value in enumerate(values):
                    if value is None:
                        continue
                    cx, cy = round(self.x(index) + slot / 2, 1), self.y(value)
                    points.append('%s,%s' % (cx, cy))
                    item['dots'].append({'x': cx, 'y': cy,
                                         'title': self._title(index, name,
                                                              value)})
                item['points'] = ' '.join(points)
            drawn.append(item)
        return drawn

    def _title(self, index, name, value):
        start = self.starts[index]
        return '%s–%s: %s %s' % (clock_label(start),
                                 clock_label(start + self.bin), name,
                                 self.value_text(value))

    def _x_ticks(self, tick_seconds):
        ticks = []
        for index, start in enumerate(self.starts):
            if start % tick_seconds == 0:
                ticks.append({'x': self.x(index), 'label': clock_label(start)})
        return ticks

    def _y_ticks(self):
        ticks, value = [], 0
        while value <= self.top_value + 1e-9:
            ticks.append({'y': self.y(value),
                          'label': self.value_text(value)})
            value += self.step
        return ticks


def overview_charts(service, now, range_name='hour'):
    """The Overview's charts over ``range_name`` ('hour' or 'day')."""
    span, size, tick = RANGES[range_name]
    end = (now // size + 1) * size
    read = stats.per_minute if size == 60 else stats.per_slot
    bars = read(service, end - span, end)
    starts = [bar.start for bar in bars]
    finished = [bar.total.completed + bar.total.cancelled for bar in bars]
    failed = [bar.total.failed + bar.total.retried for bar in bars]
    depth = [bar.queue_depth for bar in bars]
    latency = [(stats.quantile(bar.total.latency_buckets, 0.5,
                               stats.LATENCY_BUCKETS),
                stats.quantile(bar.total.latency_buckets, 0.95,
                               stats.LATENCY_BUCKETS)) for bar in bars]
    per = 'minute' if size == 60 else '%d minutes' % (size // 60)
    return [
        Chart('Jobs finished and failed per %s' % per, starts, size, tick,
              [('finished', 'bars', finished), ('failed', 'bars', failed)]),
        Chart('Queue depth (waiting jobs seen by the workers)', starts, size,
              tick, [('depth', 'line', depth)]),
        Chart('Enqueue-to-start latency', starts, size, tick,
              [('p50', 'line', [l[0] for l in latency]),
               ('p95', 'line', [l[1] for l in latency])],
              value_text=lambda seconds: format.age(seconds) or '0 s'),
    ]

