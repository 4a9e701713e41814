"""Operations of the classroom domain."""
