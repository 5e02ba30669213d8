"""Payments: every charge, authorization and refund, and the one interface to a provider.

- ``gateway``: the ``PaymentGateway`` protocol, its results, and the built-in ``TestGateway``;
- ``stripe_gateway``: the Stripe adapter (the official SDK's async client);
- ``charges``: one attempt of one payment (keys ``<payment key>#<attempt>``, the call, the
  outcome recorded on the row);
- ``outcomes``: writing outcomes and what they mean for the order (one home);
- ``collect``: the batch path of the jobs;
- ``authorizations``: authorize when a child order is created, renew, capture when invoiced;
- ``webhooks``: the provider's events in, each handled once.

docs/PAYMENTS.md explains the flows.
"""
