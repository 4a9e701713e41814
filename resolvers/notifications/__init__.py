"""Notifications: the pipeline (`notify`), the inbox, preferences and devices, and the delivery steps."""

from resolvers.notifications.inbox import (
    NotificationEvent,
    get_own,
    list_notifications,
    mark_all_read,
    mark_read,
    notification_events,
    unread_count,
)
from resolvers.notifications.pipeline import create_in_app, notify

__all__ = [
    "NotificationEvent",
    "create_in_app",
    "get_own",
    "list_notifications",
    "mark_all_read",
    "mark_read",
    "notification_events",
    "notify",
    "unread_count",
]
