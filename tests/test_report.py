"""The Snakemake report of the tiny run renders in a headless browser with its figures."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import REPO, run_snakemake

pytestmark = pytest.mark.workflow

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def report_html(tiny_run):
    run_snakemake(
        REPO, tiny_run, "--configfile", str(REPO / "tests/config/tiny.yaml"),
        "--report", "results/report.html",
    )  # fmt: skip
    return tiny_run / "results" / "report.html"


def test_report_embeds_every_figure(report_html, tiny_run):
    html = report_html.read_text(errors="replace")
    figures = sorted(p.name for p in (tiny_run / "results" / "figures").glob("*.png"))
    assert figures
    missing = [name for name in figures if name not in html]
    assert not missing, f"figures not in the report: {missing}"


def test_report_renders_in_headless_chromium(report_html, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium not installed (CI installs it in .ci/run)")
    profile = tmp_path / "profile"
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=8000"]
    dom = subprocess.run(
        [*common, "--dump-dom", report_html.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    assert "mental-health" in dom  # the workflow description, rendered by the report's app
    shot = tmp_path / "report.png"
    subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,900", report_html.as_uri()],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few KB
