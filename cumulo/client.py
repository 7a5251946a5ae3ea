"""The Python SDK's entry point: :func:`connect` and :class:`Client`.

One :class:`Client` holds one gRPC channel to a controller and exposes each
service as an attribute (``client.system``, ``client.identity``,
``client.quota``, ``client.nodes``, and more as services land); each service's client class
lives in ``cumulo/services/<domain>.py``.  Every method returns plain protobuf
messages or dataclasses and raises :mod:`cumulo.errors` exceptions, never
``grpc.RpcError``.

Authentication: pass ``token=``, or ``user=``/``password=``/``project=``, or
``app_credential=(id, secret)``.  The client sends ``authorization: Bearer
<token>`` on every call, issues a token when it has none, renews it shortly
before it expires, and once more if the server says it expired::

    client = cumulo.connect("10.0.0.5:7700", user="alice", password=pw, project="web")
    client = cumulo.connect(app_credential=(cred_id, secret))
    client = cumulo.connect()   # the profile `cumulo login` / `cumulo up` saved

TLS (docs/tls.md): pass ``ca_file=`` (the cloud's CA), plus ``cert_file=`` and
``key_file=`` for servers that demand a client certificate; else
``$CUMULO_TLS_CA_FILE`` (``_CERT_FILE``, ``_KEY_FILE``, ``_SERVER_NAME``); else,
for an endpoint of the local cloud, what ``cumulo up --tls`` recorded; else
plaintext.  Both channels (controller and object proxy) use the same setting.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import grpc

from cumulo import errors
from cumulo.auth import Credentials, TokenManager
from cumulo.config import OBJECT_PROXY_PORT, TlsConfig
from cumulo.local import OBJECT_PROXY_ENDPOINT, find_local_cloud, resolve_endpoint
from cumulo.profile import Profile, load_profile, save_profile
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import Tls, connection_hint, load_tls
from cumulo.rpc.tls import channel as open_channel
from cumulo.services.identity import IdentityClient
from cumulo.services.nodes import NodesClient
from cumulo.services.objects import ObjectsClient
from cumulo.services.quota import QuotaClient
from cumulo.services.system import SystemClient

Response = TypeVar("Response")

DEFAULT_TIMEOUT = 30.0
AUTHORIZATION_KEY = "authorization"


def credentials_from(
    *,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    project: str | None = None,
    project_id: str | None = None,
    app_credential: tuple[str, str] | None = None,
) -> Credentials | None:
    """The :class:`Credentials` the keyword arguments describe (None for none)."""
    if app_credential is not None:
        credential_id, secret = app_credential
        return Credentials(
            "app_credential", app_credential_id=credential_id, app_credential_secret=secret
        )
    if password is not None:
        if not user:
            raise errors.InvalidArgument("a password needs a user name", field="user")
        return Credentials(
            "password",
            user=user,
            password=password,
            project=project or "",
            project_id=project_id or "",
        )
    if token is not None:
        return Credentials("token")
    return None


class Client:
    """A connection to one Cumulo controller."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        metadata: Sequence[tuple[str, str]] = (),
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        project: str | None = None,
        project_id: str | None = None,
        app_credential: tuple[str, str] | None = None,
        auth: TokenManager | None = None,
        object_endpoint: str | None = None,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
        tls: Tls | None = None,
    ) -> None:
        """``tls`` (already loaded) wins over the ``*_file`` arguments; see the module
        docstring for where TLS settings come from when neither is given."""
        self.endpoint = endpoint
        self.tls = tls or resolve_tls(
            endpoint, ca_file=ca_file, cert_file=cert_file, key_file=key_file
        )
        #: The object proxy (``cumulo.object.v1``); resolved on first use when None.
        self._object_endpoint = object_endpoint
        self._object_channel: grpc.Channel | None = None
        self.timeout = timeout
        self.metadata = list(metadata)
        credentials = credentials_from(
            token=token,
            user=user,
            password=password,
            project=project,
            project_id=project_id,
            app_credential=app_credential,
        )
        if auth is None and credentials is not None:
            auth = TokenManager(credentials, token=token or "")
        #: None means calls go without a token (only open methods will work).
        self.auth = auth
        self.channel = open_channel(endpoint, self.tls)
        self.system = SystemClient(self)
        self.nodes = NodesClient(self)
        self.identity = IdentityClient(self)
        self.quota = QuotaClient(self)
        self.objects = ObjectsClient(self)

    @property
    def object_endpoint(self) -> str:
        """The object proxy's address: the ``object_endpoint`` argument,
        ``$CUMULO_OBJECT_ENDPOINT``, the local cloud's "object-proxy" endpoint, or
        the default proxy port on loopback."""
        if not self._object_endpoint:
            self._object_endpoint = resolve_object_endpoint()
        return self._object_endpoint

    @property
    def object_channel(self) -> grpc.Channel:
        """A second channel, to the object proxy (opened on first use)."""
        if self._object_channel is None:
            self._object_channel = open_channel(
                self.object_endpoint,
                self.tls,
                options=[
                    ("grpc.max_receive_message_length", 16 << 20),
                    ("grpc.max_send_message_length", 16 << 20),
                ],
            )
        return self._object_channel

    def call_stream(self, method: Callable[..., Response], requests: Any) -> Response:
        """Invoke a client-streaming stub ``method`` with the token; no deadline (transfers
        take as long as they take) and no retry (the request stream is consumed)."""
        try:
            return method(requests, metadata=self._call_metadata(True))
        except grpc.RpcError as exc:
            raise self.translate(exc) from None

    def _call_metadata(self, authenticate: bool) -> list[tuple[str, str]]:
        metadata = list(self.metadata)
        if authenticate and self.auth is not None:
            metadata.append((AUTHORIZATION_KEY, f"Bearer {self.auth.current(self)}"))
        return metadata

    def call(
        self,
        method: Callable[..., Response],
        request: Any,
        *,
        timeout: float | None = None,
        authenticate: bool = True,
    ) -> Response:
        """Invoke a unary stub ``method``; translate failures into CumuloError.

        With ``authenticate`` the call carries the token; a TOKEN_EXPIRED answer
        renews it and retries once (when the credentials can re-authenticate).
        """
        metadata = self._call_metadata(authenticate)
        try:
            return method(request, timeout=timeout or self.timeout, metadata=metadata)
        except grpc.RpcError as exc:
            error = self.translate(exc)
        if (
            authenticate
            and self.auth is not None
            and isinstance(error, errors.Unauthenticated)
            and error.reason == "TOKEN_EXPIRED"
            and self.auth.credentials.reauthenticates
        ):
            sent = metadata[-1][1].removeprefix("Bearer ")
            self.auth.renew(self, expired=sent)
            try:
                return method(
                    request, timeout=timeout or self.timeout, metadata=self._call_metadata(True)
                )
            except grpc.RpcError as exc:
                error = self.translate(exc)
        raise error

    def adopt_token(self, response: Any) -> None:
        """Carry on with the token in an IssueTokenResponse the server just handed out."""
        if self.auth is not None:
            self.auth.adopt(response)

    def translate(self, exc: grpc.RpcError) -> errors.CumuloError:
        error = error_from_rpc(exc)
        if isinstance(error, errors.Unavailable) and error.reason == "UNAVAILABLE":
            return errors.Unavailable(
                f"cannot reach Cumulo at {self.endpoint} ({error.message})",
                hint=connection_hint(error.message, self.tls)
                or "start the cloud with `cumulo up`, or pass --endpoint HOST:PORT",
            )
        if isinstance(error, errors.DeadlineExceeded) and error.reason == "DEADLINE_EXCEEDED":
            return errors.DeadlineExceeded(
                f"Cumulo at {self.endpoint} did not answer in time",
                hint="the server may be overloaded; retry, or raise --timeout",
            )
        return error

    def close(self) -> None:
        self.channel.close()
        if self._object_channel is not None:
            self._object_channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def resolve_tls(
    endpoint: str,
    *,
    ca_file: str | os.PathLike[str] | None = None,
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
    server_name: str | None = None,
) -> Tls:
    """The TLS setting for ``endpoint``; see the module docstring for the order.

    Raises InvalidArgument naming the file when one cannot be read or is not PEM."""
    environ = os.environ
    if ca_file is None and cert_file is None and environ.get("CUMULO_TLS_CA_FILE"):
        ca_file = environ["CUMULO_TLS_CA_FILE"]
        cert_file = environ.get("CUMULO_TLS_CERT_FILE") or None
        key_file = environ.get("CUMULO_TLS_KEY_FILE") or None
    if ca_file is None and cert_file is None:
        cloud = find_local_cloud()
        if cloud is not None and cloud.tls and endpoint in cloud.endpoints.values():
            ca_file = cloud.tls.get("ca_file") or None
            cert_file = cloud.tls.get("cert_file") or None
            key_file = cloud.tls.get("key_file") or None
    return load_tls(
        TlsConfig(
            ca_file=str(ca_file or ""),
            cert_file=str(cert_file or ""),
            key_file=str(key_file or ""),
            server_name=server_name or environ.get("CUMULO_TLS_SERVER_NAME", ""),
        )
    )


def resolve_object_endpoint(explicit: str | None = None) -> str:
    """See :attr:`Client.object_endpoint`."""
    if explicit:
        return explicit
    if os.environ.get("CUMULO_OBJECT_ENDPOINT"):
        return os.environ["CUMULO_OBJECT_ENDPOINT"]
    cloud = find_local_cloud()
    if cloud and OBJECT_PROXY_ENDPOINT in cloud.endpoints:
        return cloud.endpoints[OBJECT_PROXY_ENDPOINT]
    return f"127.0.0.1:{OBJECT_PROXY_PORT}"


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text).astimezone(UTC) if text else None
    except ValueError:
        return None


def profile_credentials(profile: Profile) -> Credentials:
    """The renewal :class:`Credentials` stored in ``profile``."""
    renewal = profile.renewal or {"method": "token"}
    method = str(renewal.get("method", "token"))
    if method == "app_credential":
        return Credentials(
            "app_credential",
            app_credential_id=str(renewal.get("id", "")),
            app_credential_secret=str(renewal.get("secret", "")),
        )
    if method in ("password", "password_file"):
        return Credentials(
            method,
            user=str(renewal.get("user", profile.user_name)),
            password=str(renewal.get("password", "")),
            password_file=str(renewal.get("path", "")),
            project=str(renewal.get("project", profile.project_name)),
            project_id=str(renewal.get("project_id", "")),
        )
    return Credentials("token")


def manager_for_profile(profile: Profile) -> TokenManager:
    """A token manager that starts from ``profile`` and saves every renewal back into it."""

    def save(response: Any) -> None:
        profile.token = response.token
        profile.issued_at = response.info.issued_at.ToDatetime(tzinfo=UTC).isoformat()
        profile.expires_at = response.info.expires_at.ToDatetime(tzinfo=UTC).isoformat()
        profile.user_name = response.info.user_name
        profile.project_name = response.info.project_name
        profile.project_id = response.info.project_id
        save_profile(profile)

    return TokenManager(
        profile_credentials(profile),
        token=profile.token,
        issued_at=_parse_time(profile.issued_at),
        expires_at=_parse_time(profile.expires_at),
        on_renew=save,
    )


def connect(
    endpoint: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    token: str | None = None,
    user: str | None = None,
    password: str | None = None,
    project: str | None = None,
    project_id: str | None = None,
    app_credential: tuple[str, str] | None = None,
    use_profile: bool = True,
    object_endpoint: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
) -> Client:
    """Connect to ``endpoint``, or to the local cloud that ``cumulo up`` started.

    Credentials, first found wins: the keyword arguments, ``$CUMULO_TOKEN``, then
    the saved profile (``cumulo login``) when it is for the same endpoint.  With no
    endpoint, no ``$CUMULO_ENDPOINT`` and no local cloud running, the profile's
    endpoint is used.
    """
    explicit = any(v is not None for v in (token, password, app_credential))
    if not explicit and os.environ.get("CUMULO_TOKEN"):
        token = os.environ["CUMULO_TOKEN"]
        explicit = True
    profile = load_profile() if use_profile and not explicit else None
    if endpoint:
        resolved = endpoint
    elif profile is not None and not os.environ.get("CUMULO_ENDPOINT") and not find_local_cloud():
        resolved = profile.endpoint or resolve_endpoint(None)
    else:
        resolved = resolve_endpoint(None)
    if profile is not None and profile.endpoint == resolved:
        return Client(
            resolved,
            timeout=timeout,
            auth=manager_for_profile(profile),
            object_endpoint=object_endpoint,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
        )
    return Client(
        resolved,
        timeout=timeout,
        object_endpoint=object_endpoint,
        token=token,
        user=user,
        password=password,
        project=project,
        project_id=project_id,
        app_credential=app_credential,
        ca_file=ca_file,
        cert_file=cert_file,
        key_file=key_file,
    )
