"""The learning plane: the model registry (DB3) and the feedback store (DB2).

Pure parts (version records, hashes, alias lineage, label precedence, statistics) live beside
the stores that keep them, and import no I/O: the stores talk only to the StateStore interface.
"""
