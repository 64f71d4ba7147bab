"""The fault suite: the real processes (rq worker, gunicorn, `paperboy run`, redis-server with
AOF) against the stand-ins, with faults switched on and workers killed mid-delivery. Run it
with `make faults`; see faults/README.md."""
