"""The token gate in front of the session's Orthanc, against the real OpenID provider.

Real tokens come from the provider's sign-in form (authorization code + PKCE, driven with
httpx); refused ones are minted with the provider's own key, or a foreign one, so each
check of the gate is seen failing on its own. Revocation and sign-out must shut the gate
within about a second (the gate trusts a positive introspection answer for at most 1 s).
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import LoadedOrthanc
from support.oidc import (
    NO_REFRESH_CLIENT,
    Gate,
    OidcError,
    Provider,
    protected_archive,
    unverified_claims,
)

pytestmark = pytest.mark.cpython_only

APP = "http://127.0.0.1:8000"
"""The page's origin: a redirect there only carries the code back, nothing listens."""
REDIRECT_URI = f"{APP}/ohifpy/callback"
OTHER_ORIGIN = "http://127.0.0.1:8001"


@pytest.fixture(scope="module")
def archive(orthanc: LoadedOrthanc,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Gate]]:
    with protected_archive(tmp_path_factory.mktemp("oidc"), orthanc.dicomweb_root,
                           redirect_uris=[REDIRECT_URI]) as pair:
        yield pair


@pytest.fixture
def provider(archive: tuple[Provider, Gate]) -> Provider:
    return archive[0]


@pytest.fixture
def gate(archive: tuple[Provider, Gate]) -> Gate:
    return archive[1]


def studies(root: str, token: str | None, query: str = "", **headers: str) -> httpx.Response:
    """QIDO ``/studies`` at ``root``, with ``token`` as the Bearer credential if given."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.get(f"{root}/studies?{query}", headers=headers, timeout=30)


REFUSED_WITHIN = 2.0
"""Seconds: the gate reuses a positive answer for 1 s; the rest is slack for a busy machine."""


def refused_within(gate: Gate, token: str, seconds: float = REFUSED_WITHIN) -> float:
    """How long until the gate refuses ``token`` (polled); fails past ``seconds``."""
    started = time.monotonic()
    while (status := studies(gate.dicomweb_root, token).status_code) == 200:
        assert time.monotonic() - started < seconds, f"still let through after {seconds}s"
        time.sleep(0.05)
    assert status == 401
    return time.monotonic() - started


def test_signed_in_token_reads_orthanc_through_the_gate(
        provider: Provider, gate: Gate, orthanc: LoadedOrthanc) -> None:
    access = provider.login_with_password()["access_token"]
    claims = unverified_claims(access)
    assert (claims["iss"], claims["aud"]) == (provider.issuer, gate.dicomweb_root)
    uid = orthanc.manifest.studies[0].study_uid
    answer = studies(gate.dicomweb_root, access, f"StudyInstanceUID={uid}", Origin=APP)
    direct = studies(orthanc.dicomweb_root, None, f"StudyInstanceUID={uid}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == direct.headers["content-type"]
    (study,) = answer.json()
    assert study["0020000D"]["Value"] == [uid]
    assert study["00081190"]["Value"] == [f"{gate.dicomweb_root}/studies/{uid}"], \
        "Orthanc's RetrieveURL must lead back through the gate"
    assert (answer.headers["access-control-allow-origin"], answer.headers["vary"]) \
        == (APP, "Origin")


def test_no_token_is_asked_for_one(gate: Gate) -> None:
    answer = studies(gate.dicomweb_root, None, Origin=APP)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == 'Bearer realm="dicomweb"'  # RFC 6750 §3.1
    assert answer.headers["access-control-allow-origin"] == APP  # the page can read why


@pytest.mark.parametrize(("mint", "reason"), [
    ({"claims": {"iat": 1_000_000_000, "exp": 1_000_000_060}}, '"exp" claim timestamp'),
    ({"claims": {"exp": None}}, 'missing required "exp"'),
    ({"key": "attacker"}, "signature verification failed"),
    ({"claims": {"aud": "http://127.0.0.1:1/another-archive"}}, 'unexpected "aud"'),
    ({"claims": {"iss": "http://127.0.0.1:1"}}, 'unexpected "iss"'),
    ({"key": "none"}, '"alg" (Algorithm) Header Parameter value not allowed'),
    ({"header": {"typ": "JWT"}}, 'unexpected "typ"'),
    ({}, "not active"),
], ids=["expired", "no-exp", "forged", "wrong-audience", "wrong-issuer", "alg-none",
        "not-an-access-token", "never-issued"])
def test_bad_token_is_refused(provider: Provider, gate: Gate, mint: dict[str, Any],
                              reason: str) -> None:
    """Each check alone refuses: all but the one under test pass (the last one, signed
    right but never issued, passes jose and is caught by introspection)."""
    answer = studies(gate.dicomweb_root, provider.mint_token(**mint))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith(
        'Bearer realm="dicomweb", error="invalid_token", error_description=')
    assert reason in answer.text


def test_id_token_is_not_an_access_token(provider: Provider, gate: Gate) -> None:
    answer = studies(gate.dicomweb_root, provider.login_with_password()["id_token"])
    assert answer.status_code == 401


def _revoke_access_token(provider: Provider, _: httpx.Client, tokens: dict[str, Any]) -> None:
    provider.revoke(tokens["access_token"], hint="access_token")


def _revoke_refresh_token(provider: Provider, _: httpx.Client, tokens: dict[str, Any]) -> None:
    provider.revoke(tokens["refresh_token"], hint="refresh_token")


def _sign_out(provider: Provider, browser: httpx.Client, tokens: dict[str, Any]) -> None:
    assert provider.sign_out(browser, tokens["id_token"], REDIRECT_URI) == REDIRECT_URI


@pytest.mark.parametrize("end", [_revoke_access_token, _revoke_refresh_token, _sign_out],
                         ids=["revoke-access-token", "revoke-refresh-token", "sign-out"])
def test_ended_token_is_refused_within_a_second(
        provider: Provider, gate: Gate,
        end: Callable[[Provider, httpx.Client, dict[str, Any]], None]) -> None:
    with httpx.Client(timeout=10) as browser:
        tokens = provider.login_with_password(user_agent=browser)
        assert studies(gate.dicomweb_root, tokens["access_token"]).status_code == 200
        end(provider, browser, tokens)  # the gate still holds the positive answer above
    refused_within(gate, tokens["access_token"])
    with pytest.raises(OidcError, match="invalid_grant"):
        provider.refresh(tokens["refresh_token"])


def test_refresh_gives_a_new_working_token(provider: Provider, gate: Gate) -> None:
    first = provider.login_with_password()
    second = provider.refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"], "public clients' rotate"
    assert unverified_claims(second["access_token"])["jti"] \
        != unverified_claims(first["access_token"])["jti"]
    assert studies(gate.dicomweb_root, second["access_token"]).status_code == 200
    with pytest.raises(OidcError, match="invalid_grant"):
        provider.refresh(first["refresh_token"])  # replayed: the whole grant is revoked
    refused_within(gate, second["access_token"])


def test_client_without_refresh_grant_gets_no_refresh_token(
        provider: Provider, gate: Gate) -> None:
    tokens = provider.login_with_password(NO_REFRESH_CLIENT)
    assert "refresh_token" not in tokens
    assert studies(gate.dicomweb_root, tokens["access_token"]).status_code == 200


def test_wrong_password_is_refused(provider: Provider) -> None:
    with pytest.raises(OidcError, match="sign-in refused"):
        provider.login_with_password(password="wrong")


@pytest.mark.parametrize("origin", [APP, OTHER_ORIGIN])
def test_preflight_needs_no_token_and_allows_only_the_app(gate: Gate, origin: str) -> None:
    answer = httpx.options(f"{gate.dicomweb_root}/studies", headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization,accept"})
    assert answer.status_code == 204
    assert answer.headers["vary"] == "Origin"
    if origin == APP:
        assert answer.headers["access-control-allow-origin"] == APP
        assert {"authorization", "accept", "content-type"} <= {
            h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
        assert "GET" in answer.headers["access-control-allow-methods"]
    else:
        assert "access-control-allow-origin" not in answer.headers


def test_provider_lets_only_the_app_call_its_token_endpoint(provider: Provider) -> None:
    """clientBasedCORS: the page's fetch of the token endpoint from its origin."""
    refresh_token = provider.login_with_password()["refresh_token"]
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": "ohifpy"}
    refused = httpx.post(provider.endpoint("token"), data=form, headers={"Origin": OTHER_ORIGIN})
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    allowed = httpx.post(provider.endpoint("token"), data=form, headers={"Origin": APP})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == APP


def test_auth_endpoint_for_nginx_answers_without_proxying(provider: Provider,
                                                          gate: Gate) -> None:
    access = provider.login_with_password()["access_token"]
    for token, status in [(access, 204), (None, 401), (provider.mint_token(key="attacker"), 401)]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.get(f"{gate.url}/auth", headers=headers)
        assert (answer.status_code, answer.content if status == 204 else b"") == (status, b"")


def test_only_the_dicomweb_root_is_served(provider: Provider, gate: Gate) -> None:
    """Not Orthanc's REST API, even by dot segments (sent raw: httpx would resolve them)."""
    access = provider.login_with_password()["access_token"]
    for path in ("/system", "/dicom-web/../instances", "/dicom-web/%2e%2e/system",
                 "/dicom-webx/studies"):
        connection = http.client.HTTPConnection(urlsplit(gate.url).netloc, timeout=10)
        try:
            connection.request("GET", path, headers={"Authorization": f"Bearer {access}"})
            assert connection.getresponse().status == 404, path
        finally:
            connection.close()
