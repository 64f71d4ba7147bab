"""What `rq worker -c workers.rqconfig` and `rq cron -c workers.rqconfig` read: the one logging
setup (`paperboy.logs`), so rq's own lines and Paperboy's share time, level, logger and format.

rq reads the UPPERCASE names of this module when it starts; loading it checks the settings, so
a worker or a clock with a setting it cannot use (a SCHEDULE_CRON that never runs, say) refuses
to start and says which.
"""

from __future__ import annotations

from paperboy.logs import dict_config
from paperboy.settings import load_or_exit

_settings = load_or_exit()
DICT_CONFIG = dict_config(_settings.log_format, _settings.log_level)
"""rq applies it with `logging.config.dictConfig` before the worker (or the clock) starts."""
