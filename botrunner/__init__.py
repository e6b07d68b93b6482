"""The Telegram bot runner (`python -m botrunner`): receives updates and records decisions.

Kept free of imports: `python -m botrunner` loads what it needs.
"""
