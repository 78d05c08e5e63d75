"""The XLSX exports (api/spreadsheets.py), read back with openpyxl: the CSV's columns as the
header, every row in order across the writer's batches, numbers as numbers, text as text
cells, and a buyer's "=..." never a formula (the same escape as the CSV); an error from the
rows (an unknown event) is raised and leaves nothing behind."""

from __future__ import annotations

import io
import threading
from collections.abc import AsyncIterator
from typing import Any

import openpyxl
import pytest

from ticketing_app.api import spreadsheets
from ticketing_app.api.routes.box_office import ATTENDEE_COLUMNS, csv_cell
from ticketing_app.api.spreadsheets import file_chunks, safe_cell, xlsx_file


async def rows(n: int) -> AsyncIterator[dict[str, Any]]:
    for i in range(1, n + 1):
        yield {"ticket": i, "order": 100 + i, "seat": f"Row A seat {i}", "tier": "Standard",
               "name": "=HYPERLINK(\"http://x\")" if i == 2 else f"Kim {i}",
               "email": f"k{i}@example.com", "status": "VALID", "checked_in": "no",
               "checked_in_at": "", "checked_in_by": None, "gate": "-North"}


async def read_back(file: Any) -> Any:
    data = b"".join([c async for c in file_chunks(file)])
    assert file.closed
    return openpyxl.load_workbook(io.BytesIO(data))


async def test_rows_read_back_with_the_csvs_columns_and_safe_cells() -> None:
    n = spreadsheets.BATCH * 2 + 7  # across three batches
    book = await read_back(await xlsx_file(rows(n), ATTENDEE_COLUMNS, "attendees"))
    sheet = book["attendees"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == ATTENDEE_COLUMNS
    assert len(values) == n + 1
    first = dict(zip(ATTENDEE_COLUMNS, values[1], strict=True))
    assert first["ticket"] == 1 and first["order"] == 101 and first["name"] == "Kim 1"
    assert first["checked_in_at"] is None and first["checked_in_by"] is None
    assert first["gate"] == "'-North"  # as the CSV writes it
    name = sheet.cell(row=3, column=ATTENDEE_COLUMNS.index("name") + 1)
    assert name.value == "'=HYPERLINK(\"http://x\")" and name.data_type == "s"
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert [r[0] for r in values[1:]] == list(range(1, n + 1))


async def test_a_list_of_rows_and_an_empty_export() -> None:
    book = await read_back(await xlsx_file([{"tier": "Gold", "sold": 2, "percentSold": 33.3}],
                                           ["tier", "sold", "percentSold"], "sales-by-tier"))
    assert list(book["sales-by-tier"].iter_rows(values_only=True)) == [
        ("tier", "sold", "percentSold"), ("Gold", 2, 33.3)]
    book = await read_back(await xlsx_file([], ["day", "orders"], "sales-by-day"))
    assert list(book["sales-by-day"].iter_rows(values_only=True)) == [("day", "orders")]


async def test_an_error_from_the_rows_is_raised_and_the_file_dropped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Any] = []
    real = spreadsheets.XlsxSheet

    def spy(sheet: str, header: list[str]) -> Any:
        made.append(real(sheet, header))
        made.append(threading.current_thread().name)
        return made[0]

    monkeypatch.setattr(spreadsheets, "XlsxSheet", spy)

    async def unknown_event() -> AsyncIterator[dict[str, Any]]:
        raise LookupError("no such event")
        yield {}

    with pytest.raises(LookupError):
        await xlsx_file(unknown_event(), ["a"], "orders")
    assert made[0].file.closed
    assert made[1] != threading.main_thread().name  # written off the event loop's thread


def test_the_csv_and_the_xlsx_escape_alike() -> None:
    assert csv_cell is safe_cell
    assert safe_cell("+1") == "'+1" and safe_cell(3) == 3 and safe_cell(None) is None
