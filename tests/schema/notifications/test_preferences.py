"""Notification preferences: defaults, updates, validation that names the field and changes nothing,
unread counts and marking all read."""

import pytest

from tests.helpers.client import GraphQLClient, error_code
from tests.helpers.factories import make_account
from tests.helpers.notification_delivery import notify

PREFERENCES = (
    "{ notificationPreferences { inApp email push quietHoursStart quietHoursEnd dailyCap mutedKinds } }"
)
UPDATE = """
mutation($input: NotificationPreferencesInput!) {
  updateNotificationPreferences(input: $input) {
    email push quietHoursStart quietHoursEnd dailyCap mutedKinds } }"""
DEFAULTS = {
    "inApp": True,
    "email": True,
    "push": True,
    "quietHoursStart": None,
    "quietHoursEnd": None,
    "dailyCap": 10,
    "mutedKinds": [],
}


async def test_preferences_start_at_the_defaults_and_keep_what_is_not_given(gql: GraphQLClient) -> None:
    account = await make_account()
    assert (await gql.data(PREFERENCES, token=account.token))["notificationPreferences"] == DEFAULTS
    first = {
        "quietHoursStart": "22:00",
        "quietHoursEnd": "07:00",
        "dailyCap": 3,
        "mutedKinds": ["summary_ready"],
    }
    await gql.data(UPDATE, {"input": first}, token=account.token)
    updated = (await gql.data(UPDATE, {"input": {"push": False}}, token=account.token))[
        "updateNotificationPreferences"
    ]
    assert updated == {**first, "email": True, "push": False}
    cleared = await gql.data(
        UPDATE, {"input": {"quietHoursStart": None, "quietHoursEnd": None}}, token=account.token
    )
    assert cleared["updateNotificationPreferences"]["quietHoursStart"] is None


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"quietHoursStart": "24:00", "quietHoursEnd": "07:00"}, "quietHoursStart"),
        ({"quietHoursStart": "22:00", "quietHoursEnd": "7:00"}, "quietHoursEnd"),
        ({"quietHoursStart": "22:00"}, "quietHoursEnd"),
        ({"quietHoursStart": "22:00", "quietHoursEnd": "22:00"}, "quietHoursEnd"),
        ({"dailyCap": 51}, "dailyCap"),
        ({"dailyCap": -1}, "dailyCap"),
        ({"mutedKinds": ["summary_ready", "spam"]}, "mutedKinds"),
    ],
)
async def test_bad_preferences_name_their_field_and_change_nothing(
    gql: GraphQLClient, given: dict[str, object], field: str
) -> None:
    account = await make_account()
    error = await gql.error(UPDATE, {"input": {"email": False, **given}}, token=account.token)
    assert (error_code(error), error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert (await gql.data(PREFERENCES, token=account.token))["notificationPreferences"] == DEFAULTS


async def test_unread_count_and_mark_all_read_see_only_the_users_own_in_app_notifications(
    gql: GraphQLClient,
) -> None:
    owner, stranger = await make_account(), await make_account()
    for n in range(3):
        await notify(owner.user.id, "goal_achieved", f"goal:{n}", goal=str(n))
    await notify(stranger.user.id, "goal_achieved", "goal:x", goal="x")
    count = "{ unreadNotificationCount }"
    assert (await gql.data(count, token=owner.token))["unreadNotificationCount"] == 3
    marked = await gql.data("mutation { markAllNotificationsRead }", token=owner.token)
    assert marked["markAllNotificationsRead"] == 3
    assert (await gql.data(count, token=owner.token))["unreadNotificationCount"] == 0
    assert (await gql.data(count, token=stranger.token))["unreadNotificationCount"] == 1
