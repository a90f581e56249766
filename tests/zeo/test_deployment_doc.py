"""The configurations that docs/deployment.rst shows work as shown."""
import os
import re
import subprocess

import pytest
import transaction
import ZEO

from zodbtasks.app import worker

from .conftest import DEADLINE
from .conftest import REPO_ROOT
from .conftest import RUNZEO
from .conftest import free_port
from .conftest import make_zeo_instance
from .conftest import stop_process
from .conftest import wait_for

DOC = os.path.join(REPO_ROOT, 'docs', 'deployment.rst')


def text_blocks():
    """The ``.. code-block:: text`` blocks of the document, dedented."""
    with open(DOC) as f:
        doc = f.read()
    blocks = re.findall(r'^\.\. code-block:: text\n\n((?:    .*\n|\n)+)',
                        doc, re.MULTILINE)
    return [re.sub(r'^    ', '', block, flags=re.MULTILINE)
            for block in blocks]


def block_with(marker):
    [block] = [block for block in text_blocks() if marker in block]
    return block


@pytest.mark.slow
def test_the_zeo_conf_runs_a_zeo_server(tmp_path):
    port = free_port()
    (tmp_path / 'log').mkdir()
    conf = block_with('<zeo>').replace(
        '10.0.0.10:8100', '127.0.0.1:%d' % port).replace(
        '/srv/zodbtasks/var', str(tmp_path))
    (tmp_path / 'zeo.conf').write_text(conf)
    process = subprocess.Popen(RUNZEO + ['-C', str(tmp_path / 'zeo.conf')],
                               cwd=str(tmp_path))
    try:
        db = wait_for(lambda: _connect(port, process), DEADLINE,
                      'the ZEO server did not serve')
        try:
            tm = transaction.TransactionManager()
            connection = db.open(transaction_manager=tm)
            with tm:
                connection.root()['x'] = 1
            connection.close()
        finally:
            db.close()
    finally:
        assert stop_process(process) == 0
    assert (tmp_path / 'Data.fs').exists()
    assert 'listening on' in (tmp_path / 'log' / 'zeo.log').read_text()


def _connect(port, process):
    assert process.poll() is None, 'runzeo ended'
    try:
        return ZEO.DB(('127.0.0.1', port), wait_timeout=1)
    except Exception:
        return None


def test_the_clients_zope_conf_sections(tmp_path):
    config = make_zeo_instance(str(tmp_path), ('127.0.0.1', 8100))
    block = block_with('<zeoclient>')
    with open(config) as f:
        text = f.read()
    text = re.sub(r'^<zodb>\n.*?^</zodb>\n', '', text, count=1,
                  flags=re.MULTILINE | re.DOTALL)
    text = re.sub(r'^<product-config zodbtasks>\n.*?^</product-config>\n',
                  block, text, count=1, flags=re.MULTILINE | re.DOTALL)
    with open(config, 'w') as f:
        f.write(text)
    options = worker.read_config(config)
    assert worker.product_config(options) == {
        'autostart': 'demo@*', 'processors': 'off', 'threads': '2'}
    [database] = options.databases
    storage = database.config.storage.config
    assert [str(server.address) for server in storage.server] == [
        "('10.0.0.10', 8100)"]
    assert (storage.storage, storage.cache_size) == ('1', 100 * 1024 ** 2)
    assert worker.worker_settings(worker.product_config(options)) == (
        ['demo@*'], 2)
