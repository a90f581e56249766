"""The two commands the top-level README promises exist as make targets
and .ci/run runs the tests through them; every command line of the
READMEs and docs/*.rst parses (``doc_commands``)."""
import os
import re

import pytest

import doc_commands
from zodbtasks.app import ops
from zodbtasks.app import server
from zodbtasks.app import worker

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)


def _read(name):
    with open(os.path.join(TOP, name)) as f:
        return f.read()


def test_readme_gives_the_two_commands():
    readme = _read('README.rst')
    assert 'make run' in readme and 'make test' in readme


def test_makefile_has_the_targets():
    targets = re.findall(r'^([\w-]+):', _read('Makefile'), re.MULTILINE)
    assert {'run', 'run-zope', 'run-plone', 'test', 'bench'} <= set(targets)


def test_ci_runs_make_test():
    assert re.search(r'^make test$', _read('.ci/run'), re.MULTILINE)


@pytest.mark.parametrize('name', [
    'jobs-tab.png', 'plone-my-jobs.png', 'workers-tab.png', 'tasks-tab.png',
    'failures-tab.png', 'jobs-search.png', 'bulk-confirm.png',
    'overview-tab.png'])
def test_readme_screenshot_exists(name):
    assert 'docs/' + name in _read('README.rst')
    assert os.path.exists(os.path.join(TOP, 'docs', name))


# -- every command line of the READMEs and docs/*.rst parses ------------------

LINES = doc_commands.all_command_lines()
#: The ``zope.conf`` of the documented ZEO server, where runzeo finds it.
ZEO_CONF = os.path.join('docs', 'deployment.rst')


def test_the_documents_show_command_lines():
    documents = {document for document, _ in LINES}
    assert {'README.rst', os.path.join('docs', 'deployment.rst'),
            os.path.join('docs', 'migrating.rst')} <= documents
    names = {doc_commands.argv(line)[0] for _, line in LINES}
    assert names == set(doc_commands.COMMANDS)


@pytest.mark.parametrize('document, line', LINES,
                         ids=['%s: %s' % item for item in LINES])
def test_command_line_parses(document, line, tmp_path):
    name, arguments = doc_commands.argv(line)
    if name == 'make':
        targets = re.findall(r'^([\w-]+):', _read('Makefile'), re.MULTILINE)
        assert arguments[0] in targets
    elif name == 'runzeo':
        _parse_runzeo(arguments, tmp_path)
    else:
        module = {'zodbtasks': ops, 'zodbtasks-server': server,
                  'zodbtasks-worker': worker}[name]
        module.parse_args(arguments)


def _parse_runzeo(arguments, tmp_path):
    """runzeo's own option parser reads the documented zeo.conf (its paths
    moved to ``tmp_path``); tests/zeo/test_deployment_doc.py runs it."""
    from ZEO.runzeo import ZEOOptions
    assert arguments[0] == '-C' and arguments[1].endswith('zeo.conf')
    (tmp_path / 'log').mkdir()
    conf = tmp_path / 'zeo.conf'
    conf.write_text(doc_commands.block_with(ZEO_CONF, '<zeo>').replace(
        '/srv/zodbtasks/var', str(tmp_path)))
    options = ZEOOptions()
    options.realize(['-C', str(conf)])
    assert options.family is not None and options.address == (
        '10.0.0.10', 8100)


@pytest.mark.parametrize('argv', [
    ['--config', 'x.conf', 'workers'], ['workers', '--config', 'x.conf']])
def test_the_operator_command_takes_config_on_either_side(argv):
    assert ops.parse_args(argv).config == 'x.conf'
