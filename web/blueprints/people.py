"""People: trainers list, add, disable and re-enable users, import them from a CSV file,
and make the sign-in links that let them into the web app, so no one needs a shell.

Trainers manage people, trainers included: every trainer already sees every session, so
a separate admin role would guard little that a trainer cannot see (docs/security.md).
A trainer cannot disable themselves (the last trainer would lock everyone out).

A sign-in link made here ends the person's earlier unused links: handing out a new one
is how a lost link is cut off. Links point at CHATTRAIN_PUBLIC_BASE_URL, or without it
at the address the trainer's request came to."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from quart import Blueprint, current_app, g, request
from quart_schema import validate_request, validate_response
from sqlalchemy.exc import IntegrityError

from shared.db.browser_sessions import insert_sign_in_codes, sign_in_link_url
from shared.db.people import PeopleTaken, insert_people, select_people
from shared.db.users import select_users, update_user_disabled
from shared.people.roster import RosterError, RosterRefused, display_name_problem, read_roster
from web.auth import require_trainer
from web.errors import ApiError
from web.models import (
    ImportData,
    Imported,
    NewPerson,
    People,
    Person,
    PersonData,
    PersonUpdate,
    SignInLink,
    SignInLinks,
    SignInLinksData,
)
from web.openapi import document_errors

blueprint = Blueprint("people", __name__)
# Who changed whom: each change is logged with the trainer's id (ids only, never links).
log = logging.getLogger("chattrain.people")


def _app_address() -> str:
    """Where people open the web app, for the links handed to them."""
    public = current_app.config["CHATTRAIN_SETTINGS"].public_base_url.rstrip("/")
    return public or f"{request.scheme}://{request.host}"


def _links(codes: dict[str, tuple[str, float]]) -> dict[str, SignInLink]:
    ttl = current_app.config["CHATTRAIN_SETTINGS"].sign_in_link_ttl_seconds
    base = _app_address()
    return {
        user_id: SignInLink(
            user_id=user_id,
            url=sign_in_link_url(base, code),
            expires_at=datetime.fromtimestamp(expires_at, UTC).isoformat(timespec="milliseconds"),
            expires_in_seconds=ttl,
        )
        for user_id, (code, expires_at) in codes.items()
    }


async def _mint(user_ids: list[str]) -> dict[str, SignInLink]:
    """New sign-in links for those of these users who exist and are enabled."""
    ttl = current_app.config["CHATTRAIN_SETTINGS"].sign_in_link_ttl_seconds
    codes = await current_app.db.write(insert_sign_in_codes, user_ids, now=time.time(), ttl_seconds=ttl)
    return _links(codes)


async def _add(people: list[tuple[str, str, str | None]]) -> list[NewPerson]:
    """Add these people in one transaction, each with a sign-in link (PeopleTaken: none added)."""
    ttl = current_app.config["CHATTRAIN_SETTINGS"].sign_in_link_ttl_seconds
    try:
        codes = await current_app.db.write(insert_people, people, now=time.time(), link_ttl_seconds=ttl)
    except IntegrityError:
        # Someone else (another trainer, the CLI, a first sign-in by OpenID Connect) added
        # one of these ids after the check, before the commit: PostgreSQL refuses the
        # second insert and the whole transaction is undone.
        raise ApiError(
            409,
            "user_exists",
            "Someone added one of these people at the same moment, so nobody was added: try again.",
        ) from None
    links = _links(codes)
    rows = await current_app.db.read(select_people, [user_id for user_id, _role, _name in people])
    return [NewPerson(person=Person(**row), sign_in_link=links[row["id"]]) for row in rows]


def _problems(errors: list[RosterError]) -> list[dict]:
    return [{"line": e.line, "detail": e.detail, "field": e.field, "user_id": e.user_id} for e in errors]


@blueprint.get("/api/people")
@require_trainer
@validate_response(People, 200)
async def get_people() -> People:
    """List everyone who may sign in: role, display name, disabled or not, last sign-in."""
    rows = await current_app.db.read(select_users)
    return People(people=[Person(**row) for row in rows])


@blueprint.post("/api/people")
@require_trainer
@validate_request(PersonData)
@validate_response(NewPerson, 201)
@document_errors(409)
async def post_person(data: PersonData) -> tuple[NewPerson, int]:
    """Add a trainee or trainer; the answer holds their first sign-in link."""
    name = (data.display_name or "").strip()
    if problem := display_name_problem(name):
        raise ApiError(400, "invalid_request", f"display_name: {problem}.", "display_name")
    try:
        (added,) = await _add([(data.id, data.role, name or None)])
    except PeopleTaken:
        raise ApiError(409, "user_exists", f"There is already a user {data.id!r}.", "id") from None
    log.info("%s added %s %s", g.user["id"], data.role, data.id)
    return added, 201


@blueprint.patch("/api/people/<user_id>")
@require_trainer
@validate_request(PersonUpdate)
@validate_response(Person, 200)
@document_errors(409)
async def patch_person(user_id: str, data: PersonUpdate) -> Person:
    """Disable someone (everything they signed in with stops at once) or enable them again."""
    if data.disabled and user_id == g.user["id"]:
        raise ApiError(409, "cannot_disable_self", "You cannot disable yourself: ask another trainer.", "disabled")
    if not await current_app.db.write(update_user_disabled, user_id, disabled=data.disabled):
        found = await current_app.db.read(select_people, [user_id])
        if found and found[0]["erased_at"]:
            raise ApiError(409, "user_erased", f"{user_id}'s data was erased: the account cannot be enabled again.")
        raise ApiError(404, "user_not_found", f"No user {user_id!r}.")
    log.info("%s %s %s", g.user["id"], "disabled" if data.disabled else "enabled", user_id)
    (row,) = await current_app.db.read(select_people, [user_id])
    return Person(**row)


@blueprint.post("/api/people/<user_id>/sign-in-link")
@require_trainer
@validate_response(SignInLink, 201)
@document_errors(409)
async def post_sign_in_link(user_id: str) -> tuple[SignInLink, int]:
    """Make a sign-in link for someone; their earlier unused links stop working."""
    links = await _mint([user_id])
    if user_id in links:
        log.info("%s made a sign-in link for %s", g.user["id"], user_id)
        return links[user_id], 201
    if await current_app.db.read(select_people, [user_id]):
        raise ApiError(409, "user_disabled", f"{user_id} is disabled: enable them first.")
    raise ApiError(404, "user_not_found", f"No user {user_id!r}.")


@blueprint.post("/api/sign-in-links")
@require_trainer
@validate_request(SignInLinksData)
@validate_response(SignInLinks, 201)
@document_errors(404, 409)
async def post_sign_in_links(data: SignInLinksData) -> tuple[SignInLinks, int]:
    """Make sign-in links for many people at once (all of them, or none when any is
    unknown or disabled); each one's earlier unused links stop working."""
    user_ids = list(dict.fromkeys(data.user_ids))
    known = {row["id"]: row for row in await current_app.db.read(select_people, user_ids)}
    refused = [
        {"user_id": user_id, "field": "user_ids", "detail": "no such user" if row is None else "disabled"}
        for user_id in user_ids
        if (row := known.get(user_id)) is None or row["disabled"]
    ]
    if refused:
        # 404 when any of them does not exist, else 409: every one named in `errors`.
        unknown = any(problem["detail"] == "no such user" for problem in refused)
        raise ApiError(
            404 if unknown else 409,
            "user_not_found" if unknown else "user_disabled",
            f"No links were made: {len(refused)} of these users are unknown or disabled (see `errors`).",
            "user_ids",
            extra={"errors": refused},
        )
    links = await _mint(user_ids)
    log.info("%s made sign-in links for %d people", g.user["id"], len(links))
    # Disabled between the read and the write: their links were not made.
    return SignInLinks(links=[links[user_id] for user_id in user_ids if user_id in links]), 201


@blueprint.post("/api/people-import")
@require_trainer
@validate_request(ImportData)
@validate_response(Imported, 201)
async def post_import(data: ImportData) -> tuple[Imported, int]:
    """Add people from a CSV file, all of them or none, each with a sign-in link.

    A header row names the columns (user_id, role, optionally display_name); at most 500
    people per file. Any problem, a taken id included, refuses the whole file with 400
    invalid_csv and `errors` naming each line; nothing is stored then."""
    try:
        rows = read_roster(data.csv)
    except RosterRefused as refused:
        raise _invalid_csv(refused.errors) from None
    try:
        created = await _add([(row.user_id, row.role, row.display_name) for row in rows])
    except PeopleTaken as taken:
        line_of = {row.user_id: row.line for row in rows}
        errors = [
            RosterError(line_of[user_id], "user_id exists already", "user_id", user_id) for user_id in taken.user_ids
        ]
        raise _invalid_csv(errors) from None
    log.info("%s imported %d people from a CSV file", g.user["id"], len(created))
    return Imported(created=created), 201


def _invalid_csv(errors: list[RosterError]) -> ApiError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s), in `errors`)" if len(errors) > 1 else ""
    return ApiError(
        400,
        "invalid_csv",
        f"Nobody was added. Line {first.line}: {first.detail}{more}.",
        "csv",
        extra={"errors": _problems(errors)},
    )
