"""One module per scenario; each exports `SCENARIO` (see bench/scenario.py)."""
