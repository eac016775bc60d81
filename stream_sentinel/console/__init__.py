"""The console: one web UI for the whole system (Kafka, schemas, Redis, cases, traces).

``create_app`` (:mod:`.app`) builds a FastAPI app from a client factory (embedded or real) and
the console's settings; pages are server-rendered templates, refreshed with htmx, charts drawn
by uPlot (both vendored under ``static/vendor``: no CDN, nothing fetched at run time). The
console only reads, outside every consumer group (it commits no offsets), with bounded reads;
its two writes (resolve a case, unblock a user) go through the alert desk, exactly as
`stream-sentinel alerts resolve` and `alerts unblock` do, and land in the audit log.
"""
