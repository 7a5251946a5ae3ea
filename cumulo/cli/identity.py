"""``cumulo login|logout|whoami|token`` and ``cumulo project|user|role|appcred ...``.

Login keeps a profile (``cumulo.profile``, mode 0600) that every other command
uses and renews; see ``docs/identity.md``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cumulo import errors
from cumulo.cli.output import message_to_dict, print_fields, print_json, print_table
from cumulo.client import Client, connect
from cumulo.identity.v1 import identity_pb2 as pb
from cumulo.local import resolve_endpoint
from cumulo.profile import Profile, delete_profile, load_profile, profile_path, save_profile


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    login = commands.add_parser("login", help="get a token and keep it in the profile")
    login.add_argument("--user", help="user name (for password login)")
    login.add_argument("--project", default="", help="project name to work in")
    secret = login.add_mutually_exclusive_group()
    secret.add_argument("--password-file", type=Path, help="read the password from this file")
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )
    login.add_argument("--app-credential-id", help="log in with this application credential")
    login.add_argument(
        "--app-credential-secret-file", type=Path, help="file holding the credential's secret"
    )
    login.add_argument(
        "--save-password",
        action="store_true",
        help="keep the password in the profile to renew without limit (not recommended)",
    )
    login.set_defaults(func=run_login)
    logout = commands.add_parser("logout", help="revoke the profile's token and forget it")
    logout.set_defaults(func=run_logout)
    whoami = commands.add_parser("whoami", help="show the user, project and roles of the token")
    whoami.set_defaults(func=run_whoami)
    token = commands.add_parser("token", help="print a valid token (for grpcurl -H)")
    token.set_defaults(func=run_token)
    password = commands.add_parser(
        "password", help="change your own password (your other tokens stop working)"
    )
    password.add_argument("--current-password-file", type=Path)
    password.add_argument("--new-password-file", type=Path)
    password.set_defaults(func=run_password)

    _register_projects(commands)
    _register_users(commands)
    _register_roles(commands)
    _register_appcreds(commands)


# -- login ------------------------------------------------------------------------------------


def _iso(stamp: Any) -> str:
    return str(stamp.ToDatetime(tzinfo=UTC).isoformat())


def save_login(endpoint: str, response: pb.IssueTokenResponse, renewal: dict[str, Any]) -> Path:
    """Store a fresh token and how to renew it in the profile."""
    info = response.info
    return save_profile(
        Profile(
            endpoint=endpoint,
            token=response.token,
            issued_at=_iso(info.issued_at),
            expires_at=_iso(info.expires_at),
            user_name=info.user_name,
            project_name=info.project_name,
            project_id=info.project_id,
            renewal=renewal,
        )
    )


def _read_secret(path: Path) -> str:
    try:
        return path.expanduser().read_text().strip()
    except OSError as exc:
        raise errors.InvalidArgument(f"cannot read {path}: {exc.strerror}") from None


def run_login(args: argparse.Namespace) -> int:
    endpoint = resolve_endpoint(args.endpoint)
    with Client(endpoint, timeout=args.timeout) as client:
        if args.app_credential_id:
            if args.app_credential_secret_file:
                secret = _read_secret(args.app_credential_secret_file)
            else:
                secret = (
                    sys.stdin.readline().strip()
                    if not sys.stdin.isatty()
                    else getpass.getpass("Application credential secret: ")
                )
            response = client.identity.issue_token(
                pb.IssueTokenRequest(
                    application_credential=pb.ApplicationCredentialMethod(
                        id=args.app_credential_id, secret=secret
                    )
                )
            )
            renewal: dict[str, Any] = {
                "method": "app_credential",
                "id": args.app_credential_id,
                "secret": secret,
            }
        else:
            if not args.user:
                raise errors.InvalidArgument(
                    "say who you are", hint="pass --user NAME (or --app-credential-id ID)"
                )
            if args.password_file:
                password = _read_secret(args.password_file)
                renewal = {
                    "method": "password_file",
                    "user": args.user,
                    "project": args.project,
                    "path": str(args.password_file.expanduser().resolve()),
                }
            else:
                if args.password_stdin or not sys.stdin.isatty():
                    password = sys.stdin.readline().rstrip("\n")
                else:
                    password = getpass.getpass(f"Password for {args.user}: ")
                renewal = {"method": "token"}
                if args.save_password:
                    renewal = {
                        "method": "password",
                        "user": args.user,
                        "project": args.project,
                        "password": password,
                    }
            response = client.identity.login(args.user, password, args.project)
    path = save_login(endpoint, response, renewal)
    if args.json:
        print_json({"profile": str(path), "token": message_to_dict(response.info)})
    else:
        info = response.info
        print(
            f"Logged in to {endpoint} as {info.user_name} on project {info.project_name} "
            f"(roles: {', '.join(info.roles)}); token saved in {path}"
        )
    return 0


def run_logout(args: argparse.Namespace) -> int:
    profile = load_profile()
    revoked = False
    if profile is not None and profile.token:
        try:
            with Client(profile.endpoint, timeout=args.timeout, token=profile.token) as client:
                client.identity.revoke_token()
                revoked = True
        except errors.CumuloError:
            pass  # expired or unreachable: forgetting it locally is what matters
    removed = delete_profile()
    if args.json:
        print_json({"revoked": revoked, "removed": removed})
    elif removed:
        print(f"Logged out ({'token revoked, ' if revoked else ''}{profile_path()} removed).")
    else:
        print("Not logged in.")
    return 0


def run_whoami(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        info = client.identity.get_caller()
    if args.json:
        print_json(info)
        return 0
    fields: dict[str, object] = {
        "user": f"{info.user_name} ({info.user_id})",
        "project": f"{info.project_name} ({info.project_id})",
        "roles": ", ".join(info.roles),
        "cloud admin": "yes" if info.is_cloud_admin else "no",
        "expires": _iso(info.expires_at),
    }
    if info.application_credential_id:
        fields["app credential"] = info.application_credential_id
        fields["allowed"] = ", ".join(info.allowed_methods) or "any method"
    print_fields(fields)
    return 0


def run_token(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        if client.auth is None:
            raise errors.Unauthenticated("not logged in", hint="run `cumulo login` first")
        token = client.auth.current(client)
    print(token)
    return 0


def run_password(args: argparse.Namespace) -> int:
    if args.current_password_file:
        current = _read_secret(args.current_password_file)
    else:
        current = getpass.getpass("Current password: ")
    if args.new_password_file:
        new = _read_secret(args.new_password_file)
    else:
        new = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != new:
            raise errors.InvalidArgument("the passwords differ")
    with connect(args.endpoint, timeout=args.timeout) as client:
        client.identity.change_password(current, new)
    profile = load_profile()
    if profile is not None and profile.renewal.get("method") == "password":
        profile.renewal["password"] = new  # the user asked for it to be kept
        save_profile(profile)
    if args.json:
        print_json({"changed": True})
    else:
        print("Password changed; your other sessions are logged out.")
    return 0


# -- projects ---------------------------------------------------------------------------------


def _project_row(p: pb.Project) -> list[Any]:
    return [p.meta.id, p.meta.name, "yes" if p.enabled else "no", p.description]


def _register_projects(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    project = commands.add_parser("project", help="projects (tenants)")
    sub = project.add_subparsers(dest="project_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a project (cloud admin)")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.set_defaults(
        func=lambda a: _with(a, lambda c: c.identity.create_project(a.name, a.description))
    )
    sub.add_parser("list", help="projects you can see").set_defaults(func=run_project_list)
    show = sub.add_parser("show", help="one project (default: yours)")
    show.add_argument("project", nargs="?", default="")
    show.set_defaults(
        func=lambda a: _with(
            a,
            lambda c: c.identity.find_project(a.project) if a.project else c.identity.get_project(),
        )
    )
    update = sub.add_parser("update", help="change a project (cloud admin)")
    update.add_argument("project")
    update.add_argument("--description")
    state = update.add_mutually_exclusive_group()
    state.add_argument("--enable", dest="enabled", action="store_true", default=None)
    state.add_argument("--disable", dest="enabled", action="store_false")
    update.set_defaults(
        func=lambda a: _with(
            a,
            lambda c: c.identity.update_project(
                c.identity.find_project(a.project).meta.id,
                description=a.description,
                enabled=a.enabled,
            ),
        )
    )
    delete = sub.add_parser("delete", help="delete an empty project (cloud admin)")
    delete.add_argument("project")
    delete.set_defaults(
        func=lambda a: _with(
            a, lambda c: c.identity.delete_project(c.identity.find_project(a.project).meta.id)
        )
    )


def _with(args: argparse.Namespace, work: Any) -> int:
    """Run ``work(client)`` and print what it returns (a message, or nothing)."""
    with connect(args.endpoint, timeout=args.timeout) as client:
        result = work(client)
    if result is None:
        if not args.json:
            print("Done.")
        return 0
    if args.json:
        print_json(result)
    else:
        print_fields(_flatten(message_to_dict(result)))
    return 0


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif isinstance(value, list):
            out[f"{prefix}{key}"] = ", ".join(str(v) for v in value)
        else:
            out[f"{prefix}{key}"] = value
    return out


def run_project_list(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        projects = list(client.identity.list_projects())
    if args.json:
        print_json([message_to_dict(p) for p in projects])
    else:
        print_table([_project_row(p) for p in projects], ["id", "name", "enabled", "description"])
    return 0


# -- users ------------------------------------------------------------------------------------


def _password_from(args: argparse.Namespace) -> str:
    if getattr(args, "password_file", None):
        return _read_secret(args.password_file)
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise errors.InvalidArgument("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")


def _register_users(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    user = commands.add_parser("user", help="users (cloud admin)")
    sub = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create a user; the password comes from a file or stdin")
    create.add_argument("name")
    create.add_argument("--password-file", type=Path)
    create.set_defaults(
        func=lambda a: _with(a, lambda c: c.identity.create_user(a.name, _password_from(a)))
    )
    sub.add_parser("list", help="every user").set_defaults(func=run_user_list)
    show = sub.add_parser("show", help="one user (default: you)")
    show.add_argument("user", nargs="?", default="")
    show.set_defaults(
        func=lambda a: _with(
            a, lambda c: c.identity.find_user(a.user) if a.user else c.identity.get_user()
        )
    )
    password = sub.add_parser("set-password", help="set a user's password (revokes its tokens)")
    password.add_argument("user")
    password.add_argument("--password-file", type=Path)
    password.set_defaults(
        func=lambda a: _with(
            a,
            lambda c: c.identity.update_user(
                c.identity.find_user(a.user).meta.id, password=_password_from(a)
            ),
        )
    )
    for action, enabled in (("enable", True), ("disable", False)):
        toggle = sub.add_parser(action, help=f"{action} a user")
        toggle.add_argument("user")
        toggle.set_defaults(
            func=lambda a, e=enabled: _with(
                a, lambda c: c.identity.update_user(c.identity.find_user(a.user).meta.id, enabled=e)
            )
        )
    delete = sub.add_parser("delete", help="delete a user")
    delete.add_argument("user")
    delete.set_defaults(
        func=lambda a: _with(
            a, lambda c: c.identity.delete_user(c.identity.find_user(a.user).meta.id)
        )
    )


def run_user_list(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        users = list(client.identity.list_users())
    if args.json:
        print_json([message_to_dict(u) for u in users])
    else:
        print_table(
            [[u.meta.id, u.meta.name, "yes" if u.enabled else "no"] for u in users],
            ["id", "name", "enabled"],
        )
    return 0


# -- roles ------------------------------------------------------------------------------------


def _project_id(client: Client, name_or_id: str) -> str:
    return client.identity.find_project(name_or_id).meta.id if name_or_id else ""


def _user_id(client: Client, name_or_id: str) -> str:
    # Project admins cannot list users; let them pass ids straight through.
    try:
        return client.identity.find_user(name_or_id).meta.id
    except (errors.PermissionDenied, errors.NotFound):
        return name_or_id


def _register_roles(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    role = commands.add_parser("role", help="roles and role assignments")
    sub = role.add_subparsers(dest="role_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="the roles").set_defaults(func=run_role_list)
    for action in ("grant", "revoke"):
        change = sub.add_parser(action, help=f"{action} a role on a project (default: yours)")
        change.add_argument("user", help="user name or id")
        change.add_argument("role", help="admin, member or reader")
        change.add_argument("--project", default="")
        change.set_defaults(func=run_role_change, action=action)
    assignments = sub.add_parser("assignments", help="who holds which role on a project")
    assignments.add_argument("--project", default="")
    assignments.add_argument("--user", default="")
    assignments.set_defaults(func=run_role_assignments)


def run_role_list(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        roles = client.identity.list_roles()
    if args.json:
        print_json([message_to_dict(r) for r in roles])
    else:
        print_table(
            [[r.name, ", ".join(r.implies), r.description] for r in roles],
            ["role", "implies", "description"],
        )
    return 0


def run_role_change(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        project_id = _project_id(client, args.project)
        user_id = _user_id(client, args.user)
        if args.action == "grant":
            client.identity.grant_role(user_id, args.role, project_id)
        else:
            client.identity.revoke_role(user_id, args.role, project_id)
    if args.json:
        print_json({"action": args.action, "user_id": user_id, "role": args.role})
    else:
        print(f"{'Granted' if args.action == 'grant' else 'Revoked'} {args.role}.")
    return 0


def run_role_assignments(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        project_id = _project_id(client, args.project)
        user_id = _user_id(client, args.user) if args.user else ""
        rows = list(client.identity.list_role_assignments(project_id, user_id))
    if args.json:
        print_json([message_to_dict(r) for r in rows])
    else:
        print_table(
            [[r.user_name, r.role, r.project_name, r.user_id] for r in rows],
            ["user", "role", "project", "user id"],
        )
    return 0


# -- application credentials ------------------------------------------------------------------


def _register_appcreds(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    appcred = commands.add_parser("appcred", help="application credentials (keys for programs)")
    sub = appcred.add_subparsers(dest="appcred_command", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="create one; its secret is printed once")
    create.add_argument("name")
    create.add_argument("--role", action="append", default=[], help="role to carry (repeatable)")
    create.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="METHOD",
        help="only this full method, e.g. /cumulo.system.v1.SystemService/GetInfo (repeatable)",
    )
    create.add_argument("--expires", help="expiry, ISO 8601 (e.g. 2027-01-31T00:00:00Z)")
    create.set_defaults(func=run_appcred_create)
    sub.add_parser("list", help="yours on this project").set_defaults(func=run_appcred_list)
    show = sub.add_parser("show", help="one of yours")
    show.add_argument("id")
    show.set_defaults(
        func=lambda a: _with(a, lambda c: c.identity.get_application_credential(a.id))
    )
    delete = sub.add_parser("delete", help="delete one; its tokens stop working")
    delete.add_argument("id")
    delete.set_defaults(
        func=lambda a: _with(a, lambda c: c.identity.delete_application_credential(a.id))
    )


def parse_time(text: str, flag: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise errors.InvalidArgument(
            f"{flag} {text!r} is not an ISO 8601 time",
            hint="e.g. 2027-01-31 or 2027-01-31T12:00:00Z",
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def run_appcred_create(args: argparse.Namespace) -> int:
    expires = parse_time(args.expires, "--expires") if args.expires else None
    with connect(args.endpoint, timeout=args.timeout) as client:
        reply = client.identity.create_application_credential(
            args.name, roles=args.role, allowed_methods=args.allow, expires_at=expires
        )
    if args.json:
        print_json(reply)
        return 0
    print_fields(_flatten(message_to_dict(reply.credential)))
    print(f"secret  {reply.secret}")
    print(
        "Keep the secret now: it is not shown again. Log in with "
        f"`cumulo login --app-credential-id {reply.credential.meta.id} "
        "--app-credential-secret-file FILE`."
    )
    return 0


def run_appcred_list(args: argparse.Namespace) -> int:
    with connect(args.endpoint, timeout=args.timeout) as client:
        rows = list(client.identity.list_application_credentials())
    if args.json:
        print_json([message_to_dict(r) for r in rows])
    else:
        print_table(
            [
                [
                    r.meta.id,
                    r.meta.name,
                    ", ".join(r.roles),
                    _iso(r.expires_at) if r.HasField("expires_at") else "never",
                    ", ".join(r.allowed_methods) or "any",
                ]
                for r in rows
            ],
            ["id", "name", "roles", "expires", "allowed methods"],
        )
    return 0
