"""Configuration: defaults, TOML file, environment overrides, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from cumulo import errors
from cumulo.config import CONTROLLER_PORT, load_config


def test_defaults_work_on_one_machine(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    assert config.controller.listen == f"127.0.0.1:{CONTROLLER_PORT}"
    assert config.database_url() == f"sqlite:///{tmp_path / 'controller' / 'controller.db'}"
    assert config.log_dir == tmp_path / "logs"


def test_file_then_environment_then_flag(tmp_path: Path) -> None:
    path = tmp_path / "cumulo.toml"
    path.write_text(
        'data_dir = "/srv/cumulo"\n'
        "[controller]\n"
        'listen = "0.0.0.0:9000"\n'
        "require_native = true\n"
        "[logging]\n"
        'level = "DEBUG"\n'
    )
    config = load_config(path, environ={"CUMULO_CONTROLLER_LISTEN": "127.0.0.1:9100"})
    assert config.controller.listen == "127.0.0.1:9100"
    assert config.controller.require_native is True
    assert config.logging.level == "DEBUG"
    assert config.data_dir == Path("/srv/cumulo")
    flagged = load_config(path, environ={}, data_dir=tmp_path / "x")
    assert flagged.data_dir == tmp_path / "x"


def test_environment_values_are_typed(tmp_path: Path) -> None:
    config = load_config(
        environ={"CUMULO_CONTROLLER_REQUIRE_NATIVE": "yes", "CUMULO_DATA_DIR": str(tmp_path)}
    )
    assert config.controller.require_native is True
    assert config.data_dir == tmp_path
    with pytest.raises(errors.InvalidArgument, match="true or false"):
        load_config(environ={"CUMULO_CONTROLLER_REQUIRE_NATIVE": "maybe"})


def test_unknown_key_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[controller]\nlisten_adress = '1.2.3.4:1'\n")
    with pytest.raises(errors.InvalidArgument, match=r"controller\.listen_adress"):
        load_config(path, environ={})


def test_wrong_type_and_bad_toml_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[controller]\nlisten = 7\n")
    with pytest.raises(errors.InvalidArgument, match="must be a string"):
        load_config(path, environ={})
    path.write_text("[controller\n")
    with pytest.raises(errors.InvalidArgument, match="not valid TOML"):
        load_config(path, environ={})
    with pytest.raises(errors.NotFound, match="does not exist"):
        load_config(tmp_path / "missing.toml", environ={})


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[controller]\ndatabase_url = 'postgresql+psycopg://u:p@h/db'\n")
    config = load_config(environ={"CUMULO_CONFIG": str(path)})
    assert config.database_url() == "postgresql+psycopg://u:p@h/db"


def test_agent_and_liveness_settings_from_environment(tmp_path: Path) -> None:
    config = load_config(
        environ={
            "CUMULO_AGENT_HEARTBEAT_INTERVAL": "0.5",
            "CUMULO_AGENT_DRIVERS": "noop, other",
            "CUMULO_CONTROLLER_HEARTBEAT_TIMEOUT": "3",
        },
        data_dir=tmp_path,
    )
    assert config.agent.heartbeat_interval == 0.5
    assert config.agent.drivers == ["noop", "other"]
    assert config.controller.heartbeat_timeout == 3.0
    assert config.agent_state_dir() == tmp_path / "agent"
    assert config.agent_credential_file() == tmp_path / "agent" / "credential"
    config.agent.state_dir = "/srv/agent"
    assert config.agent_state_dir() == Path("/srv/agent")


def test_identity_and_quota_sections(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[identity]\ntoken_ttl_seconds = 600\nadmin_password = 'from-file'\n"
        "[quota]\ninstances = 3\n"
    )
    config = load_config(path, environ={"CUMULO_QUOTA_CORES": "-1"})
    assert config.identity.token_ttl_seconds == 600
    assert config.identity.admin_password == "from-file"
    assert config.quota.instances == 3 and config.quota.cores == -1
    assert config.quota.as_dict()["object_count"] == 1_000_000
    path.write_text("[identity]\ntoken_ttl = 1\n")
    with pytest.raises(errors.InvalidArgument, match=r"identity\.token_ttl"):
        load_config(path, environ={})


def test_storage_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    config = load_config(environ={}, data_dir=tmp_path)
    assert config.storage_devices_root() == tmp_path / "storage" / "devices"
    assert config.storage_credential_file() == tmp_path / "storage" / "credential"
    assert config.storage.chunk_size == 1 << 20
    assert len(config.storage.allinone_listen) == 3


def test_storage_keys_from_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[storage]\n"
        'devices_root = "/srv/node"\n'
        'devices = ["d1", "d2"]\n'
        "chunk_size = 65536\n"
        'credential_file = "/etc/cumulo/storage.key"\n'
    )
    config = load_config(path, environ={"CUMULO_STORAGE_DEVICES": "d3,d4"})
    assert config.storage_devices_root() == Path("/srv/node")
    assert config.storage.devices == ["d3", "d4"]
    assert config.storage.chunk_size == 65536
    assert config.storage_credential_file() == Path("/etc/cumulo/storage.key")
