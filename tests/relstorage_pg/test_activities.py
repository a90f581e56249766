"""Activities across worker processes on a history-free RelStorage:
the chains and the fan-in of the ZEO test (``zeo.chains``) survive a
kill -9 of one of 3 workers of 2 threads."""
import pytest

from zeo.chains import check_chains_and_fan_in


@pytest.mark.slow
def test_chains_and_a_fan_in_survive_a_killed_worker(workers, rs_service):
    check_chains_and_fan_in(workers, rs_service)
