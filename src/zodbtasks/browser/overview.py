"""The Overview tab: counts per status, processing state, the oldest
waiting job and the jobs finished per minute over the last hour; and the
activity controls (pause, resume, task limits, see
``zodbtasks.browser.activities``)."""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import clock
from zodbtasks.browser import format
from zodbtasks.browser.activities import ActivityControls
from zodbtasks.browser.jobs import ServiceView
from zodbtasks.browser.jobs import status_counts

CHART_WIDTH, CHART_HEIGHT = 600, 120


class OverviewView(ActivityControls, ServiceView):
    """@@overview.html"""

    template = ViewPageTemplateFile('templates/overview.pt')

    def __call__(self, now=None):
        self.now = clock.now() if now is None else now
        self.limit_errors = {}
        if self.request.method == 'POST' and self.check_post():
            self.message = self.act()
        return self.template()

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
        return format.when(self.service.nextScheduledTime())

    def per_minute(self):
        return self.service.finishedPerMinute(self.now, 60)

    def chart(self):
        """Bars of an SVG chart: x, y, width, height and a title."""
        counts = self.per_minute()
        peak = max(counts) or 1
        width = CHART_WIDTH / len(counts)
        bars = []
        for index, count in enumerate(counts):
            height = round(CHART_HEIGHT * count / peak, 1)
            bars.append({
                'x': round(index * width, 1), 'y': CHART_HEIGHT - height,
                'width': round(width - 1, 1), 'height': height,
                'title': '%d min ago: %d finished' % (
                    len(counts) - index, count)})
        return {'bars': bars, 'peak': max(counts), 'sum': sum(counts),
                'width': CHART_WIDTH, 'height': CHART_HEIGHT}
