"""The RQ queues, by name: the web process enqueues onto them by name, workers serve them."""

DAY = "paperboy"
"""The day's steps: fetch, score, deliver, backups. Served by `worker` processes."""

INTERACTIVE = "interactive"
"""Work a person is waiting for (`/paperboy top`, seed look-ups, Home refreshes), served by its
own `interactive` process: an RQ worker picks its next queue only between jobs, so one busy for
minutes with the day's scoring could not answer in time."""
