"""The identity and quota CLI in-process against a real controller, with a private profile."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cumulo import errors
from cumulo.cli.main import main
from cumulo.client import Client
from cumulo.profile import load_profile, profile_path
from tests.helpers.identity import ADMIN_PASSWORD, USER_PASSWORD


@pytest.fixture(autouse=True)
def private_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("CUMULO_DATA_DIR", str(tmp_path / "no-local-cloud"))
    for name in ("CUMULO_ENDPOINT", "CUMULO_TOKEN", "CUMULO_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = cli(capsys, "--json", *argv)
    assert code == 0, err
    return json.loads(out)


def test_admin_session_from_login_to_logout(controller, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    address = controller.address
    password_file = tmp_path / "admin-password"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    code, out, err = cli(
        capsys,
        "--endpoint",
        address,
        "login",
        "--user",
        "admin",
        "--project",
        "admin",
        "--password-file",
        str(password_file),
    )
    assert code == 0, err
    assert "Logged in" in out
    path = profile_path()
    assert path.stat().st_mode & 0o777 == 0o600
    assert ADMIN_PASSWORD not in path.read_text()
    profile = load_profile()
    assert profile is not None and profile.renewal["method"] == "password_file"

    # Every later command finds the endpoint and token in the profile.
    assert cli_json(capsys, "whoami")["is_cloud_admin"] is True
    project = cli_json(capsys, "project", "create", "web", "--description", "the web team")
    assert project["meta"]["name"] == "web" and project["description"] == "the web team"
    user_password = tmp_path / "bob-password"
    user_password.write_text(USER_PASSWORD)
    cli_json(capsys, "user", "create", "bob", "--password-file", str(user_password))
    cli_json(capsys, "role", "grant", "bob", "member", "--project", "web")
    rows = cli_json(capsys, "role", "assignments", "--project", "web")
    assert [(r["user_name"], r["role"]) for r in rows] == [("bob", "member")]
    assert [p["meta"]["name"] for p in cli_json(capsys, "project", "list")] == ["admin", "web"]

    quota = cli_json(capsys, "quota", "set", "--project", "web", "instances=5", "cores=-1")
    items = {i["resource"]: i for i in quota["items"]}
    assert items["instances"]["limit"] == "5" and items["cores"]["limit"] == "-1"
    code, out, _ = cli(capsys, "quota", "show", "--project", "web")
    assert code == 0 and "instances" in out and "unlimited" in out

    web_id = cli_json(capsys, "project", "show", "web")["meta"]["id"]
    base = datetime(2026, 3, 1, tzinfo=UTC)
    for hour in range(3):
        controller.quota.record_usage(
            web_id, "object_bytes", 100 + hour, base + timedelta(hours=hour)
        )
    code, out, err = cli(
        capsys,
        "usage",
        "--project",
        "web",
        "--csv",
        "--since",
        "2026-03-01",
        "--until",
        "2026-03-02",
    )
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "project_id,resource,amount,at"
    assert lines[1:] == [
        f"{web_id},object_bytes,{100 + h},{(base + timedelta(hours=h)).isoformat()}"
        for h in range(3)
    ]
    code, out, _ = cli(capsys, "usage", "--project", "web", "--since", "2026-03-01")
    assert "object_bytes" in out and "303" in out

    token = profile.token if (profile := load_profile()) else ""
    code, out, _ = cli(capsys, "logout")
    assert code == 0 and "revoked" in out
    assert not path.exists()
    with Client(address, timeout=10, token=token) as client, pytest.raises(errors.Unauthenticated):
        client.identity.get_caller()
    code, _, err = cli(capsys, "--endpoint", address, "whoami")
    assert code == 1 and "needs a token" in err and "cumulo login" in err


def test_app_credential_login_and_token_renewal(
    start_controller, capsys, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    running = start_controller(token_ttl_seconds=4)
    address = running.address
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    code, _, err = cli(
        capsys, "--endpoint", address, "login", "--user", "admin", "--password-stdin"
    )
    assert code == 0, err
    profile = load_profile()
    assert profile is not None and profile.renewal == {"method": "token"}
    first = profile.token
    issued = datetime.fromisoformat(profile.issued_at)
    # Into the last quarter of the token's life: the CLI renews with the token itself.
    time.sleep(max(0.0, (issued + timedelta(seconds=3.2) - datetime.now(UTC)).total_seconds()))
    assert cli_json(capsys, "whoami")["user_name"] == "admin"
    renewed = load_profile()
    assert renewed is not None and renewed.token != first

    current, new = tmp_path / "current", tmp_path / "new"
    current.write_text(ADMIN_PASSWORD)
    new.write_text("the-admin-password-v2")
    code, out, err = cli(
        capsys,
        "password",
        "--current-password-file",
        str(current),
        "--new-password-file",
        str(new),
    )
    assert code == 0, err
    assert "Password changed" in out
    changed = load_profile()
    assert changed is not None and changed.token != renewed.token  # the fresh token is kept
    assert cli_json(capsys, "whoami")["user_name"] == "admin"

    created = cli_json(
        capsys,
        "appcred",
        "create",
        "robot",
        "--role",
        "reader",
        "--allow",
        "/cumulo.identity.v1.IdentityService/GetCaller",
    )
    secret_file = tmp_path / "secret"
    secret_file.write_text(created["secret"])
    credential_id = created["credential"]["meta"]["id"]
    code, _, err = cli(
        capsys,
        "--endpoint",
        address,
        "login",
        "--app-credential-id",
        credential_id,
        "--app-credential-secret-file",
        str(secret_file),
    )
    assert code == 0, err
    who = cli_json(capsys, "whoami")
    assert who["application_credential_id"] == credential_id and who["roles"] == ["reader"]
    code, _, err = cli(capsys, "info")
    assert code == 1 and "may not call" in err
