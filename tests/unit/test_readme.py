"""The README documents every environment variable the settings object reads.

Engineers document their topic in docs/<topic>.md, which the lead merges into the README;
until then a variable documented there counts as documented."""

from __future__ import annotations

from ticketing_app.settings import PROJECT_ROOT, Settings


def test_every_setting_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((PROJECT_ROOT / "docs").glob("*.md")))
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}" not in readme]
    assert missing == [], f"undocumented settings: {missing}"
