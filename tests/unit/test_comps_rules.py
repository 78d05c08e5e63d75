"""The box office's pure rules: prices typed in the currency's units, forms with as many tiers
and sections as the organiser adds, a comp's customer, the presale window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ticketing_app.db.models import Event
from ticketing_app.domain import errors
from ticketing_app.domain.layouts import Problems
from ticketing_app.i18n import money_input, parse_money, use_locale
from ticketing_app.services.access_codes import in_presale, normalise
from ticketing_app.services.comps import Customer
from ticketing_app.state.admin_events import tiers_from_form
from ticketing_app.state.admin_venues import grids_from_form


@pytest.mark.parametrize("text, currency, minor", [
    ("52,000", "KRW", 52000), (" 52000 ", "KRW", 52000), ("12.5", "USD", 1250),
    ("12.50", "USD", 1250), ("0", "EUR", 0), ("1000", "JPY", 1000)])
def test_prices_are_typed_in_the_currencys_units(text: str, currency: str, minor: int) -> None:
    assert parse_money(text, currency) == minor


@pytest.mark.parametrize("text, currency", [("1.5", "KRW"), ("12.345", "USD"), ("abc", "KRW"),
                                            ("", "KRW"), ("nan", "USD"), ("inf", "USD")])
def test_prices_the_currency_cannot_hold_are_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError):
        parse_money(text, currency)


def test_a_price_is_shown_for_editing_in_units() -> None:
    assert (money_input(52000, "KRW"), money_input(1250, "USD")) == ("52000", "12.50")


def test_an_event_form_takes_any_number_of_tiers() -> None:
    form = {f"t{i}_name": f"Tier {i}" for i in range(1, 8)}
    form |= {f"t{i}_price": f"{i}.25" for i in range(1, 8)}
    form |= {"t3_name": "", "t3_price": ""}  # an empty slot is skipped
    problems = Problems()
    tiers = tiers_from_form(form, problems, "USD")
    assert not problems.items
    assert [(t.name, t.price) for t in tiers] == [
        (f"Tier {i}", i * 100 + 25) for i in (1, 2, 4, 5, 6, 7)]
    bad = Problems()
    with use_locale("en"):  # the problem names the field in the reader's language
        tiers_from_form({"t9_name": "X", "t9_price": "1.5"}, bad, "KRW")
    assert bad.items and bad.items[0]["field"] == "tier 9 price"


def test_a_venue_form_takes_any_number_of_sections() -> None:
    form = {f"s{i}_name": f"Block {i}" for i in range(1, 6)}
    form |= {f"s{i}_rows": "2" for i in range(1, 6)} | {f"s{i}_cols": "3" for i in range(1, 6)}
    grids = grids_from_form(form)
    assert [g.section for g in grids] == [f"Block {i}" for i in range(1, 6)]


def test_a_comp_names_its_customer() -> None:
    assert Customer.checked(" Kim ", " k@example.com ") == Customer("Kim", "k@example.com")
    with pytest.raises(errors.ValidationFailed) as exc:
        Customer.checked("", "not-mail")
    assert {d["field"] for d in exc.value.details or []} == {"name", "email"}


def test_the_presale_window() -> None:
    now = datetime.now(UTC)
    ev = Event(title="t", starts_at=now, status="ON_SALE")
    assert not in_presale(ev, now)
    ev.public_sale_starts_at = now + timedelta(hours=1)
    assert in_presale(ev, now) and not in_presale(ev, now + timedelta(hours=2))
    ev.status = "CLOSED"
    assert not in_presale(ev, now)
    assert normalise("  early-Bird ") == "EARLY-BIRD"
