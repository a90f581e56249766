"""zodbtasks.metrics: the text of the metrics, checked by
prometheus_client's parsers (OpenMetrics and the 0.0.4 text format)."""
import types

import pytest
import transaction

from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import \
    text_string_to_metric_families as parse_prometheus

from zodbtasks import metrics
from zodbtasks import testing
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import STATUSES

NOW = 1_800_000_000.0
#: A task name with everything a label value must escape.
ODD = 'odd "task"\\\nname'


class FakeTally:
    """The figures of zodbtasks.stats.Tally (see /STATS_API)."""

    def __init__(self, **figures):
        self.completed = self.failed = self.cancelled = self.retried = 0
        self.conflicts = self.lease_expiries = 0
        self.run_buckets = (0, 0, 0)
        self.latency_buckets = (0, 0)
        self.run_sum = self.latency_sum = 0.0
        vars(self).update(figures)
        self.finished = self.completed + self.failed + self.cancelled


def fake_stats(by_task, total):
    return types.SimpleNamespace(
        RUN_BUCKETS=(0.5, 5.0), LATENCY_BUCKETS=(1.0,),
        task_totals=lambda service: by_task,
        service_totals=lambda service: total)


STATS = fake_stats(
    {'echo': FakeTally(completed=7, failed=2, cancelled=1, retried=3,
                       run_buckets=(4, 3, 2), run_sum=12.5,
                       latency_buckets=(8, 1), latency_sum=3.25)},
    FakeTally(conflicts=5, lease_expiries=1))


def families(text, openmetrics=True):
    parse = parse_openmetrics if openmetrics else parse_prometheus
    return {family.name: family for family in parse(text)}


def samples(family):
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples}


@pytest.fixture
def jobs(service, tasks):
    """Jobs of service site1@jobs: echo 3 queued (one claimed by worker
    w1), fail 1 queued, the odd task 1 startlater."""
    testing.register_task(ODD, lambda input: input)
    for number in range(3):
        service.add('echo', number, now=NOW - 100 + number)
    service.add('fail', None, now=NOW - 50)
    service.add(ODD, None, startLater=True, now=NOW - 10)
    transaction.commit()
    Dispatch(service).claimJobs(NOW - 30, 1, 'w1')
    transaction.commit()
    return service


def test_jobs_by_task_and_status_for_every_status(jobs):
    found = families(metrics.render([('site1@jobs', jobs)], NOW,
                                    stats=STATS))
    counts = samples(found['zodbtasks_jobs'])
    labels = (('service', 'site1@jobs'), ('status', 'queued'),
              ('task', 'echo'))
    assert counts[('zodbtasks_jobs', labels)] == 2
    assert counts[('zodbtasks_jobs', (('service', 'site1@jobs'),
                                      ('status', 'processing'),
                                      ('task', 'echo')))] == 1
    assert len(counts) == 3 * len(STATUSES)
    assert found['zodbtasks_jobs'].type == 'gauge'


def test_task_names_are_escaped_and_read_back(jobs):
    text = metrics.render([('site1@jobs', jobs)], NOW, stats=STATS)
    assert '\\"task\\"\\\\\\nname' in text
    for openmetrics in (True, False):
        text = metrics.render([('site1@jobs', jobs)], NOW, openmetrics,
                              stats=STATS)
        found = families(text, openmetrics)
        tasks = {sample.labels['task']
                 for sample in found['zodbtasks_jobs'].samples}
        assert tasks == {'echo', 'fail', ODD}


def test_oldest_waiting_and_zero_when_nothing_waits(jobs, service):
    found = families(metrics.render([('site1@jobs', jobs)], NOW,
                                    stats=STATS))
    family = found['zodbtasks_oldest_waiting_seconds']
    assert family.unit == 'seconds'
    assert family.samples[0].value == pytest.approx(99.0)
    service.cancelAll()
    transaction.commit()
    found = families(metrics.render([('site1@jobs', jobs)], NOW,
                                    stats=STATS))
    assert found['zodbtasks_oldest_waiting_seconds'].samples[0].value == 0


def test_workers_heartbeat_age_and_running_jobs(jobs, service):
    Dispatch(service).claimJobs(NOW - 70, 1, 'w0')  # lost: 70 s > 60
    transaction.commit()
    found = families(metrics.render([('site1@jobs', jobs)], NOW,
                                    stats=STATS))
    ages = samples(found['zodbtasks_worker_heartbeat_age_seconds'])
    assert ages == {
        ('zodbtasks_worker_heartbeat_age_seconds',
         (('service', 'site1@jobs'), ('worker', 'w1'))): 30.0,
        ('zodbtasks_worker_heartbeat_age_seconds',
         (('service', 'site1@jobs'), ('worker', 'w0'))): 70.0}
    running = samples(found['zodbtasks_worker_running_jobs'])
    assert running[('zodbtasks_worker_running_jobs', (
        ('service', 'site1@jobs'), ('worker', 'w1')))] == 1
    assert found['zodbtasks_workers_alive'].samples[0].value == 1
    assert found['zodbtasks_workers_lost'].samples[0].value == 1
    assert found['zodbtasks_lease_timeout_seconds'].samples[0].value == 60


def test_counters_from_the_stats(jobs):
    found = families(metrics.render([('site1@jobs', jobs)], NOW,
                                    stats=STATS))
    own = (('service', 'site1@jobs'), ('task', 'echo'))
    for name, value in (('zodbtasks_jobs_completed', 7),
                        ('zodbtasks_jobs_failed', 2),
                        ('zodbtasks_jobs_cancelled', 1),
                        ('zodbtasks_job_retries', 3)):
        assert found[name].type == 'counter'
        assert samples(found[name]) == {(name + '_total', own): value}
    assert found['zodbtasks_conflict_retries'].samples[0].value == 5
    assert found['zodbtasks_lease_expiries'].samples[0].value == 1


def test_histograms_are_cumulative_with_count_and_sum(jobs):
    found = families(metrics.render([('site1@jobs', jobs)], NOW,
                                    stats=STATS))
    run = found['zodbtasks_job_run_seconds']
    assert run.type == 'histogram' and run.unit == 'seconds'
    got = {(sample.name, sample.labels.get('le')): sample.value
           for sample in run.samples}
    assert got == {
        ('zodbtasks_job_run_seconds_bucket', '0.5'): 4,
        ('zodbtasks_job_run_seconds_bucket', '5.0'): 7,
        ('zodbtasks_job_run_seconds_bucket', '+Inf'): 9,
        ('zodbtasks_job_run_seconds_count', None): 9,
        ('zodbtasks_job_run_seconds_sum', None): 12.5}
    latency = {(sample.name, sample.labels.get('le')): sample.value
               for sample in found['zodbtasks_job_latency_seconds'].samples}
    assert latency[('zodbtasks_job_latency_seconds_bucket', '+Inf')] == 9
    assert latency[('zodbtasks_job_latency_seconds_sum', None)] == 3.25


def test_the_prometheus_text_format(jobs):
    text = metrics.render([('site1@jobs', jobs)], NOW, openmetrics=False,
                          stats=STATS)
    assert '# EOF' not in text and '# UNIT' not in text
    assert '# TYPE zodbtasks_jobs_completed_total counter' in text
    found = families(text, openmetrics=False)
    assert found['zodbtasks_jobs_completed'].samples[0].value == 7
    assert found['zodbtasks_info'].samples[0].labels['version']


def test_openmetrics_framing(jobs):
    text = metrics.render([('site1@jobs', jobs)], NOW, stats=STATS)
    assert text.endswith('\n# EOF\n')
    assert '# TYPE zodbtasks info' in text
    found = families(text)
    assert found['zodbtasks'].type == 'info'
    assert found['zodbtasks_service_paused'].samples[0].value == 0


def test_several_services_share_each_family(jobs, root):
    other_site = testing.add_site(root, 'site2')
    other = testing.add_service(other_site, 'queue')
    other.add('echo', None, now=NOW - 5)
    other.pause('echo')
    transaction.commit()
    text = metrics.render([('site1@jobs', jobs), ('site2@queue', other)],
                          NOW, stats=STATS)
    found = families(text)  # a family written twice would not parse
    assert text.count('# TYPE zodbtasks_jobs gauge') == 1
    waited = samples(found['zodbtasks_oldest_waiting_seconds'])
    assert waited[('zodbtasks_oldest_waiting_seconds',
                   (('service', 'site2@queue'),))] == 5.0
    paused = samples(found['zodbtasks_task_paused'])
    assert paused == {('zodbtasks_task_paused', (
        ('service', 'site2@queue'), ('task', 'echo'))): 1}
    assert len(found['zodbtasks_conflict_retries'].samples) == 2


def test_the_figures_of_zodbtasks_stats(service, tasks, quiet):
    for number in range(3):
        service.add('echo', number, now=NOW)
    service.add('crash', None, now=NOW)
    transaction.commit()
    service.process(NOW + 1.5)
    transaction.commit()
    found = families(metrics.render([('site1@jobs', service)], NOW + 2))
    completed = samples(found['zodbtasks_jobs_completed'])
    assert completed[('zodbtasks_jobs_completed_total', (
        ('service', 'site1@jobs'), ('task', 'echo')))] == 3
    failed = samples(found['zodbtasks_jobs_failed'])
    assert failed[('zodbtasks_jobs_failed_total', (
        ('service', 'site1@jobs'), ('task', 'crash')))] == 1
    latency = {(s.labels['task'], s.name, s.labels.get('le')): s.value
               for s in found['zodbtasks_job_latency_seconds'].samples}
    assert latency[('echo', 'zodbtasks_job_latency_seconds_bucket',
                    '+Inf')] == 3
    assert latency[('echo', 'zodbtasks_job_latency_seconds_bucket',
                    '1.0')] == 0
    assert latency[('echo', 'zodbtasks_job_latency_seconds_bucket',
                    '2.5')] == 3
    assert latency[('echo', 'zodbtasks_job_latency_seconds_sum', None)] \
        == pytest.approx(4.5)
    assert found['zodbtasks_conflict_retries'].samples[0].value == 0


def test_a_scrape_loads_a_few_jobs_whatever_their_number(jobs, conn):
    for number in range(200):
        jobs.add('echo', number, now=NOW - 1)
    transaction.commit()
    conn.cacheMinimize()
    metrics.render([('site1@jobs', jobs)], NOW, stats=STATS)
    loaded = [obj for obj in conn._cache.cache_data.values()
              if obj._p_changed is False and type(obj).__name__ == 'Job']
    # the head of the queue (oldestWaiting) and the claim waiting for a
    # fold (a job of each worker's claims)
    assert len(loaded) <= 2, loaded


@pytest.mark.parametrize('accept, openmetrics', [
    ('application/openmetrics-text;version=1.0.0,text/plain;q=0.5', True),
    ('text/plain;version=0.0.4', False),
    ('', False),
    (None, False),
])
def test_content_negotiation(accept, openmetrics):
    chosen, content_type = metrics.content_type(accept)
    assert chosen is openmetrics
    assert content_type == (metrics.OPENMETRICS if openmetrics
                            else metrics.PROMETHEUS)


def test_label_of_a_service(service, root):
    assert metrics.label_of(service) == 'site1@jobs'
    own = testing.add_service(root, 'maintenance')
    assert metrics.label_of(own) == '@maintenance'


def test_format_value():
    assert metrics.format_value(3) == '3'
    assert metrics.format_value(True) == '1'
    assert metrics.format_value(0.25) == '0.25'
    assert metrics.format_value(float('inf')) == '+Inf'
    assert metrics.format_value(float('nan')) == 'NaN'
