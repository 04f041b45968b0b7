"""The machine block every benchmark report carries."""

from __future__ import annotations

import os

from mhai.provenance import machine, python_speed_ms


def test_python_speed_is_a_positive_best_of_repeats():
    speed = python_speed_ms(repeats=2)
    assert 0 < speed < 10_000  # milliseconds for a million-step loop: seconds would be a bug


def test_machine_describes_this_machine_and_keeps_extra_keys():
    report = machine(torch_threads=3)
    assert report["cpus"] == os.cpu_count()
    assert len(report["load_average_1_5_15min"]) == 3
    assert report["python_speed_ms"] > 0 and report["cpu"]
    assert report["torch_threads"] == 3
