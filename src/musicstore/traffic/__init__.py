"""The traffic generator: Locust user types that shop, browse, pay and administer, each journey verified."""
