"""urllib for URLs from crawled data: every connection, redirects included, to allowed addresses only.

img2dataset (1.47.0) downloads each image with ``urllib.request.urlopen`` and so through urllib's global
opener. ``guarded_urllib(policy)`` installs an opener whose HTTP(S) connections resolve the host once with
``AddressPolicy.addresses`` (refusing a private address) and connect to exactly the checked address: the
check sits in the connection itself (http.client's ``_create_connection`` hook, the one every
``HTTPConnection.connect`` and so ``HTTPSConnection`` calls; TLS still verifies the URL's host name), so
no spelling, DNS answer or redirect hop gets past it (each hop is a new connection through this opener).
The opener handles http and https only (no ftp:, file: or data:, which a redirect could otherwise reach)
and takes no proxy from the environment: a proxy would resolve and connect for us, out of the check's
reach. The one proxy it takes is the download job's own loopback web (``serve``), named explicitly.

A job that runs img2dataset in its own interpreter hands the policy over in ``SCICLIP_URL_POLICY``;
that interpreter and img2dataset's spawned workers install it at import (``i2d_job``).
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import socket
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

from sciclip.sources.cc.public_address import AddressPolicy

POLICY_ENV = "SCICLIP_URL_POLICY"


def connect_checked(address: tuple[str, int], timeout=socket._GLOBAL_DEFAULT_TIMEOUT,  # noqa: SLF001 - http.client's default
                    source_address=None, *, policy: AddressPolicy) -> socket.socket:
    """``socket.create_connection`` to the checked addresses of ``address``' host: each address is passed
    as a numeric host, so the connection goes to that very address (no second lookup)."""
    host, port = address
    err: OSError | None = None
    for ip in policy.addresses(host, port):
        try:
            return socket.create_connection((str(ip), port), timeout, source_address)
        except OSError as e:
            err = e
    raise err if err else OSError(f"{host}: no address to connect to")


class _Checked(http.client.HTTPConnection):
    def __init__(self, *args, policy: AddressPolicy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(connect_checked, policy=policy)


class _CheckedTLS(http.client.HTTPSConnection):
    def __init__(self, *args, policy: AddressPolicy, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(connect_checked, policy=policy)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self.policy = policy

    def http_open(self, req):
        return self.do_open(functools.partial(_Checked, policy=self.policy), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: AddressPolicy) -> None:
        super().__init__()
        self.policy = policy

    def https_open(self, req):
        return self.do_open(functools.partial(_CheckedTLS, policy=self.policy), req, context=self._context)


def guarded_opener(policy: AddressPolicy, proxy: str | None = None) -> urllib.request.OpenerDirector:
    """build_opener's http(s) handlers with checked connections; ``proxy`` (or none) for both schemes."""
    opener = urllib.request.OpenerDirector()
    for handler in (urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}),
                    urllib.request.UnknownHandler(), _HTTPHandler(policy), _HTTPSHandler(policy),
                    urllib.request.HTTPDefaultErrorHandler(), urllib.request.HTTPRedirectHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


@contextmanager
def guarded_urllib(policy: AddressPolicy, proxy: str | None = None) -> Iterator[None]:
    """Within: ``urllib.request.urlopen`` (img2dataset's downloads) goes through ``guarded_opener``."""
    urllib.request.install_opener(guarded_opener(policy, proxy))
    try:
        yield
    finally:
        urllib.request.install_opener(None)


def policy_env(policy: AddressPolicy, proxy: str | None = None) -> str:
    """The policy (and proxy) as ``SCICLIP_URL_POLICY``'s value (the resolver stays the system's)."""
    return json.dumps({"allow_private": policy.allow_private, "allowed": sorted(policy.allowed), "proxy": proxy})


def install_from_env() -> None:
    """Install the opener of ``SCICLIP_URL_POLICY`` in this interpreter for good (unset: public addresses
    only, no proxy)."""
    spec = json.loads(os.environ.get(POLICY_ENV) or "{}")
    policy = AddressPolicy(bool(spec.get("allow_private")), frozenset(tuple(e) for e in spec.get("allowed", [])))
    urllib.request.install_opener(guarded_opener(policy, spec.get("proxy")))
