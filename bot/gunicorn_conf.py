"""gunicorn's settings for the web process (`gunicorn -c python:bot.gunicorn_conf`): its own
lines (workers starting, a worker timing out) and Paperboy's in the one logging setup
(`paperboy.logs`), as every other process writes them."""

from __future__ import annotations

from paperboy.logs import dict_config
from paperboy.settings import load_or_exit

_settings = load_or_exit()
logconfig_dict = dict_config(_settings.log_format, _settings.log_level)
