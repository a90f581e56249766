"""Inputs and results have a size limit, pickled: ``maxInputSize`` of the
service, or the product-config key ``max-input-size`` (default 1 MiB)."""
import pytest
import transaction
import zope.app.appsetup.product

from zodbtasks import limits
from zodbtasks import startup
from zodbtasks import testing
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import InputError


def _configure(**keys):
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {key.replace('_', '-'): value
                      for key, value in keys.items()})


def test_the_default_limit_is_one_mebibyte(service):
    assert service.maxInputSize == limits.DEFAULT_MAX_INPUT_SIZE == 1048576


def test_a_bigger_input_is_refused_and_no_job_is_created(service, tasks):
    service.maxInputSize = 1000
    with pytest.raises(InputError) as info:
        service.add('echo', 'x' * 2000)
    message = str(info.value)
    assert "input of a 'echo' job" in message
    assert 'limit 1000' in message and 'bytes' in message
    assert len(service.jobs) == 0
    assert sum(service.countByStatus().values()) == 0


def test_cron_jobs_and_updates_are_limited_too(service, tasks):
    service.maxInputSize = 1000
    with pytest.raises(InputError):
        service.addCronJob('echo', 'x' * 2000, minute=(5,))
    jobid = service.addCronJob('echo', 'small', minute=(5,))
    with pytest.raises(InputError):
        service.updateCronJob(jobid, 'echo', 'x' * 2000, minute=(6,))
    assert service.jobs[jobid].input == 'small'
    assert service.jobs[jobid].minute == (5,)


def test_an_input_at_the_limit_is_accepted(service, tasks):
    value = 'x' * 500
    service.maxInputSize = limits.pickled_size(value)
    jobid = service.add('echo', value)
    assert service.jobs[jobid].input == value


def test_the_product_config_sets_the_limit(service, tasks):
    _configure(max_input_size='2000')
    assert service.maxInputSize == 2000
    with pytest.raises(InputError):
        service.add('echo', 'x' * 3000)
    service.maxInputSize = 5000  # the service's own setting wins
    service.add('echo', 'x' * 3000)
    del service.maxInputSize
    assert service.maxInputSize == 2000


@pytest.mark.parametrize('value', ['0', '-5', 'lots', '1.5'])
def test_a_bad_product_config_value_is_named(value):
    with pytest.raises(ValueError) as info:
        startup.max_input_size({'max-input-size': value})
    assert 'max-input-size %r' % value in str(info.value)


@pytest.mark.parametrize('value', [0, -1, 1.5, True, '100'])
def test_a_bad_service_setting_is_refused(service, value):
    with pytest.raises(ValueError):
        service.maxInputSize = value
    assert service.maxInputSize == limits.DEFAULT_MAX_INPUT_SIZE


def test_a_bigger_result_ends_the_job_in_error_and_aborts_its_effects(
        service, site, quiet):
    def big(input):
        site['touched'] = True  # a ZODB effect of the task
        return 'y' * 5000
    testing.register_task('big', big)
    service.maxInputSize = 1000
    jobid = service.add('big')
    transaction.commit()
    service.process()
    assert service.getStatus(jobid) == ERROR
    error = service.getError(jobid)
    assert error.startswith('result too large: ')
    assert error.endswith('bytes, limit 1000')
    assert service.getResult(jobid) is None
    assert 'touched' not in site


def test_a_huge_result_is_refused_in_bounded_memory(service, site, quiet):
    import tracemalloc
    huge = ['%08d' % number for number in range(3 * 10 ** 6)]  # ~50 MB
    testing.register_task('huge', lambda input: huge)
    jobid = service.add('huge')
    transaction.commit()
    tracemalloc.start()
    try:
        service.process()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert service.getError(jobid).startswith('result too large: ')
    assert peak < 20 * 2 ** 20, peak
