"""The base of every refusal the issuer's sign-on services make (credentials and sessions alike)."""


class SignOnError(Exception):
    """Base for every refusal the issuer's services make; the API layer turns each into a 4xx."""
