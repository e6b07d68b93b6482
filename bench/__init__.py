"""Benchmarks of the whole system on embedded services, run by hand with `make bench`.

Each run starts its own Postgres, Redis, Telegram emulator and the Procfile's web, worker and
bot, measures, and prints a table of figures with their goals. The machine is shared and noisy,
so the goals are ratios measured within one run wherever the issue allows.
"""
