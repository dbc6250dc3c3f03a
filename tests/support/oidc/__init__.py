"""A real OpenID provider and a protected archive in front of Orthanc, for sign-in tests.

:func:`start_provider` runs provider.mjs (oidc-provider) and :func:`start_gate` runs
gate.mjs (jose), each a Node process on 127.0.0.1 from the repo's node_modules, configured
by a JSON file in a work folder and stopped by PID. :func:`protected_archive` starts both
so that the tokens' audience is the gate's DICOMweb root.

The provider signs with an RSA key made here, so a test holds the private key and can
:meth:`~Provider.mint_token` tokens with the provider's real key (or a foreign one) that
the gate must refuse. :meth:`Provider.login_with_password` gets real tokens without a
browser: it drives the authorization code flow with PKCE through the sign-in form, as a
browser would. One user exists: :data:`USER` with :data:`PASSWORD`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from orthanc import free_port, stop_process

HERE = Path(__file__).resolve().parent
PUBLIC_CLIENT = "ohifpy"
"""Public client (PKCE, no secret) with the authorization_code and refresh_token grants."""
NO_REFRESH_CLIENT = "ohifpy-norefresh"
"""Public client without the refresh_token grant: the page must renew silently in an iframe."""
GATE_CLIENT = "ohifpy-gate"
"""The gate's confidential client (client_secret_basic), for introspection only."""
USER = "tester"
PASSWORD = "correct horse battery staple"
USER_NAME = "Test User"
SCOPE = "openid profile"


class OidcError(RuntimeError):
    """The provider or the gate did not start, or a flow step was refused; says which."""


@dataclass(frozen=True)
class Lifetimes:
    """Token and session lifetimes in seconds; short ones make expiry testable."""

    access_token: int = 60
    id_token: int = 60
    refresh_token: int = 600
    session: int = 3600

    def ttl(self) -> dict[str, int]:
        """oidc-provider's ``ttl`` setting; the grant outlives whatever it issued."""
        return {"AccessToken": self.access_token, "IdToken": self.id_token,
                "RefreshToken": self.refresh_token, "Session": self.session,
                "Grant": max(self.refresh_token, self.session, self.access_token)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_int(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    """An RSA key pair with its key ID, as a JWK and as a JWS RS256 signer."""

    kid: str
    private: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(kid or secrets.token_hex(8), key)

    def jwk(self) -> dict[str, str]:
        """The private JWK (oidc-provider publishes only its public part)."""
        numbers = self.private.private_numbers()
        public = numbers.public_numbers
        return {"kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig",
                **{name: _b64url_int(value) for name, value in (
                    ("n", public.n), ("e", public.e), ("d", numbers.d), ("p", numbers.p),
                    ("q", numbers.q), ("dp", numbers.dmp1), ("dq", numbers.dmq1),
                    ("qi", numbers.iqmp))}}

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def jws(header: Mapping[str, Any], claims: Mapping[str, Any], key: SigningKey | None) -> str:
    """A compact JWS of ``claims``; unsigned (empty signature) when ``key`` is None."""
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode())
                             for part in (header, claims))
    signature = key.sign(signing_input.encode()) if key else b""
    return f"{signing_input}.{b64url(signature)}"


def unverified_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, not verified: for a test's assertions only."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class NodeServer:
    """A Node script we started, and its log (its stderr)."""

    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        stop_process(self.process, timeout)


@contextmanager
def _node_server(script: str, config: Mapping[str, Any], workdir: Path,
                 timeout: float = 30.0) -> Iterator[tuple[NodeServer, dict[str, Any]]]:
    """Run ``node script config.json`` until the block ends; yields it and its JSON line.

    The config (it holds keys and secrets) is a file, not arguments others could list;
    stdout goes to a file too, so nothing blocks on a pipe nobody reads.
    """
    name = Path(script).stem
    workdir.mkdir(parents=True, exist_ok=True)
    config_path, out_path = workdir / f"{name}.json", workdir / f"{name}.out"
    config_path.write_text(json.dumps(config))
    config_path.chmod(0o600)
    with open(out_path, "wb") as out, open(workdir / f"{name}.log", "wb") as err:
        process = subprocess.Popen(["node", str(HERE / script), str(config_path)], cwd=workdir,
                                   stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    server = NodeServer(process, workdir / f"{name}.log")
    try:
        deadline = time.monotonic() + timeout
        while "\n" not in (text := out_path.read_text()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise OidcError(f"{script} did not start (exit {process.poll()}); is `npm ci` "
                                f"done? Log:\n{server.log()[-3000:]}")
            time.sleep(0.05)
        yield server, json.loads(text.partition("\n")[0])
    finally:
        server.stop()


def _origins(uris: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(f"{urlsplit(uri).scheme}://{urlsplit(uri).netloc}" for uri in uris))


@dataclass
class Provider:
    """A running provider: its issuer, the archive's audience, its signing key, its clients."""

    issuer: str
    audience: str
    key: SigningKey = field(repr=False)
    gate_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    lifetimes: Lifetimes
    server: NodeServer = field(repr=False)
    attacker: SigningKey = field(default_factory=SigningKey.generate, repr=False)
    """A key the provider does not know, for forged tokens."""

    @cached_property
    def discovery(self) -> dict[str, Any]:
        answer = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        return dict(answer.raise_for_status().json())

    def endpoint(self, name: str) -> str:
        """An endpoint URL from discovery, e.g. ``token`` for ``token_endpoint``."""
        return str(self.discovery[f"{name}_endpoint"])

    def mint_token(self, claims: Mapping[str, Any] | None = None, *,
                   header: Mapping[str, Any] | None = None,
                   key: Literal["provider", "attacker", "none"] = "provider") -> str:
        """An access token as the provider would issue it, but never issued by it.

        ``claims`` and ``header`` override the defaults (a value of None drops the claim);
        ``key`` "attacker" signs with a foreign key under the provider's kid, "none" makes
        an unsigned ``alg: none`` token.
        """
        now = int(time.time())
        body = {"iss": self.issuer, "aud": self.audience, "sub": USER,
                "client_id": PUBLIC_CLIENT, "scope": SCOPE, "iat": now,
                "exp": now + self.lifetimes.access_token, "jti": secrets.token_urlsafe(16),
                **(claims or {})}
        head = {"alg": "none" if key == "none" else "RS256", "typ": "at+jwt",
                "kid": self.key.kid, **(header or {})}
        signer = {"provider": self.key, "attacker": self.attacker, "none": None}[key]
        return jws(head, {k: v for k, v in body.items() if v is not None}, signer)

    def login_with_password(self, client_id: str = PUBLIC_CLIENT,
                            redirect_uri: str | None = None, *, login: str = USER,
                            password: str = PASSWORD, scope: str = SCOPE,
                            user_agent: httpx.Client | None = None) -> dict[str, Any]:
        """Sign in through the provider's form (authorization code + PKCE) and return the
        token response (``access_token``, ``id_token``, ``refresh_token`` if any...).

        The provider's cookies (its session) are kept in ``user_agent`` when given, e.g.
        for :meth:`sign_out`; otherwise in a client of this call only.
        """
        redirect_uri = redirect_uri or self.redirect_uris[0]
        verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        with httpx.Client(timeout=10) as own:
            http = user_agent or own
            form = self._until_client(http, http.get(self.endpoint("authorization"), params={
                "client_id": client_id, "redirect_uri": redirect_uri, "response_type": "code",
                "scope": scope, "state": state, "nonce": secrets.token_urlsafe(16),
                "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
                "code_challenge_method": "S256"}), redirect_uri)
            answer = form if form.is_redirect else self._until_client(
                http, http.post(form.url, data={"login": login, "password": password}),
                redirect_uri)
            if not answer.is_redirect:
                raise OidcError(f"sign-in refused ({answer.status_code}): {answer.text[:500]}")
            query = parse_qs(urlsplit(answer.headers["location"]).query)
            if query.get("state") != [state] or query.get("iss") != [self.issuer]:
                raise OidcError(f"authorization answer not ours or an error: {query}")
            return self._token_request({
                "grant_type": "authorization_code", "code": query["code"][0],
                "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier})

    @staticmethod
    def _until_client(http: httpx.Client, response: httpx.Response,
                      redirect_uri: str) -> httpx.Response:
        """Follow the provider's redirects; stop at a page or at a redirect to the client."""
        while response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri):
                break
            response = http.get(location)
        return response

    def _token_request(self, data: Mapping[str, str]) -> dict[str, Any]:
        response = httpx.post(self.endpoint("token"), data=data, timeout=10)
        if response.status_code != 200:
            raise OidcError(f"token endpoint answered {response.status_code}: {response.text}")
        return dict(response.json())

    def refresh(self, refresh_token: str, client_id: str = PUBLIC_CLIENT) -> dict[str, Any]:
        """The refresh_token grant (the refresh token rotates: use the new one next)."""
        return self._token_request({"grant_type": "refresh_token",
                                    "refresh_token": refresh_token, "client_id": client_id})

    def revoke(self, token: str, client_id: str = PUBLIC_CLIENT,
               hint: str | None = None) -> None:
        """Revoke ``token`` as its public client would (RFC 7009).

        oidc-provider then revokes every token of the grant: revoking an access token ends
        its refresh token too, and revoking a refresh token ends its access tokens.
        """
        data = {"token": token, "client_id": client_id, **({"token_type_hint": hint} if hint
                                                           else {})}
        response = httpx.post(self.endpoint("revocation"), data=data, timeout=10)
        if response.status_code != 200:
            raise OidcError(f"revocation answered {response.status_code}: {response.text}")

    def introspect(self, token: str) -> dict[str, Any]:
        """What the introspection endpoint (RFC 7662) tells the gate's client of ``token``."""
        response = httpx.post(self.endpoint("introspection"), data={"token": token},
                              auth=(GATE_CLIENT, self.gate_secret), timeout=10)
        if response.status_code != 200:
            raise OidcError(f"introspection answered {response.status_code}: {response.text}")
        return dict(response.json())

    def sign_out(self, user_agent: httpx.Client, id_token: str,
                 post_logout_redirect_uri: str | None = None) -> str:
        """RP-initiated logout in ``user_agent``'s session, confirming as the logout page's
        script does; returns where the provider sends the user after."""
        params = {"id_token_hint": id_token}
        if post_logout_redirect_uri:
            params["post_logout_redirect_uri"] = post_logout_redirect_uri
        page = user_agent.get(self.endpoint("end_session"), params=params)
        form = re.search(r'<form id="op.logoutForm" method="post" action="([^"]+)">', page.text)
        if page.status_code != 200 or not form:
            raise OidcError(f"no logout page ({page.status_code}): {page.text[:500]}")
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"',
                                 page.text))
        done = user_agent.post(form.group(1), data=fields)
        if not done.is_redirect:
            raise OidcError(f"logout not confirmed ({done.status_code}): {done.text[:500]}")
        return done.headers["location"]


def _clients(redirect_uris: Sequence[str], post_logout_redirect_uris: Sequence[str],
             gate_secret: str) -> list[dict[str, Any]]:
    """oidc-provider client metadata: the page's two public clients and the gate's."""
    page = {"token_endpoint_auth_method": "none", "response_types": ["code"],
            "redirect_uris": list(redirect_uris),
            "post_logout_redirect_uris": list(post_logout_redirect_uris)}
    return [
        {**page, "client_id": PUBLIC_CLIENT,
         "grant_types": ["authorization_code", "refresh_token"]},
        {**page, "client_id": NO_REFRESH_CLIENT, "grant_types": ["authorization_code"]},
        {"client_id": GATE_CLIENT, "client_secret": gate_secret,
         "token_endpoint_auth_method": "client_secret_basic", "grant_types": [],
         "response_types": [], "redirect_uris": []},
    ]


@contextmanager
def start_provider(workdir: Path, *, audience: str, redirect_uris: Sequence[str],
                   post_logout_redirect_uris: Sequence[str] | None = None,
                   allowed_origins: Sequence[str] | None = None,
                   lifetimes: Lifetimes = Lifetimes(), port: int = 0) -> Iterator[Provider]:
    """Run the provider until the block ends.

    Tokens are JWTs for ``audience`` only; the public clients may redirect to
    ``redirect_uris`` (and, after sign-out, to ``post_logout_redirect_uris``, by default the
    same); CORS lets pages of ``allowed_origins`` (by default the redirect URIs' origins)
    call the token, revocation and userinfo endpoints.
    """
    key, gate_secret = SigningKey.generate(), secrets.token_urlsafe(24)
    config = {
        "port": port, "audience": audience, "jwks": {"keys": [key.jwk()]},
        "clients": _clients(redirect_uris, post_logout_redirect_uris or redirect_uris,
                            gate_secret),
        "allowed_origins": list(allowed_origins or _origins(redirect_uris)),
        "user": {"login": USER, "password": PASSWORD, "name": USER_NAME},
        "ttl": lifetimes.ttl(),
    }
    with _node_server("provider.mjs", config, workdir) as (server, started):
        yield Provider(started["issuer"], audience, key, gate_secret, tuple(redirect_uris),
                       lifetimes, server)


@dataclass
class Gate:
    """A running gate: its base URL, and the protected DICOMweb root under it."""

    url: str
    dicomweb_root: str
    server: NodeServer = field(repr=False)


@contextmanager
def start_gate(workdir: Path, provider: Provider, upstream: str, *,
               allowed_origins: Sequence[str] | None = None, port: int = 0) -> Iterator[Gate]:
    """Run the gate in front of the DICOMweb root ``upstream`` until the block ends; its
    own DICOMweb root has the same path. ``allowed_origins`` defaults to the provider's
    redirect URIs' origins."""
    config = {
        "port": port, "issuer": provider.issuer, "audience": provider.audience,
        "upstream": upstream, "client_id": GATE_CLIENT, "client_secret": provider.gate_secret,
        "allowed_origins": list(allowed_origins or _origins(provider.redirect_uris)),
    }
    with _node_server("gate.mjs", config, workdir) as (server, started):
        yield Gate(started["url"], started["url"] + urlsplit(upstream).path.rstrip("/"), server)


@contextmanager
def protected_archive(workdir: Path, upstream: str, *, redirect_uris: Sequence[str],
                      post_logout_redirect_uris: Sequence[str] | None = None,
                      allowed_origins: Sequence[str] | None = None,
                      lifetimes: Lifetimes = Lifetimes()) -> Iterator[tuple[Provider, Gate]]:
    """A provider and a gate in front of ``upstream``, the tokens' audience being the gate's
    DICOMweb root (its port is picked before the provider starts)."""
    port = free_port()
    audience = f"http://127.0.0.1:{port}{urlsplit(upstream).path.rstrip('/')}"
    with (start_provider(workdir, audience=audience, redirect_uris=redirect_uris,
                         post_logout_redirect_uris=post_logout_redirect_uris,
                         allowed_origins=allowed_origins, lifetimes=lifetimes) as provider,
          start_gate(workdir, provider, upstream, allowed_origins=allowed_origins,
                     port=port) as gate):
        yield provider, gate
