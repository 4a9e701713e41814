"""Notifications in the schema: the inbox, its subscription, preferences and push devices."""

from strawberry.tools import merge_types

from schema.notifications.inbox import InboxMutation, InboxQuery, InboxSubscription
from schema.notifications.preferences import PreferencesMutation, PreferencesQuery

NotificationsQuery = merge_types("NotificationsQuery", (InboxQuery, PreferencesQuery))
NotificationsMutation = merge_types("NotificationsMutation", (InboxMutation, PreferencesMutation))
NotificationsSubscription = InboxSubscription

__all__ = ["NotificationsMutation", "NotificationsQuery", "NotificationsSubscription"]
