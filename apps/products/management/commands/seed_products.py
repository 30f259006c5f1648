"""A few demo products for `make run`; existing ones are left as they are."""

from decimal import Decimal

from django.core.management.base import BaseCommand

from apps.products.models import Product

DEMO_PRODUCTS = [
    ("mug-blue", "Blue mug", Decimal("9.50"), 40),
    ("tshirt-logo", "Logo T-shirt", Decimal("18.00"), 25),
    ("sticker-pack", "Sticker pack", Decimal("3.20"), 200),
]


class Command(BaseCommand):
    help = "Create the demo products if they do not exist."

    def handle(self, *args, **options) -> None:
        for sku, name, price, stock in DEMO_PRODUCTS:
            Product.objects.get_or_create(sku=sku, defaults={"name": name, "price": price, "stock": stock})
        self.stdout.write(f"Products: {Product.objects.count()}")
