"""Who may use the page: the token off loopback, the Host header on loopback, no other site's POST."""
import hmac
import ipaddress
from typing import Dict, List, Mapping, Optional
from urllib.parse import urlsplit

from .errors import HttpError


def needs_token(host: str) -> bool:
    """True unless ``host`` is a loopback address or "localhost" (only this machine can connect)."""
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: whoever it resolves for can connect
        return True


def host_only(host: str) -> str:
    """The name or address of a Host header, without its port."""
    if host.startswith("["):  # [::1]:8000
        return host[1:host.find("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def check_access(token: Optional[str], method: str, headers: Mapping[str, str],
                 query: Dict[str, List[str]]) -> None:
    """HttpError 403 unless the request carries ``token`` (when the server has
    one), or else names a loopback Host; and for a POST from a page, unless
    that page is this server's (the Origin header)."""
    host = headers.get("Host", "")
    if token is not None:
        given = query.get("token", [""])[0]
        if not hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8")):
            raise HttpError(403, "forbidden: open the page with the URL and token that the server printed")
    elif host and needs_token(host_only(host)):
        raise HttpError(403, "forbidden: this server answers only to 127.0.0.1 or localhost")
    origin = headers.get("Origin")
    if method == "POST" and origin and origin != "null" and urlsplit(origin).netloc != host:
        raise HttpError(403, "forbidden: request from another site")
