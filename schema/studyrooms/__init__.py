"""Group study rooms' roots, merged into the roots `schema/__init__.py` composes."""

from strawberry.tools import merge_types

from schema.studyrooms.events import EventsSubscription, MessagesMutation
from schema.studyrooms.rooms import RoomsMutation, RoomsQuery

StudyRoomsQuery = merge_types("StudyRoomsQuery", (RoomsQuery,))
StudyRoomsMutation = merge_types("StudyRoomsMutation", (RoomsMutation, MessagesMutation))
StudyRoomsSubscription = merge_types("StudyRoomsSubscription", (EventsSubscription,))

__all__ = ["StudyRoomsMutation", "StudyRoomsQuery", "StudyRoomsSubscription"]
