"""Escalation: crisis resources by region and language, the message shown, the review queue.

``data/crisis_resources.csv`` (region, language, service, contact, last_verified) is
schema-checked when loaded; entries older than ``max_age_days`` raise a
:class:`StaleResourceWarning` (escalation is live infrastructure: a wrong number is a fault).
:func:`pick_resource` prefers the user's region and language, then the region's first
service, then the international entry in the user's language, then international English.
Every flagged turn is appended to a clinician review queue (JSONL) with its evidence.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mhai.schemas import SchemaError, validate_frame, validate_records

log = logging.getLogger(__name__)

INTERNATIONAL = "INTL"
DEFAULT_LANGUAGE = "en"

# The escalation message, written by this project, per language; {service}/{contact} are filled.
MESSAGES = {
    "en": (
        "I'm really glad you told me, and I'm worried about your safety right now. You don't "
        "have to handle this alone. Please reach out to {service}: {contact}. If you are in "
        "immediate danger, call your local emergency number. Are you safe at this moment? Is "
        "there someone you trust who could be with you or whom you could call now?"
    ),
    "es": (
        "Me alegra mucho que me lo hayas contado, y me preocupa tu seguridad en este momento. "
        "No tienes que pasar por esto a solas. Por favor, contacta con {service}: {contact}. Si "
        "estás en peligro inmediato, llama al número de emergencias local. ¿Estás a salvo "
        "ahora mismo? ¿Hay alguien de confianza que pueda acompañarte o a quien puedas llamar?"
    ),
    "fr": (
        "Merci de m'en avoir parlé ; je m'inquiète pour ta sécurité en ce moment. Tu n'as pas "
        "à traverser cela seul·e. Contacte {service} : {contact}. Si tu es en danger immédiat, "
        "appelle le numéro d'urgence local. Es-tu en sécurité maintenant ? Y a-t-il une "
        "personne de confiance qui pourrait être avec toi, ou que tu pourrais appeler ?"
    ),
    "de": (
        "Danke, dass du mir das erzählst. Ich mache mir gerade Sorgen um deine Sicherheit. Du "
        "musst das nicht allein durchstehen. Bitte wende dich an {service}: {contact}. Wenn du "
        "in unmittelbarer Gefahr bist, ruf die örtliche Notrufnummer an. Bist du gerade in "
        "Sicherheit? Gibt es jemanden, dem du vertraust und der jetzt bei dir sein könnte?"
    ),
}


class StaleResourceWarning(UserWarning):
    """A crisis-resource entry has not been verified within the configured number of days."""


@dataclass(frozen=True)
class CrisisResources:
    """The validated resource table and the entries found stale when it was loaded."""

    table: pd.DataFrame
    stale: pd.DataFrame
    path: Path
    _picked: dict[tuple, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)

    def pick(self, region: str | None, language: str | None) -> dict[str, Any]:
        """The resource to show (see :func:`pick_resource`), looked up once per region and
        language: the table does not change after loading."""
        key = (region, language)
        if key not in self._picked:
            self._picked[key] = pick_resource(self, region, language)
        return dict(self._picked[key])


def load_resources(
    path: str | Path, max_age_days: int, today: dt.date | None = None
) -> CrisisResources:
    """Read and validate the resource CSV; warn (and log) for every stale entry."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"crisis resources not found: {path}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{path}: cannot read as CSV: {exc}") from exc
    if table.empty:
        raise SchemaError(f"{path}: no crisis resources listed")
    validate_frame(table, "safety/crisis_resources", str(path))
    dates = pd.to_datetime(table["last_verified"], format="%Y-%m-%d", errors="coerce")
    bad = dates.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0]) + 1
        raise SchemaError(f"{path}: row {row}: field 'last_verified': not a real date")
    fallback = table[(table["region"] == INTERNATIONAL) & (table["language"] == DEFAULT_LANGUAGE)]
    if fallback.empty:
        raise SchemaError(f"{path}: needs an {INTERNATIONAL}/{DEFAULT_LANGUAGE} fallback row")
    today = today or dt.date.today()
    age = (pd.Timestamp(today) - dates).dt.days
    stale = table[age > max_age_days].assign(age_days=age[age > max_age_days])
    for row in stale.itertuples():
        message = (
            f"{path}: {row.region}/{row.language} '{row.service}' last verified "
            f"{row.last_verified} ({row.age_days} days ago, limit {max_age_days}); re-verify it"
        )
        log.warning(message)
        warnings.warn(message, StaleResourceWarning, stacklevel=2)
    return CrisisResources(table=table, stale=stale, path=path)


def pick_resource(
    resources: CrisisResources, region: str | None, language: str | None
) -> dict[str, Any]:
    """The service for a user: region+language, else the region's first, else international.

    Returns ``region, language, service, contact, last_verified, fallback, stale`` where
    ``language`` is the language of the message to show (the user's when a template exists)
    and ``fallback`` says that no service of the user's region was found.
    """
    table = resources.table
    region = (region or INTERNATIONAL).upper()
    language = (language or DEFAULT_LANGUAGE).lower()
    for mask in (
        (table["region"] == region) & (table["language"] == language),
        table["region"] == region,
        (table["region"] == INTERNATIONAL) & (table["language"] == language),
        (table["region"] == INTERNATIONAL) & (table["language"] == DEFAULT_LANGUAGE),
    ):
        hits = table[mask]
        if not hits.empty:
            row = hits.iloc[0]
            break
    shown_language = language if language in MESSAGES else row["language"]
    if shown_language not in MESSAGES:
        shown_language = DEFAULT_LANGUAGE
    stale_keys = set(zip(resources.stale["region"], resources.stale["service"], strict=True))
    return {
        "region": row["region"],
        "language": shown_language,
        "service": row["service"],
        "contact": row["contact"],
        "last_verified": row["last_verified"],
        "fallback": row["region"] == INTERNATIONAL,
        "stale": (row["region"], row["service"]) in stale_keys,
    }


def escalation_message(resource: dict[str, Any]) -> str:
    """The supportive message with the crisis resource, in the resource's message language."""
    template = MESSAGES.get(resource["language"], MESSAGES[DEFAULT_LANGUAGE])
    return template.format(service=resource["service"], contact=resource["contact"])


class ReviewQueue:
    """Append-only JSONL queue of flagged turns for clinician review (thread-safe)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        """Validate one flagged-turn record and append it as a line."""
        validate_records([record], "safety/review_queue", str(self.path))
        line = json.dumps(record, ensure_ascii=False)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def sessions(self) -> set[str]:
        """Session ids present in the queue."""
        if not self.path.exists():
            return set()
        with self.path.open(encoding="utf-8") as handle:
            return {json.loads(line)["session_id"] for line in handle if line.strip()}
