"""What the exports write into a spreadsheet: the cell rule that keeps a buyer's text from
running as a formula (CSV and XLSX alike), and the XLSX files (XlsxWriter).

An XLSX file is a zip, so it cannot go out row by row like the CSV: the rows are written as
they are read (in pages, by the report service) into XlsxWriter's constant-memory mode, which
flushes each row to a temporary file, then the workbook is assembled into another temporary
file and that is streamed. Memory stays flat for a stadium (20,000 tickets: under 1 MB of
Python memory, a 0.8 MB file, about 3 s here); the writing and the zipping run in threads,
never on the event loop (XlsxWriter is Python, so a thread keeps the loop answering but still
takes a share of the process's CPU while it writes). Every text is written as a text cell
(never a formula, a link or a number guessed from text), and with the same escape as the CSV
(a leading `'`), so a sheet saved back as CSV is as safe as our own CSV.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterable
from typing import IO, Any

import xlsxwriter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A spreadsheet runs a cell that starts with one of these as a formula: a buyer's name such
# as "=HYPERLINK(...)" is written as text (OWASP's CSV injection advice).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BATCH = 500  # rows handed to the writer's thread at a time
CHUNK = 64 * 1024  # bytes per streamed piece of the finished file
WORKBOOK_OPTIONS = {"constant_memory": True, "strings_to_formulas": False,
                    "strings_to_urls": False, "strings_to_numbers": False}


def safe_cell(value: Any) -> Any:
    """A cell's value with any text that a spreadsheet would run as a formula made text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


class XlsxSheet:
    """One worksheet written row by row into a temporary file. Blocking: `XlsxExport` calls
    it from threads, one call at a time."""

    def __init__(self, sheet: str, header: list[str]):
        self.header = header
        # Closed by the caller once streamed (file_chunks), or by discard().
        self.file: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.book = xlsxwriter.Workbook(self.file, WORKBOOK_OPTIONS)
        self.sheet = self.book.add_worksheet(sheet[:31])
        bold = self.book.add_format({"bold": True})
        self.sheet.freeze_panes(1, 0)
        self.sheet.set_column(0, len(header) - 1, 14)
        for c, name in enumerate(header):
            self.sheet.write_string(0, c, name, bold)
        self.rows = 1

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        for row in rows:
            for c, name in enumerate(self.header):
                value = safe_cell(row.get(name, ""))
                if value is None or value == "":
                    continue
                if isinstance(value, bool):
                    self.sheet.write_boolean(self.rows, c, value)
                elif isinstance(value, int | float):
                    self.sheet.write_number(self.rows, c, value)
                else:
                    self.sheet.write_string(self.rows, c, str(value))
            self.rows += 1

    def finish(self) -> IO[bytes]:
        """The finished file, at its start (the caller closes it)."""
        self.book.close()
        self.file.seek(0)
        return self.file

    def discard(self) -> None:
        self.file.close()


async def xlsx_file(rows: AsyncIterator[dict[str, Any]] | Iterable[dict[str, Any]],
                    header: list[str], sheet: str) -> IO[bytes]:
    """The rows as an XLSX file (a temporary file at its start; the caller closes it). An
    error from `rows` (an unknown event) is raised before anything is kept."""
    out = await asyncio.to_thread(XlsxSheet, sheet, header)
    try:
        if isinstance(rows, AsyncIterator):
            batch: list[dict[str, Any]] = []
            async for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    await asyncio.to_thread(out.add, batch)
                    batch = []
            await asyncio.to_thread(out.add, batch)
        else:
            await asyncio.to_thread(out.add, list(rows))
        return await asyncio.to_thread(out.finish)
    except BaseException:
        out.discard()
        raise


async def file_chunks(file: IO[bytes]) -> AsyncIterator[bytes]:
    """A finished file's bytes in pieces, read in a thread; the file is closed at the end
    (also when the client goes away)."""
    try:
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
    finally:
        file.close()
