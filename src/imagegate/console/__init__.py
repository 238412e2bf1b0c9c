"""The web console: the catalogue developers pull from, the review queue approvers decide in,
and the activity of runs and decisions (docs/console.md).

An aiohttp sub-application (:func:`imagegate.console.app.console_app`) mounted at ``/console/``
by ``imagegate watch`` and by ``imagegate console``. Server-rendered Jinja2 pages with
autoescaping; decisions go through :mod:`imagegate.run.review`, exactly like the CLI.
"""
