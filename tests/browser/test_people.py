"""A trainer manages people in a real browser: imports 200 trainees from a CSV file and
hands out the links the import shows, each of which signs its trainee in (all 200
through the API, a few in their own browsers); a file with a bad line adds nobody and
says which line; one person added by the form, given a link, disabled and enabled."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, axe_violations, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

TRAINEES = 200
BROWSER_SIGN_INS = 3


def _people_rows(page) -> int:  # noqa: ANN001
    return page.locator("table.people tbody tr").count()


def _open_people(page) -> None:  # noqa: ANN001
    page.get_by_role("link", name="People").click()
    expect(page.locator("main")).to_have_attribute("data-view", "#/people")
    expect(page.locator("table.people")).to_be_visible()


def test_a_trainer_imports_200_trainees_and_each_signs_in_with_their_link(web_stack, new_page, user_id, tmp_path):
    trainer = user_id("trainer")
    web_stack.create_user("trainer", trainer)
    page = new_page()
    sign_in(page, web_stack, trainer)
    _open_people(page)
    assert_accessible(page, "people")
    rows_before = _people_rows(page)

    prefix = user_id("class")
    ids = [f"{prefix}-{n:03d}" for n in range(1, TRAINEES + 1)]
    roster = tmp_path / "class.csv"
    roster.write_text(
        "user_id,display_name,role\n"
        + "".join(f'{uid},"Learner {n}, group A",trainee\n' for n, uid in enumerate(ids, 1))
    )
    page.get_by_label("CSV file", exact=True).set_input_files(str(roster))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result h3")).to_have_text(f"Added {TRAINEES} people: their sign-in links")
    expect(page.locator("#status")).to_have_text(f"{TRAINEES} people were added.")
    expect(page.locator("table.people tbody tr")).to_have_count(rows_before + TRAINEES)
    expect(page.locator(f'tr[data-user="{ids[41]}"]')).to_contain_text("Learner 42, group A")
    assert axe_violations(page) == []  # (no screenshot: the page is 200 rows long)

    # The links, as the trainer copies them out: one user_id,link line each.
    text = page.get_by_label(re.compile(r"Sign-in links \(200\)")).input_value()
    lines = text.strip().splitlines()
    assert lines[0] == "user_id,sign_in_link"
    links = dict(line.split(",", 1) for line in lines[1:])
    assert list(links) == ids
    assert all(link.startswith(f"{web_stack.base_url}/#sign-in=") for link in links.values())
    assert len(set(links.values())) == TRAINEES

    # A few trainees open their link in their own browser...
    in_browser = ids[:BROWSER_SIGN_INS]
    for n, uid in enumerate(in_browser, 1):
        learner = new_page()
        learner.goto(links[uid])
        expect(learner.locator("#who")).to_have_text(f"Signed in as Learner {n}, group A (trainee)")
        expect(learner.locator("h1")).to_have_text("Choose a scenario")
        assert "sign-in=" not in learner.url
    # ...and every one of the others signs in through the API with their link's code.
    with httpx.Client(base_url=web_stack.base_url, timeout=10) as client:
        for uid in ids[BROWSER_SIGN_INS:]:
            client.cookies.clear()
            code = links[uid].split("#sign-in=", 1)[1]
            response = client.post("/api/sign-in", json={"code": code})
            assert response.status_code == 200, (uid, response.text)
            assert response.json()["id"] == uid and response.json()["role"] == "trainee"
            assert client.get("/api/me").json()["id"] == uid  # the cookie works
        # Each link worked once: the browser-used ones are spent too.
        for uid in in_browser:
            client.cookies.clear()
            again = client.post("/api/sign-in", json={"code": links[uid].split("#sign-in=", 1)[1]})
            assert again.status_code == 400 and again.json()["code"] == "sign_in_link_invalid"

    # The list now shows when each of them signed in.
    page.reload()
    expect(page.locator("table.people")).to_be_visible()
    expect(page.locator(f'tr[data-user="{ids[-1]}"] td').nth(3)).not_to_have_text("never")
    last_sign_ins = page.locator("table.people tbody tr").evaluate_all(
        "(rows, prefix) => rows.filter((r) => r.dataset.user.startsWith(prefix)).map((r) => r.cells[4].textContent)",
        f"{prefix}-",
    )
    assert len(last_sign_ins) == TRAINEES and "never" not in last_sign_ins


def test_a_file_with_bad_lines_adds_nobody_and_names_each_line(web_stack, new_page, user_id, tmp_path):
    trainer = user_id("trainer")
    web_stack.create_user("trainer", trainer)
    page = new_page()
    sign_in(page, web_stack, trainer)
    _open_people(page)
    rows_before = _people_rows(page)
    good = user_id("good")
    roster = tmp_path / "bad.csv"
    roster.write_text(f"user_id,role\n{good},trainee\nhas space,trainee\n{good}-2,admin\n{good},trainee\n")
    page.get_by_label("CSV file", exact=True).set_input_files(str(roster))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-result .error")).to_have_text(
        "Nobody was added: fix the lines below in the file and import it again."
    )
    expect(page.locator(".row-problems li")).to_have_text(
        [
            re.compile(r"^Line 3: user_id: 1-128 letters"),
            "Line 4: role must be trainee or trainer, not 'admin'",
            "Line 5: user_id repeats line 2",
        ]
    )
    assert axe_violations(page) == []
    page.reload()
    expect(page.locator("table.people tbody tr")).to_have_count(rows_before)


def test_a_trainer_adds_one_person_hands_out_a_link_then_disables_and_enables_them(web_stack, new_page, user_id):
    trainer = user_id("trainer")
    web_stack.create_user("trainer", trainer)
    page = new_page()
    sign_in(page, web_stack, trainer)
    _open_people(page)
    # The trainer's own row has a link button but no Disable button.
    own_row = page.locator(f'tr[data-user="{trainer}"]')
    expect(own_row.get_by_role("button")).to_have_count(1)
    expect(own_row.get_by_role("button")).to_have_accessible_name(f"Sign-in link for {trainer}")

    person = user_id("trainee")
    page.get_by_label("User id").fill(person)
    page.get_by_label("Display name (optional)").fill("Dana Example")
    page.get_by_label("Role").select_option("trainee")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#status")).to_have_text(f"{person} was added.")
    first = page.get_by_label(f"Link to give {person}")
    expect(first).to_be_focused()
    first_link = first.input_value()

    # Links for everyone who has not signed in yet include the new person's.
    page.get_by_role("button", name=re.compile("New links for everyone who has not signed in yet")).click()
    everyone = page.get_by_label(re.compile(r"Sign-in links \(\d+\)"))
    expect(everyone).to_be_focused()
    bulk_link = dict(line.split(",", 1) for line in everyone.input_value().splitlines()[1:])[person]
    assert bulk_link != first_link

    # A new link from the list replaces the first one.
    row = page.locator(f'tr[data-user="{person}"]')
    row.get_by_role("button", name=f"Sign-in link for {person}").click()
    expect(page.get_by_label(f"Link to give {person}")).not_to_have_value(first_link)
    second_link = page.get_by_label(f"Link to give {person}").input_value()
    assert axe_violations(page) == []
    for replaced in (first_link, bulk_link):
        stale = new_page()
        stale.goto(replaced)
        expect(stale.locator("#alert")).to_contain_text("This sign-in link does not work")
    learner = new_page()
    learner.goto(second_link)
    expect(learner.locator("#who")).to_contain_text("Dana Example")

    # Disabling signs them out at once; enabling lets a new link in.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Disable {person}").click()
    expect(page.locator("#status")).to_have_text(f"{person} is disabled.")
    expect(page.locator(f'tr[data-user="{person}"] td').nth(2)).to_have_text("disabled")
    expect(page.locator(f'tr[data-user="{person}"]').get_by_role("button", name=f"Enable {person}")).to_be_focused()
    learner.reload()
    expect(learner.locator("main h1")).to_have_text("Sign in")
    expect(learner.get_by_role("button", name="Sign out")).to_be_hidden()  # nobody to sign out
    page.locator(f'tr[data-user="{person}"]').get_by_role("button", name=f"Enable {person}").click()
    expect(page.locator("#status")).to_have_text(f"{person} is enabled again. Give them a new sign-in link.")
    page.locator(f'tr[data-user="{person}"]').get_by_role("button", name=f"Sign-in link for {person}").click()
    expect(page.get_by_label(f"Link to give {person}")).not_to_have_value(second_link)  # the new one is shown
    learner.goto(page.get_by_label(f"Link to give {person}").input_value())
    expect(learner.locator("#who")).to_contain_text("Dana Example")
