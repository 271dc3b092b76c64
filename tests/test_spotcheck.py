"""The spot-check draw: reproducible from its published seed, verifiable from its record."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from engine.ops.spotcheck import select_sample
from engine.store.db import Store
from engine.store.models import SpotCheckDraw
from tests.conftest import BACKENDS
from tests.runner import Rectify, build_county, file_due, fingerprint

refs = st.lists(st.tuples(st.from_regex(r"2014-1-\d{4}", fullmatch=True), st.booleans()),
                min_size=1, max_size=60, unique_by=lambda p: p[0])


@settings(max_examples=150, deadline=None)
@given(refs, st.text(min_size=1, max_size=20), st.floats(min_value=0.01, max_value=1.0), st.booleans())
def test_the_draw_is_a_pure_function_of_its_record(pairs, seed, rate, include):
    population = [{"ref": r, "key_target": k} for r, k in sorted(pairs)]
    first = select_sample(population, seed, rate, include)
    assert first == select_sample(list(reversed(population)), seed, rate, include)  # order does not matter
    assert first == sorted(set(first))
    assert set(first) <= {p["ref"] for p in population}
    keys = {p["ref"] for p in population if p["key_target"]}
    expected = max(math.ceil(rate * len(population) - 1e-9), len(keys) if include else 0)
    assert len(first) == min(expected, len(population))
    if include:
        assert keys <= set(first)


def test_different_seeds_give_different_samples():
    population = [{"ref": f"2014-1-{i:04d}", "key_target": False} for i in range(100)]
    samples = {tuple(select_sample(population, f"seed-{n}", 0.3, True)) for n in range(10)}
    assert len(samples) == 10
    assert all(len(s) == 30 for s in samples)


def advance(run: Rectify, org: str, who: str, *open_args: str) -> None:
    """Open a case and take it to the spot check (key targets get their county staffing)."""
    run("case", "open", org, *open_args, who=who, now="2014-03-05")
    run("fire", org, "confirm", who="李明", now="2014-03-12")
    # people are registered to be assigned; a stationed team and a county cadre are in one place at a time
    run("person", "add", f"队{org}", "--unit", "县直机关", who="李明", now="2014-04-01")
    facts = [("plan_made", "是"), ("plan_published", "是"), ("contact_leader", "周建国"), ("secretary_appointed", "张"),
             ("secretary_trained", "2014-03-30"),
             ("stationed_cadre", f"队{org}"), ("self_check_report", "r"), ("superior_check_opinion", "ok")]
    if open_args:
        run("person", "add", f"陈{org}", "--unit", "县委组织部", who="李明", now="2014-04-01")
        facts += [("county_contact_leader", "周建国"), ("county_cadre", f"陈{org}")]
    for name, value in facts:
        run("fact", "set", org, name, value, who=who, now="2014-04-01")
    file_due(run, org.split("-")[0], who, "2014-11-19")  # the township's progress reports
    for trigger in ("submit_self_check", "request_superior_check", "pass_superior_check"):
        run("fire", org, trigger, who=who, now="2014-11-20")


@pytest.mark.slow
def test_draw_moves_the_others_on_and_verifies(rectify):
    for i in range(1, 8):
        advance(rectify, f"T1-{i:02d}", "王强")
    advance(rectify, "T2-01", "赵刚", "--flag", "petitions")  # a key target
    seed = "县委组织部2014-12-01"
    rectify("spot-check", "announce", "--seed-hash", hashlib.sha256(seed.encode()).hexdigest(), who="李明",
            now="2014-11-24")
    result = json.loads(rectify("spot-check", "draw", "--seed", seed, "--json", who="李明", now="2014-11-25").stdout)
    assert result["population"] == 8
    assert len(result["selected"]) == 3
    assert "2014-1-0008" in result["selected"]  # the key target is always checked
    assert sorted(result["selected"] + result["moved_on"]) == [f"2014-1-{i:04d}" for i in range(1, 9)]
    states = {c["ref"]: c["state"] for c in rectify.json("case", "list")}
    assert all(states[r] == "survey" for r in result["moved_on"])
    assert all(states[r] == "spot_check" for r in result["selected"])
    assert "verifies" in rectify("spot-check", "verify", str(result["draw"])).stdout
    # Drawn cases need the county's opinion before they pass; nobody can set the draw's result by hand.
    drawn = result["selected"][0]
    assert "record the spot check's opinion first" in rectify("fire", drawn, "pass_spot_check", who="李明",
                                                               code=1).output
    assert "cannot be set by hand" in rectify("fact", "set", drawn, "spot_drawn", "否", who="李明", code=1).output
    before = fingerprint(rectify.db)
    assert "nothing to draw" in rectify("spot-check", "draw", who="李明", now="2014-11-26", code=1).output
    assert fingerprint(rectify.db) == before
    # A tampered record no longer verifies.
    store = Store(rectify.db)
    with store.transaction() as s:
        s.execute(update(SpotCheckDraw).values(seed="changed"))
    store.dispose()
    out = rectify("spot-check", "verify", str(result["draw"]), code=1).output
    assert "does NOT verify" in out
    assert "spot-check draw not found: 99" in rectify("spot-check", "verify", "99", code=2).output


def build_four_at_the_spot_check(run: Rectify, folder: Path) -> None:
    build_county(run, folder)
    for i in range(1, 5):
        advance(run, f"T1-{i:02d}", "王强")


@pytest.fixture(params=BACKENDS)
def four_at_the_spot_check(request, built_counties, tmp_path) -> Rectify:
    """The CLI county with T1-01 … T1-04 at the spot check (60 commands): built once per session
    and backend, copied per test."""
    return built_counties.copy("four_at_the_spot_check", build_four_at_the_spot_check, request.param, tmp_path)


def test_a_draw_needs_an_announcement_and_uses_the_seed_fixed_then(four_at_the_spot_check):
    """The finding: whoever drew chose the seed after seeing the population, so seeds could be
    tried offline until a chosen case was not drawn."""
    rectify = four_at_the_spot_check
    before = fingerprint(rectify.db)
    out = rectify("spot-check", "draw", "--seed", "any", who="李明", now="2014-11-25", code=1).output
    assert "announce the draw first" in out
    kept = "县委组织部-秘密"
    rectify("spot-check", "announce", "--seed-hash", hashlib.sha256(kept.encode()).hexdigest(), who="李明",
            now="2014-11-24")
    assert "make it first" in rectify("spot-check", "announce", who="李明", now="2014-11-24", code=1).output
    for tried in ("another", "县委组织部-秘"):
        out = rectify("spot-check", "draw", "--seed", tried, who="李明", now="2014-11-25", code=1).output
        assert "does not match the SHA-256" in out
    assert "give it with --seed" in rectify("spot-check", "draw", who="李明", now="2014-11-25", code=2).output
    assert fingerprint(rectify.db) != before  # the announcement only
    drawn = json.loads(rectify("spot-check", "draw", "--seed", kept, "--json", who="李明", now="2014-11-25").stdout)
    assert drawn["seed"] == kept
    assert "its seed is the one announced before it" in rectify("spot-check", "verify", str(drawn["draw"])).stdout


def test_rectify_can_choose_and_keep_the_seed_and_a_swapped_seed_does_not_verify(four_at_the_spot_check):
    rectify = four_at_the_spot_check
    announced = rectify("spot-check", "announce", who="李明", now="2014-11-24").stdout
    assert "rectify keeps the seed" in announced
    out = rectify("spot-check", "draw", "--seed", "mine", who="李明", now="2014-11-25", code=1).output
    assert "not the seed announced" in out
    drawn = json.loads(rectify("spot-check", "draw", "--json", who="李明", now="2014-11-25").stdout)
    assert hashlib.sha256(drawn["seed"].encode()).hexdigest() in announced  # the published commitment
    # A record rewritten with a convenient seed and its matching selection no longer verifies.
    population = [{"ref": f"2014-1-{i:04d}", "key_target": False} for i in range(1, 5)]
    store = Store(rectify.db)
    with store.transaction() as s:
        s.execute(update(SpotCheckDraw).values(seed="convenient",
                                               selected=select_sample(population, "convenient", 0.3, True)))
    store.dispose()
    out = rectify("spot-check", "verify", str(drawn["draw"]), code=1).output
    assert "not the one announced before it" in out
