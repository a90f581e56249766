"""Instance folders made by zodbtasks-server (zodbtasks.app.instance)."""
import importlib.util
import os
import re
import stat
import xml.etree.ElementTree as ElementTree

import pytest
import ZConfig
import zope.app.appsetup
from zope.password.password import BCRYPTPasswordManager

from zodbtasks.app import instance
from zodbtasks.app.instance import InstanceError
from zodbtasks.app.instance import PASSWORD_VARIABLE

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, os.pardir, 'etc', 'zope.conf.sample')
ZOPE = '{http://namespaces.zope.org/zope}'


@pytest.fixture
def config(tmp_path):
    return str(tmp_path / 'var' / 'zope.conf')


def _create(config, environ=None):
    return instance.create_instance(config, SAMPLE, environ or {})


def _read(path):
    with open(path) as f:
        return f.read()


def _principal(folder):
    """The <principal> and <grant> elements of principals.zcml."""
    tree = ElementTree.parse(os.path.join(folder, 'principals.zcml'))
    return (tree.getroot().find(ZOPE + 'principal').attrib,
            tree.getroot().find(ZOPE + 'grant').attrib)


def _checks(folder, password):
    attributes, _ = _principal(folder)
    # zope.principalregistry hands the hash over as bytes, as here.
    return BCRYPTPasswordManager().checkPassword(
        attributes['password'].encode('ascii'), password)


def test_create_instance_makes_the_folder_and_its_files(config):
    _create(config)
    folder = os.path.dirname(config)
    assert sorted(os.listdir(folder)) == [
        'log', 'principals.zcml', 'site.zcml', 'zope.conf']
    assert os.listdir(os.path.join(folder, 'log')) == []


def test_zope_conf_defines_instance_as_the_absolute_folder(tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    instance.create_instance(os.path.join('var', 'zope.conf'), SAMPLE, {})
    text = _read(tmp_path / 'var' / 'zope.conf')
    assert text.count('%define INSTANCE ') == 1
    assert '%%define INSTANCE %s\n' % (tmp_path / 'var') in text


def test_zope_conf_parses_with_the_appsetup_schema(config):
    _create(config)
    folder = os.path.dirname(config)
    schema = ZConfig.loadSchema(os.path.join(
        os.path.dirname(zope.app.appsetup.__file__), 'schema', 'schema.xml'))
    options, _ = ZConfig.loadConfig(schema, config)
    assert options.site_definition == os.path.join(folder, 'site.zcml')
    storage = options.databases[0].config.storage.config
    assert storage.path == os.path.join(folder, 'Data.fs')


def test_site_zcml_includes_the_application_then_the_principals(config):
    _create(config)
    root = ElementTree.parse(
        os.path.join(os.path.dirname(config), 'site.zcml')).getroot()
    assert [element.attrib for element in root] == [
        {'package': 'zodbtasks.app', 'file': 'site.zcml'},
        {'file': 'principals.zcml'},
    ]


def test_create_instance_keeps_an_existing_site_zcml(config):
    folder = os.path.dirname(config)
    os.makedirs(folder)
    with open(os.path.join(folder, 'site.zcml'), 'w') as f:
        f.write('<configure>mine</configure>')
    _create(config)
    assert _read(os.path.join(folder, 'site.zcml')) == \
        '<configure>mine</configure>'


def test_create_instance_returns_the_generated_password(config):
    password = _create(config)
    assert len(password) >= 20
    assert _checks(os.path.dirname(config), password)


def test_generated_passwords_differ(tmp_path):
    first = _create(str(tmp_path / 'a' / 'zope.conf'))
    second = _create(str(tmp_path / 'b' / 'zope.conf'))
    assert first != second


def test_principals_zcml_holds_a_hash_not_the_password(config):
    password = _create(config)
    folder = os.path.dirname(config)
    assert password not in _read(os.path.join(folder, 'principals.zcml'))
    attributes, grant = _principal(folder)
    assert attributes['id'] == 'zodbtasks.admin'
    assert attributes['login'] == 'admin'
    assert grant == {'role': 'zope.Manager', 'principal': 'zodbtasks.admin'}


def test_principals_zcml_holds_a_bcrypt_hash(config):
    _create(config)
    attributes, _ = _principal(os.path.dirname(config))
    assert attributes['password_manager'] == 'BCRYPT'
    assert re.fullmatch(r'\{BCRYPT\}\$2b\$\d\d\$[./A-Za-z0-9]{53}',
                        attributes['password'])


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_instance_files_are_readable_by_the_owner_only(config):
    _create(config)
    folder = os.path.dirname(config)
    for name in ('principals.zcml', 'site.zcml', 'zope.conf'):
        assert _mode(os.path.join(folder, name)) == 0o600, name


def test_instance_folders_are_the_owners_only_whatever_the_umask(config):
    old = os.umask(0o022)
    try:
        _create(config)
    finally:
        os.umask(old)
    folder = os.path.dirname(config)
    assert _mode(folder) == 0o700
    assert _mode(os.path.join(folder, 'log')) == 0o700


def test_an_existing_instance_folder_keeps_its_mode(tmp_path):
    os.chmod(tmp_path, 0o755)
    instance.create_instance(str(tmp_path / 'zope.conf'), SAMPLE, {})
    assert _mode(tmp_path) == 0o755
    assert _mode(tmp_path / 'log') == 0o700


def test_environment_chooses_the_password(config):
    password = _create(config, {PASSWORD_VARIABLE: 'chosen secret'})
    assert password is None
    assert _checks(os.path.dirname(config), 'chosen secret')


def test_ensure_manager_keeps_existing_principals(config):
    _create(config)
    folder = os.path.dirname(config)
    before = _read(os.path.join(folder, 'principals.zcml'))
    assert instance.ensure_manager(folder, {}) is None
    assert _read(os.path.join(folder, 'principals.zcml')) == before


def test_ensure_manager_rewrites_principals_from_the_environment(config):
    old = _create(config)
    folder = os.path.dirname(config)
    assert instance.ensure_manager(folder, {PASSWORD_VARIABLE: 'new'}) is None
    assert _checks(folder, 'new')
    assert not _checks(folder, old)


def test_ensure_manager_generates_a_password_for_missing_principals(config):
    old = _create(config)
    folder = os.path.dirname(config)
    os.remove(os.path.join(folder, 'principals.zcml'))
    new = instance.ensure_manager(folder, {})
    assert new not in (None, old)
    assert _checks(folder, new)


def test_empty_password_variable_is_refused(config):
    with pytest.raises(InstanceError, match='ZODBTASKS_ADMIN_PASSWORD is '
                       'set but empty'):
        _create(config, {PASSWORD_VARIABLE: ''})


def test_existing_config_is_left_alone(config):
    _create(config)
    before = _read(config)
    with pytest.raises(InstanceError, match='exists already'):
        _create(config)
    assert _read(config) == before


def test_missing_sample_is_reported(tmp_path, config):
    with pytest.raises(InstanceError, match='cannot read the zope.conf '
                       'sample .*nosuch.*--sample'):
        instance.create_instance(config, str(tmp_path / 'nosuch'), {})
    assert not os.path.exists(os.path.dirname(config))


def test_sample_without_instance_definition_is_refused(tmp_path, config):
    sample = tmp_path / 'zope.conf.sample'
    sample.write_text('site-definition site.zcml\n')
    with pytest.raises(InstanceError, match='exactly one "%define INSTANCE'):
        instance.create_instance(config, str(sample), {})


def test_password_variable_longer_than_bcrypt_takes_is_refused(config):
    with pytest.raises(InstanceError, match='ZODBTASKS_ADMIN_PASSWORD is '
                       'longer than 72 bytes'):
        _create(config, {PASSWORD_VARIABLE: 'é' * 37})
    assert not os.path.exists(os.path.join(os.path.dirname(config),
                                           'principals.zcml'))


def test_hash_password_uses_bcrypt():
    manager, hashed = instance.hash_password('secret')
    assert manager == 'BCRYPT'
    assert isinstance(hashed, str) and 'secret' not in hashed
    assert BCRYPTPasswordManager().checkPassword(hashed.encode(), 'secret')


def test_hash_password_without_bcrypt_says_what_to_install(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name: None
                        if name == 'bcrypt' else find_spec(name))
    with pytest.raises(InstanceError, match=r"bcrypt package is not "
                       r"installed.*pip install 'zodbtasks\[app\]'"):
        instance.hash_password('secret')


def test_hash_password_still_makes_ssha_hashes_for_older_instances():
    manager, hashed = instance.hash_password('secret', 'SSHA')
    assert (manager, hashed[:6]) == ('SSHA', '{SSHA}')


def test_hash_password_refuses_an_unknown_manager():
    with pytest.raises(ValueError, match="no password manager 'Plain Text'"):
        instance.hash_password('secret', 'Plain Text')
