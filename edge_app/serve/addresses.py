"""The page's URLs: the bound address, or this machine's addresses when bound to all."""
import ipaddress
import socket
import struct
from typing import Any, List

#: SIOCGIFADDR: the ioctl that reads an interface's IPv4 address (Linux).
_SIOCGIFADDR = 0x8915


def network_addresses() -> List[str]:
    """This machine's IPv4 addresses other than loopback, read from its network
    interfaces (Linux; nothing is sent). Empty where they cannot be read."""
    try:
        import fcntl
        names = [name for _, name in socket.if_nameindex()]
    except (ImportError, AttributeError, OSError):
        return []
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for name in names:
            try:
                request = struct.pack("256s", name[:15].encode("utf-8"))
                packed = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)[20:24]
            except OSError:  # no IPv4 address
                continue
            address = socket.inet_ntoa(packed)
            if not ipaddress.ip_address(address).is_loopback:
                found.append(address)
    return found


def reachable_urls(server: Any) -> List[str]:
    """The page's URLs (``server.url(host)``): the bound address; for 0.0.0.0
    or :: this machine's addresses and its name."""
    host = server.server_address[0]
    if host not in ("0.0.0.0", "::"):
        return [server.url()]
    return [server.url(a) for a in network_addresses()] + [server.url(socket.gethostname())]
