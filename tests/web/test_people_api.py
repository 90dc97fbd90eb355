"""People management over the API: trainers list, add, disable and re-enable users,
make sign-in links (one or many at once) and import people from CSV, all or nothing. A
link made here signs its person in once, through the real /api/sign-in."""

from __future__ import annotations

import logging
import time

import pytest

from shared.db.browser_sessions import insert_sign_in_code
from shared.db.users import select_users
from tests.conftest import create_test_user

HEADER = "user_id,display_name,role\n"


def _code_of(url: str) -> str:
    base, _, code = url.partition("/#sign-in=")
    assert base and code, url
    return code


async def _sign_in_with(app, url: str):  # noqa: ANN001, ANN202
    """Exchange a link's code in a fresh browser-like client (its own cookies)."""
    return await app.test_client().post("/api/sign-in", json={"code": _code_of(url)})


async def _ids(app) -> list[str]:  # noqa: ANN001
    return [user["id"] for user in await app.app.db.read(select_users)]


async def _import(client, users, text: str):  # noqa: ANN001, ANN202
    return await client.post("/api/people-import", json={"csv": text}, headers=users.trainer.headers)


# Who may ---------------------------------------------------------------------------------

PEOPLE_CALLS = [
    ("GET", "/api/people", None),
    ("POST", "/api/people", {"id": "new-1", "role": "trainee"}),
    ("PATCH", "/api/people/trainee-2", {"disabled": True}),
    ("POST", "/api/people/trainee-2/sign-in-link", None),
    ("POST", "/api/sign-in-links", {"user_ids": ["trainee-2"]}),
    ("POST", "/api/people-import", {"csv": HEADER + "new-2,,trainee\n"}),
]


@pytest.mark.parametrize(("method", "path", "body"), PEOPLE_CALLS)
async def test_trainees_get_403_and_strangers_401_and_nothing_changes(app, client, users, method, path, body):
    before = await app.app.db.read(select_users)
    trainee = await client.open(path, method=method, json=body, headers=users.trainee.headers)
    assert trainee.status_code == 403 and (await trainee.get_json())["code"] == "forbidden"
    anonymous = await client.open(path, method=method, json=body)
    assert anonymous.status_code == 401 and (await anonymous.get_json())["code"] == "unauthorized"
    assert await app.app.db.read(select_users) == before


async def test_a_cookie_signed_trainer_write_needs_the_csrf_token(app, client, users):
    code = await app.app.db.write(insert_sign_in_code, "trainer-1", now=time.time(), ttl_seconds=60)
    me = await (await client.post("/api/sign-in", json={"code": code})).get_json()
    refused = await client.post("/api/people", json={"id": "csrf-1", "role": "trainee"})
    assert refused.status_code == 403 and (await refused.get_json())["code"] == "csrf_failed"
    added = await client.post(
        "/api/people", json={"id": "csrf-1", "role": "trainee"}, headers={"X-CSRF-Token": me["csrf_token"]}
    )
    assert added.status_code == 201
    assert "csrf-1" in await _ids(app)


# Listing, adding, disabling --------------------------------------------------------------


async def test_a_trainer_adds_a_trainee_whose_link_signs_them_in_once(app, client, users):
    response = await client.post(
        "/api/people",
        json={"id": "ana", "role": "trainee", "display_name": " Ana Silva "},
        headers=users.trainer.headers,
    )
    assert response.status_code == 201
    body = await response.get_json()
    assert body["person"] == {
        "id": "ana",
        "role": "trainee",
        "display_name": "Ana Silva",
        "disabled": False,
        "created_at": body["person"]["created_at"],
        "last_sign_in_at": None,
        "erased_at": None,
    }
    link = body["sign_in_link"]
    assert link["user_id"] == "ana" and link["url"].startswith("http://localhost/#sign-in=")
    assert link["expires_in_seconds"] == 7 * 24 * 3600
    signed_in = await _sign_in_with(app, link["url"])
    assert signed_in.status_code == 200 and (await signed_in.get_json())["id"] == "ana"
    assert (await _sign_in_with(app, link["url"])).status_code == 400  # single use

    listing = await (await client.get("/api/people", headers=users.trainer.headers)).get_json()
    ana = next(person for person in listing["people"] if person["id"] == "ana")
    assert ana["last_sign_in_at"] is not None and ana["display_name"] == "Ana Silva"
    assert [p["id"] for p in listing["people"]] == ["trainee-1", "trainee-2", "trainer-1", "ana"]
    assert all("token_hash" not in p and "token" not in p for p in listing["people"])


async def test_a_trainer_may_add_a_trainer_and_the_log_says_who_did(client, users, caplog):
    caplog.set_level(logging.INFO, logger="chattrain.people")
    response = await client.post("/api/people", json={"id": "coach", "role": "trainer"}, headers=users.trainer.headers)
    assert response.status_code == 201
    assert (await response.get_json())["person"]["role"] == "trainer"
    await client.post("/api/people/coach/sign-in-link", headers=users.trainer.headers)
    lines = [record.getMessage() for record in caplog.records if record.name == "chattrain.people"]
    assert lines == ["trainer-1 added trainer coach", "trainer-1 made a sign-in link for coach"]
    assert "#sign-in=" not in caplog.text  # links are never logged


async def test_the_links_use_the_public_base_url_when_set(tmp_path, database_url):
    from shared.settings import Settings
    from tests.support.stack import REPO_ROOT
    from web.app import create_app

    settings = Settings(
        data_dir=tmp_path / "data",
        scenarios_dir=REPO_ROOT / "scenarios",
        database_url=database_url,
        public_base_url="https://train.example/",
    )
    async with create_app(settings).test_app() as app:
        trainer = await create_test_user(app, "trainer", "boss")
        response = await app.test_client().post(
            "/api/people", json={"id": "x1", "role": "trainee"}, headers=trainer.headers
        )
        assert (await response.get_json())["sign_in_link"]["url"].startswith("https://train.example/#sign-in=")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "trainee"}, "id"),
        ({"id": "", "role": "trainee"}, "id"),
        ({"id": "-leading-dash", "role": "trainee"}, "id"),
        ({"id": "has space", "role": "trainee"}, "id"),
        ({"id": "x" * 129, "role": "trainee"}, "id"),
        ({"id": "ok-1", "role": "admin"}, "role"),
        ({"id": "ok-1"}, "role"),
        ({"id": "ok-1", "role": "trainee", "display_name": "a" * 201}, "display_name"),
        ({"id": "ok-1", "role": "trainee", "display_name": "line\nbreak"}, "display_name"),
        ({"id": "ok-1", "role": "trainee", "token": "mine"}, "token"),
    ],
)
async def test_a_bad_person_is_refused_naming_the_field_and_nothing_is_stored(app, client, users, body, field):
    before = await _ids(app)
    response = await client.post("/api/people", json=body, headers=users.trainer.headers)
    error = await response.get_json()
    assert response.status_code == 400 and error["code"] == "invalid_request", error
    assert error["field"] == field, error
    assert await _ids(app) == before


async def test_a_taken_id_is_409_and_the_existing_user_is_untouched(app, client, users):
    response = await client.post(
        "/api/people", json={"id": "trainee-1", "role": "trainer"}, headers=users.trainer.headers
    )
    error = await response.get_json()
    assert response.status_code == 409 and error["code"] == "user_exists" and error["field"] == "id"
    me = await (await client.get("/api/me", headers=users.trainee.headers)).get_json()
    assert me["role"] == "trainee"  # the old token still works, the role did not change


async def test_disabling_ends_the_token_and_links_and_enabling_lets_them_back_in(app, client, users):
    link = await (await client.post("/api/people/trainee-1/sign-in-link", headers=users.trainer.headers)).get_json()
    disabled = await client.patch("/api/people/trainee-1", json={"disabled": True}, headers=users.trainer.headers)
    assert disabled.status_code == 200 and (await disabled.get_json())["disabled"] is True
    assert (await client.get("/api/me", headers=users.trainee.headers)).status_code == 401
    assert (await _sign_in_with(app, link["url"])).status_code == 400  # the unused link ended with it
    refused = await client.post("/api/people/trainee-1/sign-in-link", headers=users.trainer.headers)
    assert refused.status_code == 409 and (await refused.get_json())["code"] == "user_disabled"

    enabled = await client.patch("/api/people/trainee-1", json={"disabled": False}, headers=users.trainer.headers)
    assert enabled.status_code == 200 and (await enabled.get_json())["disabled"] is False
    fresh = await (await client.post("/api/people/trainee-1/sign-in-link", headers=users.trainer.headers)).get_json()
    assert (await _sign_in_with(app, fresh["url"])).status_code == 200


async def test_a_trainer_cannot_disable_themselves(app, client, users):
    response = await client.patch("/api/people/trainer-1", json={"disabled": True}, headers=users.trainer.headers)
    error = await response.get_json()
    assert response.status_code == 409 and error["code"] == "cannot_disable_self" and error["field"] == "disabled"
    assert (await client.get("/api/me", headers=users.trainer.headers)).status_code == 200


@pytest.mark.parametrize("body", [{}, {"disabled": "yes"}, {"disabled": True, "role": "trainer"}, None])
async def test_a_bad_update_is_400(client, users, body):
    response = await client.patch("/api/people/trainee-1", json=body, headers=users.trainer.headers)
    assert response.status_code == 400
    assert (await client.get("/api/me", headers=users.trainee.headers)).status_code == 200


async def test_unknown_people_are_404(client, users):
    for method, path, body in (
        ("PATCH", "/api/people/nobody", {"disabled": True}),
        ("POST", "/api/people/nobody/sign-in-link", None),
    ):
        response = await client.open(path, method=method, json=body, headers=users.trainer.headers)
        assert response.status_code == 404 and (await response.get_json())["code"] == "user_not_found"


async def test_a_new_link_ends_the_persons_earlier_unused_link(app, client, users):
    first = await (await client.post("/api/people/trainee-1/sign-in-link", headers=users.trainer.headers)).get_json()
    second = await (await client.post("/api/people/trainee-1/sign-in-link", headers=users.trainer.headers)).get_json()
    assert first["url"] != second["url"]
    assert (await _sign_in_with(app, first["url"])).status_code == 400
    assert (await _sign_in_with(app, second["url"])).status_code == 200


# Many links at once ----------------------------------------------------------------------


async def test_links_for_many_people_at_once_each_sign_in(app, client, users):
    response = await client.post(
        "/api/sign-in-links",
        json={"user_ids": ["trainee-1", "trainee-2", "trainee-1"]},
        headers=users.trainer.headers,
    )
    assert response.status_code == 201
    links = (await response.get_json())["links"]
    assert [link["user_id"] for link in links] == ["trainee-1", "trainee-2"]
    for link in links:
        signed_in = await _sign_in_with(app, link["url"])
        assert (await signed_in.get_json())["id"] == link["user_id"]


async def test_links_for_many_are_all_or_nothing(app, client, users):
    before = await (await client.post("/api/people/trainee-1/sign-in-link", headers=users.trainer.headers)).get_json()
    await client.patch("/api/people/trainee-2", json={"disabled": True}, headers=users.trainer.headers)
    response = await client.post(
        "/api/sign-in-links",
        json={"user_ids": ["trainee-1", "trainee-2", "ghost"]},
        headers=users.trainer.headers,
    )
    error = await response.get_json()
    assert response.status_code == 404 and error["code"] == "user_not_found" and error["field"] == "user_ids"
    assert {(e["user_id"], e["detail"]) for e in error["errors"]} == {
        ("trainee-2", "disabled"),
        ("ghost", "no such user"),
    }
    only_disabled = await client.post(
        "/api/sign-in-links", json={"user_ids": ["trainee-1", "trainee-2"]}, headers=users.trainer.headers
    )
    error = await only_disabled.get_json()
    assert only_disabled.status_code == 409 and error["code"] == "user_disabled"
    assert [(e["user_id"], e["detail"]) for e in error["errors"]] == [("trainee-2", "disabled")]
    # No new link was made for trainee-1, so the earlier one still works.
    assert (await _sign_in_with(app, before["url"])).status_code == 200


@pytest.mark.parametrize("body", [{"user_ids": []}, {"user_ids": ["a"] * 501}, {"user_ids": [""]}, {}])
async def test_a_bad_list_of_people_is_400(client, users, body):
    response = await client.post("/api/sign-in-links", json=body, headers=users.trainer.headers)
    error = await response.get_json()
    assert response.status_code == 400 and error["code"] == "invalid_request" and error["field"].startswith("user_ids")


# CSV import ------------------------------------------------------------------------------


async def test_an_import_adds_everyone_with_a_link_each(app, client, users):
    text = '\ufeffUser_ID , Display_Name , Role\r\nbo,Bo Chen,trainee\r\n\r\ncy,"Cy, Jr.",Trainer\r\ndee,,trainee\r\n'
    response = await _import(client, users, text)
    assert response.status_code == 201, await response.get_json()
    created = (await response.get_json())["created"]
    assert [(c["person"]["id"], c["person"]["role"], c["person"]["display_name"]) for c in created] == [
        ("bo", "trainee", "Bo Chen"),
        ("cy", "trainer", "Cy, Jr."),
        ("dee", "trainee", None),
    ]
    for entry in created:
        signed_in = await _sign_in_with(app, entry["sign_in_link"]["url"])
        assert (await signed_in.get_json())["id"] == entry["person"]["id"]


async def test_display_name_is_an_optional_column(client, users):
    response = await _import(client, users, "role,user_id\ntrainee,solo\n")
    assert response.status_code == 201
    assert (await response.get_json())["created"][0]["person"]["id"] == "solo"


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        ("", None, None),  # refused by the body model: min_length
        ("\n \n", 1, "the file is empty"),
        (HEADER, 1, "no people"),
        ("id,name,role\nx,,trainee\n", 1, "unknown column(s) 'id', 'name'"),
        ("user_id;display_name;role\nx;;trainee\n", 1, "separated by commas"),
        ("user_id,role,role\nx,trainee,trainee\n", 1, "named twice: role"),
        ("user_id,display_name\nx,X\n", 1, "missing column(s) role"),
        (HEADER + "ok-1,,trainee\nbad id,,trainee\n", 3, "user_id: 1-128 letters"),
        (HEADER + ",,trainee\n", 2, "user_id: 1-128 letters"),
        (HEADER + "x1,,admin\n", 2, "role must be trainee or trainer, not 'admin'"),
        (HEADER + "x1,,\n", 2, "role must be trainee or trainer, not ''"),
        (HEADER + "x1,,trainee,extra\n", 2, "4 values where the header has 3 columns"),
        (HEADER + "x1\n", 2, "1 values where the header has 3"),
        (HEADER + "x1," + "n" * 201 + ",trainee\n", 2, "display_name: at most 200 characters"),
        (HEADER + 'x1,"two\nlines",trainee\n', 3, "control characters"),
        (HEADER + 'x1,"unclosed,trainee\n', None, "not readable as CSV"),
    ],
)
async def test_a_bad_file_is_refused_whole_naming_the_line(app, client, users, text, line, says):
    before = await _ids(app)
    response = await _import(client, users, text)
    error = await response.get_json()
    assert response.status_code == 400, error
    if says is None:
        assert error["code"] == "invalid_request" and error["field"] == "csv"
    else:
        assert error["code"] == "invalid_csv" and error["field"] == "csv", error
        assert says in error["errors"][0]["detail"], error
        assert error["detail"].startswith("Nobody was added.")
        if line is not None:
            assert error["errors"][0]["line"] == line
    assert await _ids(app) == before


async def test_every_bad_row_is_reported_at_once_and_nobody_is_added(app, client, users):
    text = HEADER + "good-1,,trainee\nbad id,,trainee\ngood-2,,boss\ngood-1,,trainee\ngood-3,,trainee\n"
    response = await _import(client, users, text)
    error = await response.get_json()
    assert response.status_code == 400 and error["code"] == "invalid_csv"
    assert [(e["line"], e["field"], e["user_id"]) for e in error["errors"]] == [
        (3, "user_id", "bad id"),
        (4, "role", "good-2"),
        (5, "user_id", "good-1"),
    ]
    assert "repeats line 2" in error["errors"][2]["detail"]
    assert "and 2 more problem(s)" in error["detail"]
    assert await _ids(app) == ["trainee-1", "trainee-2", "trainer-1"]


async def test_ids_that_exist_already_are_named_by_line_and_nobody_is_added(app, client, users):
    response = await _import(client, users, HEADER + "new-a,,trainee\ntrainee-2,,trainee\ntrainer-1,,trainer\n")
    error = await response.get_json()
    assert response.status_code == 400 and error["code"] == "invalid_csv"
    assert [(e["line"], e["user_id"], e["detail"]) for e in error["errors"]] == [
        (3, "trainee-2", "user_id exists already"),
        (4, "trainer-1", "user_id exists already"),
    ]
    assert await _ids(app) == ["trainee-1", "trainee-2", "trainer-1"]


async def test_the_row_limit_is_500_people(app, client, users):
    rows = "".join(f"p{n},,trainee\n" for n in range(501))
    response = await _import(client, users, HEADER + rows)
    error = await response.get_json()
    assert response.status_code == 400 and "at most 500 people" in error["errors"][0]["detail"]
    assert error["errors"][0]["line"] == 502
    assert len(await _ids(app)) == 3
    allowed = await _import(client, users, HEADER + rows.rsplit("p500", 1)[0])
    assert allowed.status_code == 201 and len((await allowed.get_json())["created"]) == 500


async def test_a_body_over_the_request_limit_is_413_and_nothing_is_added(app, client, users):
    rows = "".join(f"person-{n:05d},{'N' * 150},trainee\n" for n in range(450))  # about 75 KB
    response = await _import(client, users, HEADER + rows)
    assert response.status_code == 413
    assert (await response.get_json())["code"] == "request_entity_too_large"
    assert len(await _ids(app)) == 3


async def test_a_body_that_is_not_an_object_with_csv_is_400(client, users):
    for body in ({"csv": 5}, {"csv": "x", "more": 1}, ["user_id,role"]):
        response = await client.post("/api/people-import", json=body, headers=users.trainer.headers)
        assert response.status_code == 400, body


async def test_an_erased_person_is_listed_as_erased_and_cannot_be_enabled_or_given_a_link(app, client, users):
    from shared.db.erasure import erase_user

    await app.app.db.write(erase_user, "trainee-2")
    listing = await (await client.get("/api/people", headers=users.trainer.headers)).get_json()
    erased = next(person for person in listing["people"] if person["id"] == "trainee-2")
    assert erased["disabled"] is True and erased["erased_at"] is not None
    enable = await client.patch("/api/people/trainee-2", json={"disabled": False}, headers=users.trainer.headers)
    assert enable.status_code == 409 and (await enable.get_json())["code"] == "user_erased"
    link = await client.post("/api/people/trainee-2/sign-in-link", headers=users.trainer.headers)
    assert link.status_code == 409 and (await link.get_json())["code"] == "user_disabled"
    again = await client.post("/api/people", json={"id": "trainee-2", "role": "trainee"}, headers=users.trainer.headers)
    assert again.status_code == 409 and (await again.get_json())["code"] == "user_exists"
    listing = await (await client.get("/api/people", headers=users.trainer.headers)).get_json()
    assert next(person for person in listing["people"] if person["id"] == "trainee-2")["disabled"] is True
