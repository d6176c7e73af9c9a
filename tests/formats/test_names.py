import pytest

from b2release.errors import UsageError
from b2release.formats.names import entry_path_problem, validate_product_name, validate_version


@pytest.mark.parametrize("version", ["1.0.0", "2.10.3-rc.1", "1.0.0+build.7", "1.0.0-alpha.1+sha.abc"])
def test_valid_versions(version):
    assert validate_version(version) == version


@pytest.mark.parametrize("version", ["1.0", "v1.0.0", "1.0.0.0", "one", "01.0.0", ""])
def test_invalid_versions(version):
    with pytest.raises(UsageError, match="invalid version"):
        validate_version(version)


@pytest.mark.parametrize("name", ["Enventa", "-x", "a/b", "a..b", "x" * 70, ""])
def test_invalid_product_names(name):
    with pytest.raises(UsageError, match="invalid product name"):
        validate_product_name(name)


@pytest.mark.parametrize(
    "name,problem",
    [
        ("/etc/passwd", "absolute"),
        ("../x", ".."),
        ("a/../b", ".."),
        ("a\\b", "backslash"),
        ("C:/x", "drive letter"),
        ("a//b", "empty"),
        ("con.txt", "reserved Windows device"),
        ("LPT1", "reserved Windows device"),
        ("ab:c", "Windows does not allow"),
        ("dir./x", "ending in a space or dot"),
        ("x\x01", "control character"),
    ],
)
def test_unsafe_entry_names(name, problem):
    assert problem in (entry_path_problem(name) or "")


@pytest.mark.parametrize("name", ["Enventa.Connector.dll", "tools/x64/app.exe.config", "d\u00e9j\u00e0.txt"])
def test_safe_entry_names(name):
    assert entry_path_problem(name) is None


def test_windows_name_key_follows_windows_not_python_case_rules():
    from b2release.formats.names import windows_name_key

    # Windows keeps straße and strasse apart (ß has no one-character uppercase).
    assert windows_name_key("straße.txt") != windows_name_key("strasse.txt")
    assert windows_name_key("Readme.TXT") == windows_name_key("readme.txt")
    # Composed and decomposed é are one name once a package holds NFC names.
    assert windows_name_key("caf\u00e9.dll") == windows_name_key("cafe\u0301.dll")


def test_validators_match_the_whole_value():
    from b2release.formats.names import validate_container_name, validate_product_name, validate_version
    from b2release.formats.pointer import validate_channel
    from b2release.stores.tenants import validate_tenant_id

    for check, good in ((validate_tenant_id, "acme"), (validate_container_name, "tenant-acme"),
                        (validate_product_name, "app"), (validate_channel, "stable"), (validate_version, "1.0.0")):
        assert check(good) == good
        with pytest.raises(UsageError):
            check(good + "\n")  # `$` alone would let a trailing newline through
