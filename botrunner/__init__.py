"""The Telegram bot runner (`python -m botrunner`): receives updates and records decisions.

Kept free of imports so the worker can use `botrunner.keyboards` without loading the Application.
"""
