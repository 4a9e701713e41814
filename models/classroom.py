"""Tables of the classroom domain."""
