"""Which addresses a URL taken from crawled data may reach: public internet addresses only (no SSRF).

A crawled page names any URL it likes: ``http://127.0.0.1:8080/``, the cloud metadata service
``http://169.254.169.254/``, a printer on 192.168.1.10, or the same written ``http://2130706433/``,
``http://0x7f.1/``, ``http://[::ffff:127.0.0.1]/``. Every such URL is judged by the address it resolves to,
not by its spelling: ``AddressPolicy.addresses`` resolves a host once (a literal in any spelling without DNS)
and refuses it when any of its addresses is not public; the connection layer (``guarded_urllib``) then
connects to exactly those addresses, so DNS cannot answer differently in between (no rebinding window).

Pure functions but the default resolver: tests pass their own and send no packet.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address
Resolver = Callable[[str, int], Iterable[tuple]]  # socket.getaddrinfo's shape: (family, type, proto, name, sockaddr)

REASON = "private_address"  # the skip reason, and the first word of the refusal's message
_SHARED = IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_IETF = IPv4Network("192.0.0.0/24")  # IETF protocol assignments (RFC 6890): not globally reachable
_COMPAT = IPv6Network("::/96")  # IPv4-compatible IPv6 (deprecated by RFC 4291): never a web server
_NAT64 = IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052): the IPv4 address in its low bits
_NAT64_LOCAL = IPv6Network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): a local network's own translator
_NUMERIC = re.compile(r"[0-9A-Fa-fXx.]+")  # what inet_aton might read as an IPv4 address


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` is no public internet address (None: it is one).

    ``ipaddress``' ``is_global`` is the basis: it follows IANA's special-purpose address registries, which
    say which blocks are globally reachable. It is not the whole answer: multicast (224/4, ff00::/8) and
    IPv6 site-local fec0::/10 count as global, so do 192.0.0.0/24's assignments on Python 3.11; whether an
    IPv4-mapped ``::ffff:a.b.c.d`` is judged by its IPv4 address changed between Python releases; and the
    IPv6 forms that carry an IPv4 address (mapped, compatible, 6to4, NAT64) are global or reserved as IPv6
    whatever IPv4 address they carry. Those are checked here explicitly, the embedded address by itself.
    """
    if isinstance(ip, IPv6Address):
        if ip.ipv4_mapped is not None:
            return _embedded("IPv4-mapped", ip.ipv4_mapped)
        if ip in _COMPAT and int(ip) > 1:  # :: and ::1 are judged below
            return "IPv4-compatible IPv6"
        if ip.sixtofour is not None:
            return _embedded("6to4", ip.sixtofour)
        if ip in _NAT64:
            return _embedded("NAT64", IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip in _NAT64_LOCAL:
            return "local-use NAT64"
        if ip.teredo is not None:
            return "Teredo"
        if ip.is_site_local:
            return "site-local"
    checks = (("unspecified", ip.is_unspecified), ("loopback", ip.is_loopback), ("link-local", ip.is_link_local),
              ("multicast", ip.is_multicast), ("private", ip.is_private), ("reserved", ip.is_reserved),
              ("shared (carrier-grade NAT)", ip in _SHARED), ("IETF protocol assignments", ip in _IETF))
    for why, hit in checks:
        if hit:
            return why
    return None if ip.is_global else "not globally reachable"


def _embedded(form: str, v4: IPv4Address) -> str | None:
    why = refusal(v4)
    return f"{form} {v4}: {why}" if why else None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any spelling the C resolver takes for one (None: a name).

    IPv6 literals (with or without brackets, a zone index included) through ``ipaddress``; IPv4 also in the
    forms of ``inet_aton(3)``, which ``getaddrinfo`` accepts: one number (``2130706433``), octal
    (``0177.0.0.1``), hex (``0x7f.0.0.1``, ``0x7f000001``), short dotted (``127.1``). ``socket.inet_aton`` is
    that very parser (pure: no packet)."""
    h = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    if _NUMERIC.fullmatch(h):  # inet_aton stops at a space and ignores the rest: only these characters reach it
        try:
            return IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def system_resolver(host: str, port: int) -> list[tuple]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class PrivateAddressError(OSError):
    """A URL's host is (or resolves to) an address that is not public; its message starts with ``REASON``."""

    def __init__(self, host: str, ip: IPAddress, why: str) -> None:
        super().__init__(f"{REASON}: {host} is {ip} ({why})")


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a connection may go to. By default public ones only; ``allow_private`` lifts that
    (the explicit ``allow_private_addresses`` option: a web on this machine or a private network, for tests
    and a private mirror); ``allowed`` names exact ``(address, port)`` endpoints let through whatever their
    address (the download job's own loopback web that ``serve`` starts; a test's first hop)."""

    allow_private: bool = False
    allowed: frozenset[tuple[str, int]] = frozenset()
    resolver: Resolver = field(default=system_resolver, compare=False)

    def allowing(self, address: str, port: int) -> AddressPolicy:
        return replace(self, allowed=self.allowed | {(str(ipaddress.ip_address(address)), port)})

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for ``host``: resolved once (a literal without the resolver), each
        checked; ``PrivateAddressError`` when any is not allowed (a name that also resolves to a public
        address is refused too: which one a client takes is not ours to choose)."""
        literal = literal_address(host)
        if literal is not None:
            ips = [literal]
        else:
            ips = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in self.resolver(host, port)))
            if not ips:
                raise OSError(f"{host}: the resolver gave no address")
        if not self.allow_private:
            for ip in ips:
                why = refusal(ip)
                if why and (str(ip), port) not in self.allowed:
                    raise PrivateAddressError(host, ip, why)
        return ips
