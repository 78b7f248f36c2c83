"""Network: the policy behind the ``fetch()`` a runtime's contexts get, and its secrets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _quickbox
from ._policy import Label


@dataclass(frozen=True)
class Secret:
    """A credential the engine attaches to requests after the policy allowed them. JavaScript
    never sees it: not in ``Request``/``Headers`` objects, errors, console output, the audit log
    or a snapshot; and a request to a URL it does not match never carries it, redirects included.

    ``host`` is a rule (``"api.example.com"``, ``"https://api.example.com/v1/"``,
    ``"127.0.0.1:8080"``); without a scheme it matches https, and plain http only on a loopback
    host. Exactly one of ``header`` (e.g. ``"Authorization"``) and ``query`` (a query parameter);
    ``prefix`` goes before the value (``"Bearer "``). Exactly one source: ``value``,
    ``value_env`` (an environment variable) or ``value_file`` (one trailing newline dropped),
    read when the ``Network`` is made and again for each context.
    """

    host: str
    header: str | None = None
    query: str | None = None
    prefix: str = ""
    value: str | None = field(default=None, repr=False)
    value_env: str | None = None
    value_file: str | None = None

    def _native(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Network:
    """Grants a runtime's contexts ``fetch()`` (with ``Request``, ``Response``, ``Headers`` and
    ``AbortController``); without one ``typeof fetch === "undefined"``.

    Rules (``allow``, ``deny``, ``approve``, ``Secret.host``) are ``"[METHODS ]PATTERN"`` with
    PATTERN ``"*"`` or ``[http(s)://]HOST[:PORT][/PATH]``: HOST exact or ``*.example.com``; no
    port means the scheme's default when a scheme is given, else any; PATH a prefix on whole
    segments. Deny wins; a request no allow rule matches is refused. Private, loopback and
    link-local addresses are refused unless an allow rule names the address (or ``localhost``) or
    ``private_networks`` holds it, checked on the address each connection really goes to, redirects
    included. ``approve`` rules and ``approve_unsafe_methods`` make requests wait for
    ``ctx.approve``. ``timeout`` (seconds) covers one ``fetch()`` with its redirects;
    ``max_requests_per_eval`` and ``max_in_flight`` bound the fetches of one evaluation; ``ca_file``
    (PEM) replaces the system's certificate authorities; ``resolve`` pins names
    (``"HOST:PORT:ADDRESS"``). See docs/network.md.
    """

    allow: Sequence[str] = ()
    deny: Sequence[str] = ()
    approve: Sequence[str] = ()
    approve_unsafe_methods: bool = False
    private_networks: Sequence[str] = ()
    secrets: Sequence[Secret] = ()
    resolve: Sequence[str] = ()
    ca_file: str | None = None
    max_redirects: int = 5
    max_request_bytes: int = 1 << 20
    max_response_bytes: int = 10 << 20
    timeout: float = 30.0
    max_requests_per_eval: int = 100
    max_in_flight: int = 8
    labels: Label = Label.UNTRUSTED_INPUT | Label.EXTERNAL_EFFECT

    def __post_init__(self) -> None:
        for name in ("allow", "deny", "approve", "private_networks", "resolve"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"{name} must be a list of strings, not one string: {name}=[{value!r}]")
            object.__setattr__(self, name, tuple(value))
        secrets = tuple(self.secrets)
        for secret in secrets:
            if not isinstance(secret, Secret):
                raise TypeError(f"secrets must be quickbox.Secret objects, got {type(secret).__name__}")
        object.__setattr__(self, "secrets", secrets)
        # Checked now (rules, ranges, and that every secret can be read), naming the field.
        _quickbox.check_network(self._native())

    def _native(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "allow": list(self.allow), "deny": list(self.deny), "approve": list(self.approve),
            "approve_unsafe_methods": self.approve_unsafe_methods,
            "private_networks": list(self.private_networks), "resolve": list(self.resolve),
            "secrets": [s._native() for s in self.secrets], "ca_file": self.ca_file,
            "max_redirects": self.max_redirects, "max_request_bytes": self.max_request_bytes,
            "max_response_bytes": self.max_response_bytes, "timeout": self.timeout,
            "max_requests_per_eval": self.max_requests_per_eval, "max_in_flight": self.max_in_flight,
            "labels": int(self.labels),
        }
        return {k: v for k, v in out.items() if v is not None}
