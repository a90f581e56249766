"""Server-side SVG charts: round ticks, stacked bars, lines with gaps."""
from zodbtasks.browser import charts


def test_nice_steps():
    assert [charts.nice_step(p) for p in (0, 3, 10, 37, 980, 0.4)] == [
        1, 1, 5, 10, 500, 0.1]


def test_stacked_bars_and_axes():
    starts = [3600.0 * 10 + 60 * i for i in range(60)]
    finished = [0] * 60
    failed = [0] * 60
    finished[5], failed[5], finished[59] = 30, 7, 12
    chart = charts.Chart('t', starts, 60, 600,
                         [('finished', 'bars', finished),
                          ('failed', 'bars', failed)])
    assert not chart.empty
    assert chart.top_value == 40 and chart.step == 10
    assert [t['label'] for t in chart.y_ticks] == ['0', '10', '20', '30',
                                                  '40']
    assert len(chart.x_ticks) == 6
    fin, fail = chart.series
    assert len(fin['bars']) == 2 and len(fail['bars']) == 1
    # the failed bar sits on top of the finished one
    assert fail['bars'][0]['y'] + fail['bars'][0]['height'] == \
        fin['bars'][0]['y']
    assert chart.y(0) == chart.bottom


def test_lines_leave_gaps_and_an_empty_chart_says_so():
    chart = charts.Chart('t', [0.0, 60.0, 120.0], 60, 600,
                         [('depth', 'line', [None, 4, None])])
    assert chart.series[0]['points'].count(',') == 1
    empty = charts.Chart('t', [0.0, 60.0], 60, 600,
                         [('depth', 'line', [None, None])])
    assert empty.empty and empty.series[0]['points'] == ''
