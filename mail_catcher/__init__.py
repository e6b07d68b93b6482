"""A mail catcher for development and tests: a real SMTP server (aiosmtpd) that keeps what it is sent.

`make run` starts it when SMTP_URL is not configured, like the Telegram emulator; its web inbox
shows the mail, and its JSON API (`/api/messages`) is what the tests read.
"""
