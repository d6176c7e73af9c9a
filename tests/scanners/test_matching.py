import pytest

from b2release.scanners.matching import at_or_above, cvss3_base_score, match, severity_of
from tests.fixtures.scan import NEWTONSOFT_GHSA, osv_record


def test_newtonsoft_hit_below_fixed_version():
    m = match(NEWTONSOFT_GHSA, "Newtonsoft.Json", "12.0.3")
    assert m is not None
    assert m.record_id == "GHSA-5crp-9r3c-p9vr"
    assert m.severity == "high"
    assert m.score == 7.5
    assert m.fixed_in == ["13.0.1"]
    assert m.aliases == ["CVE-2024-21907"]


@pytest.mark.parametrize("version", ["13.0.1", "13.0.1.0", "13.0.3", "13.1"])
def test_no_hit_at_or_after_fixed_version(version):
    assert match(NEWTONSOFT_GHSA, "Newtonsoft.Json", version) is None


def test_package_name_is_case_insensitive_and_other_packages_do_not_match():
    assert match(NEWTONSOFT_GHSA, "newtonsoft.json", "9.0.1") is not None
    assert match(NEWTONSOFT_GHSA, "Newtonsoft.Json.Bson", "1.0.0") is None


def test_four_part_versions():
    rec = osv_record("X-1", "System.Net.Http", [{"introduced": "4.1.0"}, {"fixed": "4.3.4"}])
    assert match(rec, "System.Net.Http", "4.3.3.9") is not None
    assert match(rec, "System.Net.Http", "4.3.4.0") is None
    assert match(rec, "System.Net.Http", "4.0.0.0") is None


def test_prerelease_versions():
    rec = osv_record("X-2", "Lib", [{"introduced": "2.0.0-beta"}, {"fixed": "2.0.0"}])
    assert match(rec, "Lib", "2.0.0-alpha") is None      # before introduced
    assert match(rec, "Lib", "2.0.0-BETA") is not None    # labels compare case-insensitively
    assert match(rec, "Lib", "2.0.0-rc.1") is not None
    assert match(rec, "Lib", "2.0.0") is None
    # introduced "0" covers prereleases of anything
    rec0 = osv_record("X-3", "Lib", [{"introduced": "0"}, {"fixed": "1.0.0"}])
    assert match(rec0, "Lib", "0.0.1-alpha") is not None


def test_last_affected_is_inclusive():
    rec = osv_record("X-4", "Polly", [{"introduced": "7.0.0"}, {"last_affected": "7.2.3"}])
    assert match(rec, "Polly", "7.2.3") is not None
    assert match(rec, "Polly", "7.2.3.1") is None
    assert match(rec, "Polly", "7.2.4") is None
    assert match(rec, "Polly", "6.9.9") is None
    assert match(rec, "Polly", "7.2.3").fixed_in == []


def test_limit_bounds_the_range():
    rec = osv_record("X-5", "Lib", [{"introduced": "1.0.0"}, {"limit": "3.0.0"}])
    assert match(rec, "Lib", "2.5.0") is not None
    assert match(rec, "Lib", "3.0.0") is None


def test_several_introduced_fixed_pairs():
    rec = osv_record("X-6", "Lib", [{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.3"}])
    assert match(rec, "Lib", "1.4.9") is not None
    assert match(rec, "Lib", "1.7") is None
    assert match(rec, "Lib", "2.1") is not None
    assert match(rec, "Lib", "2.1").fixed_in == ["2.3.0"]


def test_withdrawn_record_is_ignored():
    rec = osv_record("X-7", "Serilog", [{"introduced": "0"}, {"fixed": "3.0.0"}], withdrawn=True)
    assert match(rec, "Serilog", "2.12.0") is None


def test_versions_list_is_honoured():
    rec = osv_record("X-8", "Lib", None, versions=["1.2.3", "1.2.5"])
    assert match(rec, "Lib", "1.2.3.0") is not None
    assert match(rec, "Lib", "1.2.4") is None


def test_severity_from_ghsa_label_then_cvss_then_unknown():
    assert severity_of(osv_record("A", "L", [], severity="MODERATE")) == ("medium", None)
    cvss_only = osv_record("B", "L", [], severity=None, cvss="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H")
    assert severity_of(cvss_only) == ("critical", 9.8)
    assert severity_of(osv_record("C", "L", [], severity=None)) == ("unknown", None)


@pytest.mark.parametrize("vector,score", [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
    ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4),
    ("CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
])
def test_cvss3_base_score(vector, score):
    assert cvss3_base_score(vector) == score


def test_fail_on_threshold():
    assert at_or_above("high", "high")
    assert not at_or_above("high", "critical")   # threshold just above the finding
    assert at_or_above("high", "medium")          # threshold just below the finding
    assert not at_or_above("critical", "none")
    assert at_or_above("unknown", "high")         # no data counts as high
