"""The Overview tab: counts per status, processing state, the oldest
waiting job, charts of the last hour or day (``zodbtasks.browser.charts``:
jobs finished and failed, queue depth, enqueue-to-start latency); and the
activity controls (pause, resume, task limits, see
``zodbtasks.browser.activities``)."""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks.browser import charts
from zodbtasks.browser import format
from zodbtasks.browser.activities import ActivityControls
from zodbtasks.browser.jobs import ServiceView
from zodbtasks.browser.jobs import status_counts


class OverviewView(ActivityControls, ServiceView):
    """@@overview.html"""

    template = ViewPageTemplateFile('templates/overview.pt')
    chart_macros = ViewPageTemplateFile('templates/charts.pt')
    live_regions = ('zt-counts', 'zt-oldest', 'zt-chart-range',
                    'zt-charts', 'zt-priorities-live')

    def counts(self):
        return [dict(row, url='%s/@@jobs.html?status=%s'
                     % (self.url, row['status']))
                for row in status_counts(self.service)]

    def total(self):
        return sum(self.service.countByStatus().values())

    def oldest_waiting(self):
        waited = self.service.oldestWaiting(self.now)
        return format.age(waited) if waited is not None else None

    def next_scheduled(self):
        return self.moment(self.service.nextScheduledTime())

    def per_minute(self):
        return self.service.finishedPerMinute(self.now, 60)

    def range_name(self):
        name = self.request.form.get('range')
        return name if name in charts.RANGES else 'hour'

    def range_links(self):
        return [{'name': name, 'current': name == self.range_name(),
                 'url': '%s/@@overview.html?range=%s' % (self.url, name)}
                for name in charts.RANGES]

    def charts(self):
        return charts.overview_charts(self.service, self.now,
                                      self.range_name())

    def finished_hour(self):
        return sum(self.per_minute())
