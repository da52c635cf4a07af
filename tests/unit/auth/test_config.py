"""The authorizer's settings: read once at cold start, without pydantic, and refusing bad values there."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from beacon.authorizer_config import AuthorizerSettings
from local.template import ROOT
from tests.unit.support.handlers import load_function

PREFIX = "beacon/unit/clients/"
KEY_SECRET = "beacon/unit/client-id-key"


def test_settings_read_the_prefix_and_cache_period_from_the_environment() -> None:
    # Given the authorizer's environment as template.yaml sets it
    env = {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET, "CLIENT_CACHE_SECONDS": "30"}

    # When the settings are read
    settings = AuthorizerSettings.from_env(env)

    # Then the values are typed
    assert settings == AuthorizerSettings(
        client_secret_prefix=PREFIX, client_id_key_secret=KEY_SECRET, client_cache_seconds=30
    )


def test_the_origin_verify_secret_is_read_when_the_stack_has_a_distribution_and_absent_otherwise() -> None:
    base = {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET}
    # Without the variable, or empty as the template sets it without CloudFront: no origin check
    assert AuthorizerSettings.from_env(base).origin_verify_secret == ""
    assert AuthorizerSettings.from_env({**base, "ORIGIN_VERIFY_SECRET": ""}).origin_verify_secret == ""
    # With the secret's ARN: that secret
    arn = " arn:aws:secretsmanager:eu-west-1:123456789012:secret:OriginVerifySecret-AbCdEf "
    assert AuthorizerSettings.from_env({**base, "ORIGIN_VERIFY_SECRET": arn}).origin_verify_secret == arn.strip()


def test_cache_period_defaults_to_sixty_seconds() -> None:
    env = {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET}
    assert AuthorizerSettings.from_env(env).client_cache_seconds == 60


@pytest.mark.parametrize(("value", "seconds"), [("0", 0), (" 45 ", 45), ("+5", 5), ("007", 7)])
def test_cache_period_accepts_whole_numbers_of_seconds(value: str, seconds: int) -> None:
    env = {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET, "CLIENT_CACHE_SECONDS": value}
    assert AuthorizerSettings.from_env(env).client_cache_seconds == seconds


@pytest.mark.parametrize("value", ["-1", "", "abc", "1.5", "1e3", "٣", "0x10"])
def test_a_bad_cache_period_is_refused_naming_the_variable(value: str) -> None:
    # Given a cache period that is not a whole number of seconds >= 0
    env = {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET, "CLIENT_CACHE_SECONDS": value}

    # When the settings are read / Then they refuse it, saying which variable is wrong
    with pytest.raises(ValueError, match="CLIENT_CACHE_SECONDS"):
        AuthorizerSettings.from_env(env)


@pytest.mark.parametrize(
    "env",
    [{"CLIENT_ID_KEY_SECRET": KEY_SECRET}, {"CLIENT_SECRET_PREFIX": "", "CLIENT_ID_KEY_SECRET": KEY_SECRET}],
    ids=["missing", "empty"],
)
def test_a_missing_or_empty_secret_prefix_is_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CLIENT_SECRET_PREFIX"):
        AuthorizerSettings.from_env(env)


@pytest.mark.parametrize(
    "env", [{"CLIENT_SECRET_PREFIX": PREFIX}, {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": ""}]
)
def test_a_missing_or_empty_client_id_key_secret_is_refused(env: dict[str, str]) -> None:
    # Without the key no signed client id can be checked: the function fails at init, not at every request
    with pytest.raises(ValueError, match="CLIENT_ID_KEY_SECRET"):
        AuthorizerSettings.from_env(env)


@pytest.mark.parametrize("seconds", [-1, True, 1.5])
def test_settings_built_in_code_are_checked_too(seconds: object) -> None:
    with pytest.raises(ValueError, match="CLIENT_CACHE_SECONDS"):
        AuthorizerSettings(PREFIX, KEY_SECRET, client_cache_seconds=seconds)  # type: ignore[arg-type]


def test_the_authorizer_fails_at_cold_start_on_a_bad_setting() -> None:
    # Given a negative cache period in the function's environment
    env = {"CLIENT_SECRET_PREFIX": PREFIX, "CLIENT_ID_KEY_SECRET": KEY_SECRET, "CLIENT_CACHE_SECONDS": "-5"}

    # When the function is loaded / Then its init fails, before any request
    with pytest.raises(ValueError, match="CLIENT_CACHE_SECONDS"):
        load_function("authorizer", env)


def test_the_authorizer_imports_neither_pydantic_nor_powertools_data_classes() -> None:
    # Given a fresh interpreter (this one has imported everything already)
    probe = (
        "import importlib.util, sys\n"
        "spec = importlib.util.spec_from_file_location('app', 'functions/authorizer/app.py')\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "heavy = ('pydantic', 'boto3', 'aws_lambda_powertools.utilities.data_classes', 'aws_xray_sdk')\n"
        "print(sorted(name for name in sys.modules if name.startswith(heavy)))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers' / 'beacon'}{os.pathsep}{ROOT}",
        "CLIENT_SECRET_PREFIX": PREFIX,
        "CLIENT_ID_KEY_SECRET": KEY_SECRET,
    }

    # When the authorizer's app.py is imported there
    imported = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )

    # Then none of the modules its cold start should not pay for were loaded (each costs it 50-100 ms)
    assert imported.stdout.strip() == "[]"
