"""The README documents every environment variable the settings object reads."""

from __future__ import annotations

from ticketing_app.settings import PROJECT_ROOT, Settings


def test_every_setting_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}" not in readme]
    assert missing == [], f"undocumented settings: {missing}"
