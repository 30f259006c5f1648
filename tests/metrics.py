"""Reading /metrics in tests: a scrape through Django's test client, one sample's value by name and labels."""

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families


def scrape(client: Client) -> str:
    """The site's metrics as a loopback caller (open in dev) reads them."""
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of the sample `name` with exactly these labels; 0 when the series is absent (a counter that
    has not moved yet has no series for its labels)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return 0.0


def has_sample(text: str, name: str) -> bool:
    return any(found.name == name for family in text_string_to_metric_families(text) for found in family.samples)
