"""The two commands the top-level README promises exist as make targets
and .ci/run runs the tests through them."""
import os
import re

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def _read(name):
    with open(os.path.join(TOP, name)) as f:
        return f.read()


def test_readme_gives_the_two_commands():
    readme = _read('README.rst')
    assert 'make run' in readme and 'make test' in readme


def test_makefile_has_the_targets():
    targets = re.findall(r'^([\w-]+):', _read('Makefile'), re.MULTILINE)
    assert {'run', 'test', 'bench'} <= set(targets)


def test_ci_runs_make_test():
    assert re.search(r'^make test$', _read('.ci/run'), re.MULTILINE)


def test_readme_screenshot_exists():
    assert 'docs/jobs-tab.png' in _read('README.rst')
    assert os.path.exists(os.path.join(TOP, 'docs', 'jobs-tab.png'))
