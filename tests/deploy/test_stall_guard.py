"""The container scenario's guard against this host's DNS stalls reads the traffic generator's statistics."""

from __future__ import annotations

from tests.deploy.containers import direct_store_stalls

STATS = """\
Type     Name                      # reqs      # fails |    Avg     Min     Max    Med |   req/s  failures/s
--------|-------------------------|-------|-------------|-------|-------|-------|-------|--------|-----------
POST     cart: add                      4     2(50.00%) |  30000   30000   30000  30000 |    0.13        0.07
GET      store: album api               1     0(0.00%) |      9       9       9      9 |    0.03        0.00
GET      store: shop page               3     0(0.00%) |  20045      21   30073  30000 |    0.10        0.00
GET      store: stats page              1     0(0.00%) |     24      24    4999     24 |    0.03        0.00
"""


def test_a_store_call_the_generator_waited_seconds_for_is_a_stall_and_quick_ones_and_the_carts_are_not() -> None:
    assert direct_store_stalls(STATS) == ["store: shop page: 30073 ms"]
