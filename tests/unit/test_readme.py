"""The README documents every environment variable the settings object reads."""

from __future__ import annotations

from ticketing_app.settings import PROJECT_ROOT, Settings


def test_every_setting_is_documented() -> None:
    # docs/*.md is README material the lead merges in (engineers do not edit README.md).
    readme = "\n".join(p.read_text() for p in [PROJECT_ROOT / "README.md",
                                                 *sorted((PROJECT_ROOT / "docs").glob("*.md"))])
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}" not in readme]
    assert missing == [], f"undocumented settings: {missing}"
