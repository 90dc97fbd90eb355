"""A roster of people to add, read from CSV text: a header row naming the columns, then
one person per row.

Columns: `user_id` and `role` (trainee or trainer) are required, `display_name` is
optional; names are matched without regard to case or surrounding spaces, and any other
column is refused (a misspelt `display_name` would otherwise be dropped unnoticed).
Blank lines are skipped. Every problem found is reported with its line number, so a
trainer can fix the file in one go; the caller adds nobody unless there are none."""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass

from shared.db.users import ROLES, USER_ID_PATTERN

# The most people one file may add. Each gets a sign-in link in the answer, and the
# whole file is one write transaction: a class or two, not a directory export.
MAX_ROSTER_ROWS = 500
MAX_DISPLAY_NAME_CHARS = 200
REQUIRED_COLUMNS = ("user_id", "role")
COLUMNS = ("user_id", "display_name", "role")


@dataclass(frozen=True)
class RosterRow:
    line: int
    user_id: str
    role: str
    display_name: str | None


@dataclass(frozen=True)
class RosterError:
    line: int
    detail: str
    field: str | None = None
    user_id: str | None = None


class RosterRefused(Exception):
    """The roster has problems; `errors` lists each one (nothing may be added)."""

    def __init__(self, errors: list[RosterError]):
        super().__init__(f"{len(errors)} problem(s) in the CSV file")
        self.errors = errors


def display_name_problem(name: str) -> str | None:
    """Why a display name cannot be stored, or None: too long, or holding control
    characters (a line break or escape code in a name would garble lists and logs)."""
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        return f"at most {MAX_DISPLAY_NAME_CHARS} characters"
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in name):
        return "must not contain control characters"
    return None


def user_id_problem(user_id: str) -> str | None:
    """Why a user id is not allowed, or None (the rule of shared/db/users.py)."""
    if USER_ID_PATTERN.fullmatch(user_id):
        return None
    return "1-128 letters, digits or . _ @ + -, starting with a letter or digit"


def read_roster(text: str) -> list[RosterRow]:
    """The rows of a CSV roster; RosterRefused listing every problem otherwise."""
    lines = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        numbered = [(lines.line_num, row) for row in lines]
    except csv.Error as error:
        raise RosterRefused([RosterError(lines.line_num, f"not readable as CSV: {error}")]) from None
    numbered = [(line, row) for line, row in numbered if any(cell.strip() for cell in row)]
    if not numbered:
        raise RosterRefused(
            [RosterError(1, "the file is empty: it needs a header row, e.g. user_id,display_name,role")]
        )
    header_line, header = numbered[0]
    positions = _columns(header_line, header)
    body = numbered[1:]
    if not body:
        raise RosterRefused([RosterError(header_line, "no people: add one row per person below the header")])
    if len(body) > MAX_ROSTER_ROWS:
        raise RosterRefused(
            [RosterError(body[MAX_ROSTER_ROWS][0], f"too many rows: at most {MAX_ROSTER_ROWS} people per file")]
        )
    rows, errors, first_line_of = [], [], {}
    for line, cells in body:
        row = _row(line, cells, positions, len(header), errors)
        if row is None:
            continue
        if row.user_id in first_line_of:
            errors.append(
                RosterError(line, f"user_id repeats line {first_line_of[row.user_id]}", "user_id", row.user_id)
            )
            continue
        first_line_of[row.user_id] = line
        rows.append(row)
    if errors:
        raise RosterRefused(errors)
    return rows


def _columns(line: int, header: list[str]) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header]
    problems = []
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        hint = " (the columns must be separated by commas)" if any(";" in name for name in unknown) else ""
        problems.append(f"unknown column(s) {', '.join(repr(n) for n in unknown)}{hint}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"column(s) named twice: {', '.join(repeated)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in names]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if problems:
        detail = "header row: " + "; ".join(problems) + f". Expected {','.join(COLUMNS)} (display_name optional)."
        raise RosterRefused([RosterError(line, detail)])
    return {name: names.index(name) for name in COLUMNS if name in names}


def _row(line: int, cells: list[str], positions: dict[str, int], width: int, errors: list) -> RosterRow | None:  # noqa: ANN001
    if len(cells) != width:
        errors.append(RosterError(line, f"{len(cells)} values where the header has {width} columns"))
        return None
    user_id = cells[positions["user_id"]].strip()
    role = cells[positions["role"]].strip().lower()
    name = cells[positions["display_name"]].strip() if "display_name" in positions else ""
    found = len(errors)
    if problem := user_id_problem(user_id):
        errors.append(RosterError(line, f"user_id: {problem}", "user_id", user_id or None))
    if role not in ROLES:
        shown = cells[positions["role"]].strip()
        errors.append(RosterError(line, f"role must be trainee or trainer, not {shown!r}", "role", user_id or None))
    if problem := display_name_problem(name):
        errors.append(RosterError(line, f"display_name: {problem}", "display_name", user_id or None))
    if len(errors) > found:
        return None
    return RosterRow(line=line, user_id=user_id, role=role, display_name=name or None)
