"""mreg.secrets (issue 7): secret-looking param names are refused unless named; the message names the
key, never the value. The CLI's refusals and the credential hunt are in tests/test_secrets.py."""

from __future__ import annotations

import pytest

from mreg.errors import UsageError
from mreg.secrets import check_params, is_secret_like, secret_like_keys

REFUSED = [
    "password",
    "passwd",
    "secret",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "token",
    "PASSWORD",
    "Api-Key",
    "db_password",
    "db-password",
    "db.password",
    "github_token",
    "HF_TOKEN",
    "client_secret",
    "aws_secret_access_key",
    "aws-access-key",
    "ssh.private_key",
    "wandb_api_key",
    "refresh_token",
    "auth.token",
    "secret_key",
    "x__token",
]


ALLOWED = [
    "max_tokens",
    "tokenizer",
    "num_tokens",
    "tokens",
    "token_count",
    "pad_token_id",
    "secretary",
    "passwords_seen",
    "lr",
    "batch_size",
    "api",
    "key",
    "keys",
    "access",
    "tokenize",
    "password_strength_model",
    "secret_sauce",
    "n_secrets",
    "bos_token_id",
]


@pytest.mark.parametrize("key", REFUSED)
def test_secret_like_names_are_recognised(key: str) -> None:
    assert is_secret_like(key)
    with pytest.raises(UsageError) as exc:
        check_params({key: "hunter2"})
    assert repr(key) in exc.value.message and "hunter2" not in exc.value.message
    check_params({key: "hunter2"}, allow=[key])  # named: allowed


@pytest.mark.parametrize("key", ALLOWED)
def test_ordinary_names_pass(key: str) -> None:
    assert not is_secret_like(key)
    check_params({key: 1})


def test_nested_params_are_searched_and_named_by_path() -> None:
    params = {
        "optim": {"lr": 0.1},
        "db": {"conn": {"Password": "x"}},
        "hooks": [{"name": "a"}, {"api_key": "k"}],
        "max_tokens": 5,
    }
    assert secret_like_keys(params) == ["db.conn.Password", "hooks[1].api_key"]
    with pytest.raises(UsageError, match=r"'db\.conn\.Password'"):
        check_params(params)
    with pytest.raises(UsageError, match=r"hooks\[1\]\.api_key"):
        check_params(params, allow=["db.conn.Password"])
    check_params(params, allow=["db.conn.password", "api_key"])  # a path or a key's own name, any case
