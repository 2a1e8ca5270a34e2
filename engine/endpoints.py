"""Where each inquiry service is answered: server configuration, never model text.

A model names an inquiry *service* (``nocr_identity``); this configuration
says which URL answers it, with which timeouts and which credential. Resolving
a service id that is not configured raises
:class:`~engine.connectors.UnknownService`, and no URL, host or path is ever
taken from a model or a request (no server-side request forgery through a
model, DESIGN.md §8). Secrets are not in the configuration either: an
endpoint names the *environment variable* that holds its secret and the
header to send it in.

The configuration is a mapping (from TOML, JSON or code)::

    [defaults]
    base_url = "https://gsb.example.ir/panjereh"    # joined with each path
    path_template = "/inquiries/{service}"          # optional: every catalog service, here
    connect_timeout = 3                             # seconds
    read_timeout = 10
    auth_header = "Authorization"                   # optional, with auth_env
    auth_env = "PANJEREH_GSB_TOKEN"

    [services.nocr_identity]
    path = "/nocr/identity/v1"                      # or url = "https://…" (absolute)
    read_timeout = 5

Every key is checked when the configuration is loaded: service ids must be in
the catalog, URLs must be ``http``/``https`` with a host and no user info, and
unknown keys are errors (a mistyped ``read_timout`` must not silently fall
back to a default). Problems raise :class:`~engine.connectors.EndpointConfigError`.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

from bpmn.catalog import Catalog, default_catalog
from engine.connectors import EndpointConfigError, UnknownService

DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_READ_TIMEOUT = 10.0
SIMULATOR_PATH_TEMPLATE = "/inquiries/{service}"
ENV_CONFIG_FILE = "PANJEREH_INQUIRY_CONFIG"
ENV_BASE_URL = "PANJEREH_INQUIRY_BASE_URL"

_ENTRY_KEYS = {"url", "path", "connect_timeout", "read_timeout", "auth_header", "auth_env"}
_DEFAULT_KEYS = {"base_url", "path_template", "connect_timeout", "read_timeout", "auth_header", "auth_env"}
_HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_SERVICE_ID = re.compile(r"^[a-z0-9_.-]{1,100}$")


@dataclass(frozen=True)
class Endpoint:
    """How to reach one inquiry service. Holds no secret, only where to find it."""

    service_id: str
    url: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT
    auth_header: str | None = None
    auth_env: str | None = None


@dataclass(frozen=True)
class EndpointConfig:
    """Endpoints by service id; build with :meth:`from_mapping`, :meth:`from_file`, :func:`for_simulator`."""

    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))

    def resolve(self, service_id: str) -> Endpoint:
        """The endpoint of ``service_id``; :class:`UnknownService` when none is configured."""
        endpoint = self.endpoints.get(service_id) if isinstance(service_id, str) else None
        if endpoint is None:
            # The id may come from a model: say that it is unknown, not what it was (it could be long or odd).
            raise UnknownService(str(service_id)[:100], "service.unknown",
                                 "no inquiry endpoint is configured for this service")
        return endpoint

    def __contains__(self, service_id: object) -> bool:
        return service_id in self.endpoints

    @property
    def services(self) -> frozenset[str]:
        """The configured service ids."""
        return frozenset(self.endpoints)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, catalog: Catalog | None = None,
                     where: str = "inquiry endpoints") -> EndpointConfig:
        """Build and check a configuration from its mapping form (see the module docstring)."""
        known = set((catalog or default_catalog()).services)
        if not isinstance(data, Mapping):
            raise EndpointConfigError(f"{where}: the configuration must be a table/object")
        _no_unknown(data, {"defaults", "services"}, where)
        defaults = data.get("defaults") or {}
        services = data.get("services") or {}
        if not isinstance(defaults, Mapping) or not isinstance(services, Mapping):
            raise EndpointConfigError(f"{where}: 'defaults' and 'services' must be tables/objects")
        _no_unknown(defaults, _DEFAULT_KEYS, f"{where}: defaults")
        base = defaults.get("base_url")
        if base is not None:
            _check_url(base, f"{where}: defaults.base_url")
        out: dict[str, Endpoint] = {}
        template = defaults.get("path_template")
        if template is not None:
            if base is None or not isinstance(template, str) or "{service}" not in template:
                raise EndpointConfigError(f"{where}: defaults.path_template needs base_url and a {{service}} part")
            for sid in sorted(known):
                out[sid] = _endpoint(sid, {"path": template.replace("{service}", quote(sid, safe=""))},
                                     defaults, f"{where}: defaults")
        for sid, entry in services.items():
            if sid not in known:
                raise EndpointConfigError(f"{where}: services.{sid}: not an inquiry service of the catalog")
            if not isinstance(entry, Mapping):
                raise EndpointConfigError(f"{where}: services.{sid}: must be a table/object")
            _no_unknown(entry, _ENTRY_KEYS, f"{where}: services.{sid}")
            out[sid] = _endpoint(sid, entry, defaults, f"{where}: services.{sid}")
        return cls(out)

    @classmethod
    def from_file(cls, path: str | Path, *, catalog: Catalog | None = None) -> EndpointConfig:
        """Load a ``.toml`` or ``.json`` configuration file."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise EndpointConfigError(f"{file}: cannot read the inquiry endpoint configuration: "
                                      f"{exc.strerror or exc}") from exc
        try:
            data = tomllib.loads(text) if file.suffix.lower() == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, ValueError) as exc:
            raise EndpointConfigError(f"{file}: not valid {file.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from exc
        return cls.from_mapping(data, catalog=catalog, where=str(file))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *,
                 catalog: Catalog | None = None) -> EndpointConfig | None:
        """The configuration named by the environment, or ``None`` when none is named.

        ``PANJEREH_INQUIRY_CONFIG`` is a TOML/JSON file; otherwise
        ``PANJEREH_INQUIRY_BASE_URL`` points every catalog service at
        ``<base>/inquiries/<service>`` (the simulator's layout, e.g. a shared
        test registry). ``None`` lets the caller choose (the embedded default
        starts the simulator).
        """
        env = os.environ if environ is None else environ
        if env.get(ENV_CONFIG_FILE):
            return cls.from_file(env[ENV_CONFIG_FILE], catalog=catalog)
        if env.get(ENV_BASE_URL):
            return for_simulator(env[ENV_BASE_URL], catalog=catalog)
        return None


def for_simulator(base_url: str, *, catalog: Catalog | None = None,
                  connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
                  read_timeout: float = DEFAULT_READ_TIMEOUT) -> EndpointConfig:
    """Every catalog inquiry service answered by the simulator at ``base_url``."""
    return EndpointConfig.from_mapping({"defaults": {
        "base_url": base_url, "path_template": SIMULATOR_PATH_TEMPLATE,
        "connect_timeout": connect_timeout, "read_timeout": read_timeout}}, catalog=catalog,
        where="simulator endpoints")


def _no_unknown(data: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise EndpointConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")


def _check_url(url: Any, where: str) -> str:
    if not isinstance(url, str):
        raise EndpointConfigError(f"{where}: must be a URL string")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointConfigError(f"{where}: must be an http(s) URL with a host")
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and error messages; use auth_env.
        raise EndpointConfigError(f"{where}: must not contain user info; use auth_header/auth_env")
    if parts.fragment or any(ord(c) < 33 for c in url):
        raise EndpointConfigError(f"{where}: must not contain a fragment, spaces or control characters")
    return url


def _timeout(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 < value <= 600:
        raise EndpointConfigError(f"{where}: must be a number of seconds between 0 and 600")
    return float(value)


def _endpoint(sid: str, entry: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> Endpoint:
    if not _SERVICE_ID.match(sid):
        raise EndpointConfigError(f"{where}: service id has characters that cannot be in a URL path")
    if "url" in entry and "path" in entry:
        raise EndpointConfigError(f"{where}: give either url or path, not both")
    if "url" in entry:
        url = _check_url(entry["url"], f"{where}.url")
    else:
        path = entry.get("path")
        base = defaults.get("base_url")
        if not isinstance(path, str) or base is None:
            raise EndpointConfigError(f"{where}: needs url, or path with defaults.base_url")
        url = _check_url(base.rstrip("/") + "/" + path.lstrip("/"), f"{where}.path")
    merged = {**defaults, **entry}
    header, env = merged.get("auth_header"), merged.get("auth_env")
    if (header is None) != (env is None):
        raise EndpointConfigError(f"{where}: auth_header and auth_env go together")
    if header is not None and (not isinstance(header, str) or not _HEADER_NAME.match(header)):
        raise EndpointConfigError(f"{where}: auth_header is not a header name")
    if env is not None and (not isinstance(env, str) or not _ENV_NAME.match(env)):
        raise EndpointConfigError(f"{where}: auth_env is not an environment variable name")
    return Endpoint(sid, url,
                    _timeout(merged.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT), f"{where}.connect_timeout"),
                    _timeout(merged.get("read_timeout", DEFAULT_READ_TIMEOUT), f"{where}.read_timeout"),
                    header, env)
