"""Creating customers over GraphQL for API tests."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from tests.api.graphql import gql

CREATE = """
mutation ($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id accountNumber addresses { nodes { id isDefault } } }
    userErrors { field code message }
  }
}
"""
ADD_CARD = """
mutation ($input: AddPaymentMethodInput!) {
  addPaymentMethod(input: $input) {
    paymentMethod { id brand last4 expMonth expYear isDefault }
    userErrors { field code message }
  }
}
"""
ADDRESS = {
    "name": "Grace Hopper",
    "line1": "1 Navy Way",
    "city": "Arlington",
    "region": "VA",
    "postalCode": "22202",
    "country": "US",
}


def make_customer(
    client: TestClient, account: str = "C-100", token: str = "tok_visa"
) -> dict[str, str]:
    """A customer with one address and one card; returns their ids."""
    created = gql(
        client,
        CREATE,
        input={
            "accountNumber": account,
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "addresses": [ADDRESS],
        },
    )["createCustomer"]
    assert created["userErrors"] == []
    customer = created["customer"]
    card = gql(
        client,
        ADD_CARD,
        input={
            "customerId": customer["id"],
            "gatewayToken": token,
            "brand": "visa",
            "last4": "4242",
            "expMonth": 12,
            "expYear": 2031,
        },
    )["addPaymentMethod"]
    assert card["userErrors"] == []
    return {
        "customerId": customer["id"],
        "shipToAddressId": customer["addresses"]["nodes"][0]["id"],
        "paymentMethodId": card["paymentMethod"]["id"],
    }


def place(client: TestClient, ids: dict[str, str], *lines: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = gql(client, PLACE, input={**ids, "lines": list(lines)})[
        "placeSalesOrder"
    ]
    return payload


PLACE = """
mutation ($input: PlaceSalesOrderInput!) {
  placeSalesOrder(input: $input) {
    salesOrder { id number total { amount currencyCode } lines { lineNumber sku kind quantity }
                 payments { nodes { purpose status amount { amount } } } }
    continuityOrders { id number status startDate billingMode total { amount } }
    userErrors { field code message }
  }
}
"""
