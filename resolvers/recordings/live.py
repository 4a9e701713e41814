"""The stream a `recordingStatus` subscription follows: authorised first, then subscribed."""

import uuid
from collections.abc import AsyncIterator

from broadcast.events import decode
from broadcast.hub import Resubscribe, hub
from broadcast.recordings import RecordingStatusChanged, status_channel
from core.auth import Actor
from core.db import read_session
from resolvers.recordings.lifecycle import get_own


async def recording_status(actor: Actor, recording_id: uuid.UUID) -> AsyncIterator[RecordingStatusChanged]:
    """The recording as it is now, then again after each status change; NOT_FOUND, before anything is
    subscribed, for a recording that is not the actor's."""
    async with read_session() as db:
        await get_own(db, actor, recording_id)
    while True:
        try:
            async with hub().subscribe(status_channel(recording_id)) as messages:
                # Read again after subscribing, so a change between the read and the first event is not
                # lost; after a Resubscribe the same read catches up on whatever was missed.
                async with read_session() as db:
                    current = await get_own(db, actor, recording_id)
                yield RecordingStatusChanged(recording=current)
                async for message in messages:
                    event = decode(message)
                    if isinstance(event, RecordingStatusChanged):
                        yield event
            return
        except Resubscribe:
            continue
