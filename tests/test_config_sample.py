"""The shipped zope.conf sample is valid for zope.app.appsetup's schema."""
import io
import os

import ZConfig
import zope.app.appsetup
import zope.app.appsetup.product

from zodbtasks.startup import parse_autostart

HERE = os.path.dirname(__file__)
SAMPLE = os.path.join(HERE, os.pardir, 'etc', 'zope.conf.sample')


def _load(instance, sample=SAMPLE):
    os.makedirs(os.path.join(instance, 'log'))
    with open(sample) as f:
        text = f.read().replace('%define INSTANCE var',
                                '%define INSTANCE ' + instance)
    schema = ZConfig.loadSchema(os.path.join(
        os.path.dirname(zope.app.appsetup.__file__), 'schema', 'schema.xml'))
    config, _ = ZConfig.loadConfigFile(schema, io.StringIO(text))
    return config


def test_sample_defines_instance_folder_once():
    with open(SAMPLE) as f:
        assert f.read().count('%define INSTANCE var') == 1


def test_sample_has_a_filestorage_in_the_instance(tmp_path):
    config = _load(str(tmp_path))
    storage = config.databases[0].config.storage.config
    assert storage.path == os.path.join(str(tmp_path), 'Data.fs')


def test_sample_autostart_is_valid(tmp_path):
    config = _load(str(tmp_path))
    zope.app.appsetup.product.setProductConfigurations(config.product_config)
    section = zope.app.appsetup.product.getProductConfiguration('zodbtasks')
    assert parse_autostart(section['autostart']) == ['demo@*']


def test_sample_max_input_size_is_valid(tmp_path):
    from zodbtasks.startup import max_input_size
    config = _load(str(tmp_path))
    zope.app.appsetup.product.setProductConfigurations(config.product_config)
    section = zope.app.appsetup.product.getProductConfiguration('zodbtasks')
    assert max_input_size(section) == 1048576


def test_sample_jobs_database_variant_is_valid(tmp_path):
    """Uncommented, the <zodb jobs> section and service-database give the
    task services a database of their own (zodbtasks.databases)."""
    from zodbtasks.databases import configured_database
    with open(SAMPLE) as f:
        lines = f.read().split('\n')
    start = lines.index('# <zodb jobs>')
    end = lines.index('# </zodb>', start)
    for number in range(start, end + 1):
        lines[number] = lines[number][2:]
    [key] = [number for number, line in enumerate(lines)
             if line == '  # service-database jobs']
    lines[key] = '  service-database jobs'
    sample = tmp_path / 'zope.conf.sample'
    sample.write_text('\n'.join(lines))
    config = _load(str(tmp_path / 'instance'), str(sample))
    assert [factory.name for factory in config.databases] == [None, 'jobs']
    assert config.databases[1].config.storage.config.path == str(
        tmp_path / 'instance' / 'Jobs.fs')
    zope.app.appsetup.product.setProductConfigurations(config.product_config)
    assert configured_database() == 'jobs'
