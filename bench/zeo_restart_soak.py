"""Run the multi-process ZEO restart scenario again and again: three
workers over ZEO, kill -9 of one, the ZEO server stopped for 3 s and
restarted, then the indexes checked against the jobs
(``tests/zeo/test_scale.py::
test_indexes_match_the_jobs_after_a_kill_and_a_zeo_restart``).

Each run is a pytest process of its own; the script prints one line per
run and a last line ``N passed, N failed``, and exits 1 when a run failed.
A run takes about 30 s on the 2-core machine.

    .venv/bin/python bench/zeo_restart_soak.py --runs 20
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEST = ('tests/zeo/test_scale.py::'
        'test_indexes_match_the_jobs_after_a_kill_and_a_zeo_restart')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=20,
                        help='how many runs (default 20)')
    parser.add_argument('--test', default=TEST,
                        help='the pytest node id to run (default: %s)' % TEST)
    parser.add_argument('--log', default=None,
                        help='append the output of failed runs to this file')
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error('--runs must be 1 or more, not %d' % args.runs)
    return args


def run_once(test, log=None):
    """Run ``test`` once; return (passed, seconds)."""
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
         test], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    seconds = time.monotonic() - began
    if result.returncode and log:
        with open(log, 'a') as f:
            f.write(result.stdout)
    return result.returncode == 0, seconds


def main(argv=None):
    args = parse_args(argv)
    passed = failed = 0
    began = time.monotonic()
    for number in range(1, args.runs + 1):
        ok, seconds = run_once(args.test, args.log)
        passed, failed = passed + ok, failed + (not ok)
        print('run %d: %s in %.0fs' % (number, 'passed' if ok else 'FAILED',
                                       seconds), flush=True)
    print('wall time %.0fs' % (time.monotonic() - began))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
