"""Group study rooms: rooms and membership, the live room, the focus timer."""
