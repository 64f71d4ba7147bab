"""RQ jobs around the day's steps, the queue they run on, and the cron schedule."""
