"""Payments: the gateway interface, the built-in test gateway, and recording charges."""
