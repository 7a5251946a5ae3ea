"""``cumulo up`` and ``cumulo down``: the all-in-one cloud on loopback."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from cumulo import errors
from cumulo.allinone import Supervisor, all_in_one_processes, stop_local_cloud
from cumulo.cli.output import print_json
from cumulo.config import Config, load_config
from cumulo.local import LocalCloud, find_local_cloud

DETACH_TIMEOUT = 90.0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    up = commands.add_parser(
        "up", help="start the all-in-one cloud on loopback (Ctrl-C or `cumulo down` stops it)"
    )
    up.add_argument("--data-dir", type=Path, help="where data, logs and run files go")
    up.add_argument("--config", type=Path, help="TOML config file (see docs/configuration.md)")
    up.add_argument("--detach", action="store_true", help="run in the background and return")
    up.add_argument("--demo", action="store_true", help="once up, show the cloud working")
    up.add_argument(
        "--tls",
        action="store_true",
        help="serve every process over TLS (a CA and a loopback certificate are made once "
        "under <data-dir>/tls; storage nodes demand client certificates); see docs/tls.md",
    )
    up.add_argument(
        "--no-login",
        action="store_true",
        help="do not log the CLI in as the cloud's admin (default: log in, see docs/identity.md)",
    )
    up.set_defaults(func=run_up)
    down = commands.add_parser("down", help="stop the all-in-one cloud")
    down.add_argument("--data-dir", type=Path, help="data directory of the cloud to stop")
    down.set_defaults(func=run_down)


def _login_admin(cloud: LocalCloud, config: Config) -> dict[str, str]:
    """Log the CLI in as the local cloud's admin (profile file); return what to tell the user.

    The admin password comes from the config (``[identity] admin_password``) or the
    file the controller wrote on first start.  With the file, the profile renews
    by re-reading it; with a configured password only the token is stored.
    """
    from cumulo.cli.identity import save_login
    from cumulo.client import Client

    endpoint = cloud.endpoints.get("controller", "")
    password_file = config.data_dir / "controller" / "admin-password"
    how = {
        "user": "admin",
        "project": "admin",
        "password_file": str(password_file),
        "command": f"cumulo login --endpoint {endpoint} --user admin --project admin "
        f"--password-file {password_file}",
    }
    password = config.identity.admin_password
    renewal: dict[str, str] = {"method": "token"}
    if not password:
        try:
            password = password_file.read_text().strip()
        except OSError:
            # The admin existed before with a password we do not know: log in by hand.
            how["command"] = f"cumulo login --endpoint {endpoint} --user admin --project admin"
            return how
        renewal = {
            "method": "password_file",
            "user": "admin",
            "project": "admin",
            "path": str(password_file),
        }
    else:
        how["command"] = f"cumulo login --endpoint {endpoint} --user admin --project admin"
    try:
        with Client(endpoint, timeout=10) as client:
            response = client.identity.login("admin", password, "admin")
    except errors.CumuloError as exc:
        how["error"] = str(exc)
        return how
    how["profile"] = str(save_login(endpoint, response, renewal))
    return how


def _announce(cloud: LocalCloud, args: argparse.Namespace, config: Config) -> None:
    login = {} if args.no_login else _login_admin(cloud, config)
    if args.json:
        print_json(
            {
                "data_dir": str(cloud.data_dir),
                "pid": cloud.pid,
                "endpoints": cloud.endpoints,
                "tls": cloud.tls,
                "login": login,
            }
        )
        return
    print(f"Cumulo is up (data and logs under {cloud.data_dir})")
    width = max((len(name) for name in cloud.endpoints), default=0)
    for name, address in cloud.endpoints.items():
        print(f"  {name:<{width}}  {address}")
    controller = cloud.endpoints.get("controller", "")
    grpcurl = f"grpcurl -cacert {cloud.tls['ca_file']}" if cloud.tls else "grpcurl -plaintext"
    if cloud.tls:
        print(f"TLS: every process; the cloud's CA is {cloud.tls['ca_file']}")
    if login.get("profile"):
        print(f"The CLI is logged in as admin on project admin (profile {login['profile']}).")
    elif login.get("error"):
        print(f"Could not log the CLI in: {login['error']}")
    if login:
        prefix = f"CUMULO_TLS_CA_FILE={cloud.tls['ca_file']} " if cloud.tls else ""
        print(f"Log in from elsewhere: {prefix}{login['command']}")
    print(
        f"Try: cumulo info   |   {grpcurl} {controller} list   |   "
        f'{grpcurl} -H "authorization: Bearer $(cumulo token)" {controller} '
        "cumulo.identity.v1.IdentityService/GetCaller"
    )
    sys.stdout.flush()


def _demo(cloud: LocalCloud) -> None:
    from cumulo.cli import identity, info, node

    print("\n$ cumulo whoami")
    identity.run_whoami(
        argparse.Namespace(endpoint=cloud.endpoints["controller"], timeout=10.0, json=False)
    )
    print("\n$ cumulo info")
    info.run_info(
        argparse.Namespace(
            endpoint=cloud.endpoints["controller"], timeout=10.0, json=False, section=[]
        )
    )
    print("\n$ cumulo node list")
    node.run_list(
        argparse.Namespace(endpoint=cloud.endpoints["controller"], timeout=10.0, json=False)
    )
    print()
    sys.stdout.flush()


def use_local_tls(config: Config) -> None:
    """Point ``config.tls`` at the loopback CA and certificate, made once under
    ``<data_dir>/tls`` (``cumulo up --tls``)."""
    from cumulo.certs import ensure_loopback

    ca, loopback = ensure_loopback(config.data_dir / "tls")
    config.tls.ca_file = str(ca.cert)
    config.tls.cert_file = str(loopback.cert)
    config.tls.key_file = str(loopback.key)


def run_up(args: argparse.Namespace) -> int:
    config = load_config(args.config, data_dir=args.data_dir)
    if args.tls:
        use_local_tls(config)
    if args.detach:
        return _run_detached(args, config)
    supervisor = Supervisor(config, all_in_one_processes(config), on_event=_progress(args))
    cloud = supervisor.start()
    try:
        _announce(cloud, args, config)
        if args.demo:
            _demo(cloud)
        if not args.json:
            print("Press Ctrl-C to stop (or run `cumulo down` from another shell).", flush=True)
        code = supervisor.wait()
    finally:
        supervisor.stop()
    if not args.json:
        print("Cumulo stopped.")
    return code


def _progress(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    def report(message: str) -> None:
        if not args.json:
            print(message, flush=True)

    return report


def _run_detached(args: argparse.Namespace, config: Config) -> int:
    """Start ``cumulo up`` in a new session, wait for it to serve, print the endpoints."""
    data_dir = config.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "logs" / "cumulo-up.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "cumulo.cli.main",
        "--json",
        "up",
        "--no-login",  # this process logs in, once the child serves
        "--data-dir",
        str(data_dir),
    ]
    if args.config:
        argv += ["--config", str(args.config)]
    if args.tls:
        argv.append("--tls")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=os.environ.copy(),
        )
    deadline = time.monotonic() + DETACH_TIMEOUT
    while True:
        cloud = find_local_cloud(data_dir)
        if cloud is not None and cloud.pid == process.pid:
            _announce(cloud, args, config)
            return 0
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise errors.Unavailable(
                f"the cloud failed to start: {tail[0].removeprefix('cumulo: error: ')}",
                hint=f"see {log_path}",
            )
        if time.monotonic() > deadline:
            process.terminate()
            raise errors.DeadlineExceeded(
                f"the cloud did not start within {DETACH_TIMEOUT:.0f}s", hint=f"see {log_path}"
            )
        time.sleep(0.1)


def run_down(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.expanduser().resolve() if args.data_dir else None
    cloud = stop_local_cloud(data_dir)
    if cloud is None:
        if args.json:
            print_json({"stopped": False})
        else:
            print("No local Cumulo cloud is running.")
        return 0
    if args.json:
        print_json({"stopped": True, "data_dir": str(cloud.data_dir), "pid": cloud.pid})
    else:
        print(f"Stopped the cloud in {cloud.data_dir} (pid {cloud.pid}).")
    return 0
