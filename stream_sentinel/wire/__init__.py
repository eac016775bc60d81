"""Wire formats: Avro and JSON codecs, the bundled schemas, the fast columnar codecs."""
