"""In-app notifications made the way the app makes them, for tests that watch them arrive."""

from broadcast import notifications as notification_events
from core.db import transaction
from resolvers import notifications
from tests.helpers.factories import Account
from tests.helpers.pubsub import wait_for_subscribers


async def notify(account: Account, title: str) -> None:
    """Creates an in-app notification once the account's subscription is listening on Redis (a client gets
    no signal when the server has subscribed; NUMSUB is the ground truth)."""
    await wait_for_subscribers(notification_events.user_channel(account.user.id))
    async with transaction() as db:
        await notifications.create_in_app(
            db, account.user.id, kind="test", title=title, body="", dedupe_key=title
        )
