"""Signing in with the organisation's OpenID Connect provider in Chromium: the sign-in
page's button, the provider (tests/fakes/fake_oidc.py, on another loopback address so it
is another site to the browser, as a real provider is), and back to the signed-in app."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible
from tests.fakes.fake_oidc import FakeOidcProvider
from tests.support.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(name="provider", scope="module")
def _provider():
    with FakeOidcProvider(client_id="chattrain", client_secret="browser-test-secret", host="127.0.0.2") as provider:
        yield provider


@pytest.fixture(name="oidc_stack", scope="module")
def _oidc_stack(tmp_path_factory, provider):
    stack = Stack(data_dir=tmp_path_factory.mktemp("oidc-browser") / "data")
    stack.extra_env.update(
        CHATTRAIN_PUBLIC_BASE_URL=stack.base_url,
        CHATTRAIN_OIDC_ISSUER_URL=provider.issuer,
        CHATTRAIN_OIDC_PROVIDER_NAME="Example SSO",
        CHATTRAIN_OIDC_CLIENT_ID="chattrain",
        CHATTRAIN_OIDC_CLIENT_SECRET="browser-test-secret",
        CHATTRAIN_OIDC_TRAINER_VALUES=json.dumps(["chattrain-trainers"]),
    )
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


def test_the_provider_button_signs_a_trainer_in_to_the_app(oidc_stack, provider, new_page):
    provider.login_page = True  # the way back starts on the provider's page, another site
    provider.user = {
        "sub": "u-42",
        "email": "grace@example.com",
        "name": "Grace Hopper",
        "groups": ["chattrain-trainers"],
    }
    page = new_page()
    page.goto(oidc_stack.base_url + "/")
    button = page.get_by_role("link", name="Sign in with Example SSO")
    expect(button).to_be_visible()
    assert_accessible(page, "sign-in page with a provider")
    button.click()
    page.get_by_role("link", name="Continue as Grace Hopper").click()  # at the provider
    # Through the callback, back to the app, signed in.
    expect(page.locator("#who")).to_contain_text("Signed in as Grace Hopper (trainer)")
    assert page.url.startswith(oidc_stack.base_url + "/") and "code=" not in page.url
    expect(page.get_by_role("link", name="Sessions")).to_be_visible()  # a trainer's navigation
    page.reload()
    expect(page.locator("#who")).to_contain_text("Grace Hopper")
    # The cookie session is a full one: signing out (a write with the page's CSRF token) ends it.
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#status")).to_contain_text("You are signed out.")
    page.reload()
    expect(page.get_by_role("link", name="Sign in with Example SSO")).to_be_visible()
    expect(page.locator("#who")).to_have_text("")
