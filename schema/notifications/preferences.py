"""The signed-in user's notification preferences and push devices."""

import strawberry

import models.notifications as rows
from core.db import read_session, transaction
from resolvers.notifications import preferences
from schema import fields
from schema.context import Info
from schema.notifications.types import NotificationPreferences, Platform


@strawberry.input
class NotificationPreferencesInput:
    email: bool | None = None
    push: bool | None = None
    sms: bool | None = strawberry.field(
        default=None, description="Texts to the verified Profile.phone; off until a phone is verified."
    )
    quiet_hours_start: str | None = strawberry.field(
        default=strawberry.UNSET, description='"HH:MM"; null clears the quiet hours (with the end).'
    )
    quiet_hours_end: str | None = strawberry.UNSET
    daily_cap: int | None = strawberry.field(default=None, description="0 to 50.")
    muted_kinds: list[str] | None = None

    def to_update(self) -> preferences.PreferencesUpdate:
        return preferences.PreferencesUpdate(
            email=self.email,
            push=self.push,
            sms=self.sms,
            quiet_hours_start=preferences.KEEP
            if self.quiet_hours_start is strawberry.UNSET
            else self.quiet_hours_start,
            quiet_hours_end=preferences.KEEP
            if self.quiet_hours_end is strawberry.UNSET
            else self.quiet_hours_end,
            daily_cap=self.daily_cap,
            muted_kinds=self.muted_kinds,
        )


@strawberry.type
class PreferencesQuery:
    @fields.field("The signed-in user's notification preferences (the defaults until they change one).")
    async def notification_preferences(self, info: Info) -> NotificationPreferences:
        async with read_session() as db:
            row = await preferences.own_preferences(db, info.context.actor)
        return NotificationPreferences.from_row(row)


@strawberry.type
class PreferencesMutation:
    @strawberry.mutation
    async def update_notification_preferences(
        self, info: Info, input: NotificationPreferencesInput
    ) -> NotificationPreferences:
        async with transaction() as db:
            row = await preferences.update_preferences(db, info.context.actor, input.to_update())
        return NotificationPreferences.from_row(row)

    @fields.mutation("Registers a push token for the signed-in user; a token another user had moves here.")
    async def register_device(self, info: Info, token: str, platform: Platform) -> bool:
        async with transaction() as db:
            return await preferences.register_device(db, info.context.actor, token, rows.Platform(platform))

    @fields.mutation("Forgets one of the signed-in user's push tokens; false when they had no such token.")
    async def unregister_device(self, info: Info, token: str) -> bool:
        async with transaction() as db:
            return await preferences.unregister_device(db, info.context.actor, token)
