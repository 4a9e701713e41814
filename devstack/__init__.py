"""Real PostgreSQL, Redis and Kafka started from wheels, for `studymate dev`, the tests and the benchmarks.

Development and test tooling, not part of the running product: the api and the worker never import it.
"""

from devstack.kafka import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres
from devstack.redis import EmbeddedRedis
from devstack.server import free_port
from devstack.stack import EmbeddedStack

__all__ = ["EmbeddedKafka", "EmbeddedPostgres", "EmbeddedRedis", "EmbeddedStack", "free_port"]
