"""The fraud detector: batch stream processing over Kafka and Redis (see worker.py)."""
