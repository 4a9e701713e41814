"""Names each GraphQL operation in the logs and measures it for `/metrics`."""

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from core import metrics
from core.logging import operation_var

_UNPARSED = "unparsed"


class OperationTelemetry(SchemaExtension):
    def __init__(self) -> None:
        self._subscription = False

    def _operation_type(self) -> str:
        try:
            return self.execution_context.operation_type.value
        except RuntimeError:
            # Syntax errors, or an operationName the document does not define.
            return _UNPARSED

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        # Not reset afterwards: the access log line, written when the request ends, names the operation.
        operation_var.set(self.execution_context.operation_name)
        try:
            yield
        finally:
            context = self.execution_context
            name = metrics.operation_label(context.operation_name)
            operation_type = self._operation_type()
            failed = bool(context.pre_execution_errors) or bool(context.result and context.result.errors)
            metrics.graphql_operations.labels(name, operation_type, "error" if failed else "ok").inc()
            if self._subscription:
                metrics.active_subscriptions.dec()
            else:
                metrics.graphql_latency.labels(name, operation_type).observe(time.perf_counter() - started)

    def on_execute(self) -> Iterator[None]:
        operation_var.set(self.execution_context.operation_name)
        if self.execution_context.operation_type is OperationType.SUBSCRIPTION:
            # on_operation spans a subscription's whole life, so that is where it is counted down.
            self._subscription = True
            metrics.active_subscriptions.inc()
        yield
