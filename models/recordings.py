"""Tables of the recordings domain."""
