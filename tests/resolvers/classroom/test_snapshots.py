"""Snapshots read once for a class of viewers: each viewer is given exactly the participants it may see."""

import uuid
from datetime import timedelta

from core.db import read_session, transaction
from models.base import utcnow
from models.classroom import Participant
from resolvers.classroom.access import GUEST, INSTRUCTOR, Viewer, ViewerRole
from resolvers.classroom.live import session_snapshots
from tests.helpers.classroom import make_classroom


async def test_each_viewer_of_a_shared_read_sees_what_it_may_see() -> None:
    # Given a started session with three participants
    room = await make_classroom(start=True)
    joined = utcnow()
    rows = [
        Participant(
            session_id=room.session.id, display_name=f"Senior {n}", joined_at=joined + timedelta(seconds=n)
        )
        for n in range(3)
    ]
    async with transaction() as db:
        db.add_all(rows)
    ids = [row.id for row in rows]
    viewers = [
        Viewer(ViewerRole.PARTICIPANT, ids[1]),
        INSTRUCTOR,
        GUEST,
        Viewer(ViewerRole.PARTICIPANT, ids[0]),
        Viewer(ViewerRole.PARTICIPANT, uuid.uuid4()),  # not (or no longer) a row of the session
    ]
    # When one read serves all of them
    async with read_session() as db:
        snapshots = await session_snapshots(db, room.session.id, viewers, seq=7)
    # Then each sees the participants `may_see_participant` allows, in joining order, and nothing else
    seen = [[p.id for p in snapshot.participants] for snapshot in snapshots]
    assert seen == [
        [ids[1]],
        ids,
        [],
        [ids[0]],
        [],
    ]
    for viewer, snapshot in zip(viewers, snapshots, strict=True):
        assert [p.id for p in snapshot.participants] == [i for i in ids if viewer.may_see_participant(i)]
        assert snapshot.seq == 7
