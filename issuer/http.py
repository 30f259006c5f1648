"""The caller's address as the issuer's views and throttles count it: webguard's rule, shared by every site."""

from webguard.addresses import client_ip

__all__ = ["client_ip"]
