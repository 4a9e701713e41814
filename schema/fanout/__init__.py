"""Subscriptions executed once per cohort, as graphql-ruby's broadcastable subscriptions and Hasura's
multiplexed live queries serve many clients.

A subscription field opts in with `declare(Broadcastable(...))`: what it yields after its snapshot is
rendered from the event and an audience key alone, and the key comes from the viewer that the field's
authorisation produced. Over a websocket such a subscription becomes a `Member`:

- its snapshot stays its own: Strawberry runs the operation (parsing, validation, limits, the field's
  authorisation) and its first result goes out as for any subscription. The field's generator then stays
  parked, with no task, and is advanced again only for a fresh snapshot once events may have been missed
  (the hub reconnected, the channel's reader fell behind, or this member's socket did);
- the changes come from one reader per channel and process (`_Channel`), which executes the selection set
  once per cohort — same document, operation name, variables and viewer scope — and audience key, and
  sends the same serialized frame to every member of it.

The shared execution runs with an anonymous context: nothing about one viewer can reach another. An
audience key that names one viewer (the subject of a change, who sees their own email in it) runs as that
viewer, and only that viewer's subscriptions have that key.
Every other subscription (another field, several root fields, directives on the root field, HTTP) runs
on Strawberry's ordinary path.
"""

from schema.fanout.members import Connection, Member, Stream, joining
from schema.fanout.routes import Broadcastable, Route, declare, route

__all__ = ["Broadcastable", "Connection", "Member", "Route", "Stream", "declare", "joining", "route"]
