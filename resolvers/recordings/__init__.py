"""Operations of the recordings domain: recording a demonstration, its event pipeline, its analysis.

- `events`: validation of event batches (recording events and activity logs) into storable rows;
- `ingest`: making a batch durable (Kafka, or Postgres when Kafka is unreachable) and the one
  statement per batch that writes rows, shared by the api's fallback and the worker's drain;
- `lifecycle`: start, append, stop, analyse and convert a recording, and reading recordings;
- `activity`: students' behaviour logs;
- `live`: the recording-status stream a subscription follows.
"""
