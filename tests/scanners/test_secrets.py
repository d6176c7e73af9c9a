from b2release.redact import redact
from b2release.scanners import secrets

PEM_BODY = (
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dV"
    "MvDuictGeurT8jNbvJZHtCSuYEvuNMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ"
)
PEM = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY[:64]}\n{PEM_BODY[64:128]}\n-----END PRIVATE KEY-----\n"
SAS_SIG = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1ub3A%3D"
SAS_URL = f"https://acme.blob.core.windows.net/tenant-acme?sv=2022-11-02&se=2030-01-01&sp=r&sr=c&sig={SAS_SIG}"
ACCOUNT_KEY = "q" * 86 + "=="


def kinds(findings):
    return sorted((f.name, f.line) for f in findings)


def test_text_detectors_with_lines():
    text = (
        "line one\n"
        f"{PEM}"
        f'<add key="Blob" value="{SAS_URL}" />\n'
        f"DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net\n"
        "CLOUDFLARE_API_TOKEN=abcdefghijklmnopqrstuvwxyz0123456789ABCD\n"
    )
    found = secrets.scan_text(text, "app.txt", config_like=False)
    assert kinds(found) == [("azure-storage-key", 7), ("cloudflare-token", 8), ("private-key", 2), ("sas-token", 6)]
    for f in found:
        blob = repr(f.to_dict())
        for secret in (PEM_BODY[:64], SAS_SIG, ACCOUNT_KEY, "abcdefghijklmnopqrstuvwxyz0123456789ABCD"):
            assert secret not in blob
    # found values are registered for redaction: a stray log line cannot print them
    assert SAS_SIG not in redact(f"oops {SAS_SIG}")
    assert ACCOUNT_KEY not in redact(f"oops {ACCOUNT_KEY}")


def test_passwords_only_in_config_files_and_placeholders_skipped():
    text = (
        '<add key="Erp.Password" value="S3cr3t-Pa55!" />\n'
        '<add key="Other.Password" value="${ERP_PASSWORD}" />\n'
        '<add name="Db" connectionString="Server=db;User Id=sa;Password=hunter2-long;" />\n'
        '{"ClientSecret": "abc123xyz", "Password": ""}\n'
    )
    found = secrets.scan_text(text, "app.config", config_like=True)
    assert kinds(found) == [("config-password", 1), ("config-password", 3), ("config-password", 4)]
    assert secrets.scan_text(text, "Program.cs", config_like=False) == []


def test_azurite_development_key_and_sas_lookalikes_are_not_secrets():
    text = (f"AccountName=devstoreaccount1;AccountKey={secrets.AZURITE_KEY};\n"
            "https://example.invalid/page?sig=notreallyasignaturebutlong\n")  # sig= without SAS fields
    assert secrets.scan_text(text, "x.txt", config_like=False) == []


def test_binary_file_utf16_strings(tmp_path):
    dll = tmp_path / "Lib.dll"
    dll.write_bytes(b"MZ\x90\x00" + b"\x00" * 60 + f"conn AccountKey={ACCOUNT_KEY};".encode("utf-16-le") + b"\x00\x00")
    found = secrets.scan_files([(dll, "Lib.dll")])
    assert [(f.name, f.path, f.line) for f in found] == [("azure-storage-key", "Lib.dll", None)]
    assert ACCOUNT_KEY not in repr(found)


def test_hint_is_a_short_prefix_at_most():
    assert secrets.hint("x" * 40) == "xxxx...(redacted)"
    assert secrets.hint("short") == "(redacted)"


def test_sas_in_xml_escaped_config():
    text = ('<add key="Blob" value="https://a.blob.core.windows.net/c?sr=c&amp;sv=2022-11-02&amp;sp=r'
            '&amp;sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789%2B%3D" />\n')
    found = secrets.scan_text(text, "app.config", config_like=True)
    assert [(f.name, f.line) for f in found] == [("sas-token", 1)]


def test_source_config_files_are_config_files_only(tmp_path):
    from b2release.scanners.inventory import walk

    for rel in ("App.config", "src/appsettings.Production.json", "keys/dev.key", "obj/x.config", "Program.cs"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    found = sorted(p.relative_to(tmp_path).as_posix() for p in secrets.source_config_files(tmp_path, walk))
    assert found == ["App.config", "src/appsettings.Production.json"]
