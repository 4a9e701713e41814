"""A help request notifies the session's instructor: in-app at once on their subscription, push queued."""

from sqlalchemy import select

from broadcast import notifications as notification_events
from core.db import read_session
from models.notifications import Channel, Notification, NotificationStatus
from tests.helpers.classroom import join, make_classroom
from tests.helpers.client import TRANSPORT_WS, GraphQLClient, subscription
from tests.helpers.pubsub import wait_for_subscribers

SUBSCRIBE = "subscription { notifications { id kind title body channel status data } }"
REQUEST_HELP = """
mutation($id: ID!, $step: ID, $message: String) {
  requestHelp(sessionId: $id, stepId: $step, message: $message) { id } }"""


async def test_a_help_request_reaches_the_instructors_notifications_subscription(
    api_url: str, gql: GraphQLClient
) -> None:
    # Given a started session and its instructor listening for notifications
    room = await make_classroom(steps=2, start=True)
    joined = await join(room, name="Grandma Lee")
    async with subscription(api_url, TRANSPORT_WS, token=room.instructor.token) as socket:
        await socket.start(SUBSCRIBE)
        await wait_for_subscribers(notification_events.user_channel(room.instructor.user.id))
        # When a participant asks for help
        request = (
            await gql.data(
                REQUEST_HELP,
                {"id": room.id, "step": str(room.steps[0].id), "message": "Where is the camera?"},
                token=joined.token,
            )
        )["requestHelp"]
        # Then the instructor hears of it at once, in their language (Korean by default)
        received = (await socket.next_data())["notifications"]
    assert received["kind"] == "help_requested"
    assert received["title"] == "Grandma Lee님이 도움을 요청했습니다"
    assert received["body"] == f"{room.session.title}: Where is the camera?"
    assert (received["channel"], received["status"]) == ("IN_APP", "SENT")
    assert received["data"] == {"sessionId": room.id, "helpRequestId": request["id"]}
    # and a push for them waits for the worker (never sent inside the request)
    async with read_session() as db:
        stored = (await db.execute(select(Notification).order_by(Notification.channel))).scalars().all()  # type: ignore[arg-type]
    assert [(n.user_id, n.channel, n.status) for n in stored if n.kind == "help_requested"] == [
        (room.instructor.user.id, Channel.IN_APP, NotificationStatus.SENT),
        (room.instructor.user.id, Channel.PUSH, NotificationStatus.PENDING),
    ]
