"""The README documents every environment variable the settings object reads (its
Configuration table is the one place an operator looks)."""

from __future__ import annotations

from ticketing_app.settings import PROJECT_ROOT, Settings


def test_every_setting_is_documented() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}" not in readme]
    assert missing == [], f"undocumented settings in README.md: {missing}"


def test_every_linked_document_exists() -> None:
    import re

    readme = (PROJECT_ROOT / "README.md").read_text()
    links = set(re.findall(r"\]\(((?:docs|bench|e2e|tests|deploy|migrations)/[^)#\s]+)", readme))
    missing = sorted(link for link in links if not (PROJECT_ROOT / link).exists())
    assert links and missing == [], f"README links to missing files: {missing}"
