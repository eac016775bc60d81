"""The console's access rules on the embedded backends: login, roles, CSRF, cookies, audit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stream_sentinel.console.app import create_app
from stream_sentinel.console.sessions import COOKIE
from stream_sentinel.console.users import UserBook
from stream_sentinel.errors import ConfigError
from tests.console_support import PASSWORD, csrf_of, users
from tests.unit.console_rig import ConsoleRig, log_in, make_console_rig

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def rig() -> ConsoleRig:
    return make_console_rig()


@pytest.fixture
def client(rig: ConsoleRig) -> Iterator[TestClient]:
    with rig.client(users()) as client:
        yield client


def test_without_a_session_a_page_redirects_to_the_login_page(client: TestClient) -> None:
    reply = client.get("/kafka?x=1", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == "/login?next=/kafka?x=1"


def test_without_a_session_the_api_answers_401(client: TestClient) -> None:
    reply = client.get("/api/overview")
    assert (reply.status_code, reply.json()) == (401, {"error": "login required"})


def test_a_wrong_password_is_refused_with_the_same_words_as_an_unknown_user(
    client: TestClient,
) -> None:
    for name, password in (("ana", "not her password"), ("nobody", PASSWORD)):
        token = csrf_of(client.get("/login").text)
        reply = client.post(
            "/login", data={"username": name, "password": password, "csrf_token": token}
        )
        assert reply.status_code == 401
        assert "unknown user or wrong password" in reply.text
    assert client.get("/api/overview").status_code == 401


def test_logging_in_opens_the_pages_and_logging_out_closes_them(client: TestClient) -> None:
    log_in(client, "vera")
    page = client.get("/")
    assert page.status_code == 200
    assert '<span id="user">vera (viewer)</span>' in page.text
    token = csrf_of(page.text)
    assert (
        client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
        == 303
    )
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_httponly_and_samesite_strict_and_not_secure_on_loopback(
    client: TestClient,
) -> None:
    cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie


def test_off_loopback_the_cookie_is_secure(rig: ConsoleRig) -> None:
    with rig.client(users(), host="10.1.2.3") as client:
        assert "Secure" in client.get("/login").headers["set-cookie"]


def test_a_non_loopback_address_without_users_is_refused(rig: ConsoleRig) -> None:
    with pytest.raises(ConfigError, match=r"refuses to listen on 0\.0\.0\.0 without users"):
        create_app(rig.clients, rig.settings, rig.console_settings(host="0.0.0.0"), UserBook())


def test_a_login_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    reply = client.post("/login", data={"username": "ana", "password": PASSWORD})
    assert reply.status_code == 403
    assert "CSRF token is missing or stale" in reply.text


def test_a_viewer_sees_no_resolve_button_and_a_forged_resolve_is_refused(
    client: TestClient, rig: ConsoleRig
) -> None:
    log_in(client, "vera")
    page = client.get("/cases/al-crit")
    assert page.status_code == 200
    assert 'id="resolve"' not in page.text and 'id="unblock"' not in page.text
    token = csrf_of(page.text)
    reply = client.post("/cases/al-crit/resolve", data={"csrf_token": token, "label": "fraud"})
    assert reply.status_code == 403
    assert "vera is a viewer: only analysts and admins may do this" in reply.text
    assert client.get("/api/cases/al-crit").json()["case"] == "open"


def test_an_analyst_post_without_the_sessions_token_is_refused(client: TestClient) -> None:
    log_in(client, "ana")
    assert 'id="resolve"' in client.get("/cases/al-high").text
    for data in ({"label": "fraud"}, {"label": "fraud", "csrf_token": "forged"}):
        reply = client.post("/cases/al-high/resolve", data=data)
        assert reply.status_code == 403
    assert client.get("/api/cases/al-high").json()["case"] == "open"


def test_a_forged_session_cookie_is_no_session(client: TestClient) -> None:
    client.cookies.set(COOKIE, "eyJ1c2VyIjoiYWRhbSJ9.forged.sig")
    assert client.get("/api/overview").status_code == 401


def test_the_login_page_never_sends_the_user_off_the_console(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    reply = client.post(
        "/login",
        data={
            "username": "ana",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert (reply.status_code, reply.headers["location"]) == (303, "/")


def test_without_users_on_loopback_every_visitor_is_the_local_admin(rig: ConsoleRig) -> None:
    with rig.client(UserBook()) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert '<span id="user">local (admin)</span>' in page.text
