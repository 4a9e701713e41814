"""What several test modules share: clients, factories, fakes and waits. Fixtures live in conftest."""
