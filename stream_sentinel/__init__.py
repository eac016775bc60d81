"""Stream-Sentinel: real-time fraud detection on Apache Kafka and Redis."""

__version__ = "0.1.0"
