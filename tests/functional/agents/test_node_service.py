"""cumulo.node.v1.NodeService through the SDK and the CLI: enrollment, listing, admin state."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cumulo import errors
from cumulo.cli.main import main as cli
from cumulo.client import Client
from cumulo.node.v1 import node_pb2
from cumulo.services.nodes import resource
from tests.functional.agents.conftest import ControllerHarness
from tests.helpers.identity import admin_token


def test_enroll_returns_a_credential_once_and_stores_only_its_hash(
    client: Client, harness: ControllerHarness, database_url: str
) -> None:
    response = client.nodes.enroll("alpha")
    node_id, _, secret = response.credential.partition(".")
    assert node_id == response.node.id and len(secret) >= 40
    assert response.node.state == node_pb2.NODE_STATE_NEW
    assert response.node.admin_state == node_pb2.ADMIN_STATE_ENABLED
    with harness.running.database.engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT credential_hash FROM nodes").scalar()
    assert secret not in str(stored) and len(stored) == 64
    with pytest.raises(errors.AlreadyExists, match="already enrolled"):
        client.nodes.enroll("alpha")


@pytest.mark.parametrize("name", ["", "-lead", "a" * 64, "sp ace", "../x"])
def test_bad_node_names_are_refused(client: Client, name: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.nodes.enroll(name)
    assert caught.value.field == "name"


def test_list_pages_sorted_by_name(client: Client) -> None:
    for name in ["c", "a", "d", "b", "e"]:
        client.nodes.enroll(name)
    first = client.nodes.list_page(page_size=2)
    assert [n.name for n in first.nodes] == ["a", "b"] and first.page.next_page_token
    assert [n.name for n in client.nodes.list(page_size=2)] == ["a", "b", "c", "d", "e"]
    with pytest.raises(errors.InvalidArgument, match="page_token"):
        client.nodes.list_page(page_token="garbage!")


def test_get_by_id_or_name_and_not_found(client: Client) -> None:
    node = client.nodes.enroll("findme").node
    assert client.nodes.get(node.id).name == "findme"
    assert client.nodes.get("findme").id == node.id
    with pytest.raises(errors.NotFound, match="no node 'nope'"):
        client.nodes.get("nope")
    with pytest.raises(errors.InvalidArgument):
        client.nodes.get("")


def test_disable_enable(client: Client) -> None:
    client.nodes.enroll("dis")
    node = client.nodes.disable("dis", "broken fan")
    assert node.admin_state == node_pb2.ADMIN_STATE_DISABLED
    assert node.disabled_reason == "broken fan" and not node.draining
    node = client.nodes.enable("dis")
    assert node.admin_state == node_pb2.ADMIN_STATE_ENABLED and node.disabled_reason == ""


def test_set_desired_state_validation(client: Client) -> None:
    client.nodes.enroll("ds")
    with pytest.raises(errors.InvalidArgument, match="not both"):
        client.nodes.set_desired_state([], nodes=["ds"], all_nodes=True)
    with pytest.raises(errors.InvalidArgument, match="not both"):
        client.nodes.set_desired_state([])
    with pytest.raises(errors.InvalidArgument, match="appears twice"):
        client.nodes.set_desired_state([resource("noop", "a"), resource("noop", "a")], nodes=["ds"])
    with pytest.raises(errors.NotFound):
        client.nodes.set_desired_state([], nodes=["missing"])
    assert client.nodes.set_desired_state([resource("noop", "a")], nodes=["ds"]) == {
        client.nodes.get("ds").id: 1
    }
    assert client.nodes.get("ds").desired_resources[0].name == "a"


def test_cli_node_commands(
    harness: ControllerHarness,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUMULO_TOKEN", admin_token(harness.address))
    base = ["--endpoint", harness.address]
    credential_file = tmp_path / "cred"
    assert (
        cli([*base, "node", "enroll", "cli-node", "--credential-file", str(credential_file)]) == 0
    )
    out = capsys.readouterr().out
    assert "Enrolled node cli-node" in out and credential_file.read_text().strip() in out
    assert stat.S_IMODE(credential_file.stat().st_mode) == 0o600
    assert cli([*base, "node", "list"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:3] == ["NAME", "ID", "STATE"]
    assert "cli-node" in table and "new" in table
    assert cli([*base, "--json", "node", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)["nodes"]
    assert listed[0]["name"] == "cli-node" and listed[0]["state"] == "NODE_STATE_NEW"
    assert cli([*base, "node", "drain", "cli-node", "--reason", "kernel update"]) == 0
    assert "drained" in capsys.readouterr().out
    assert cli([*base, "node", "show", "cli-node"]) == 0
    shown = capsys.readouterr().out
    assert "draining" in shown and "kernel update" in shown
    for verb in ("enable", "disable", "revoke"):
        assert cli([*base, "node", verb, "cli-node"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert cli([*base, "--json", "node", "show", "cli-node"]) == 0
    assert json.loads(capsys.readouterr().out)["credential_revoked"] is True
    assert cli([*base, "node", "show", "nope"]) == 1
    assert "cumulo: error: no node 'nope'" in capsys.readouterr().err
