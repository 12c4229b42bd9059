"""Parameter types of the tool catalogue: the only way outside text becomes an argument.

A tool parameter names a type; the type validates a value (from a playbook,
an alert label, a model's tool call, an operator's command) and returns its
canonical form, or raises `ParamTypeError` with one line that says what is
allowed. Every type refuses values that could be read as an option (a
leading `-`), control characters, and anything outside its grammar, so a
rendered argv word is always exactly one argument of the intended kind.
The canonical form also decides replay identity: `api` and `api.service`
are the same systemd unit.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath
import re
from datetime import datetime, timezone
from typing import Any, Callable

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters a shell acts on (tcsh even inside single quotes: `!`, except before `=` and `(`): no parameter value carries them.
SHELL_META = re.compile(r"[;&|<>$`\\]|!(?![=(])")


class ParamTypeError(ValueError):
    """A value that its type refuses; the message is one line for people and models."""


Validator = Callable[[Any, dict[str, Any]], Any]
TYPES: dict[str, Validator] = {}


def param_type(name: str) -> Callable[[Validator], Validator]:
    def register(fn: Validator) -> Validator:
        TYPES[name] = fn
        return fn

    return register


def validate(type_name: str, value: Any, options: dict[str, Any]) -> Any:
    """The canonical value, or ParamTypeError. Lists are validated item by item when `many` is set."""
    fn = TYPES.get(type_name)
    if fn is None:
        raise ParamTypeError(f"unknown parameter type {type_name!r}")
    if options.get("many"):
        items = value if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise ParamTypeError("needs at least one value")
        if len(items) > int(options.get("max_items", 20)):
            raise ParamTypeError(f"at most {options.get('max_items', 20)} values")
        return [fn(item, options) for item in items]
    return fn(value, options)


def _text(value: Any, *, max_length: int = 256) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list, tuple)):
        raise ParamTypeError("must be a single text value")
    text = str(value)
    if not text:
        raise ParamTypeError("must not be empty")
    if _CONTROL.search(text):
        raise ParamTypeError("must not contain control characters or newlines")
    if len(text) > max_length:
        raise ParamTypeError(f"must be at most {max_length} characters")
    if text.startswith("-"):
        raise ParamTypeError("must not start with '-' (it would be read as an option)")
    return text


def _pattern(value: Any, regex: str, what: str, *, max_length: int = 256) -> str:
    text = _text(value, max_length=max_length)
    if not re.fullmatch(regex, text):
        raise ParamTypeError(f"{text[:60]!r} is not {what}")
    return text


# ----------------------------------------------------------------- basic types


@param_type("bool")
def _bool(value: Any, options: dict[str, Any]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ParamTypeError("must be true or false")


@param_type("int")
def _int(value: Any, options: dict[str, Any]) -> int:
    if isinstance(value, bool):
        raise ParamTypeError("must be a whole number")
    try:
        number = int(str(value).strip().lstrip("+")) if not isinstance(value, int) else value
    except ValueError:
        raise ParamTypeError(f"{str(value)[:40]!r} is not a whole number") from None
    low, high = options.get("min"), options.get("max")
    if low is not None and number < low:
        raise ParamTypeError(f"must be at least {low}")
    if high is not None and number > high:
        raise ParamTypeError(f"must be at most {high}")
    return number


@param_type("enum")
def _enum(value: Any, options: dict[str, Any]) -> str:
    text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
    aliases = options.get("aliases") or {}
    key = text.lower() if options.get("case_insensitive") else text
    key = aliases.get(key, key)
    choices = options.get("choices") or []
    if key not in choices:
        shown = ", ".join(str(c) for c in choices[:12])
        raise ParamTypeError(f"{text[:40]!r} is not one of: {shown}")
    return key


@param_type("text")
def _free_text(value: Any, options: dict[str, Any]) -> str:
    """Printable text used as data by the program (a grep pattern), never as a path or an option, and without
    the characters a shell acts on (`;&|<>$` backticks, backslashes, `!`): an allowed argv carries none of them."""
    text = _text(value, max_length=int(options.get("max_length", 200)))
    if SHELL_META.search(text):
        raise ParamTypeError("must not contain ; & | < > $ ` \\ or ! (run a pattern with them by hand, with approval)")
    return text


# ------------------------------------------------------------------ names


@param_type("k8s_name")
def _k8s_name(value: Any, options: dict[str, Any]) -> str:
    # DNS-1123 subdomain: pods, deployments, secrets, ...
    return _pattern(value, r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", "a Kubernetes object name (DNS-1123)", max_length=253)


@param_type("k8s_label")
def _k8s_label(value: Any, options: dict[str, Any]) -> str:
    # DNS-1123 label: namespaces, containers
    return _pattern(value, r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", "a Kubernetes namespace or container name (DNS-1123 label)", max_length=63)


_LABEL_KEY = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


@param_type("k8s_selector")
def _k8s_selector(value: Any, options: dict[str, Any]) -> str:
    term = rf"!?{_LABEL_KEY}((==|=|!=){_LABEL_VALUE})?"
    return _pattern(value, rf"{term}(,{term})*", "a label selector (key=value[,key!=value])", max_length=512)


@param_type("k8s_field_selector")
def _k8s_field_selector(value: Any, options: dict[str, Any]) -> str:
    term = r"[a-zA-Z][a-zA-Z0-9.]*(==|=|!=)[A-Za-z0-9._:/-]*"
    return _pattern(value, rf"{term}(,{term})*", "a field selector (field=value)", max_length=512)


@param_type("k8s_duration")
def _k8s_duration(value: Any, options: dict[str, Any]) -> str:
    return _pattern(value, r"[0-9]{1,6}(s|m|h)", "a duration like 30m or 2h", max_length=8)


@param_type("systemd_unit")
def _systemd_unit(value: Any, options: dict[str, Any]) -> str:
    """systemd's unit-name grammar; a bare name means `.service`, as systemctl reads it."""
    text = _pattern(value, r"[A-Za-z0-9:_.\\@-]+", "a systemd unit name", max_length=255)
    if text.isdigit():
        raise ParamTypeError(f"{text!r} is a process id, not a unit name (systemctl reads digits as a PID)")
    suffixes = (".service", ".socket", ".timer", ".target", ".mount", ".path", ".slice", ".scope", ".device", ".swap", ".automount")
    if not text.endswith(suffixes):
        text += ".service"
    if text.startswith(".") or text.startswith("@"):
        raise ParamTypeError(f"{text!r} is not a systemd unit name")
    return text


@param_type("hostname")
def _hostname(value: Any, options: dict[str, Any]) -> str:
    """A DNS name or an IP address (what dig, ping and database clients connect to)."""
    text = _text(value, max_length=253).rstrip(".")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    label = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
    if not re.fullmatch(rf"{label}(\.{label})*", text):
        raise ParamTypeError(f"{text[:60]!r} is not a host name or IP address")
    return text.lower()


@param_type("ip_address")
def _ip(value: Any, options: dict[str, Any]) -> str:
    try:
        return str(ipaddress.ip_address(_text(value, max_length=45)))
    except ValueError:
        raise ParamTypeError(f"{str(value)[:45]!r} is not an IP address") from None


@param_type("cidr")
def _cidr(value: Any, options: dict[str, Any]) -> str:
    try:
        return str(ipaddress.ip_network(_text(value, max_length=49), strict=False))
    except ValueError:
        raise ParamTypeError(f"{str(value)[:49]!r} is not an address or network") from None


@param_type("identifier")
def _identifier(value: Any, options: dict[str, Any]) -> str:
    """A name in a database or service (variable, setting, application): letters, digits, `_` (and `%` for LIKE)."""
    extra = re.escape(options.get("extra_chars", ""))
    return _pattern(value, rf"[A-Za-z_][A-Za-z0-9_{extra}]{{0,63}}", "a name of letters, digits and _", max_length=64)


@param_type("name")
def _name(value: Any, options: dict[str, Any]) -> str:
    """A resource name in a cloud API: letters, digits and . _ - / (AWS identifiers, certbot names, images)."""
    text = _pattern(value, options.get("pattern") or r"[A-Za-z0-9][A-Za-z0-9._/:+@-]{0,254}", options.get("what", "a resource name"),
                    max_length=int(options.get("max_length", 255)))
    if SHELL_META.search(text):
        raise ParamTypeError(f"{text[:60]!r} carries a character a shell acts on")
    return text


@param_type("aws_id")
def _aws_id(value: Any, options: dict[str, Any]) -> str:
    prefix = options.get("prefix", "[a-z]+")
    return _pattern(value, rf"({prefix})-[0-9a-f]{{8,17}}", f"an AWS id ({prefix}-...)", max_length=40)


@param_type("aws_filter")
def _aws_filter(value: Any, options: dict[str, Any]) -> str:
    return _pattern(value, r"Name=[A-Za-z0-9:._-]+,Values=[A-Za-z0-9:._*/ -]+(,[A-Za-z0-9:._*/ -]+)*", "an AWS filter (Name=...,Values=...)", max_length=512)


@param_type("jmespath")
def _jmespath(value: Any, options: dict[str, Any]) -> str:
    import jmespath

    text = _text(value, max_length=512)
    try:
        jmespath.compile(text)
    except jmespath.exceptions.JMESPathError as exc:
        raise ParamTypeError(f"not a JMESPath query: {str(exc).splitlines()[0][:80]}") from None
    return text


@param_type("uuid")
def _uuid(value: Any, options: dict[str, Any]) -> str:
    return _pattern(value, r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "a lock ID (UUID)", max_length=36).lower()


@param_type("size")
def _size(value: Any, options: dict[str, Any]) -> str:
    return _pattern(value, r"[1-9][0-9]{0,5}[KMG]", "a size like 500M or 2G", max_length=8)


@param_type("journal_time")
def _journal_time(value: Any, options: dict[str, Any]) -> str:
    """What `journalctl --since` reads: an absolute time, or a relative one (-1h, 30 min ago, today)."""
    text = _text(value, max_length=40) if not str(value).startswith("-") else str(value)
    forms = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}(:[0-9]{2})?)?( UTC)?", r"-[0-9]{1,4}(s|m|min|h|d)",
             r"[0-9]{1,4} ?(s|sec|m|min|minutes?|h|hours?|d|days?) ago", r"today|yesterday|now")
    if _CONTROL.search(text) or not any(re.fullmatch(f, text) for f in forms):
        raise ParamTypeError(f"{text[:40]!r} is not a time journalctl reads (2026-03-02 10:00:00 UTC, -1h, 30 min ago)")
    return text


@param_type("datetime")
def _datetime(value: Any, options: dict[str, Any]) -> str:
    """An ISO-8601 moment rendered as `YYYY-MM-DD HH:MM:SS` (UTC), the form SQL servers read."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(_text(value, max_length=40).replace("Z", "+00:00"))
        except ValueError:
            raise ParamTypeError(f"{str(value)[:40]!r} is not an ISO-8601 time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@param_type("image")
def _image(value: Any, options: dict[str, Any]) -> str:
    return _pattern(value, r"[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?",
                    "a container image reference", max_length=255)


@param_type("git_rev")
def _git_rev(value: Any, options: dict[str, Any]) -> str:
    return _pattern(value, r"[A-Za-z0-9][A-Za-z0-9._/^~@{}-]{0,127}", "a git revision or range", max_length=128)


# -------------------------------------------------------------------- paths

# /proc/<pid>/<entry> entries that expose another process's files, memory or environment.
_PROC_ESCAPES = ("root", "cwd", "exe", "environ", "mem", "fd", "fdinfo", "map_files", "task", "pagemap", "kcore", "syscall", "auxv")


@param_type("path")
def _path(value: Any, options: dict[str, Any]) -> str:
    """An absolute path, canonicalised, inside one of the tool's roots and outside its forbidden globs.

    Roots are whole directories: `/etc/nginx/` does not admit `/etc/nginx-secrets/`.
    """
    text = _text(value, max_length=1024)
    if not text.startswith("/"):
        raise ParamTypeError(f"{text[:60]!r} must be an absolute path")
    norm = posixpath.normpath(text)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    parts = norm.split("/")
    if len(parts) > 3 and parts[1] == "proc" and (parts[2].isdigit() or parts[2] in ("self", "thread-self")) and parts[3] in _PROC_ESCAPES:
        raise ParamTypeError(f"{norm!r} reaches into another process's files or memory")
    if len(parts) > 2 and parts[1] == "proc" and parts[2] == "kcore":
        raise ParamTypeError(f"{norm!r} is kernel memory")
    for pattern in options.get("deny") or []:
        if fnmatch.fnmatch(norm, pattern) or fnmatch.fnmatch(norm + "/", pattern):
            raise ParamTypeError(f"{norm!r} is forbidden to this tool ({pattern})")
    roots = options.get("roots") or ["/"]
    if not any(_inside(norm, root) for root in roots):
        raise ParamTypeError(f"{norm!r} is outside what this tool may read ({', '.join(roots[:8])})")
    return norm


def _inside(path: str, root: str) -> bool:
    if root == "/":
        return True
    if root.endswith("/"):
        return path == root.rstrip("/") or path.startswith(root)
    return path == root  # a single file


@param_type("release_dir")
def _release_dir(value: Any, options: dict[str, Any]) -> str:
    """One release of a deployment: APP/releases/NAME inside the tool's roots, never `releases` itself or a link name.

    Deployment tools keep each release in its own directory and point APP/current at one of them; only such a
    directory may be named, so a deletion can never reach the application, its shared files or anything above.
    """
    norm = _path(value, options)
    parent, name = posixpath.split(norm)
    if posixpath.basename(parent) != "releases" or posixpath.dirname(parent) in ("", "/"):
        raise ParamTypeError(f"{norm!r} is not a release directory (APP/releases/NAME)")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name) or name in ("current", "shared"):
        raise ParamTypeError(f"{name!r} is not a release name")
    return norm


@param_type("relative_file")
def _relative_file(value: Any, options: dict[str, Any]) -> str:
    """A file name inside a working directory (a saved Terraform plan): no directories, no traversal."""
    return _pattern(value, r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}", "a file name in the working directory", max_length=128)


# --------------------------------------------------------------------- URLs


@param_type("url")
def _url(value: Any, options: dict[str, Any]) -> str:
    """http(s) only, to a host the tool's `hosts` patterns name; no credentials in the URL."""
    from urllib.parse import urlsplit

    text = _text(value, max_length=2048)
    if re.search(r"\s", text):
        raise ParamTypeError("a URL has no spaces")
    if SHELL_META.search(text) or any(q in text for q in "'\""):
        raise ParamTypeError("a URL here has no ; & | < > $ ` ! or quotes (no query strings with several parameters)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ParamTypeError(f"{text[:60]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ParamTypeError(f"{text[:60]!r} must be an http:// or https:// URL")
    if parts.username or parts.password or "@" in parts.netloc:
        raise ParamTypeError("a URL with credentials is refused")
    host = parts.hostname.lower()
    patterns = options.get("hosts") or []
    if not any(fnmatch.fnmatch(host, p) for p in patterns):
        raise ParamTypeError(f"host {host!r} is not one this tool may reach ({', '.join(patterns[:6])})")
    if port is not None and not 0 < port < 65536:
        raise ParamTypeError("bad port")
    return text


@param_type("host_port")
def _host_port(value: Any, options: dict[str, Any]) -> str:
    text = _text(value, max_length=260)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ParamTypeError(f"{text[:60]!r} is not host:port")
    name = _hostname(host, {})
    patterns = options.get("hosts") or []
    if patterns and not any(fnmatch.fnmatch(name, p) for p in patterns):
        raise ParamTypeError(f"host {name!r} is not one this tool may reach ({', '.join(patterns[:6])})")
    return f"{name}:{int(port)}"


# curl's --write-out variables that print facts about the transfer (no %output{}, no @file, no headers of secrets).
_CURL_VARIABLES = {"http_code", "response_code", "time_total", "time_connect", "time_namelookup", "time_appconnect",
                   "time_pretransfer", "time_starttransfer", "time_redirect", "size_download", "size_header", "speed_download",
                   "remote_ip", "remote_port", "num_redirects", "redirect_url", "ssl_verify_result", "http_version",
                   "content_type", "exitcode", "errormsg", "url_effective", "scheme", "method", "num_connects"}


@param_type("curl_write_out")
def _curl_write_out(value: Any, options: dict[str, Any]) -> str:
    text = str(value)
    if not text or len(text) > 200 or text.startswith("@") or _CONTROL.search(text) or SHELL_META.search(text):
        raise ParamTypeError("a write-out format of %{variable} and plain text (no @file, no escapes)")
    for match in re.finditer(r"%(\w*)\{([^}]*)\}|%", text):
        if match.group(0) == "%":
            continue
        if match.group(1) or match.group(2) not in _CURL_VARIABLES:
            raise ParamTypeError(f"write-out variable {match.group(0)!r} is not allowed (use e.g. %{{http_code}} %{{time_total}})")
    return text
