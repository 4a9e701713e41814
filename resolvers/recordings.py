"""Operations of the recordings domain."""
