"""The domain: settings, database access, phones, users, auth sessions and token families.

Nothing in this package imports flask, celery or telegram: the web app, the worker and the bot
runner are thin adapters over it (``tests/unit/test_core_is_framework_free.py`` checks this).
"""
