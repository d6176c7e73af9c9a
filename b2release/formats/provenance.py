"""Build provenance: an in-toto Statement v1 with a SLSA Provenance v1 predicate, in a DSSE envelope.

File: `<product>-<version>.intoto.jsonl` next to the zip, one line: a DSSE envelope
(b2release.formats.dsse) with payloadType `application/vnd.in-toto+json`, signed with the
release key. The payload is canonical JSON (sorted keys, no spaces, UTF-8, one trailing LF)
of this statement:

    {
      "_type": "https://in-toto.io/Statement/v1",
      "subject": [{"name": "<product>-<version>.zip", "digest": {"sha256": "<hex>"}}],
      "predicateType": "https://slsa.dev/provenance/v1",
      "predicate": {
        "buildDefinition": {
          "buildType": "urn:b2release:buildtype:release:v1",
          "externalParameters": {
            "product": "<product>", "version": "<version>",
            "stages": [{"name": "build", "options": {...}}, {"name": "scan", ...}, ...]
          },
          "internalParameters": {
            "b2release": {"version": "<b2release version>"},
            "toolchain": {"name": "<msbuild|dotnet|xbuild|prebuilt>", "version": "<its version>"},
            "SOURCE_DATE_EPOCH": <int or null>,
            "ci": {"kind": "github-actions|azure-pipelines|local", "runUrl": "<url>", ...}
          },
          "resolvedDependencies": [{
            "uri": "git+https://host/org/repo", "digest": {"gitCommit": "<commit>"},
            "annotations": {"dirty": false, "ref": "refs/heads/main"}
          }]
        },
        "runDetails": {
          "builder": {"id": "<builder id>", "version": {"b2release": "<version>"}},
          "metadata": {"invocationId": "<correlation id>", "startedOn": "<RFC 3339 UTC>",
                       "finishedOn": "<RFC 3339 UTC>"},
          "byproducts": [
            {"name": "scan-report.json", "digest": {"sha256": "<hex>"}, "mediaType": "application/json",
             "annotations": {"b2release.kind": "scan-report"}},
            {"name": "sbom.cdx.json", "digest": {"sha256": "<hex>"}, "mediaType": "application/vnd.cyclonedx+json",
             "annotations": {"b2release.kind": "sbom"}}
          ]
        }
      }
    }

Why these places: externalParameters are what the person or pipeline that started the
release chose (version, stages and their options); internalParameters are what b2release
and the machine decided (toolchain, SOURCE_DATE_EPOCH, CI run); the scan report and the SBOM
are produced during the run but are not the released artifact, which is what SLSA calls
byproducts. A dirty working tree is an annotation on the source dependency because the
commit digest alone would then not describe the input. Stage options are redacted
(b2release.redact) before they are written: a signed statement must never carry a secret.

buildType is a URN because b2release has no published home page to resolve a URL to; its
meaning is docs/formats.md ("Build provenance"). Builder ids: formats/origin.py.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Mapping

from b2release import __version__
from b2release.errors import InputError, VerificationError
from b2release.formats import canonical, dsse
from b2release.formats.origin import Builder, detect_builder, source_uri
from b2release.formats.signature import PublicKey, SigningKey
from b2release.redact import redact_obj

__all__ = ["Builder", "detect_builder", "source_uri"]  # re-exported: provenance's inputs name them

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "urn:b2release:buildtype:release:v1"
ENVELOPE_SUFFIX = ".intoto.jsonl"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$")


def envelope_name(product: str, version: str) -> str:
    return f"{product}-{version}{ENVELOPE_SUFFIX}"


def rfc3339(ts: float) -> str:
    """Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


# --- inputs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArtifactRef:
    """A file produced or consumed by the run, by name and sha256."""

    name: str
    sha256: str
    media_type: str | None = None


@dataclass(frozen=True)
class SourceInfo:
    uri: str | None  # e.g. git+https://github.com/b2connect/connector (see source_uri); None: no remote
    commit: str  # full hex commit id
    dirty: bool | None  # None: not known (the build did not record it)
    ref: str | None = None  # e.g. refs/heads/main, when known


@dataclass(frozen=True)
class StageRun:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProvenanceInputs:
    zip_name: str
    zip_sha256: str
    product: str
    version: str
    stages: tuple[StageRun, ...]
    builder: Builder
    invocation_id: str  # the run's correlation id
    started_on: str  # RFC 3339 UTC
    finished_on: str
    source: SourceInfo | None = None
    toolchain: str | None = None
    toolchain_version: str | None = None
    source_date_epoch: int | None = None
    scan_report: ArtifactRef | None = None
    sbom: ArtifactRef | None = None
    b2release_version: str = __version__
    # Why the source is missing or incomplete (no git checkout, no remote): stated in the
    # statement (internalParameters.sourceNote) instead of failing the release.
    source_note: str | None = None


@dataclass(frozen=True)
class ProvenanceSummary:
    """What `check_provenance` established."""

    subject_name: str
    subject_sha256: str
    builder_id: str
    build_type: str
    invocation_id: str | None
    started_on: str | None
    finished_on: str | None
    product: str | None
    version: str | None
    source_uri: str | None
    source_commit: str | None
    source_dirty: bool | None
    key_id: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --- building the statement -------------------------------------------------------------------
def _json_safe(value: Any) -> Any:
    """Stage options as plain JSON: paths as strings, tuples as lists, keys as strings."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_json_safe(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True)) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _artifact(ref: ArtifactRef, kind: str) -> dict[str, Any]:
    if not _SHA256.match(ref.sha256):
        raise InputError(f"{kind} digest for {ref.name!r} is not a sha256 hex digest")
    doc: dict[str, Any] = {"name": ref.name, "digest": {"sha256": ref.sha256}, "annotations": {"b2release.kind": kind}}
    if ref.media_type:
        doc["mediaType"] = ref.media_type
    return doc


def _check_inputs(inputs: ProvenanceInputs) -> None:
    if not _SHA256.match(inputs.zip_sha256):
        raise InputError(f"zip digest {inputs.zip_sha256!r} is not a lowercase sha256 hex digest")
    if not inputs.zip_name or "/" in inputs.zip_name or "\\" in inputs.zip_name:
        raise InputError(f"subject name {inputs.zip_name!r} must be a plain file name")
    for label, value in (("startedOn", inputs.started_on), ("finishedOn", inputs.finished_on)):
        if not _RFC3339.fullmatch(value or ""):
            raise InputError(f"provenance {label} {value!r} is not an RFC 3339 UTC time (YYYY-MM-DDTHH:MM:SSZ)")
    if inputs.source is not None and not _COMMIT.match(inputs.source.commit):
        raise InputError(f"source commit {inputs.source.commit!r} is not a full hex git commit id")
    if not inputs.builder.id:
        raise InputError("provenance needs a builder id")


def statement(inputs: ProvenanceInputs) -> dict[str, Any]:
    """The in-toto Statement v1 (SLSA Provenance v1 predicate) for one release zip."""
    _check_inputs(inputs)
    external = {
        "product": inputs.product,
        "version": inputs.version,
        "stages": [{"name": s.name, "options": redact_obj(_json_safe(dict(s.options)))} for s in inputs.stages],
    }
    ci: dict[str, Any] = {"kind": inputs.builder.kind, **dict(inputs.builder.details)}
    if inputs.builder.run_url:
        ci["runUrl"] = inputs.builder.run_url
    internal = {
        "b2release": {"version": inputs.b2release_version},
        "toolchain": {"name": inputs.toolchain, "version": inputs.toolchain_version},
        "SOURCE_DATE_EPOCH": inputs.source_date_epoch,
        "ci": redact_obj(ci),
    }
    if inputs.source_note:
        internal["sourceNote"] = inputs.source_note
    build_definition: dict[str, Any] = {
        "buildType": BUILD_TYPE,
        "externalParameters": external,
        "internalParameters": internal,
        "resolvedDependencies": [],
    }
    if inputs.source is not None:
        annotations: dict[str, Any] = {}
        if inputs.source.dirty is not None:
            annotations["dirty"] = bool(inputs.source.dirty)
        if inputs.source.ref:
            annotations["ref"] = inputs.source.ref
        # A commit without a remote is still worth stating: SLSA's ResourceDescriptor needs
        # a uri or a digest, not both.
        dependency: dict[str, Any] = {"digest": {"gitCommit": inputs.source.commit}, "annotations": annotations}
        if inputs.source.uri:
            dependency["uri"] = inputs.source.uri
        build_definition["resolvedDependencies"].append(dependency)
    byproducts = []
    if inputs.scan_report is not None:
        byproducts.append(_artifact(inputs.scan_report, "scan-report"))
    if inputs.sbom is not None:
        byproducts.append(_artifact(inputs.sbom, "sbom"))
    run_details: dict[str, Any] = {
        "builder": {"id": inputs.builder.id, "version": {"b2release": inputs.b2release_version}},
        "metadata": {"invocationId": inputs.invocation_id, "startedOn": inputs.started_on,
                     "finishedOn": inputs.finished_on},
    }
    if byproducts:
        run_details["byproducts"] = byproducts
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": inputs.zip_name, "digest": {"sha256": inputs.zip_sha256}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"buildDefinition": build_definition, "runDetails": run_details},
    }


def statement_bytes(inputs: ProvenanceInputs) -> bytes:
    """Canonical JSON of the statement: the same inputs always give the same bytes."""
    return canonical.dumps(statement(inputs))


def sign_provenance(inputs: ProvenanceInputs, key: SigningKey) -> bytes:
    """The `.intoto.jsonl` file content: one DSSE envelope line signed by the release key."""
    return dsse.sign(statement_bytes(inputs), key).to_line()


# --- checking ------------------------------------------------------------------------------
def _get(doc: Any, path: str, what: str, kind: type | tuple[type, ...] = object, required: bool = True) -> Any:
    value = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            if required:
                raise VerificationError(f"{what}: statement has no {path}")
            return None
        value = value[part]
    if not isinstance(value, kind):
        raise VerificationError(f"{what}: statement field {path} has the wrong type")
    return value


def check_provenance(envelope_bytes: bytes, zip_name: str, zip_sha256: str, public_key: PublicKey,
                     expect_source_uri: str | None = None, expect_builder_id: str | None = None,
                     *, what: str = "provenance") -> ProvenanceSummary:
    """Verify a provenance envelope against a zip (by name and sha256) and the release key.

    Checks, in order: the DSSE signature by `public_key`; the statement and predicate types;
    that a subject names `zip_name` with digest `zip_sha256`; and, when given, the source
    repository URI and the builder id. Raises VerificationError naming `what` otherwise.
    """
    zip_sha256 = zip_sha256.lower()
    envelope = dsse.verify(envelope_bytes, public_key, what)
    doc = canonical.loads(envelope.payload, f"{what}: statement")
    if not isinstance(doc, dict):
        raise VerificationError(f"{what}: statement is not a JSON object")
    if doc.get("_type") != STATEMENT_TYPE:
        raise VerificationError(f"{what}: _type is {doc.get('_type')!r}, expected {STATEMENT_TYPE}")
    if doc.get("predicateType") != PREDICATE_TYPE:
        raise VerificationError(f"{what}: predicateType is {doc.get('predicateType')!r}, expected {PREDICATE_TYPE}")
    subjects = _get(doc, "subject", what, list)
    names = []
    match = None
    for subject in subjects:
        if not isinstance(subject, dict):
            raise VerificationError(f"{what}: a subject is not a JSON object")
        name = subject.get("name")
        digest = (subject.get("digest") or {}).get("sha256") if isinstance(subject.get("digest"), dict) else None
        names.append(str(name))
        if name == zip_name:
            if digest != zip_sha256:
                raise VerificationError(
                    f"{what}: subject {zip_name} has sha256 {str(digest)[:16]}..., but the zip has {zip_sha256[:16]}... "
                    "(the zip changed after the build, or the statement is for another build)"
                )
            match = subject
    if match is None:
        raise VerificationError(f"{what}: the statement is for {', '.join(names) or 'no subject'}, not {zip_name}")
    build_type = _get(doc, "predicate.buildDefinition.buildType", what, str)
    builder_id = _get(doc, "predicate.runDetails.builder.id", what, str)
    external = _get(doc, "predicate.buildDefinition.externalParameters", what, dict)
    deps = _get(doc, "predicate.buildDefinition.resolvedDependencies", what, list, required=False) or []
    source = next((d for d in deps if isinstance(d, dict) and isinstance(d.get("digest"), dict)
                   and "gitCommit" in d["digest"]), None)
    metadata = _get(doc, "predicate.runDetails.metadata", what, dict, required=False) or {}
    source_uri_value = source.get("uri") if source else None
    if expect_source_uri is not None and source_uri_value != expect_source_uri:
        raise VerificationError(f"{what}: built from {source_uri_value or 'no recorded source'}, expected {expect_source_uri}")
    if expect_builder_id is not None and builder_id != expect_builder_id:
        raise VerificationError(f"{what}: built by {builder_id}, expected builder {expect_builder_id}")
    annotations = source.get("annotations") if source and isinstance(source.get("annotations"), dict) else {}
    return ProvenanceSummary(
        subject_name=zip_name,
        subject_sha256=zip_sha256,
        builder_id=builder_id,
        build_type=build_type,
        invocation_id=metadata.get("invocationId"),
        started_on=metadata.get("startedOn"),
        finished_on=metadata.get("finishedOn"),
        product=external.get("product"),
        version=external.get("version"),
        source_uri=source_uri_value,
        source_commit=source["digest"]["gitCommit"] if source else None,
        source_dirty=annotations.get("dirty") if source else None,
        key_id=public_key.key_id,
    )
