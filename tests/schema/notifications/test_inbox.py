import pytest
from sqlalchemy import func, select

from broadcast import notifications as notification_events
from core.db import read_session, transaction
from models.notifications import Notification
from resolvers import notifications
from tests.helpers.client import LEGACY_WS, TRANSPORT_WS, GraphQLClient, error_code, subscription
from tests.helpers.factories import make_account
from tests.helpers.jobs import run_jobs
from tests.helpers.processes import api_process
from tests.helpers.pubsub import wait_for_subscribers

SUBSCRIBE = "subscription { notifications { id kind title channel status createdAt } }"
LIST = """
query($unread: Boolean, $first: Int, $after: String) {
  notifications(unreadOnly: $unread, first: $first, after: $after) {
    edges { cursor node { id kind readAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def _notification_count() -> int:
    async with read_session() as db:
        return (await db.execute(select(func.count()).select_from(Notification))).scalar_one()


async def test_registration_queues_a_welcome_notification_that_the_worker_delivers_once(
    gql: GraphQLClient,
) -> None:
    # Given a user who just registered (which queues the welcome job)
    account = await make_account()
    # When a real worker drains the queue (the welcome, then its email's delivery), twice
    assert await run_jobs() == 2
    await run_jobs()
    # Then exactly one in-app and one email row exist, and the user lists the in-app one
    assert await _notification_count() == 2
    data = await gql.data(LIST, token=account.token)
    assert [edge["node"]["kind"] for edge in data["notifications"]["edges"]] == ["welcome"]


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_notifications_subscription_delivers_the_new_notification(api_url: str, protocol: str) -> None:
    # Given a signed-in user subscribed over a websocket
    account = await make_account()
    async with subscription(api_url, protocol, token=account.token) as socket:
        await socket.start(SUBSCRIBE)
        await wait_for_subscribers(notification_events.user_channel(account.user.id))
        # When the worker creates their welcome notification
        await run_jobs()
        # Then it arrives on the socket
        received = (await socket.next_data())["notifications"]
    assert (received["kind"], received["title"], received["channel"], received["status"]) == (
        "welcome",
        "StudyMate에 오신 것을 환영합니다",
        "IN_APP",
        "SENT",
    )


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_notifications_subscription_needs_a_signed_in_user(api_url: str, protocol: str) -> None:
    async with subscription(api_url, protocol) as socket:
        await socket.start(SUBSCRIBE)
        message = await socket.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert error_code(errors[0]) == "UNAUTHENTICATED"


async def test_two_api_processes_each_deliver_the_events_published_through_redis(api_url: str) -> None:
    # Given the same user subscribed on two different api processes
    account = await make_account()
    async with (
        api_process() as second_api,
        subscription(api_url, TRANSPORT_WS, token=account.token) as first,
        subscription(second_api, LEGACY_WS, token=account.token) as second,
    ):
        await first.start(SUBSCRIBE)
        await second.start(SUBSCRIBE)
        await wait_for_subscribers(notification_events.user_channel(account.user.id), count=2)
        # When one event is published (by the worker, a third process's code path)
        await run_jobs()
        # Then both processes deliver it to their own subscriber
        ids = {
            (await first.next_data())["notifications"]["id"],
            (await second.next_data())["notifications"]["id"],
        }
    assert len(ids) == 1


async def test_mark_notification_read_is_for_its_owner_only(gql: GraphQLClient) -> None:
    owner = await make_account()
    stranger = await make_account()
    await run_jobs()
    notification_id = (await gql.data(LIST, token=owner.token))["notifications"]["edges"][0]["node"]["id"]
    mutation = "mutation($id: ID!) { markNotificationRead(id: $id) { id status readAt } }"
    error = await gql.error(mutation, {"id": notification_id}, token=stranger.token)
    assert error_code(error) == "NOT_FOUND"
    read = (await gql.data(mutation, {"id": notification_id}, token=owner.token))["markNotificationRead"]
    assert read["status"] == "READ" and read["readAt"] is not None
    unread = await gql.data(LIST, {"unread": True}, token=owner.token)
    assert unread["notifications"]["edges"] == []


async def test_notifications_are_paged_newest_first_with_stable_cursors(gql: GraphQLClient) -> None:
    # Given three notifications for one user
    owner = await make_account()
    for n in range(3):
        async with transaction() as db:
            await notifications.create_in_app(
                db, owner.user.id, kind=f"kind-{n}", title="t", body="b", dedupe_key=f"test:{n}"
            )
    # When they are read two at a time
    first = (await gql.data(LIST, {"first": 2}, token=owner.token))["notifications"]
    rest = (await gql.data(LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=owner.token))[
        "notifications"
    ]
    # Then the pages are newest first, disjoint and complete
    assert [e["node"]["kind"] for e in first["edges"]] == ["kind-2", "kind-1"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["kind"] for e in rest["edges"]] == ["kind-0"]
    assert rest["pageInfo"] == {"hasNextPage": False, "endCursor": rest["edges"][0]["cursor"]}


async def test_page_size_and_cursor_are_validated(gql: GraphQLClient) -> None:
    owner = await make_account()
    too_many = await gql.error(LIST, {"first": 1000}, token=owner.token)
    assert (error_code(too_many), too_many["extensions"]["field"]) == ("BAD_USER_INPUT", "first")
    bad_cursor = await gql.error(LIST, {"after": "bm9wZQ=="}, token=owner.token)
    assert (error_code(bad_cursor), bad_cursor["extensions"]["field"]) == ("BAD_USER_INPUT", "after")
