"""Auth fixtures: a real local JWKS server and apps that verify tokens through it."""

from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI

from testkit.auth_server import JwksServer, SigningKey, make_signing_key

ALGORITHMS = ("EdDSA", "RS256", "ES256")


@pytest.fixture(scope="session")
def signing_keys() -> dict[str, SigningKey]:
    """One auth-server key per algorithm (RSA keys are slow to make: once per session)."""
    return {alg: make_signing_key(alg) for alg in ALGORITHMS}


@pytest.fixture
def jwks_server(signing_keys: dict[str, SigningKey]) -> Iterator[JwksServer]:
    """A running JWKS server publishing the three keys; stopped after the test."""
    server = JwksServer(signing_keys.values()).start()
    yield server
    server.stop()


@pytest.fixture
def make_jwks_app(make_app, jwks_server: JwksServer) -> Callable[..., FastAPI]:
    """A production app that trusts only the JWKS server's keys (no HS256 secret)."""

    def build(**overrides: object) -> FastAPI:
        settings: dict[str, object] = {
            "app_env": "production",
            "auth_jwks_url": jwks_server.url,
            "auth_jwt_secret": None,
        }
        settings.update(overrides)
        return make_app(**settings)

    return build
