"""HTTP helpers the issuer's rules and views share: the caller's address as its views and throttles count it
(webguard's rule, shared by every site), and a URL's origin."""

from urllib.parse import urlsplit

from webguard.addresses import client_ip

__all__ = ["client_ip", "origin_of"]


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of `url`, lower-cased, as browsers send it in `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
