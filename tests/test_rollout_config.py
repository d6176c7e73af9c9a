"""[rollout] rings and [promote] gated: their grammar (config/rollout.py) and the release
container rule of promote/rollback scopes (rollout.py)."""

from __future__ import annotations

import pytest

from b2release.config import load
from b2release.config.rollout import Ring, parse_pairs, parse_rings, ring_of
from b2release.errors import ConfigError, UsageError
from b2release.rollout import resolve_scope

ENV = {"B2RELEASE_STORE_TENANTS": "acme,globex,initech"}


def test_rings_in_order_with_everyone_last():
    rings = parse_rings(["pilot = acme", "early=globex  initech", "all = *"], "f")
    assert rings == [Ring("pilot", ("acme",)), Ring("early", ("globex", "initech")), Ring("all", (), everyone=True)]
    assert [ring_of(rings, t) for t in ("acme", "initech", "umbrella")] == ["pilot", "early", "all"]
    assert ring_of(rings[:1], "globex") is None  # no everyone ring: not in any


@pytest.mark.parametrize("values, message", [
    (["pilot: acme"], "is not a ring"),
    (["Pilot = acme"], "is not a ring"),
    (["pilot ="], "names no tenant"),
    (["pilot = acme", "pilot = globex"], "defined twice"),
    (["pilot = acme", "early = acme"], "tenant 'acme' is in ring 'pilot' and in ring 'early'"),
    (["all = *", "pilot = acme"], "is not the last ring"),
    (["pilot = acme *"], r"mixes '\*' with tenant ids"),
])
def test_bad_rings(values, message):
    with pytest.raises(ConfigError, match=message) as exc:
        parse_rings(values, "b2release.toml: rollout.rings")
    assert exc.value.message.startswith("b2release.toml: rollout.rings: ")


def test_ring_members_must_be_store_tenants(tmp_path):
    config = tmp_path / "b2release.toml"
    config.write_text('[store]\ntenants = ["acme"]\n[rollout]\nrings = ["pilot = acme globex"]\n')
    with pytest.raises(ConfigError, match="names 'globex', not in store.tenants") as exc:
        load(config, {})
    assert str(config) in exc.value.message
    collected = load(config, {}, collect=True)  # config check: the problem, and the value left out
    assert [p.key for p in collected.problems] == ["rollout.rings"] and collected.get("rollout.rings") == []


def test_channel_pairs():
    assert parse_pairs(["staging->stable", " qa -> prod "], "x") == {("staging", "stable"), ("qa", "prod")}
    for bad in ("staging", "staging->staging", "Staging->stable", "a->b->c"):
        with pytest.raises(ConfigError, match="is not a channel pair"):
            parse_pairs([bad], "x")


@pytest.mark.parametrize("tenants, ring, release_flag, expected", [
    (None, None, False, (None, True, None)),  # everyone: [store] tenants and the release container
    (["acme"], None, False, (["acme"], False, None)),  # named tenants only (#18)
    (["acme"], None, True, (["acme"], True, None)),  # ... unless asked for
    (None, "pilot", False, (["acme"], False, "pilot")),
    (None, "all", False, (None, True, "all")),  # the everyone ring is the whole channel
])
def test_scope(tenants, ring, release_flag, expected):
    config = load(None, {**ENV, "B2RELEASE_ROLLOUT_RINGS": "pilot = acme,all = *"})
    scope = resolve_scope(config, tenants, ring, release_flag)
    assert (scope.tenants, scope.release, scope.ring) == expected


def test_scope_errors():
    config = load(None, {**ENV, "B2RELEASE_ROLLOUT_RINGS": "pilot = acme"})
    with pytest.raises(UsageError, match="not both"):
        resolve_scope(config, ["acme"], "pilot", False)
    with pytest.raises(UsageError, match="unknown ring 'all' \\(rings: pilot\\)"):
        resolve_scope(config, None, "all", False)
