"""Crisis resources: schema, region/language choice with fallback, stale-entry warnings."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from mhai.safety.escalation import (
    StaleResourceWarning,
    escalation_message,
    load_resources,
    pick_resource,
)
from mhai.schemas import SchemaError

HEADER = "region,language,service,contact,last_verified\n"


@pytest.fixture(scope="module")
def shipped(repo):
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleResourceWarning)
        return load_resources(repo / "data" / "crisis_resources.csv", max_age_days=365)


@pytest.mark.parametrize(
    ("region", "language", "service", "shown", "fallback"),
    [
        ("US", "en", "988 Suicide & Crisis Lifeline", "en", False),
        ("US", "es", "988 Lifeline en español", "es", False),
        ("GB", "en", "Samaritans", "en", False),
        ("AU", "en", "Lifeline Australia", "en", False),
        ("CA", "fr", "9-8-8 Ligne d'aide en cas de crise de suicide", "fr", False),
        ("CA", "en", "9-8-8 Suicide Crisis Helpline", "en", False),
        ("ES", "es", "Línea 024 de atención a la conducta suicida", "es", False),
        ("FR", "en", "3114 Numéro national de prévention du suicide", "en", False),
        ("JP", "es", "Find A Helpline", "es", True),
        ("BR", "pt", "Find A Helpline", "en", True),
        (None, None, "Find A Helpline", "en", True),
    ],
)
def test_pick_resource_region_language_and_fallback(
    shipped, region, language, service, shown, fallback
):
    r = pick_resource(shipped, region, language)
    assert (r["service"], r["language"], r["fallback"]) == (service, shown, fallback)
    remembered = shipped.pick(region, language)  # memoized per (region, language)
    assert remembered == r
    remembered["service"] = "changed by a caller"
    assert shipped.pick(region, language) == r


def test_message_is_in_the_users_language_with_the_contact(shipped):
    es = pick_resource(shipped, "MX", "es")
    text = escalation_message(es)
    assert "800 911 2000" in text and "emergencias" in text
    en = escalation_message(pick_resource(shipped, "NZ", "en"))
    assert "1737" in en and "emergency" in en


def test_stale_entry_warns_and_is_marked(tmp_path):
    path = tmp_path / "res.csv"
    path.write_text(
        HEADER
        + "GB,en,Samaritans,Call 116 123,2020-01-01\n"
        + "INTL,en,Find A Helpline,Visit findahelpline.com,2026-11-01\n"
    )
    with pytest.warns(StaleResourceWarning, match="Samaritans"):
        res = load_resources(path, max_age_days=365, today=dt.date(2026, 11, 26))
    assert list(res.stale["service"]) == ["Samaritans"]
    assert pick_resource(res, "GB", "en")["stale"] is True
    assert pick_resource(res, "JP", "en")["stale"] is False


def test_fresh_table_does_not_warn(tmp_path):
    path = tmp_path / "res.csv"
    path.write_text(HEADER + "INTL,en,Find A Helpline,Visit findahelpline.com,2026-11-01\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = load_resources(path, max_age_days=365, today=dt.date(2026, 11, 26))
    assert res.stale.empty


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("us,en,X,Call 1,2026-01-01", "region"),
        ("US,english,X,Call 1,2026-01-01", "language"),
        ("US,en,X,Call 1,26/01/2026", "last_verified"),
        ("US,en,X,Call 1,2026-02-31", "last_verified"),
    ],
)
def test_bad_rows_name_row_and_field(tmp_path, row, field):
    path = tmp_path / "bad.csv"
    path.write_text(
        HEADER + "INTL,en,Find A Helpline,Visit findahelpline.com,2026-01-01\n" + row + "\n"
    )
    with pytest.raises(SchemaError, match=rf"row 2.*{field}"):
        load_resources(path, max_age_days=365)


def test_international_english_fallback_is_required(tmp_path):
    path = tmp_path / "nofallback.csv"
    path.write_text(HEADER + "US,en,988,Call 988,2026-01-01\n")
    with pytest.raises(SchemaError, match="INTL/en"):
        load_resources(path, max_age_days=365)
