"""Pilot conversation simulation: personas, session specs, summaries (guardrail-free parts)."""

from __future__ import annotations

import numpy as np
import pytest

from mhai.config import load_config
from mhai.pilot.cohort import simulate_cohort
from mhai.pilot.personas import BANK, CRISIS_CATEGORIES, Persona, session_turns
from mhai.pilot.sessions import build_sessions


@pytest.fixture(scope="module")
def config():
    return load_config()


@pytest.fixture(scope="module")
def cohort(config):
    return simulate_cohort(config["pilot"]["cohort"], 60, 21)


def test_session_specs_follow_the_plan_and_are_reproducible(cohort, config):
    cfg = config["pilot"]["sessions"]
    specs = build_sessions(cohort, cfg, seed=4)
    assert len(specs) == len(cohort.session_plan)
    assert len({s.session_id for s in specs}) == len(specs)
    again = build_sessions(cohort, cfg, seed=4)
    assert [s.turns for s in specs] == [s.turns for s in again]
    assert [s.crisis for s in specs] == [s.crisis for s in again]
    cap = cfg["max_turns"] * cfg["words_per_turn"]  # long sessions are simulated as an excerpt
    planned = np.minimum(cohort.session_plan["user_words"].to_numpy(), cap)
    written = np.array([sum(len(t.split()) for t in s.turns) for s in specs])
    turns = np.array([len(s.turns) for s in specs])
    assert turns.min() >= 1 and turns.max() <= cfg["max_turns"]
    # the persona writes about as many words as the cohort planned for the session
    assert 0.85 < written.sum() / planned.sum() < 1.2
    assert sum(s.llm for s in specs) == min(cfg["llm"]["sessions"], len(specs))


def test_personas_write_in_the_participants_language(cohort, config):
    specs = build_sessions(cohort, config["pilot"]["sessions"], seed=4)
    for spec in specs[:400]:
        bank = BANK[spec.persona.language]
        assert any(spec.turns[0].startswith(o) for o in bank["open"]), spec.turns[0]


def test_crisis_sessions_carry_their_category_and_build_up():
    persona = Persona("P1", "US", "en", ("work", "money"), 2)
    rng = np.random.default_rng(0)
    for category in CRISIS_CATEGORIES:
        turns = session_turns(persona, 18.0, 14.0, 18.0, 4, 120, category, 0.0, rng)
        crisis_lines = BANK["en"]["crisis"][category]
        hit = [i for i, t in enumerate(turns) if any(line in t for line in crisis_lines)]
        assert hit and hit[0] >= 2  # planted in the second half of the session
        if category == "direct":  # preceded by ambiguous or indirect language
            lead = BANK["en"]["crisis"]["ambiguous"] + BANK["en"]["crisis"]["indirect"]
            assert any(line in turns[hit[0] - 1] for line in lead)
    calm = session_turns(persona, 6.0, 4.0, 18.0, 4, 120, None, 0.0, rng)
    every = [line for lines in BANK["en"]["crisis"].values() for line in lines]
    assert not any(line in t for t in calm for line in every)


def test_crisis_sessions_are_rarer_for_lower_risk(config):
    cohort = simulate_cohort(config["pilot"]["cohort"], 400, 8)
    specs = build_sessions(cohort, config["pilot"]["sessions"], seed=1)
    by_item9: dict[int, list[bool]] = {}
    for s in specs:
        by_item9.setdefault(s.persona.item9_baseline, []).append(s.crisis is not None)
    rate = {k: np.mean(v) for k, v in by_item9.items()}
    assert rate[0] < rate[max(rate)]
    overall = np.mean([s.crisis is not None for s in specs])
    assert 0.001 < overall < 0.05  # a small per-session chance, as configured


def test_every_configured_locale_has_a_crisis_resource(config, repo):
    import pandas as pd

    resources = pd.read_csv(repo / "data" / "crisis_resources.csv")
    available = set(zip(resources["region"], resources["language"], strict=True))
    for locale in config["pilot"]["cohort"]["demographics"]["locales"]:
        assert (locale["region"], locale["language"]) in available, locale
