"""Billing and credits: plans, Stripe checkout and webhooks, and the ledger every AI feature spends from.

`plans` reads the plans; `credits` is the ledger (`spend`, `grant`, the periods' grants and clawbacks);
`checkout` talks to Stripe for a user (checkout, cancel, portal) and reads their subscription and
payments; `webhooks` applies Stripe's events exactly once, in any order (subscriptions and checkouts
itself, invoices and refunds through `invoices`, both finding our rows through `matching` and reading
Stripe's objects with `stripe_objects`).
"""
