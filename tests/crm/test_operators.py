"""Operator accounts in the CRM store: Argon2id passwords, sessions and keys kept as digests."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from app.crm import Conflict, InvalidInput, operators

PASSWORD = "a-long-password-123"


@pytest.fixture
def amal(db: Database) -> dict:
    return operators.create_operator(
        db, login="Amal", name="Amal Haddad", role="admin", password=PASSWORD
    )


def test_a_password_is_kept_only_as_an_argon2id_hash(db: Database, amal: dict):
    assert amal["login"] == "amal" and "password_hash" not in amal
    [stored] = [r[0] for r in db.execute("SELECT password_hash FROM operators").fetchall()]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert operators.authenticate(db, login="AMAL", password=PASSWORD)["id"] == amal["id"]
    assert operators.authenticate(db, login="amal", password=PASSWORD + "x") is None
    assert operators.authenticate(db, login="nobody", password=PASSWORD) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"login": "a", "role": "admin", "password": PASSWORD},
        {"login": "bad login", "role": "admin", "password": PASSWORD},
        {"login": "ok", "role": "owner", "password": PASSWORD},
        {"login": "ok", "role": "agent", "password": "short"},
    ],
)
def test_bad_accounts_are_refused(db: Database, fields: dict):
    with pytest.raises(InvalidInput):
        operators.create_operator(db, name="X", **fields)


def test_logins_are_unique(db: Database, amal: dict):
    with pytest.raises(Conflict):
        operators.create_operator(db, login="AMAL", name="Other", role="agent", password=PASSWORD)


def test_sessions_and_keys_are_digests_and_end(db: Database, amal: dict):
    token, _ = operators.start_session(db, operator_id=amal["id"])
    key = operators.create_key(db, operator_id=amal["id"], name="script")
    stored = " ".join(
        r[0]
        for r in db.execute(
            "SELECT token_hash FROM operator_sessions UNION ALL SELECT key_hash FROM operator_keys"
        ).fetchall()
    )
    assert token not in stored and key["key"] not in stored
    assert operators.session_operator(db, token=token)["id"] == amal["id"]
    assert operators.key_operator(db, key=key["key"])["id"] == amal["id"]
    # a new password ends the sessions and revokes the keys
    operators.update_operator(db, operator_id=amal["id"], password="another-long-password")
    assert operators.session_operator(db, token=token) is None
    assert operators.key_operator(db, key=key["key"]) is None
    token, _ = operators.start_session(db, operator_id=amal["id"])
    key = operators.create_key(db, operator_id=amal["id"], name="script 2")
    # disabling stops the session and the key at once
    operators.create_operator(db, login="omar", name="Omar", role="admin", password=PASSWORD)
    operators.update_operator(db, operator_id=amal["id"], active=False)
    assert operators.session_operator(db, token=token) is None
    assert operators.key_operator(db, key=key["key"]) is None
    assert operators.authenticate(db, login="amal", password="another-long-password") is None


def test_the_last_active_admin_stays_one(db: Database, amal: dict):
    with pytest.raises(Conflict):
        operators.update_operator(db, operator_id=amal["id"], role="agent")
    with pytest.raises(Conflict):
        operators.update_operator(db, operator_id=amal["id"], active=False)
    omar = operators.create_operator(db, login="omar", name="O", role="admin", password=PASSWORD)
    operators.update_operator(db, operator_id=omar["id"], active=False)
    with pytest.raises(Conflict):
        operators.update_operator(db, operator_id=amal["id"], role="supervisor")
